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

// Builder of one event. Not thread-safe; an Event is owned by one thread until it is appended.
//
// Every string stored in an event (keys and values, including strings nested inside a
// boost::json::value) is UTF-8-sanitised on the way in, so ToJsonLine() always emits valid UTF-8
// even when the values come from hostile traffic.
class Event {
 public:
  Event() = default;

  // An event with "@timestamp" from `clock`, event.dataset/kind/action/outcome and a fresh
  // event.id. `kind` is ECS event.kind: "event", "alert", "metric" or "state".
  static Event Make(std::string_view dataset, std::string_view kind, std::string_view action,
                    Outcome outcome, const EventClock& clock = SystemEventClock());

  // Sets the field at a dotted path ("source.ip" → {"source":{"ip":…}}), creating the objects on
  // the way and replacing a previous value at the same path. A malformed path (empty, an empty
  // segment, longer than kMaxFieldPathBytes or deeper than kMaxFieldPathDepth) or a path that
  // runs through a non-object value ("a" is 1, then "a.b") leaves the event unchanged and records
  // the first such problem in error(): the writer then refuses the event with that message rather
  // than silently dropping or overwriting the field.
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
      return SetValue(path, boost::json::value(static_cast<int64_t>(value)));
    } else {
      return SetValue(path, boost::json::value(static_cast<uint64_t>(value)));
    }
  }
  // JSON has no NaN or infinity; a non-finite value is stored as null.
  Event& Set(std::string_view path, double value);
  Event& Set(std::string_view path, bool value);
  Event& Set(std::string_view path, boost::json::value value) {
    return SetValue(path, std::move(value));
  }

  // The value at a dotted path, or nullptr.
  const boost::json::value* Find(std::string_view path) const;

  const boost::json::object& json() const { return fields_; }
  // The first invalid Set(), if any; see Set().
  const std::optional<Error>& error() const { return error_; }

  // The event as one line of JSON terminated by '\n'. No length limit here; the writer enforces
  // kMaxEventBytes.
  std::string ToJsonLine() const;

 private:
  Event& SetValue(std::string_view path, boost::json::value value);
  void RecordError(std::string message);

  boost::json::object fields_;
  std::optional<Error> error_;
};

}  // namespace seccloud
