#pragma once
// The bounded hand-over between the SOC's receivers (network listeners, spool and file tailers)
// and its pipeline thread (R18). Receivers that can wait (TCP, TLS, tailers) are held back when it
// is full, so the backlog stays in the senders' socket buffers and in the files on disk; UDP
// cannot wait and counts what it must drop.

#include <algorithm>
#include <atomic>
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
  bool datagram = false;  // set by IngestQueue::TryPush: counted apart from what can wait
};

// A FIFO of items in chunks of 64. std::deque holds one IngestItem (280 bytes) per node, so it
// allocated on every push and freed on every pop (~450 instructions a record between the two
// threads); a chunk is allocated per 64 items and freed once they are all taken.
class IngestFifo {
 public:
  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  IngestItem& front() { return chunks_.front()[head_]; }
  void push_back(IngestItem&& item) {
    if (chunks_.empty() || chunks_.back().size() == kChunk) {
      chunks_.emplace_back();
      chunks_.back().reserve(kChunk);
    }
    chunks_.back().push_back(std::move(item));
    ++size_;
  }
  // The item taken stays in its chunk, moved from, until the chunk goes.
  void pop_front() {
    --size_;
    std::vector<IngestItem>& chunk = chunks_.front();
    if (++head_ < chunk.size()) return;
    head_ = 0;
    if (chunk.size() == kChunk)
      chunks_.pop_front();
    else
      chunk.clear();  // the last chunk, still being filled: keep it
  }

 private:
  static constexpr size_t kChunk = 64;
  std::deque<std::vector<IngestItem>> chunks_;
  size_t head_ = 0;  // the front item's index in chunks_.front()
  size_t size_ = 0;
};

// Why TryPush refused a datagram.
enum class DatagramRefusal {
  kNone,
  kRecords,  // the queue holds `capacity` records
  kBytes,    // the queued datagrams take `max_datagram_bytes`
  kClosed,
};

// Thread-safe; many producers, one consumer.
class IngestQueue {
 public:
  // At most `capacity` records. Producers that can wait (Push, PushSome: TCP, TLS, tailers) are
  // also held back once their queued records take `max_bytes` (items and raw text; a record
  // always fits when none of theirs is queued): an input that is far ahead of the pipeline then
  // waits in its socket or file rather than in socd's memory. TryPush (UDP, which cannot wait)
  // drops a datagram when the queue holds `capacity` records or when the queued datagrams would
  // take more than `max_datagram_bytes` (a datagram always fits when none is queued): bounded by
  // the record count alone, 200,000 datagrams of 64 KiB would be ~12 GiB. The two byte counts
  // are apart, so a flood of datagrams never holds the waiting producers back (their bound
  // counts only their own items: TCP, TLS and the spool keep their share of the record slots
  // while UDP is flooded), and the waiting producers never make a datagram wait.
  //
  // `datagram_reserve` record slots are kept for datagrams: the waiting producers hold at most
  // capacity − datagram_reserve records (at least one). Without it a spool tailer catching up
  // (or a TCP sender with a backlog) under a low soc.queue_records held every slot, and every
  // datagram was dropped until it caught up. Datagrams may take every slot (they cannot wait;
  // the waiting producers' records then wait in their sockets and files).
  explicit IngestQueue(size_t capacity, size_t max_bytes = SIZE_MAX,
                       size_t max_datagram_bytes = SIZE_MAX, size_t datagram_reserve = 0)
      : capacity_(capacity),
        max_bytes_(max_bytes),
        max_datagram_bytes_(max_datagram_bytes),
        waiting_capacity_(capacity > datagram_reserve ? capacity - datagram_reserve
                                                      : std::min<size_t>(capacity, 1)) {}

  // What a queued item is counted as against max_bytes.
  static size_t Bytes(const IngestItem& item) {
    return sizeof(IngestItem) + item.record.raw.capacity() + HeapBytes(item.record.source) +
           HeapBytes(item.record.peer) + HeapBytes(item.record.tenant) +
           HeapBytes(item.checkpoint_key) + HeapBytes(item.checkpoint_value);
  }

