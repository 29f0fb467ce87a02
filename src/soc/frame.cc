#include "soc/frame.h"

#include <algorithm>
#include <cstring>

namespace seccloud::soc {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Index of the first LF or NUL in `s`, or npos.
size_t FindLineEnd(std::string_view s, bool nul_ends_line) {
  const void* lf = std::memchr(s.data(), '\n', s.size());
  size_t end = lf != nullptr ? static_cast<const char*>(lf) - s.data() : std::string_view::npos;
  if (nul_ends_line) {
    const void* nul = std::memchr(s.data(), '\0', end == std::string_view::npos ? s.size() : end);
    if (nul != nullptr) end = static_cast<const char*>(nul) - s.data();
  }
  return end;
}

// Appends at most up to `max` bytes in total; marks the frame truncated when bytes are dropped.
void AppendBounded(Frame& f, std::string_view bytes, size_t max) {
  const size_t room = max > f.data.size() ? max - f.data.size() : 0;
  if (bytes.size() > room) f.truncated = true;
  f.data.append(bytes.substr(0, room));
}

}  // namespace

// ---- SyslogFramer ----

SyslogFramer::SyslogFramer(size_t max_frame) : max_frame_(std::max<size_t>(max_frame, 1)) {}

void SyslogFramer::Emit() {
  if (current_.data.empty() && !current_.truncated) return;
  Item item;
  item.frame = std::move(current_);
  ready_.push_back(std::move(item));
  current_ = Frame();
}

void SyslogFramer::EmitError(std::string message) {
  Item item;
  item.is_error = true;
  item.error = std::move(message);
  ready_.push_back(std::move(item));
}

void SyslogFramer::Feed(std::string_view bytes) {
  size_t i = 0;
  while (i < bytes.size()) {
    const std::string_view rest = bytes.substr(i);
    switch (state_) {
      case State::kStart: {
        const char c = rest[0];
        ++i;
        if (c == '\n' || c == '\r' || c == '\0') break;  // blank lines between frames
        if (IsDigit(c)) {
          count_.assign(1, c);
          state_ = State::kCount;
        } else {
          current_.data.assign(1, c);
          state_ = State::kLine;
        }
        break;
      }
      case State::kCount: {
        const char c = rest[0];
        if (IsDigit(c) && count_.size() < 20) {
          count_.push_back(c);
          ++i;
        } else if (c == ' ') {
          state_ = State::kCountSpace;
          ++i;
        } else {
          // Not an octet count: the digits start an ordinary line (within the limit: a count may
          // be longer than a small max_frame).
          current_ = Frame();
          AppendBounded(current_, count_, max_frame_);
          count_.clear();
          state_ = State::kLine;
        }
        break;
      }
      case State::kCountSpace: {
        const char c = rest[0];
        if (c != '<') {
          current_ = Frame();
          AppendBounded(current_, count_ + " ", max_frame_);
          count_.clear();
          state_ = State::kLine;
          break;
        }
        const uint64_t at = offset_ + i - count_.size() - 1;
        ++i;
        std::string why;
        if (count_[0] == '0') {
          why = count_ == "0" ? "is zero" : "has a leading zero";
        } else if (count_.size() > 9) {
          why = "is longer than 9 digits";
        }
        if (!why.empty()) {
          EmitError("octet count \"" + count_ + "\" at byte " + std::to_string(at) + " " + why +
                    "; skipped to the next line feed");
          count_.clear();
          state_ = State::kSkipLine;
          break;
        }
        declared_ = std::stoull(count_);
        count_.clear();
        current_ = Frame();
        current_.data.assign(1, '<');
        remaining_ = declared_ - 1;
        state_ = State::kOctets;
        if (remaining_ == 0) {
          Emit();
          state_ = State::kStart;
        }
        break;
      }
      case State::kOctets: {
        const size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, rest.size()));
        AppendBounded(current_, rest.substr(0, take), max_frame_);
        remaining_ -= take;
        i += take;
        if (remaining_ == 0) {
          Emit();
          state_ = State::kStart;
        }
        break;
      }
      case State::kLine: {
        const size_t end = FindLineEnd(rest, /*nul_ends_line=*/true);
        const std::string_view chunk = rest.substr(0, end);
        AppendBounded(current_, chunk, max_frame_);
        if (end == std::string_view::npos) {
          i = bytes.size();
          if (current_.truncated) {
            // The limit is reached: hand out what we have and drop the rest of the line.
            Emit();
            state_ = State::kSkipLine;
          }
        } else {
          i += end + 1;
          if (!current_.truncated && !current_.data.empty() && current_.data.back() == '\r') {
            current_.data.pop_back();
          }
          Emit();
          state_ = State::kStart;
        }
        break;
      }
      case State::kSkipLine: {
        const size_t end = FindLineEnd(rest, /*nul_ends_line=*/true);
        if (end == std::string_view::npos) {
          i = bytes.size();
        } else {
          i += end + 1;
          state_ = State::kStart;
        }
        break;
      }
    }
  }
  offset_ += bytes.size();
}

