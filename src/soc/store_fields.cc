// Block version 6: values after `"key":` moved out of the stored raw texts into per-key columns
// (store_internal.h, "ValueSplitter"). Byte-exact by construction: the skeleton keeps every byte
// but the values', each value is one terminated entry of its column, and both sides find a
// value's key in the skeleton itself, so a key never depends on a value the decoder has yet to
// put back.

#include <cstring>

#include "soc/store_internal.h"

namespace seccloud::soc::store_internal {
namespace {

constexpr char kEsc = '\xff';
constexpr char kEscValue = 2;  // after kEsc: "the next value of this key's column"
constexpr size_t kMaxKeyBytes = 64;

// The key a value after skel[0, end) belongs to: skel ends with `"KEY":` where KEY is 1 to
// kMaxKeyBytes bytes holding neither `"` nor an escape byte. Empty when it does not.
std::string_view KeyBefore(std::string_view skel) {
  const size_t n = skel.size();
  if (n < 4 || skel[n - 1] != ':' || skel[n - 2] != '"') return {};
  const size_t key_end = n - 2;
  size_t i = key_end;
  while (i > 0 && key_end - i < kMaxKeyBytes + 1) {
    const char c = skel[i - 1];
    if (c == '"') {
      return i == key_end ? std::string_view() : skel.substr(i, key_end - i);
    }
    if (c == kEsc) return {};
    --i;
  }
  return {};
}

bool LiteralByte(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
         c == '+' || c == '-';
}

// The length of the value at the start of s: a string literal (quotes included, backslash
// escapes skipped) or a run of literal bytes (numbers, true, false, null); 0 when neither, or
// when it would hold a newline (the columns' terminator).
size_t ValueLength(std::string_view s) {
  if (s.empty()) return 0;
  if (s[0] == '"') {
    size_t j = 1;
    while (j < s.size()) {
      const char c = s[j];
      if (c == '"') return j + 1;
      if (c == '\n') return 0;
      if (c == '\\') {
        if (j + 1 >= s.size() || s[j + 1] == '\n') return 0;
        j += 2;
      } else {
        ++j;
      }
    }
    return 0;
  }
  size_t j = 0;
  while (j < s.size() && LiteralByte(s[j])) ++j;
  return j;
}

std::string ColumnKey(uint64_t group, std::string_view key) {
  std::string k(reinterpret_cast<const char*>(&group), sizeof group);
  k.append(key);
  return k;
}

}  // namespace

void ValueSplitter::Split(std::string_view text, uint64_t group, std::string* skeleton) {
  const size_t start = skeleton->size();
  size_t i = 0;
  while (i < text.size()) {
    // Copy up to and including the next ':' (escape pairs whole).
    size_t j = i;
    while (j < text.size() && text[j] != ':' && text[j] != kEsc) ++j;
    if (j < text.size() && text[j] == kEsc) {
      // An escape pair of the counted text (its second byte is never kEscValue).
      const size_t end = std::min(text.size(), j + 2);
      skeleton->append(text.data() + i, end - i);
      i = end;
      continue;
    }
    if (j == text.size()) {
      skeleton->append(text.data() + i, j - i);
      break;
    }
    skeleton->append(text.data() + i, j + 1 - i);
    i = j + 1;
    const std::string_view key = KeyBefore(std::string_view(*skeleton).substr(start));
    if (key.empty()) continue;
    const size_t len = ValueLength(text.substr(i));
    if (len == 0) continue;
    auto [it, added] = ids_.try_emplace(ColumnKey(group, key), columns_.size());
    if (added) {
      if (columns_.size() >= kMaxValueColumns) {
        ids_.erase(it);
        continue;
      }
      columns_.emplace_back();
    }
    std::string& col = columns_[it->second];
    col.append(text.data() + i, len);
    col.push_back('\n');
    skeleton->push_back(kEsc);
    skeleton->push_back(kEscValue);
    i += len;
  }
}

void ValueSplitter::Finish(std::string* out) {
  for (const std::string& c : columns_) out->append(c);
  columns_.clear();
  ids_.clear();
}

bool ValueJoiner::Scan(std::string_view skeleton, uint64_t group) {
  if (group != group_ || counts_.empty()) {
    // A group's records are scanned together: its keys never recur in a later group.
    group_ = group;
    ids_.clear();
    prev_.clear();
  }
  size_t k = 0;  // the marker's index in this skeleton
  for (size_t i = 0; i < skeleton.size(); ++i) {
    if (skeleton[i] != kEsc) continue;
    if (i + 1 >= skeleton.size()) return false;
    ++i;
    if (skeleton[i] != kEscValue) continue;
    const std::string_view key = KeyBefore(skeleton.substr(0, i - 1));
    if (key.empty()) return false;
    // Records of one shape follow each other: the k-th key is most often the one of the record
    // before, which saves the hash lookup.
    size_t id;
    if (k < prev_.size() && prev_[k].first == key) {
      id = prev_[k].second;
    } else {
      auto [it, added] = ids_.try_emplace(key, counts_.size());
      if (added) {
        if (counts_.size() >= kMaxValueColumns) return false;
        counts_.push_back(0);
      }
      id = it->second;
      if (k < prev_.size()) {
        prev_[k] = {key, id};
      } else {
        prev_.emplace_back(key, id);
      }
    }
    ++counts_[id];
    marks_.push_back(static_cast<uint32_t>(id));
    ++k;
  }
  return true;
}

bool ValueJoiner::Prepare(std::string_view values) {
  values_ = values;
  cursors_.assign(counts_.size(), 0);
  size_t at = 0;
  for (size_t c = 0; c < counts_.size(); ++c) {
    cursors_[c] = at;
    for (uint64_t k = 0; k < counts_[c]; ++k) {
      const void* nl = std::memchr(values.data() + at, '\n', values.size() - at);
      if (nl == nullptr) return false;
      at = static_cast<const char*>(nl) - values.data() + 1;
    }
  }
  next_mark_ = 0;
  return at == values.size();
}

bool ValueJoiner::Join(std::string_view skeleton, std::string* out) {
  size_t i = 0;
  while (i < skeleton.size()) {
    const void* e = std::memchr(skeleton.data() + i, kEsc, skeleton.size() - i);
    const size_t j = e == nullptr ? skeleton.size() : static_cast<const char*>(e) - skeleton.data();
    out->append(skeleton.data() + i, j - i);
    if (j == skeleton.size()) break;
    if (j + 1 >= skeleton.size()) return false;
    if (skeleton[j + 1] != kEscValue) {
      out->append(skeleton.data() + j, 2);
      i = j + 2;
      continue;
    }
    if (next_mark_ >= marks_.size()) return false;
    size_t& at = cursors_[marks_[next_mark_++]];
    const char* nl =
        static_cast<const char*>(std::memchr(values_.data() + at, '\n', values_.size() - at));
    if (nl == nullptr) return false;
    const size_t end = nl - values_.data();
    out->append(values_.data() + at, end - at);
    at = end + 1;
    if (out->size() > kMaxRawBytes) return false;
    i = j + 2;
  }
  return true;
}

}  // namespace seccloud::soc::store_internal
