#include "soc/index_tokens.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <cstring>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "soc/query_internal.h"
#include "soc/token_hash.h"

namespace seccloud::soc::index_tokens {
namespace {

// TextTokens as first written (a class-table lookup and a lowered copy per byte), kept here as
// the definition the mask-based one must equal: its tokens are what every stored block's token
// index holds and what queries require.
std::vector<std::string> ReferenceTextTokens(std::string_view text) {
  std::vector<std::string> out;
  struct Word {
    size_t start = 0, size = 0;
  };
  Word last[4];
  int have = 0;
  const size_t n = text.size();
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  size_t i = 0;
  char buf[kMaxIndexedWordBytes];
  while (i < n) {
    if ((kBytes.cls[bytes[i]] & kWord) == 0) {
      ++i;
      continue;
    }
    const size_t start = i;
    uint8_t all = kWord | kDigit | kHexLetter;
    uint8_t any = 0;
    while (i < n) {
      const uint8_t c = kBytes.cls[bytes[i]];
      if ((c & kWord) == 0) break;
      all &= static_cast<uint8_t>(c | ((c & kDigit) ? kHexLetter : 0));
      any |= c;
      if (i - start < kMaxIndexedWordBytes) buf[i - start] = kBytes.lower[bytes[i]];
      ++i;
    }
    const size_t size = i - start;
    const bool all_digits = (all & kDigit) != 0;
    if (size >= 2 && size <= kMaxIndexedWordBytes && !(all_digits && size >= 5) &&
        !(size >= 8 && (all & kHexLetter) && (any & kDigit) && (any & kHexLetter))) {
      out.emplace_back(buf, size);
    }
    if (all_digits && size <= 3) {
      const bool joined = have > 0 &&
                          last[(have - 1) % 4].start + last[(have - 1) % 4].size + 1 == start &&
                          text[start - 1] == '.';
      if (!joined) have = 0;
      last[have % 4] = Word{start, size};
      ++have;
      if (have >= 4) {
        const Word& first = last[(have - 4) % 4];
        out.emplace_back(text.substr(first.start, start + size - first.start));
      }
    } else {
      have = 0;
    }
  }
  return out;
}

// An emitter with Padded (the store's): reads the whole 8-byte words over each token that
// EmitPadded promises (under ASan a read past the buffer is reported), and checks that
// TokenHashPadded of it is TokenHash's value.
struct PaddedRecorder {
  std::vector<std::string>* out;
  size_t* padded;
  void operator()(std::string_view t) const { out->emplace_back(t); }
  void Padded(const char* p, size_t n) const {
    const size_t whole = (n + 7) / 8 * 8;
    const std::string words(p, whole);  // reads the padding: ASan reports a read past the buffer
    ASSERT_EQ(words.substr(0, n), std::string_view(p, n));
    ASSERT_EQ(store_internal::TokenHashPadded(p, n),
              store_internal::TokenHash(std::string_view(p, n)));
    out->emplace_back(p, n);
    ++*padded;
  }
};

// TextTokens' tokens, through both emitter kinds (a plain callback; one with Padded), which must
// give the same tokens.
std::vector<std::string> Tokens(std::string_view text) {
  std::vector<std::string> plain, out;
  auto emit = [&](std::string_view t) { plain.emplace_back(t); };
  TextTokens(text, emit);
  size_t padded = 0;
  PaddedRecorder recorder{&out, &padded};
  TextTokens(text, recorder);
  EXPECT_EQ(out, plain);
  EXPECT_LE(padded, out.size());
  return out;
}

TEST(IndexTokensTest, TextTokensKnownCases) {
  EXPECT_EQ(Tokens("GET /A-b_c 10.1.2.3.4 x 123456 12345 1234 deadbeef01 ab"),
            (std::vector<std::string>{"get", "b_c", "10", "10.1.2.3", "1.2.3.4", "1234", "ab"}));
  EXPECT_TRUE(Tokens("").empty());
  EXPECT_TRUE(Tokens("a").empty());
  EXPECT_EQ(Tokens("AB"), (std::vector<std::string>{"ab"}));
  // A word of exactly 64 bytes is indexed, one of 65 is not, wherever it sits in the masks.
  for (size_t pad = 0; pad < 130; ++pad) {
    const std::string w64(64, 'Q'), w65(65, 'q');
    EXPECT_EQ(Tokens(std::string(pad, ' ') + w64 + " " + w65 + " zz"),
              (std::vector<std::string>{std::string(64, 'q'), "zz"}))
        << pad;
  }
  // UTF-8 bytes are word bytes and are not lowered.
  EXPECT_EQ(Tokens("\xe6\x97\xa5\xe6\x9c\xac X"),
            (std::vector<std::string>{"\xe6\x97\xa5\xe6\x9c\xac"}));
  // Bytes 0 are separators like any non-word byte.
  EXPECT_EQ(Tokens(std::string_view("ab\0cd", 5)), (std::vector<std::string>{"ab", "cd"}));
}

TEST(IndexTokensTest, TextTokensEqualTheByteLoopOnRandomTexts) {
  std::mt19937_64 rng(20261127);
  // Alphabets that make the rules' corner cases frequent: digits and dots (dotted quads, long
  // numbers), hex letters with digits (hex ids), both cases, '_', bytes >= 0x80, separators.
  const std::string alphabets[] = {
      "0123456789.",
      "0123456789abcdefABCDEF.-",
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_ ",
      "01.9 aZ_\x80\xff\xc3\xa9@[`{/:\"",
  };
  size_t compared = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    const std::string& alphabet = alphabets[iter % 4];
    // Mostly short texts; some past the stack buffer (2,048 bytes) and some with long runs.
    size_t len = rng() % 200;
    if (iter % 50 == 0) len = 1900 + rng() % 600;
    std::string text;
    text.reserve(len);
    while (text.size() < len) {
      if (rng() % 16 == 0) {
        // A run of one class, possibly long.
        const char c = alphabet[rng() % alphabet.size()];
        text.append(1 + rng() % 80, c);
      } else if (rng() % 8 == 0) {
        text.push_back(static_cast<char>(rng() % 256));
      } else {
        text.push_back(alphabet[rng() % alphabet.size()]);
      }
    }
    ASSERT_EQ(Tokens(text), ReferenceTextTokens(text)) << "iteration " << iter;
    ++compared;
  }
  EXPECT_EQ(compared, 20000u);
}

TEST(IndexTokensTest, TextTokensEqualTheByteLoopAtEveryOffsetAndLength) {
  // Every length 0..200 of a text with all the token kinds, starting at every offset: runs that
  // end at, or cross, a 64-byte piece's edge.
  const std::string base =
      "2026-11-27T03:04:05.123Z host-01 sshd[4242]: Accepted 10.20.30.40 port 22 "
      "DEADBEEF0123 deadbeefcafe GET /Index.HTML?q=ABC_def 1.2.3.4.5.6 \xe3\x81\x82X 99999 "
      "a.b.c.d 001.002.003.004 ";
  const std::string text = base + base + base;
  for (size_t from = 0; from < 130; ++from) {
    for (size_t len = 0; len <= 200; ++len) {
      const std::string_view t = std::string_view(text).substr(from, len);
      ASSERT_EQ(Tokens(t), ReferenceTextTokens(t)) << from << " " << len;
    }
  }
}


TEST(IndexTokensTest, LoweredTokenHashIsTheHashOfTheLoweredValue) {
  std::mt19937_64 rng(20261129);
  const std::string alphabet = "AZaz09_-. @[`{\x80\xc3\xa9\xff";
  for (int iter = 0; iter < 3000; ++iter) {
    for (size_t len = 0; len <= 40 || (iter % 100 == 0 && len <= kMaxIndexedValueBytes); ++len) {
      std::string value(len, '\0');
      for (char& c : value) {
        c = rng() % 4 == 0 ? static_cast<char>(rng()) : alphabet[rng() % alphabet.size()];
      }
      std::string lowered(len, '\0');
      for (size_t i = 0; i < len; ++i) lowered[i] = LowerAscii(value[i]);
      // A copy of exactly len bytes on the heap: ASan reports a read past it.
      const auto heap = std::make_unique<char[]>(len + 1);
      std::memcpy(heap.get(), value.data(), len);
      ASSERT_EQ(LoweredTokenHash(std::string_view(heap.get(), len)),
                store_internal::TokenHash(lowered))
          << iter << " " << len;
    }
  }
}

TEST(IndexTokensTest, TextTokensWithinMeansRawHasEveryTokenOfTheText) {
  EXPECT_TRUE(TextTokensWithin("<13>host sshd[1]: Failed password", "Failed password"));
  EXPECT_TRUE(TextTokensWithin("abc", "abc"));
  EXPECT_TRUE(TextTokensWithin("abc", ""));
  EXPECT_FALSE(TextTokensWithin("xFailed password", "Failed password"));  // a longer word in raw
  EXPECT_FALSE(TextTokensWithin("Failed passwords", "Failed password"));
  EXPECT_FALSE(TextTokensWithin("Failed \\\"x\\\"", "Failed \"x\""));  // escaped in raw
  EXPECT_FALSE(TextTokensWithin("ab", "abc"));
  {
    // The review's crafted record (a quadratic search's worst case): one letter repeated, the
    // message differing only in its last byte, and then the same message present at raw's end.
    const std::string a(32 * 1024, 'a');
    std::string raw = "{\"x\":\"" + a + "\",\"message\":\"" + a + "\\u0062\"}";
    EXPECT_FALSE(TextTokensWithin(raw, a + "b"));
    EXPECT_TRUE(TextTokensWithin(raw, a));  // "x"'s value: quotes on both sides
    raw = "x " + a + "b";
    EXPECT_TRUE(TextTokensWithin(raw, a + "b"));
    EXPECT_FALSE(TextTokensWithin(raw, a));  // glued to the "b" that follows
  }
  // Random texts and pieces of them: whenever TextTokensWithin holds, raw's tokens include all of
  // the piece's (as sets: the store's index is a set).
  std::mt19937_64 rng(20261130);
  const std::string alphabet = "0123456789..aAfFzZ_ -:";
  size_t within = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string raw(rng() % 120, '\0');
    for (char& c : raw) c = alphabet[rng() % alphabet.size()];
    const size_t from = raw.empty() ? 0 : rng() % raw.size();
    const std::string piece = raw.substr(from, rng() % (raw.size() - from + 1));
    if (!TextTokensWithin(raw, piece)) continue;
    ++within;
    const std::vector<std::string> all = ReferenceTextTokens(raw);
    const std::set<std::string> raw_tokens(all.begin(), all.end());
    for (const std::string& t : ReferenceTextTokens(piece)) {
      ASSERT_TRUE(raw_tokens.contains(t)) << "\"" << piece << "\" in \"" << raw << "\": " << t;
    }
  }
  EXPECT_GT(within, 2000u);  // 3,411 with this seed
}

