#include "core/hex.h"

#include <gtest/gtest.h>

#include <string>

namespace seccloud {
namespace {

static_assert(HexValue('0') == 0 && HexValue('9') == 9 && HexValue('a') == 10 &&
              HexValue('F') == 15 && HexValue('g') == -1);

TEST(HexValueTest, EveryByteHasItsDigitValueOrMinusOne) {
  const std::string digits = "0123456789abcdef";
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    int want = -1;
    for (size_t i = 0; i < digits.size(); ++i) {
      if (b == digits[i] || (i >= 10 && b == digits[i] - 'a' + 'A')) want = static_cast<int>(i);
    }
    EXPECT_EQ(HexValue(c), want) << "byte " << b;
  }
}

TEST(HexValueTest, NeighboursOfTheDigitRangesAreNotDigits) {
  for (char c : {'/', ':', '@', 'G', '`', 'g', ' ', '\0', '-', '+', 'x', 'X'}) {
    EXPECT_EQ(HexValue(c), -1) << "char " << static_cast<int>(c);
  }
  EXPECT_EQ(HexValue(static_cast<char>(0xB0)), -1);  // '0' | 0x80: signed chars stay out
  EXPECT_EQ(HexValue(static_cast<char>(0xE1)), -1);  // 'a' | 0x80
}

}  // namespace
}  // namespace seccloud
