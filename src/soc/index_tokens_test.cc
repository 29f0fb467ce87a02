#include "soc/index_tokens.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "soc/index_tokens_reference.h"
#include "soc/query_internal.h"
#include "soc/token_hash.h"

namespace seccloud::soc::index_tokens {
namespace {

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
// TextTokensBaseline (the build for a CPU without AVX2, BMI1 and BMI2) must give them too.
std::vector<std::string> Tokens(std::string_view text) {
  std::vector<std::string> plain, out, baseline;
  auto emit = [&](std::string_view t) { plain.emplace_back(t); };
  TextTokens(text, emit);
  size_t padded = 0;
  PaddedRecorder recorder{&out, &padded};
  TextTokens(text, recorder);
  EXPECT_EQ(out, plain);
  EXPECT_LE(padded, out.size());
  size_t baseline_padded = 0;
  PaddedRecorder baseline_recorder{&baseline, &baseline_padded};
  TextTokensBaseline(text, baseline_recorder);
  EXPECT_EQ(baseline, out);
  EXPECT_EQ(baseline_padded, padded);
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

// The store's kind of emitter for TextTokens (store_embedded.cc's WriteTokenHashes): each token's
// hash written in order, padded words through TokenHashPadded.
struct HashWriter {
  std::vector<uint64_t>* out;
  void operator()(std::string_view t) const { out->push_back(store_internal::TokenHash(t)); }
  void Padded(const char* p, size_t n) const {
    out->push_back(store_internal::TokenHashPadded(p, n));
  }
};

// store_embedded.cc's WriteTokenHashes: hashes written through a pointer it keeps (TextTokens
// emits at most text.size() + 1 tokens).
struct PointerWriter {
  uint64_t* next;
  void operator()(std::string_view t) { *next++ = store_internal::TokenHash(t); }
  void Padded(const char* p, size_t n) { *next++ = store_internal::TokenHashPadded(p, n); }
};

// Through TextTokens (on this CPU perhaps its AVX2 build, which works on a copy of a trivially
// copyable emitter and copies it back), through TextTokensBaseline, and through the store's kind
// of emitter: the same hashes.
std::vector<uint64_t> Hashes(std::string_view text) {
  std::vector<uint64_t> out, baseline;
  HashWriter writer{&out};
  TextTokens(text, writer);
  HashWriter baseline_writer{&baseline};
  TextTokensBaseline(text, baseline_writer);
  EXPECT_EQ(baseline, out);
  // The store's own kind (WriteTokenHashes): its state, the write pointer, is in the emitter, so
  // a copy not copied back would lose the tokens.
  std::vector<uint64_t> written(text.size() + 1);
  PointerWriter pointer{written.data()};
  TextTokens(text, pointer);
  written.resize(static_cast<size_t>(pointer.next - written.data()));
  EXPECT_EQ(written, out);
  return out;
}

// The text as given in a heap block of exactly its size (ASan reports a read past it; one byte
// more, zeroed, would be readable and a separator, so such a read would go unseen).
std::vector<uint64_t> HashesOnHeap(const std::string& text) {
  const auto heap = std::make_unique_for_overwrite<char[]>(text.size());
  std::memcpy(heap.get(), text.data(), text.size());
  return Hashes(std::string_view(heap.get(), text.size()));
}

// Every byte value at every offset of a 64-byte piece (so of each of its 16- and 32-byte SSE
// blocks too), in texts of each token kind, shifted so pieces and words cross the piece edges: the
// hash sequence equals the byte-at-a-time definition's.
TEST(IndexTokensTest, EveryByteAtEveryOffsetGivesTheReferenceHashes) {
  const std::string bases[] = {
      std::string(200, 'a'),
      "abc.def ghi_jkl MNO pq rs tu vw xy z 0123 45 6789 abcdef0123456789 " + std::string(140, 'b'),
      "1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.18.19.20.21.22.23.24.25.26.27.28.29.30.31.32.33.34"
      "35.36.37.38.39.40.41.42.43.44.45.46.47.48.49.50.51.52.53.54.55.56.57.58.59.60.61.62.63.64.6",
      "deadbeef0123 DEADBEEF 00000000 fe80::1:2:3 2001:db8::ff00:42:8329 \xe6\x97\xa5\xe6\x9c\xac "
      "\xc3\xa9t\xc3\xa9 \xff\xfe\x80 caf\xc3 abc\x80"
      "def 12345 123 1234 _ __ a_1 Z9 ",
  };
  size_t compared = 0;
  for (const std::string& base : bases) {
    for (size_t shift : {0, 13, 63}) {
      const std::string text = std::string(shift, base[0]) + base;
      for (size_t at = shift; at < shift + 96 && at < text.size(); ++at) {
        std::string t = text;
        for (int b = 0; b < 256; ++b) {
          t[at] = static_cast<char>(b);
          ASSERT_EQ(Hashes(t), ReferenceTextTokenHashes(t)) << shift << " " << at << " " << b;
          ++compared;
        }
      }
    }
  }
  EXPECT_EQ(compared, 4u * 3 * 96 * 256);
}

// The two ways to build TextTokens' masks (SSE2's MaskPiece, and AVX2's where the CPU has it;
// TextTokens takes the AVX2 one there, so the tests above check that one against the reference)
// give the same masks and lowered bytes: every byte value at every offset of three pieces, and
// every length of the last piece.
TEST(IndexTokensTest, MaskPiecesAvx2EqualsMaskPiece) {
#if defined(SECCLOUD_INDEX_TOKENS_AVX2)
  if (!UseAvx2()) GTEST_SKIP() << "no AVX2 on this CPU";
  constexpr size_t kBytes = 192;
  std::string text(kBytes, '\0');
  std::mt19937_64 rng(20261127);
  for (char& c : text) c = static_cast<char>(rng());
  auto same = [](std::string_view t) {
    const size_t words = (t.size() + 63) / 64;
    std::vector<char> low_a(words * 64 + 1, 1), low_b(words * 64 + 1, 2);
    std::vector<uint64_t> a(3 * words + 1, 7), b(3 * words + 1, 9);
    MaskPieces(t.data(), t.size(), words, low_a.data(), a.data(), a.data() + words,
               a.data() + 2 * words);
    MaskPiecesAvx2(t.data(), t.size(), words, low_b.data(), b.data(), b.data() + words,
                   b.data() + 2 * words);
    a.back() = b.back() = 0;
    low_a.back() = low_b.back() = 0;
    return a == b && low_a == low_b;
  };
  for (size_t at = 0; at < kBytes; ++at) {
    std::string t = text;
    for (int v = 0; v < 256; ++v) {
      t[at] = static_cast<char>(v);
      ASSERT_TRUE(same(t)) << at << " " << v;
    }
  }
  for (size_t len = 0; len <= kBytes; ++len) {
    const auto heap = std::make_unique_for_overwrite<char[]>(len);  // ASan: no read past len
    std::memcpy(heap.get(), text.data(), len);
    ASSERT_TRUE(same(std::string_view(heap.get(), len))) << len;
  }
#else
  GTEST_SKIP() << "no AVX2 path in this build";
#endif
}

// Tokens of every length 0..300 of each kind (letters, digits, hex ids, '_', UTF-8, invalid
// UTF-8), at every start in a 64-byte piece, alone and between separators.
TEST(IndexTokensTest, TokensOfEveryLengthGiveTheReferenceHashes) {
  const std::string units[] = {"a",    "Q",    "7", "0a", "dE", "_", "\xc3\xa9", "\xe6\x97\xa5",
                               "\xff", "\x80", "1."};
  for (const std::string& unit : units) {
    for (size_t len = 0; len <= 300; ++len) {
      std::string word;
      while (word.size() < len) word += unit;
      word.resize(len);
      for (size_t pad = 0; pad < 64; pad += (len < 70 ? 1 : 9)) {
        for (const char* sep : {" ", ".", "\0", "-Z"}) {
          const std::string s(sep, sep[0] == '\0' ? 1 : std::strlen(sep));
          const std::string text = std::string(pad, ' ') + word + s + word + s;
          ASSERT_EQ(HashesOnHeap(text), ReferenceTextTokenHashes(text))
              << "unit " << unit << " len " << len << " pad " << pad;
        }
      }
      ASSERT_EQ(HashesOnHeap(word), ReferenceTextTokenHashes(word)) << unit << " " << len;
    }
  }
}

// Dotted quads, IPv6, UTF-8 and invalid UTF-8 pieces, joined at random into texts up to
// 3,000 bytes (past the stack buffer of 2,048).
TEST(IndexTokensTest, HostilePiecesGiveTheReferenceHashes) {
  const std::string pieces[] = {
      "10.0.0.1",
      "192.168.100.200",
      "1.2.3.4.5",
      "001.02.3.4444",
      "1.2.3",
      "255.255.255.255.",
      "::1",
      "fe80::1%eth0",
      "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
      "[2001:db8::1]:443",
      "::ffff:10.1.2.3",
      "\xe3\x81\x82\xe3\x81\x84",
      "\xf0\x9f\x98\x80",
      "\xc3\x28",
      "\xed\xa0\x80",
      "\xf8\x88\x80\x80\x80",
      "\xe2\x82",
      "\xc0\xaf",
      "deadbeefcafe0123",
      "DEADBEEF",
      "0x7fff",
      "12345",
      "99",
      "_",
      "a",
      "A_b-C",
      " ",
      ".",
      "..",
      "\t",
      "\n",
      std::string(1, '\0'),
      std::string(64, 'x'),
      std::string(65, 'y'),
      std::string(63, '9'),
  };
  std::mt19937_64 rng(20261127);
  for (int iter = 0; iter < 20000; ++iter) {
    std::string text;
    const size_t len = iter % 100 == 0 ? 2000 + rng() % 1000 : rng() % 300;
    while (text.size() < len) {
      text += pieces[rng() % std::size(pieces)];
      if (rng() % 3 == 0) text += static_cast<char>(rng() % 256);
    }
    ASSERT_EQ(HashesOnHeap(text), ReferenceTextTokenHashes(text)) << iter;
  }
}

// Real log lines: the Sigma regression events and the Loghub samples under /work/shared/data
// (and, when SOCBENCH_DATA names it, the bench corpus), each as it is: the same hash sequence
// as the reference.
TEST(IndexTokensTest, RealLogLinesGiveTheReferenceHashes) {
  namespace fs = std::filesystem;
  const fs::path shared = fs::path(SECCLOUD_SOURCE_DIR) / ".." / "shared" / "data";
  std::vector<fs::path> files;
  for (const fs::path& dir : {shared / "sigma" / "regression_data", shared / "logs" / "loghub"}) {
    std::error_code ec;
    if (!fs::exists(dir, ec)) continue;
    for (const auto& e : fs::recursive_directory_iterator(dir, ec)) {
      const auto ext = e.path().extension();
      if (e.is_regular_file() && (ext == ".json" || ext == ".log")) files.push_back(e.path());
    }
  }
  if (const char* bench = std::getenv("SOCBENCH_DATA"); bench != nullptr) {
    for (const auto& e : fs::directory_iterator(bench)) {
      if (e.path().filename() != "manifest.json") files.push_back(e.path());
    }
  }
  if (files.empty()) GTEST_SKIP() << "no log data under " << shared;
  size_t lines = 0, tokens = 0;
  for (const fs::path& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::string line;
    while (std::getline(in, line)) {
      const std::vector<uint64_t> want = ReferenceTextTokenHashes(line);
      ASSERT_EQ(HashesOnHeap(line), want) << f << ": " << line;
      ++lines;
      tokens += want.size();
    }
  }
  std::printf("[ tokens   ] %zu lines, %zu tokens in %zu files\n", lines, tokens, files.size());
  EXPECT_GT(tokens, 0u);
}

TEST(IndexTokensTest, LoweredTokenHashIsTheHashOfTheLoweredValue) {
  std::mt19937_64 rng(20261129);
  const std::string alphabet = "AZaz09_-. @[`{\x80\xc3\xa9\xff";
  for (int iter = 0; iter < 3000; ++iter) {
    // Every 100th round up to past kMaxIndexedValueBytes.
    for (size_t len = 0; len <= 40 || (iter % 100 == 0 && len <= kMaxIndexedValueBytes + 24);
         ++len) {
      std::string value(len, '\0');
      for (char& c : value) {
        c = rng() % 4 == 0 ? static_cast<char>(rng()) : alphabet[rng() % alphabet.size()];
      }
      std::string lowered(len, '\0');
      for (size_t i = 0; i < len; ++i) lowered[i] = LowerAscii(value[i]);
      // A copy of exactly len bytes on the heap: ASan reports a read past it.
      const auto heap = std::make_unique_for_overwrite<char[]>(len);
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
  // The first occurrence is glued to a word, the one at raw's end is not: raw's end counts.
  EXPECT_TRUE(TextTokensWithin("xFailed password: Failed password", "Failed password"));
  EXPECT_FALSE(TextTokensWithin("xFailed password: xFailed password", "Failed password"));
  EXPECT_TRUE(TextTokensWithin("Failed password x", "Failed password"));  // at 0, not at the end
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

// Texts that end right before an unmapped page, and that start right after one: a read of even
// one byte past either end faults, in the release build too (ASan is not in ctest's first pass).
TEST(IndexTokensTest, TextsNextToAnUnmappedPage) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  char* m = static_cast<char*>(
      mmap(nullptr, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(m, MAP_FAILED);
  ASSERT_EQ(mprotect(m, page, PROT_NONE), 0);
  ASSERT_EQ(mprotect(m + 2 * page, page, PROT_NONE), 0);
  std::mt19937_64 rng(20261128);
  const std::string_view alphabet = "aZ09fF.g _\x80\xff\xc3-";
  for (size_t len = 0; len <= 300; ++len) {
    for (int rep = 0; rep < 8; ++rep) {
      std::string s(len, 'a');
      if (rep != 0) {
        for (char& c : s) c = alphabet[rng() % alphabet.size()];
      }
      for (char* at : {m + 2 * page - len, m + page}) {  // ends at the guard / starts after one
        std::memcpy(at, s.data(), len);
        ASSERT_EQ(Hashes(std::string_view(at, len)), ReferenceTextTokenHashes(s))
            << len << " " << rep;
      }
    }
  }
  ASSERT_EQ(munmap(m, 3 * page), 0);
}

}  // namespace
}  // namespace seccloud::soc::index_tokens
