// Fuzzes soc::ReadJsonTape (R18), the one-pass JSON reader meant to replace Boost.JSON's tree for
// every ingested JSON line, against the reader it must equal: ParseJsonObject (Boost.JSON 1.81).
// Input: one byte n, then a dotted path of n % 32 bytes, then the line. Checks: the same verdict
// and error text (on a reused tape and on a fresh one); on success the same value (kinds, key
// order, doubles bit for bit), a tape whose subtree ends are consistent, and FindInTape choosing
// the node FindField chooses on the tree (the same keys down to it, each the last of its
// duplicates, and the same value).

#include <algorithm>
#include <boost/json/parse_options.hpp>
#include <boost/json/stream_parser.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "soc/field_tape.h"
#include "soc/parse.h"
#include "soc/parse_internal.h"
#include "soc/record.h"

namespace {

namespace json = boost::json;
using seccloud::soc::FieldTape;
using seccloud::soc::TapeKind;

void Check(bool ok) {
  if (!ok) std::abort();
}

bool SameValue(const json::value& a, const json::value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case json::kind::object: {
      const auto& x = a.get_object();
      const auto& y = b.get_object();
      if (x.size() != y.size()) return false;
      for (auto i = x.begin(), j = y.begin(); i != x.end(); ++i, ++j) {
        if (i->key() != j->key() || !SameValue(i->value(), j->value())) return false;
      }
      return true;
    }
    case json::kind::array: {
      const auto& x = a.get_array();
      const auto& y = b.get_array();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!SameValue(x[i], y[i])) return false;
      }
      return true;
    }
    case json::kind::double_: {
      const double x = a.get_double(), y = b.get_double();
      return std::memcmp(&x, &y, sizeof x) == 0;
    }
    default:
      return a == b;
  }
}

// Every container's members lie inside it and end where it ends.
void CheckEnds(const FieldTape& tape, size_t i) {
  const auto& n = tape[i];
  Check(n.end > i && n.end <= tape.size());
  if (n.kind != TapeKind::kObject && n.kind != TapeKind::kArray) {
    Check(n.end == i + 1);
    return;
  }
  size_t count = 0;
  size_t j = i + 1;
  for (; j < n.end; j = tape[j].end) {
    CheckEnds(tape, j);
    Check((n.kind == TapeKind::kObject) || tape[j].key().empty());
    ++count;
  }
  Check(j == n.end && count == n.count);
}

// The keys from the root down to tape node `target`; false unless every step is the last member
// of its object with that key (the one whose value Boost's object keeps).
bool TapeKeys(const FieldTape& tape, size_t target, std::vector<std::string_view>* keys) {
  bool last = true;
  for (size_t at = 0; at != target;) {
    size_t child = tape[at].end;
    for (size_t i = at + 1; i < tape[at].end; i = tape[i].end) {
      if (i <= target && target < tape[i].end) child = i;
    }
    if (child == tape[at].end || tape[at].kind != TapeKind::kObject) return false;
    keys->push_back(tape[child].key());
    for (size_t i = tape[child].end; i < tape[at].end; i = tape[i].end) {
      if (tape[i].key() == tape[child].key()) last = false;
    }
    at = child;
  }
  return last;
}

// The keys down to the value at `want` in Boost's tree (objects only, as FindField descends).
bool BoostKeys(const json::object& obj, const json::value* want,
               std::vector<std::string_view>* keys) {
  for (const auto& kv : obj) {
    keys->push_back(kv.key());
    if (&kv.value() == want) return true;
    if (kv.value().is_object() && BoostKeys(kv.value().get_object(), want, keys)) return true;
    keys->pop_back();
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t path_len = std::min<size_t>(data[0] % 32, size - 1);
  const std::string_view path(reinterpret_cast<const char*>(data) + 1, path_len);
  const std::string_view line(reinterpret_cast<const char*>(data) + 1 + path_len,
                              size - 1 - path_len);

  static FieldTape tape;  // reused, as ingest would reuse it
  std::string tape_error, boost_error;
  const bool tape_ok = seccloud::soc::ReadJsonTape(line, &tape, &tape_error);
  {
    // A fresh tape, with no capacity left by longer inputs before, must say the same.
    FieldTape fresh;
    std::string fresh_error;
    Check(seccloud::soc::ReadJsonTape(line, &fresh, &fresh_error) == tape_ok);
    Check(fresh_error == tape_error && fresh.size() == tape.size());
  }
  json::object obj;
  const bool boost_ok = seccloud::soc::internal::ParseJsonObject(line, {}, &obj, &boost_error);
  Check(tape_ok == boost_ok);
  if (!tape_ok) {
    Check(tape_error == boost_error);
    Check(tape.empty());
    return 0;
  }
  CheckEnds(tape, 0);
  Check(tape[0].end == tape.size());

  // Boost's tree before ParseJsonObject's UTF-8 sanitising: the tape keeps bytes as they are.
  json::parse_options opt;
  opt.max_depth = seccloud::soc::kMaxParsedJsonDepth;
  opt.allow_invalid_utf8 = true;
  json::stream_parser p({}, opt);
  json::error_code ec;
  p.write(line.data(), line.size(), ec);
  if (!ec) p.finish(ec);
  Check(!ec);
  const json::value want = p.release();
  Check(SameValue(seccloud::soc::TapeToValue(tape, 0, {}), want));

  const json::value* field = seccloud::soc::FindField(want.get_object(), path);
  const seccloud::soc::TapeNode* node = seccloud::soc::FindInTape(tape, path);
  Check((field == nullptr) == (node == nullptr));
  if (node != nullptr) {
    const size_t index = tape.IndexOf(node);
    Check(SameValue(seccloud::soc::TapeToValue(tape, index, {}), *field));
    // The same node, not only an equal value: a wrong pick between duplicates shows here.
    std::vector<std::string_view> got_keys, want_keys;
    Check(TapeKeys(tape, index, &got_keys));
    Check(BoostKeys(want.get_object(), field, &want_keys));
    Check(got_keys == want_keys);
  }
  return 0;
}
