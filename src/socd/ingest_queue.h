#pragma once
// The bounded hand-over between the SOC's receivers (network listeners, spool and file tailers)
// and its pipeline thread (R18). Receivers that can wait (TCP, TLS, tailers) are held back when it
// is full, so the backlog stays in the senders' socket buffers and in the files on disk; UDP
// cannot wait and counts what it must drop.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "soc/record.h"

namespace seccloud::socd {

// ms since the Unix epoch: when a record was received.
inline int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct IngestItem {
  soc::Record record;         // raw, format, source, peer, tenant, received_ms, truncated set
  bool sniff_format = false;  // the input's format is "auto": the pipeline sniffs this record
  // The position to save once this record is durable ("" for network sources, which have none).
  std::string checkpoint_key;
  std::string checkpoint_value;
};

// Thread-safe; many producers, one consumer.
class IngestQueue {
 public:
  explicit IngestQueue(size_t capacity) : capacity_(capacity) {}

  // Waits up to `timeout` for room; false when full after that, or when closed. `item` is moved
  // from only when the push succeeds, so a caller can retry with it.
  bool Push(IngestItem& item, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    if (!not_full_.wait_for(lock, timeout, [&] { return closed_ || items_.size() < capacity_; }))
      return false;
    if (closed_) return false;
    items_.push_back(std::move(item));
    not_empty_.notify_one();
    return true;
  }
  bool TryPush(IngestItem& item) { return Push(item, std::chrono::milliseconds(0)); }

  // Moves items[*next..] into the queue while there is room, under one lock (a receiver hands
  // over everything one read framed at once instead of locking per record); advances *next past
  // what it took. When there is no room at all it waits up to `timeout` for some. Returns false
  // when closed. A caller that must not lose the rest retries, leaving the bytes behind them
  // unread meanwhile (back-pressure).
  bool PushSome(std::vector<IngestItem>& items, size_t* next,
                std::chrono::milliseconds timeout = std::chrono::milliseconds(0)) {
    std::unique_lock lock(mu_);
    if (*next < items.size() && timeout.count() > 0)
      not_full_.wait_for(lock, timeout, [&] { return closed_ || items_.size() < capacity_; });
    if (closed_) return false;
    const size_t before = *next;
    while (*next < items.size() && items_.size() < capacity_) {
      items_.push_back(std::move(items[*next]));
      ++*next;
    }
    if (*next != before) not_empty_.notify_one();
    return true;
  }

  // Moves up to `max` items into `out` (cleared first), waiting up to `wait` for the first one.
  // Returns false once closed and drained.
  bool PopBatch(std::vector<IngestItem>* out, size_t max, std::chrono::milliseconds wait) {
    out->clear();
    std::unique_lock lock(mu_);
    not_empty_.wait_for(lock, wait, [&] { return closed_ || !items_.empty(); });
    if (items_.empty()) return !closed_;
    while (!items_.empty() && out->size() < max) {
      out->push_back(std::move(items_.front()));
      items_.pop_front();
    }
    not_full_.notify_all();
    return true;
  }

  // Wakes every waiter; pushes fail from now on, pops drain what is left.
  void Close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    not_full_.notify_all();
    not_empty_.notify_all();
  }

  size_t size() const {
    std::lock_guard lock(mu_);
    return items_.size();
  }
  size_t capacity() const { return capacity_; }

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable not_full_;
  std::condition_variable not_empty_;
  std::deque<IngestItem> items_;
  bool closed_ = false;
};

}  // namespace seccloud::socd