  // Waits up to `timeout` for room; false when full after that, or when closed. `item` is moved
  // from only when the push succeeds, so a caller can retry with it.
  bool Push(IngestItem& item, std::chrono::milliseconds timeout) {
    const size_t bytes = Bytes(item);
    std::unique_lock lock(mu_);
    if (!not_full_.wait_for(lock, timeout, [&] { return closed_ || HasRoom(bytes); })) return false;
    if (closed_) return false;
    PushLocked(item, bytes);
    return true;
  }
  // Never waits. False (and `*why`, when given, says why) when the datagram does not fit; `item`
  // is then not moved from.
  bool TryPush(IngestItem& item, DatagramRefusal* why = nullptr) {
    const size_t bytes = Bytes(item);
    std::lock_guard lock(mu_);
    DatagramRefusal refusal = DatagramRefusal::kNone;
    if (closed_)
      refusal = DatagramRefusal::kClosed;
    else if (items_.size() >= capacity_)
      refusal = DatagramRefusal::kRecords;
    else if (datagram_bytes_ != 0 && datagram_bytes_ + bytes > max_datagram_bytes_)
      refusal = DatagramRefusal::kBytes;
    if (why) *why = refusal;
    if (refusal != DatagramRefusal::kNone) return false;
    item.datagram = true;
    items_.push_back(std::move(item));
    datagram_bytes_ += bytes;
    PublishLocked();
    not_empty_.notify_one();
    return true;
  }

  // The refusal TryPush would make now, read without the lock, for a datagram of `payload` bytes
  // of text (its item counts at least sizeof(IngestItem) more); kNone when it may fit, and
  // TryPush decides. The UDP receiver drops a datagram this refuses without making an item of
  // it: a drop under a flood costs no allocation, copy or lock.
  DatagramRefusal DatagramRefusalHint(size_t payload) const {
    if (closed_hint_.load(std::memory_order_relaxed)) return DatagramRefusal::kClosed;
    if (size_hint_.load(std::memory_order_relaxed) >= capacity_) return DatagramRefusal::kRecords;
    const size_t queued = datagram_bytes_hint_.load(std::memory_order_relaxed);
    if (queued != 0 && queued + sizeof(IngestItem) + payload > max_datagram_bytes_)
      return DatagramRefusal::kBytes;
    return DatagramRefusal::kNone;
  }

  // Moves items[*next..] into the queue while there is room, under one lock (a receiver hands
  // over everything one read framed at once instead of locking per record); advances *next past
  // what it took. When there is no room at all it waits up to `timeout` for some. Returns false
  // when closed. A caller that must not lose the rest retries, leaving the bytes behind them
  // unread meanwhile (back-pressure).
  bool PushSome(std::vector<IngestItem>& items, size_t* next,
                std::chrono::milliseconds timeout = std::chrono::milliseconds(0)) {
    std::unique_lock lock(mu_);
    if (*next < items.size() && timeout.count() > 0) {
      const size_t first = Bytes(items[*next]);
      not_full_.wait_for(lock, timeout, [&] { return closed_ || HasRoom(first); });
    }
    if (closed_) return false;
    const size_t before = *next;
    while (*next < items.size()) {
      const size_t bytes = Bytes(items[*next]);
      if (!HasRoom(bytes)) break;
      items[*next].datagram = false;  // as in PushLocked
      items_.push_back(std::move(items[*next]));
      bytes_ += bytes;
      ++waiting_items_;
      ++*next;
    }
    if (*next != before) {
      PublishLocked();
      not_empty_.notify_one();
    }
    return true;
  }

