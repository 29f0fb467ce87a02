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

// Builder of one event. Not thread-safe; an Event is owned by one thread until it is appended.
//
// Every string stored in an event (keys and values, including strings nested inside a
// boost::json::value) is UTF-8-sanitised on the way in, so ToJsonLine() always emits valid UTF-8
// even when the values come from hostile traffic.
//
// Representation: the fields are kept flat, in the order they were first set, as (dotted path,
// value) pairs whose bytes live in one growing buffer; the nested objects of the JSON line are
// formed only when it is written. Building and writing an event costs two allocations (that
// buffer and the field list) instead of a tree of boost::json nodes, which matters because the
// proxy writes one per request.
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
    if constexpr (std::is_signed_v<T>) {
      return SetInt(path, static_cast<int64_t>(value));
    } else {
      return SetUint(path, static_cast<uint64_t>(value));
    }
  }
  // JSON has no NaN or infinity; a non-finite value is stored as null.
  Event& Set(std::string_view path, double value);
  Event& Set(std::string_view path, bool value);
  // Arrays and objects; a value nested deeper than 64 levels is refused like a bad path.
  Event& Set(std::string_view path, const boost::json::value& value);

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
  struct Field {
    uint32_t path_offset;
    uint16_t path_size;  // sanitised: at most 3 × kMaxFieldPathBytes (U+FFFD per byte)
    Kind kind;
    uint8_t escape;  // kPathEscape | kValueEscape
    uint32_t value_offset;
    uint32_t value_size;
  };

  Event& SetInt(std::string_view path, int64_t value);
  Event& SetUint(std::string_view path, uint64_t value);
  // Validates `path`, appends it and the value (written by `append_value`, which returns the
  // value's size) to text_ and places the field.
  // `append_value(text_, escape)` also sets `escape` (a bool&) when a kString value needs
  // escaping.
  template <class AppendValue>
  Event& SetField(std::string_view path, Kind kind, AppendValue&& append_value);
  void RecordError(std::string message);
  std::string_view PathOf(const Field& f) const {
    return std::string_view(text_).substr(f.path_offset, f.path_size);
  }
  std::string_view ValueOf(const Field& f) const {
    return std::string_view(text_).substr(f.value_offset, f.value_size);
  }
  const Field* FindField(std::string_view sanitised_path) const;

  std::string text_;  // paths and values of fields_, and replaced values no longer referenced
  std::vector<Field> fields_;
  // At least the size of the line (AppendJsonLine sizes its output once from it, then writes
  // without further checks): '{', "}\n" and each Set's worst case, never lowered when a field is
  // replaced or dropped.
  size_t line_bound_ = 3;
  std::optional<Error> error_;
};

}  // namespace seccloud
