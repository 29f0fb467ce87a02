#pragma once
// One security event in the shape of /work/shared/events.md (R18): ECS field names, nested objects,
// one JSON object per line. Every service builds its events with this class and hands them to an
// EventWriter; the SOC reads the lines back with SpoolReader.

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace seccloud {

// The largest serialised event line, '\n' included, that an EventWriter accepts. Bounds the memory
// a reader needs per line and keeps one hostile request from flooding the spool.
inline constexpr size_t kMaxEventBytes = size_t{1} << 20;
// Bounds on field paths; paths are program constants, so exceeding them is a programming error.
inline constexpr size_t kMaxFieldPathBytes = 256;
inline constexpr size_t kMaxFieldPathDepth = 16;

enum class Outcome { kSuccess, kFailure, kUnknown };
const char* OutcomeName(Outcome outcome);  // "success", "failure", "unknown"

// Injected so tests control "@timestamp"; production uses SystemEventClock().
using EventClock = std::function<std::chrono::system_clock::time_point()>;
const EventClock& SystemEventClock();

// "2026-11-26T03:20:22.123Z": RFC 3339, UTC, milliseconds (truncated, not rounded).
std::string FormatEventTimestamp(std::chrono::system_clock::time_point t);

// A random UUIDv4 ("0b5f…-…-4…-[89ab]…-…"), 122 random bits from a per-thread generator seeded
// with getrandom(2) and reseeded after fork(), so a forked child never repeats its parent's ids.
std::string NewEventId();

// Returns `in` with every ill-formed UTF-8 sequence replaced by U+FFFD, one replacement per maximal
// ill-formed subpart (Unicode 15 §3.9, "substitution of maximal subparts"). Overlong forms,
// surrogates and code points above U+10FFFF are ill-formed.
std::string SanitizeUtf8(std::string_view in);

// Appends a fresh event id (the format of NewEventId) to `out` without allocating.
void AppendEventId(std::string& out);

// The shape of a well-formed field path (see Event::Set): what Set finds when it checks a path.
struct FieldPathShape {
  bool ascii;                         // no byte at or above 0x80: nothing to sanitise
  bool escape;                        // a byte JSON must escape in a key
  uint8_t depth;                      // segments
  uint16_t dots[kMaxFieldPathDepth];  // offsets of the depth - 1 dots (the rest unset)
};

// A field path checked when the program is compiled: Event::Set(const FieldPath&, …) skips the
// checks (well-formedness, UTF-8, escaping) that Set(std::string_view, …) makes on every call,
// which is most of a Set on the short constant paths the services use. Only printable ASCII
// other than '"' and the backslash is allowed (nothing to sanitise or escape), and a path that
// breaks a rule of Event::Set does not compile:
//   static constexpr FieldPath kClientIp{"client.ip"};
//   event.Set(kClientIp, ip);
class FieldPath {
 public:
  consteval explicit FieldPath(std::string_view path) : path_(path) {
    if (path.empty() || path.size() > kMaxFieldPathBytes) NotAWellFormedFieldPath();
    for (size_t i = 0; i < path.size(); ++i) {
      const char c = path[i];
      if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') NotAWellFormedFieldPath();
      if (c != '.') continue;
      if (i == 0 || i + 1 == path.size() || path[i - 1] == '.') NotAWellFormedFieldPath();
      if (shape_.depth == kMaxFieldPathDepth) NotAWellFormedFieldPath();
      shape_.dots[shape_.depth - 1] = static_cast<uint16_t>(i);
      ++shape_.depth;
    }
  }
  constexpr std::string_view view() const { return path_; }
  constexpr const FieldPathShape& shape() const { return shape_; }

 private:
  // Never defined: a constant evaluation that reaches it fails, so a bad path is a compile error.
  static void NotAWellFormedFieldPath();

  std::string_view path_;
  FieldPathShape shape_{true, false, 1, {}};
};

// Builder of one event. Not thread-safe; an Event is owned by one thread until it is appended.
//
// Every string stored in an event (keys and values, including strings nested inside a
// boost::json::value) is UTF-8-sanitised on the way in, so ToJsonLine() always emits valid UTF-8
// even when the values come from hostile traffic.
//
// Representation: the fields are kept flat, in the order they were first set, as (dotted path,
// value) pairs whose bytes live in one growing buffer; the nested objects of the JSON line are
// formed only when it is written. Building and writing an event costs three allocations (that
// buffer, the field list and the list of top-level key groups) instead of a tree of boost::json
// nodes, which matters because the proxy writes one per request.
class Event {
 public:
  Event() = default;

  // An event with "@timestamp" from `clock`, event.dataset/kind/action/outcome and a fresh
  // event.id. `kind` is ECS event.kind: "event", "alert", "metric" or "state".
  static Event Make(std::string_view dataset, std::string_view kind, std::string_view action,
                    Outcome outcome, const EventClock& clock = SystemEventClock());

  // Sets the field at a dotted path ("source.ip" → {"source":{"ip":…}}), creating the objects on
  // the way and replacing a previous value at the same path (in its place; a value set at a path
  // that held an object replaces the whole object). A malformed path (empty, an empty segment,
  // longer than kMaxFieldPathBytes or deeper than kMaxFieldPathDepth) or a path that runs
  // through a value ("a" is 1, then "a.b"; a boost::json object set as a whole value counts as a
  // value too) leaves the event unchanged and records the first such problem in error(): the
  // writer then refuses the event with that message rather than silently dropping or
  // overwriting the field.
  Event& Set(std::string_view path, std::string_view value);
  Event& Set(std::string_view path, const char* value) {
    return Set(path, std::string_view(value));
  }
  Event& Set(std::string_view path, const std::string& value) {
    return Set(path, std::string_view(value));
  }
  template <std::integral T>
  requires(!std::same_as<T, bool> && !std::same_as<T, char>) Event& Set(std::string_view path,
                                                                        T value) {
    return SetInteger(PathArg{path, nullptr}, value);
  }
  // JSON has no NaN or infinity; a non-finite value is stored as null.
  Event& Set(std::string_view path, double value);
  Event& Set(std::string_view path, bool value);
  // Arrays and objects; a value nested deeper than 64 levels is refused like a bad path.
  Event& Set(std::string_view path, const boost::json::value& value);

  // The same, at a path checked when it was compiled (see FieldPath): the same line as the
  // string_view overloads give the same path, for less work.
  Event& Set(const FieldPath& path, std::string_view value) {
    return SetString(PathArg{path.view(), &path.shape()}, value);
  }
  Event& Set(const FieldPath& path, const char* value) {
    return Set(path, std::string_view(value));
  }
  Event& Set(const FieldPath& path, const std::string& value) {
    return Set(path, std::string_view(value));
  }
  template <std::integral T>
  requires(!std::same_as<T, bool> && !std::same_as<T, char>) Event& Set(const FieldPath& path,
                                                                        T value) {
    return SetInteger(PathArg{path.view(), &path.shape()}, value);
  }
  Event& Set(const FieldPath& path, double value) {
    return SetDouble(PathArg{path.view(), &path.shape()}, value);
  }
  Event& Set(const FieldPath& path, bool value) {
    return SetBool(PathArg{path.view(), &path.shape()}, value);
  }
  Event& Set(const FieldPath& path, const boost::json::value& value) {
    return SetValue(PathArg{path.view(), &path.shape()}, value);
  }

  // The string at a dotted path (sanitised, unescaped), or nullopt when the path holds no string.
  // The view is valid until the next Set.
  std::optional<std::string_view> FindString(std::string_view path) const;
  // Whether anything (a value or an object) is at the dotted path.
  bool Has(std::string_view path) const;

  // For tests and diagnostics (they parse the serialised event): the value at a dotted path, or
  // nullopt; the whole event as a boost::json object.
  std::optional<boost::json::value> Find(std::string_view path) const;
  boost::json::object json() const;

  // The first invalid Set(), if any; see Set().
  const std::optional<Error>& error() const { return error_; }

  // The event as one line of JSON terminated by '\n'. No length limit here; the writer enforces
  // kMaxEventBytes.
  std::string ToJsonLine() const;
  // The same line appended to `out` (the writer builds a batch in one buffer).
  void AppendJsonLine(std::string& out) const;

 private:
  enum class Kind : uint8_t {
    kString,  // the value bytes are sanitised UTF-8, escaped when written
    kJson,    // the value bytes are JSON text (number, true/false/null, array, object)
    kObject,  // as kJson, but an object: paths may not run into it
  };
  // Field::escape bits: whether a segment of the path, or a kString value, holds a byte that
  // JSON must escape ('"', '\\', U+0000..U+001F). Found while the bytes are copied in, so that
  // writing the line copies everything else as it is, without looking at each byte again.
  static constexpr uint8_t kPathEscape = 1, kValueEscape = 2;
  // Paths of up to this many (sanitised) bytes carry their dots as a bit mask, so that writing
  // the line finds the nesting without reading the path byte by byte (most paths are shorter).
  static constexpr size_t kDotMaskBytes = 64;
  struct Field {
    uint32_t path_offset;
    uint16_t path_size;  // sanitised: at most 3 × kMaxFieldPathBytes (U+FFFD per byte)
    Kind kind;
    uint8_t escape;  // kPathEscape | kValueEscape
    uint32_t value_offset;
    uint32_t value_size;
    uint64_t dots;  // bit i: the path's byte i is a dot; only when path_size <= kDotMaskBytes
  };

  // A path as a Set received it: its shape when it was checked at compile time (FieldPath), null
  // when Set must check it.
  struct PathArg {
    std::string_view path;
    const FieldPathShape* shape;
  };
  template <std::integral T>
  Event& SetInteger(PathArg path, T value) {
    if constexpr (std::is_signed_v<T>) {
      return SetInt(path, static_cast<int64_t>(value));
    } else {
      return SetUint(path, static_cast<uint64_t>(value));
    }
  }
  Event& SetString(PathArg path, std::string_view value);
  Event& SetInt(PathArg path, int64_t value);
  Event& SetUint(PathArg path, uint64_t value);
  Event& SetDouble(PathArg path, double value);
  Event& SetBool(PathArg path, bool value);
  Event& SetValue(PathArg path, const boost::json::value& value);
  // Validates `path` (unless it comes with its shape), appends it and the value (written by
  // `append_value`, which returns the value's size) to text_ and places the field.
  // `append_value(text_, escape)` also sets `escape` (a bool&) when a kString value needs
  // escaping.
  template <class AppendValue>
  Event& SetField(PathArg path, Kind kind, AppendValue&& append_value);
  void RecordError(std::string message);
  std::string_view PathOf(const Field& f) const {
    return std::string_view(text_).substr(f.path_offset, f.path_size);
  }
  std::string_view ValueOf(const Field& f) const {
    return std::string_view(text_).substr(f.value_offset, f.value_size);
  }
  const Field* FindField(std::string_view sanitised_path) const;
  // The fields whose paths begin with one top-level key (adjacent in fields_: they form one
  // object, or are one value), so that a Set, Has or FindString looks only at the fields that
  // can share segments with its path, not at every field set so far.
  struct Group {
    uint64_t head;      // a quick reject: KeyHead in event.cc
    uint32_t key_size;  // the key's bytes
    uint32_t begin;     // fields_[begin, begin + count)
    uint32_t count;
  };
  // The group of the top-level key key[0, key_size) (sanitised bytes), or null.
  // `readable` bytes from `key` may be read (at least key_size).
  const Group* FindGroup(const char* key, size_t key_size, size_t readable) const;

  std::string text_;  // paths and values of fields_, and replaced values no longer referenced
  std::vector<Field> fields_;
  std::vector<Group> groups_;  // in the order of fields_
  uint64_t group_bloom_ = 0;   // a bit per key of groups_ (BloomBit in event.cc): quick misses
  // At least the size of the line (AppendJsonLine sizes its output once from it, then writes
  // without further checks): '{', "}\n" and each Set's worst case, never lowered when a field is
  // replaced or dropped.
  size_t line_bound_ = 3;
  std::optional<Error> error_;
};

}  // namespace seccloud