  // Moves up to `max` items into `out` (cleared first), waiting up to `wait` for the first one.
  // Returns false once closed and drained. One consumer only: what it saw queued stays queued
  // while it lets go of the lock to make room in `out`.
  bool PopBatch(std::vector<IngestItem>* out, size_t max, std::chrono::milliseconds wait) {
    out->clear();
    std::unique_lock lock(mu_);
    not_empty_.wait_for(lock, wait, [&] { return closed_ || !items_.empty(); });
    if (items_.empty()) return !closed_;
    const size_t n = std::min(max, items_.size());
    if (out->capacity() < n) {
      // The allocation (a batch's worth of items: ~1 MiB) is not made under the producers' lock.
      lock.unlock();
      out->reserve(n);
      lock.lock();
    }
    for (size_t i = 0; i < n; ++i) {
      IngestItem& item = items_.front();
      size_t& counter = item.datagram ? datagram_bytes_ : bytes_;
      // Every push added Bytes() of an item that does not change while queued, so the count
      // covers it; were that ever broken, the count must not wrap (a huge count refuses every
      // datagram and holds every waiting producer back for good): it stops at 0.
      counter -= std::min(counter, Bytes(item));
      if (!item.datagram) --waiting_items_;
      out->push_back(std::move(item));
      items_.pop_front();
    }
    // An empty queue holds nothing: whatever the counts drifted by (they cannot, as said above)
    // goes with the last item.
    if (items_.empty()) bytes_ = datagram_bytes_ = waiting_items_ = 0;
    PublishLocked();
    not_full_.notify_all();
    return true;
  }

  // Wakes every waiter; pushes fail from now on, pops drain what is left.
  void Close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    closed_hint_.store(true, std::memory_order_relaxed);
    not_full_.notify_all();
    not_empty_.notify_all();
  }

  size_t size() const {
    std::lock_guard lock(mu_);
    return items_.size();
  }
  size_t capacity() const { return capacity_; }
  // The records the waiting producers may hold: capacity() less the datagrams' reserve.
  size_t waiting_capacity() const { return waiting_capacity_; }
  size_t max_datagram_bytes() const { return max_datagram_bytes_; }
  // Bytes() of every queued item, datagrams included.
  size_t bytes() const {
    std::lock_guard lock(mu_);
    return bytes_ + datagram_bytes_;
  }
  // Bytes() of the queued datagrams alone.
  size_t datagram_bytes() const {
    std::lock_guard lock(mu_);
    return datagram_bytes_;
  }

 private:
  // What a string holds on the heap beyond the object itself (nothing while it is short).
  static size_t HeapBytes(const std::string& s) {
    return s.capacity() > std::string().capacity() ? s.capacity() + 1 : 0;
  }
  bool HasRoom(size_t bytes) const {
    return items_.size() < capacity_ && waiting_items_ < waiting_capacity_ &&
           (bytes_ == 0 || bytes_ + bytes <= max_bytes_);
  }
  void PushLocked(IngestItem& item, size_t bytes) {
    item.datagram = false;  // only TryPush makes a datagram: the caller's flag is not trusted
    items_.push_back(std::move(item));
    bytes_ += bytes;
    ++waiting_items_;
    PublishLocked();
    not_empty_.notify_one();
  }
  // Copies what DatagramRefusalHint reads; called under the lock after every change.
  void PublishLocked() {
    size_hint_.store(items_.size(), std::memory_order_relaxed);
    datagram_bytes_hint_.store(datagram_bytes_, std::memory_order_relaxed);
  }

  const size_t capacity_;
  const size_t max_bytes_;
  const size_t max_datagram_bytes_;
  const size_t waiting_capacity_;
  mutable std::mutex mu_;
  std::condition_variable not_full_;
  std::condition_variable not_empty_;
  IngestFifo items_;
  size_t bytes_ = 0;           // Bytes() of the queued items that could wait (Push, PushSome)
  size_t datagram_bytes_ = 0;  // Bytes() of the queued datagrams (TryPush)
  size_t waiting_items_ = 0;   // the queued items that could wait
  bool closed_ = false;
  // Copies of items_.size(), datagram_bytes_ and closed_ for DatagramRefusalHint.
  std::atomic<size_t> size_hint_{0};
  std::atomic<size_t> datagram_bytes_hint_{0};
  std::atomic<bool> closed_hint_{false};
};

}  // namespace seccloud::socd
