#include "core/ip.h"

#include <gtest/gtest.h>

#include <string>

namespace seccloud {
namespace {

IpAddress Addr(std::string_view text) {
  auto a = IpAddress::Parse(text);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(IpAddress());
}

IpPrefix Prefix(std::string_view text) {
  std::string why;
  auto p = IpPrefix::Parse(text, &why);
  EXPECT_TRUE(p.has_value()) << text << ": " << why;
  return p.value_or(IpPrefix());
}

TEST(IpAddressTest, ParsesIpv4) {
  auto a = IpAddress::Parse("192.0.2.1");
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->is_v4());
  EXPECT_EQ(a->v4(), 0xC0000201u);
  EXPECT_EQ(a->bit_width(), 32u);
  EXPECT_EQ(a->ToString(), "192.0.2.1");
  EXPECT_EQ(Addr("0.0.0.0").v4(), 0u);
  EXPECT_EQ(Addr("255.255.255.255").v4(), 0xFFFFFFFFu);
  EXPECT_EQ(Addr("10.0.0.0").v4(), 0x0A000000u);
  EXPECT_EQ(Addr("100.200.10.0").v4(), 0x64C80A00u);
}

TEST(IpAddressTest, Ipv4EqualsV4Factory) {
  EXPECT_EQ(Addr("127.10.0.2"), IpAddress::V4(0x7F0A0002u));
  EXPECT_NE(Addr("127.10.0.2"), IpAddress::V4(0x7F0A0003u));
}

TEST(IpAddressTest, RejectsMalformedIpv4) {
  for (const char* text :
       {"",           "1",          "1.2",       "1.2.3",      "1.2.3.4.5",
        "256.1.1.1",  "1.2.3.256",  "01.2.3.4",  "1.02.3.4",   "1.2.3.04",
        "1.2.3.00",   "00.0.0.0",   "0x1.2.3.4", "1.2.3.4 ",   " 1.2.3.4",
        "1.2.3.4\n",  "1..2.3",     "1.2.3.",    ".1.2.3",     "1.2.3.-4",
        "+1.2.3.4",   "1.2.3.4/32", "a.b.c.d",   "1.2.3.4:80", "999999999999.1.1.1",
        "4294967295", "1 .2.3.4"}) {
    EXPECT_FALSE(IpAddress::Parse(text)) << '"' << text << '"';
  }
}

TEST(IpAddressTest, RejectsEmbeddedNul) {
  using namespace std::string_literals;
  EXPECT_FALSE(IpAddress::Parse("1.2.3.4\0"s));
  EXPECT_FALSE(IpAddress::Parse("1.2.3.4\0garbage"s));
  EXPECT_FALSE(IpAddress::Parse("::1\0"s));
}

TEST(IpAddressTest, RejectsOverlongInput) {
  std::string text(65, '1');
  EXPECT_FALSE(IpAddress::Parse(text));
  // A valid address padded with zeros in a group is still rejected when too long.
  EXPECT_FALSE(IpAddress::Parse(std::string(60, ':') + "1"));
}

TEST(IpAddressTest, ParsesIpv6) {
  auto a = IpAddress::Parse("2001:db8::1");
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->is_v4());
  EXPECT_EQ(a->bit_width(), 128u);
  EXPECT_EQ(a->bytes()[0], 0x20);
  EXPECT_EQ(a->bytes()[1], 0x01);
  EXPECT_EQ(a->bytes()[2], 0x0d);
  EXPECT_EQ(a->bytes()[3], 0xb8);
  EXPECT_EQ(a->bytes()[15], 0x01);
  EXPECT_EQ(a->ToString(), "2001:db8::1");
  EXPECT_EQ(Addr("::").ToString(), "::");
  EXPECT_EQ(Addr("::1").ToString(), "::1");
  EXPECT_EQ(Addr("2001:DB8:0:0:0:0:0:1"), Addr("2001:db8::1"));
  EXPECT_EQ(Addr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff").bytes()[15], 0xff);
  EXPECT_EQ(Addr("::ffff:1.2.3.4").bytes()[12], 1);
  EXPECT_EQ(Addr("::ffff:1.2.3.4").bytes()[15], 4);
  EXPECT_FALSE(Addr("::ffff:1.2.3.4").is_v4());
}

TEST(IpAddressTest, RejectsMalformedIpv6) {
  for (const char* text : {":",
                           ":::",
                           "1:::2",
                           "2001:db8::1::2",
                           "2001:db8:0:0:0:0:0:0:1",
                           "2001:db8:0:0:0:0:1",
                           "12345::",
                           "g::1",
                           "::ffff:1.2.3.4%eth0",
                           "fe80::1%1",
                           "[::1]",
                           "[::1]:80",
                           "::1 ",
                           " ::1",
                           "::ffff:1.2.3",
                           "::ffff:01.2.3.4",
                           "::ffff:256.1.1.1",
                           "2001:db8::/32",
                           "1.2.3.4::",
                           ":1::",
                           "1::2:"}) {
    EXPECT_FALSE(IpAddress::Parse(text)) << '"' << text << '"';
  }
}

TEST(IpAddressTest, Unmapped) {
  IpAddress mapped = Addr("::ffff:192.0.2.7");
  IpAddress v4 = mapped.Unmapped();
  EXPECT_TRUE(v4.is_v4());
  EXPECT_EQ(v4, Addr("192.0.2.7"));
  // Not mapped: unchanged.
  EXPECT_EQ(Addr("::192.0.2.7").Unmapped(), Addr("::192.0.2.7"));
  EXPECT_EQ(Addr("::fffe:192.0.2.7").Unmapped(), Addr("::fffe:192.0.2.7"));
  EXPECT_EQ(Addr("1::ffff:192.0.2.7").Unmapped(), Addr("1::ffff:192.0.2.7"));
  EXPECT_EQ(Addr("2001:db8::1").Unmapped(), Addr("2001:db8::1"));
  EXPECT_EQ(Addr("10.1.2.3").Unmapped(), Addr("10.1.2.3"));
  EXPECT_EQ(Addr("::ffff:0.0.0.0").Unmapped(), Addr("0.0.0.0"));
  EXPECT_EQ(Addr("::ffff:255.255.255.255").Unmapped(), Addr("255.255.255.255"));
}

TEST(IpAddressTest, OrderingSeparatesFamilies) {
  EXPECT_LT(Addr("10.0.0.1"), Addr("10.0.0.2"));
  EXPECT_LT(Addr("9.255.255.255"), Addr("10.0.0.0"));
  EXPECT_NE(Addr("0.0.0.0"), Addr("::"));
  EXPECT_NE(Addr("1.2.3.4"), Addr("::ffff:1.2.3.4"));
}

TEST(IpAddressTest, Bit) {
  IpAddress a = Addr("128.0.0.1");
  EXPECT_TRUE(a.bit(0));
  EXPECT_FALSE(a.bit(1));
  EXPECT_FALSE(a.bit(30));
  EXPECT_TRUE(a.bit(31));
  EXPECT_TRUE(Addr("::1").bit(127));
  EXPECT_FALSE(Addr("::1").bit(126));
}

TEST(IpPrefixTest, ParsesIpv4Prefixes) {
  IpPrefix p = Prefix("10.0.0.0/8");
  EXPECT_EQ(p.address(), Addr("10.0.0.0"));
  EXPECT_EQ(p.length(), 8u);
  EXPECT_EQ(p.ToString(), "10.0.0.0/8");
  EXPECT_EQ(Prefix("0.0.0.0/0").length(), 0u);
  EXPECT_EQ(Prefix("192.0.2.1/32").length(), 32u);
  EXPECT_EQ(Prefix("192.0.2.1").length(), 32u);  // bare address: a host prefix
  EXPECT_EQ(Prefix("192.0.2.128/25").length(), 25u);
}

TEST(IpPrefixTest, ParsesIpv6Prefixes) {
  IpPrefix p = Prefix("2001:db8::/32");
  EXPECT_EQ(p.length(), 32u);
  EXPECT_EQ(p.ToString(), "2001:db8::/32");
  EXPECT_EQ(Prefix("::/0").length(), 0u);
  EXPECT_EQ(Prefix("2001:db8::1/128").length(), 128u);
  EXPECT_EQ(Prefix("2001:db8::1").length(), 128u);
  EXPECT_EQ(Prefix("2001:db8:0:1::/64").length(), 64u);
}

TEST(IpPrefixTest, RejectsBadLengths) {
  std::string why;
  EXPECT_FALSE(IpPrefix::Parse("10.0.0.0/33", &why));
  EXPECT_EQ(why, "has a prefix length above 32");
  EXPECT_FALSE(IpPrefix::Parse("2001:db8::/129", &why));
  EXPECT_EQ(why, "has a prefix length above 128");
  for (const char* text :
       {"10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/08", "10.0.0.0/008", "10.0.0.0/8 ",
        "10.0.0.0/ 8", "10.0.0.0/8/8", "10.0.0.0/1000", "10.0.0.0/4294967304", "10.0.0.0/x",
        "::/0129", "::/00", "10.0.0.0/100"}) {
    EXPECT_FALSE(IpPrefix::Parse(text)) << '"' << text << '"';
  }
}

TEST(IpPrefixTest, RejectsBadAddresses) {
  std::string why;
  EXPECT_FALSE(IpPrefix::Parse("1.2.3/24", &why));
  EXPECT_EQ(why, "is not an IPv4 or IPv6 address");
  for (const char* text : {"", "/8", "01.2.3.0/24", " 10.0.0.0/8", "fe80::%eth0/64", "junk/8"}) {
    EXPECT_FALSE(IpPrefix::Parse(text)) << '"' << text << '"';
  }
}

TEST(IpPrefixTest, RejectsHostBitsSet) {
  std::string why;
  EXPECT_FALSE(IpPrefix::Parse("10.0.0.1/8", &why));
  EXPECT_EQ(why, "has host bits set beyond the prefix length");
  EXPECT_FALSE(IpPrefix::Parse("192.0.2.129/25"));
  EXPECT_FALSE(IpPrefix::Parse("0.0.0.1/0"));
  EXPECT_FALSE(IpPrefix::Parse("2001:db8::1/64"));
  EXPECT_FALSE(IpPrefix::Parse("2001:db8:8000::/32"));
  EXPECT_TRUE(IpPrefix::Parse("192.0.2.128/25"));
}

TEST(IpPrefixTest, ConstructorClearsHostBits) {
  IpPrefix p(Addr("10.1.2.3"), 8);
  EXPECT_EQ(p.address(), Addr("10.0.0.0"));
  EXPECT_EQ(p.length(), 8u);
  IpPrefix q(Addr("2001:db8:ffff::1"), 33);
  EXPECT_EQ(q.address(), Addr("2001:db8:8000::"));
  IpPrefix clamp(Addr("10.1.2.3"), 40);
  EXPECT_EQ(clamp.length(), 32u);
  EXPECT_EQ(clamp.address(), Addr("10.1.2.3"));
}

TEST(IpPrefixTest, ContainsAddress) {
  IpPrefix p = Prefix("10.0.0.0/8");
  EXPECT_TRUE(p.Contains(Addr("10.0.0.0")));
  EXPECT_TRUE(p.Contains(Addr("10.255.255.255")));
  EXPECT_FALSE(p.Contains(Addr("9.255.255.255")));
  EXPECT_FALSE(p.Contains(Addr("11.0.0.0")));
  EXPECT_FALSE(p.Contains(Addr("::ffff:10.0.0.1")));  // different family; callers unmap first
  IpPrefix odd = Prefix("192.0.2.128/25");
  EXPECT_TRUE(odd.Contains(Addr("192.0.2.128")));
  EXPECT_TRUE(odd.Contains(Addr("192.0.2.255")));
  EXPECT_FALSE(odd.Contains(Addr("192.0.2.127")));
  EXPECT_TRUE(Prefix("0.0.0.0/0").Contains(Addr("255.255.255.255")));
  EXPECT_FALSE(Prefix("0.0.0.0/0").Contains(Addr("::")));
  EXPECT_TRUE(Prefix("192.0.2.1/32").Contains(Addr("192.0.2.1")));
  EXPECT_FALSE(Prefix("192.0.2.1/32").Contains(Addr("192.0.2.2")));
  IpPrefix v6 = Prefix("2001:db8::/33");
  EXPECT_TRUE(v6.Contains(Addr("2001:db8:7fff:ffff:ffff:ffff:ffff:ffff")));
  EXPECT_FALSE(v6.Contains(Addr("2001:db8:8000::")));
  EXPECT_FALSE(v6.Contains(Addr("10.0.0.1")));
  EXPECT_TRUE(Prefix("::/0").Contains(Addr("ffff::1")));
  EXPECT_TRUE(Prefix("2001:db8::1/128").Contains(Addr("2001:db8::1")));
  EXPECT_FALSE(Prefix("2001:db8::1/128").Contains(Addr("2001:db8::2")));
}

TEST(IpPrefixTest, ContainsAndOverlapsPrefix) {
  IpPrefix big = Prefix("10.0.0.0/8");
  IpPrefix small = Prefix("10.1.0.0/16");
  IpPrefix other = Prefix("11.0.0.0/8");
  EXPECT_TRUE(big.Contains(small));
  EXPECT_FALSE(small.Contains(big));
  EXPECT_TRUE(big.Contains(big));
  EXPECT_TRUE(big.Overlaps(small));
  EXPECT_TRUE(small.Overlaps(big));
  EXPECT_TRUE(big.Overlaps(big));
  EXPECT_FALSE(big.Overlaps(other));
  EXPECT_FALSE(other.Overlaps(big));
  // Adjacent prefixes do not overlap.
  EXPECT_FALSE(Prefix("10.0.0.0/9").Overlaps(Prefix("10.128.0.0/9")));
  // Families never overlap, not even ::/0 and 0.0.0.0/0.
  EXPECT_FALSE(Prefix("0.0.0.0/0").Overlaps(Prefix("::/0")));
  EXPECT_FALSE(Prefix("::/0").Contains(Prefix("10.0.0.0/8")));
  EXPECT_TRUE(Prefix("2001:db8::/32").Overlaps(Prefix("2001:db8:1::/48")));
  EXPECT_FALSE(Prefix("2001:db8::/32").Overlaps(Prefix("2001:db9::/32")));
}

TEST(IpPrefixTest, Last) {
  EXPECT_EQ(Prefix("10.0.0.0/8").Last(), Addr("10.255.255.255"));
  EXPECT_EQ(Prefix("192.0.2.128/25").Last(), Addr("192.0.2.255"));
  EXPECT_EQ(Prefix("0.0.0.0/0").Last(), Addr("255.255.255.255"));
  EXPECT_EQ(Prefix("192.0.2.1/32").Last(), Addr("192.0.2.1"));
  EXPECT_TRUE(Prefix("10.0.0.0/8").Last().is_v4());
  EXPECT_EQ(Prefix("2001:db8::/32").Last(), Addr("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"));
  EXPECT_EQ(Prefix("2001:db8::/33").Last(), Addr("2001:db8:7fff:ffff:ffff:ffff:ffff:ffff"));
  EXPECT_EQ(Prefix("::/0").Last(), Addr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
  EXPECT_EQ(Prefix("2001:db8::1/128").Last(), Addr("2001:db8::1"));
}

TEST(IpPrefixTest, Ordering) {
  EXPECT_EQ(Prefix("10.0.0.0/8"), IpPrefix(Addr("10.9.9.9"), 8));
  EXPECT_NE(Prefix("10.0.0.0/8"), Prefix("10.0.0.0/9"));
}

}  // namespace
}  // namespace seccloud