// The store's emitter kind (Padded, Lowered, HasTextTokensOf) against a plain callback over whole
// records: the same set of token hashes (the Bloom filter's bits depend on that set only).
struct SetEmitter {
  std::set<uint64_t>* hashes;
  std::string_view raw;
  void operator()(std::string_view t) const { hashes->insert(store_internal::TokenHash(t)); }
  void Padded(const char* p, size_t n) const {
    hashes->insert(store_internal::TokenHashPadded(p, n));
  }
  void Lowered(std::string_view s) const { hashes->insert(LoweredTokenHash(s)); }
  bool HasTextTokensOf(std::string_view text) const { return TextTokensWithin(raw, text); }
};

TEST(IndexTokensTest, TheStoresEmitterKindGivesTheSameTokenSet) {
  const char* const kRecords[][2] = {
      {"<13>Nov 27 host sshd[42]: Failed password for ROOT from 10.1.2.3 port 22",
       R"({"message":"Failed password for ROOT from 10.1.2.3 port 22","process":{"pid":42},
          "event":{"dataset":"Linux.Auth","ingested":"x"},"ok":true,"n":[1,"AbC",{"k":"V"}]})"},
      {"plain text with Message inside", R"({"message":"Message inside","error":{"message":"x"}})"},
      {"xMessage inside", R"({"message":"Message inside"})"},
      {R"({"message":"a \"quoted\" 1.2.3.4.5 DEADBEEF01 word"})",
       R"({"message":"a \"quoted\" 1.2.3.4.5 DEADBEEF01 word","error":{"message":"1.2.3.4"}})"},
      {"", R"({"message":"only in the field 192.168.0.1","user":{"name":"Alice"}})"},
  };
  for (const auto& [raw, json] : kRecords) {
    const boost::json::object fields = boost::json::parse(json).as_object();
    std::set<uint64_t> plain, store;
    auto emit = [&](std::string_view t) { plain.insert(store_internal::TokenHash(t)); };
    RecordTokens(raw, fields, emit);
    SetEmitter set_emitter{&store, raw};
    RecordTokens(raw, fields, set_emitter);
    EXPECT_EQ(store, plain) << raw;
    EXPECT_FALSE(plain.empty());
  }
}

}  // namespace
}  // namespace seccloud::soc::index_tokens
