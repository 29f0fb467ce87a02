#pragma once
// A flat, read-only view of one JSON document: the groundwork for records whose fields are a
// table built in one pass over the raw line instead of a Boost.JSON tree (R18; see "Flat field
// table — migration plan" in README.md).
//
// The tape is the document's values in pre-order. A container's node is followed by its members
// (objects: each member's node carries its key) and records the index one past its subtree, so a
// reader skips a sibling in O(1). Strings and keys are views into the parsed line, or into the
// tape's own decode buffer when their text has escapes: the line must outlive the tape's use.
// Reading a new document reuses the node array and the decode buffer (no heap allocation per
// node, none at all once the capacities fit the largest document seen).
//
// Not thread-safe: one tape per thread or per record.

#include <boost/json/storage_ptr.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "soc/parse.h"  // kMaxParsedJsonDepth

namespace seccloud::soc {

enum class TapeKind : uint8_t { kObject, kArray, kString, kInt64, kUint64, kDouble, kBool, kNull };

// Trivially constructible (the tape's node array is allocated without initialising it); every
// field is set when the node is read.
struct TapeNode {
  // The member's key when the parent is an object, else empty.
  std::string_view key() const { return {key_data, key_size}; }
  // kString's text (decoded: escapes resolved; invalid UTF-8 kept byte for byte).
  std::string_view str() const { return {s.data, s.size}; }

  const char* key_data;
  union {
    int64_t i64;
    uint64_t u64;
    double dbl;
    bool boolean;
    struct {
      const char* data;
      size_t size;
    } s;
  };
  uint32_t key_size;
  // Objects and arrays: the number of members (duplicate keys counted each time they occur).
  uint32_t count;
  // One past the last node of this value's subtree (index + 1 for a scalar).
  uint32_t end;
  TapeKind kind;
};

// A read-only view of a tape's nodes: a FieldTape's, or an exact-size copy of them kept elsewhere
// (a Record keeps one: record.cc). The lookups below take either.
struct TapeSpan {
  const TapeNode* nodes = nullptr;
  size_t n = 0;

  size_t size() const { return n; }
  bool empty() const { return n == 0; }
  const TapeNode& operator[](size_t i) const { return nodes[i]; }
  size_t IndexOf(const TapeNode* node) const { return static_cast<size_t>(node - nodes); }
};

class FieldTape {
 public:
  // Bounds on one document. The defaults are Boost.JSON's depth as ParseJsonObject sets it and
  // node / decoded-byte counts no line under 32 MiB can reach (a line of n bytes holds at most
  // n values and decodes to at most n bytes; records are bounded to kMaxRawBytes), so with them
  // ReadJsonTape accepts exactly what ParseJsonObject accepts.
  struct Limits {
    int max_depth = kMaxParsedJsonDepth;
    size_t max_nodes = size_t{32} << 20;
    size_t max_decoded_bytes = size_t{64} << 20;
  };

  FieldTape() = default;
  // Throws std::invalid_argument unless 1 <= max_depth <= kMaxParsedJsonDepth (the reader
  // recurses once per level: the cap bounds its stack), max_nodes >= 1 and max_nodes fits the
  // tape's 32-bit node indexes. Limits are refused, never clamped: a caller asking for more than
  // the reader can give learns it at once.
  explicit FieldTape(Limits limits);

  // Drops the document, keeping the capacity of the node array and the decode buffer.
  void Clear() {
    size_ = 0;
    decoded_used_ = 0;
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const TapeNode* data() const { return nodes_.get(); }
  const TapeNode& operator[](size_t i) const { return nodes_[i]; }
  TapeSpan span() const { return {nodes_.get(), size_}; }
  // The decode buffer: strings and keys that had escapes view [decoded_data(), + decoded_bytes()).
  const char* decoded_data() const { return decoded_.get(); }
  size_t IndexOf(const TapeNode* n) const { return static_cast<size_t>(n - nodes_.get()); }
  const Limits& limits() const { return limits_; }
  // Bytes of decoded (escaped) string text in the current document.
  size_t decoded_bytes() const { return decoded_used_; }
  // Heap bytes held by the node array and the decode buffer (the reader sizes them for the
  // longest line read so far: about 41 bytes per byte of that line).
  size_t capacity_bytes() const { return node_capacity_ * sizeof(TapeNode) + decoded_capacity_; }
  // Drops the document and gives back the node array and the decode buffer when they hold more
  // than `max_bytes` together (after a long line, say); the next read allocates what its line
  // needs. Smaller capacities are kept.
  void ShrinkTo(size_t max_bytes);

 private:
  friend class TapeReader;

  Limits limits_;
  std::unique_ptr<TapeNode[]> nodes_;
  size_t node_capacity_ = 0;
  size_t size_ = 0;
  std::unique_ptr<char[]> decoded_;
  size_t decoded_capacity_ = 0;
  size_t decoded_used_ = 0;
};

// Reads `line` (one JSON object, then only JSON whitespace) into `tape` in one pass. Accepts and
// rejects exactly what ParseJsonObject (parse_util.cc, Boost.JSON 1.81's stream_parser with
// max_depth 64 and invalid UTF-8 allowed) does, with the same numbers bit for bit: integers are
// int64 when they fit, else uint64 (non-negative ones), else double; doubles are Boost 1.81's own
// (not always correctly rounded) result. On failure returns false, leaves the tape cleared and
// sets *error to ParseJsonObject's text for that line ("invalid JSON (…) at byte N", …) — the
// differences are listed in README.md. Its limits add "JSON has more than N values at byte P",
// "JSON strings decode to more than N bytes at byte P" and, for a line over 4 GiB, "JSON line
// longer than 4294967295 bytes".
bool ReadJsonTape(std::string_view line, FieldTape* tape, std::string* error);

// The node at a dotted path, chosen as FindField (record.cc) chooses on the tree Boost.JSON builds
// from the same line: per object, the longest key that is the path or a prefix of it ending before
// a '.', whose value is the path's value or an object to descend into; of duplicate keys, the last
// (the one Boost's object keeps). Null when there is none. `tape` must hold a document.
const TapeNode* FindInTape(const FieldTape& tape, std::string_view path);
const TapeNode* FindInTape(TapeSpan tape, std::string_view path);
// FindInTape's answer for `path` below object node `obj` (the root: FindInTape). Null when `obj`
// is not an object.
const TapeNode* FindInTapeObject(TapeSpan tape, size_t obj, std::string_view path);

// The Boost.JSON value of the subtree at `index`, as Boost's parser would build it (duplicate
// keys: the first one's place, the last one's value). For tests, and for the output paths that
// need a tree.
boost::json::value TapeToValue(const FieldTape& tape, size_t index, boost::json::storage_ptr sp);
boost::json::value TapeToValue(TapeSpan tape, size_t index, boost::json::storage_ptr sp);

}  // namespace seccloud::soc