void SyslogFramer::Finish() {
  switch (state_) {
    case State::kCount:
      current_ = Frame();
      AppendBounded(current_, count_, max_frame_);
      count_.clear();
      Emit();
      break;
    case State::kCountSpace:
      current_ = Frame();
      AppendBounded(current_, count_ + " ", max_frame_);
      count_.clear();
      Emit();
      break;
    case State::kOctets:
      current_.truncated = true;
      EmitError("the stream ended " + std::to_string(declared_ - remaining_) + " bytes into a " +
                std::to_string(declared_) + "-byte octet-counted frame");
      Emit();
      break;
    case State::kLine:
      if (!current_.data.empty() && current_.data.back() == '\r') current_.data.pop_back();
      Emit();
      break;
    case State::kStart:
    case State::kSkipLine:
      break;
  }
  count_.clear();
  current_ = Frame();
  state_ = State::kStart;
}

FrameStatus SyslogFramer::Next(Frame* frame, std::string* error) {
  if (ready_.empty()) return FrameStatus::kNeedMore;
  Item item = std::move(ready_.front());
  ready_.pop_front();
  if (item.is_error) {
    *error = std::move(item.error);
    return FrameStatus::kError;
  }
  *frame = std::move(item.frame);
  return FrameStatus::kFrame;
}

// ---- LineFramer ----

LineFramer::LineFramer(size_t max_frame) : max_frame_(std::max<size_t>(max_frame, 1)) {}

void LineFramer::Emit() {
  if (!current_.truncated && !current_.data.empty() && current_.data.back() == '\r') {
    current_.data.pop_back();
  }
  if (!current_.data.empty() || current_.truncated) ready_.push_back(std::move(current_));
  current_ = Frame();
}

void LineFramer::Feed(std::string_view bytes) {
  while (!bytes.empty()) {
    const size_t end = FindLineEnd(bytes, /*nul_ends_line=*/false);
    const std::string_view chunk = bytes.substr(0, end);
    if (!skipping_) {
      AppendBounded(current_, chunk, max_frame_);
      if (current_.truncated) {
        Emit();
        skipping_ = true;
      }
    }
    if (end == std::string_view::npos) return;
    if (!skipping_) Emit();
    skipping_ = false;
    bytes.remove_prefix(end + 1);
  }
}

void LineFramer::Finish() {
  if (!skipping_) Emit();
  skipping_ = false;
  current_ = Frame();
}

FrameStatus LineFramer::Next(Frame* frame, std::string* /*error*/) {
  if (ready_.empty()) return FrameStatus::kNeedMore;
  *frame = std::move(ready_.front());
  ready_.pop_front();
  return FrameStatus::kFrame;
}

}  // namespace seccloud::soc
