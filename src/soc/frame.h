#pragma once
// Splitting a byte stream into records (R18): syslog over TCP/TLS (RFC 6587: octet counting or
// newline framing, detected per frame) and JSON lines over TCP.
//
// Bounded whatever the peer sends: a frame longer than the limit yields its first `max_frame`
// bytes as a truncated frame and the rest is skipped without being buffered. Nothing is kept
// between calls except the current partial frame (at most `max_frame` bytes) and the frames and
// errors not yet taken with Next(); callers drain Next() after every Feed().
//
// Not thread-safe: one framer per connection.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "soc/record.h"

namespace seccloud::soc {

struct Frame {
  std::string data;        // the record without its framing (no count, no LF/CRLF/NUL)
  bool truncated = false;  // longer than the framer's limit: data is its start, the rest dropped
};

enum class FrameStatus {
  kNeedMore,  // no complete frame buffered: Feed() more bytes (or Finish() at end of stream)
  kFrame,     // *frame holds the next frame
  kError,     // *error says what was malformed; the framer has resynchronised after it
};

// RFC 6587 syslog framing. At the start of each frame, "MSG-LEN SP <" (digits, a space and the
// '<' of a PRI) selects octet counting; anything else is a line ended by LF, CRLF or NUL. Empty
// lines are skipped. A malformed octet count (leading zero, zero, more than 9 digits) is reported
// as an error and the framer resynchronises on the next LF.
class SyslogFramer {
 public:
  explicit SyslogFramer(size_t max_frame = kMaxRawBytes);

  void Feed(std::string_view bytes);
  // At end of stream: a last line without its LF becomes a frame; an octet-counted frame cut
  // short becomes a truncated frame and an error.
  void Finish();
  FrameStatus Next(Frame* frame, std::string* error);

  // Bytes held in the current partial frame (for tests and metrics).
  size_t partial_bytes() const { return current_.data.size() + count_.size(); }

 private:
  enum class State { kStart, kCount, kCountSpace, kOctets, kLine, kSkipLine };
  struct Item {
    bool is_error = false;
    Frame frame;
    std::string error;
  };
  void Emit();
  void EmitError(std::string message);
  void Append(char c);

  size_t max_frame_;
  State state_ = State::kStart;
  std::string count_;       // digits seen at the start of a frame
  uint64_t remaining_ = 0;  // octets still to read of an octet-counted frame
  uint64_t declared_ = 0;   // its declared length
  Frame current_;
  uint64_t offset_ = 0;  // bytes fed so far, for error messages
  std::deque<Item> ready_;
};

// JSON lines (or any newline-delimited text): LF or CRLF ends a record; empty lines are skipped;
// a line longer than the limit yields its start as a truncated frame and the rest is skipped.
class LineFramer {
 public:
  explicit LineFramer(size_t max_frame = kMaxRawBytes);

  void Feed(std::string_view bytes);
  void Finish();
  // Never returns kError: every byte sequence is some sequence of lines.
  FrameStatus Next(Frame* frame, std::string* error);

  size_t partial_bytes() const { return current_.data.size(); }

 private:
  void Emit();

  size_t max_frame_;
  bool skipping_ = false;
  Frame current_;
  std::deque<Frame> ready_;
};

}  // namespace seccloud::soc
