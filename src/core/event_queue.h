#pragma once
// Hands events from a service's hot path to its EventWriter without waiting for fdatasync: a
// bounded queue drained by one thread that appends in batches (one fsync per batch; a batch
// gathers for up to 5 ms after its first event, or until 1,024 are queued or a Flush). When the
// queue is full, Push blocks — back-pressure instead of silent loss. An event is acknowledged
// (durable) only once the writer thread has appended it; Flush waits for that.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>

#include "core/event.h"
#include "core/event_writer.h"
#include "core/metrics.h"

namespace seccloud {

class EventQueue {
 public:
  // `writer` must outlive the queue. `health` (may be null) gets component "events", red while
  // the writer fails. Metrics: seccloud_events_{queued,appended,failed,dropped}_total,
  // seccloud_events_queue_depth.
  EventQueue(EventWriter* writer, size_t capacity, MetricsRegistry* metrics, Health* health);
  // Drains what is queued, then stops; when the spool keeps failing, gives up after 5 s and
  // reports the events it could not write.
  ~EventQueue();
  EventQueue(const EventQueue&) = delete;
  EventQueue& operator=(const EventQueue&) = delete;

  void Push(Event event);
  // Never waits: for a thread that must not stop while the spool is behind (socd's network
  // receivers, whose one thread serves every input). When `capacity` events are queued the event
  // is dropped: counted in seccloud_events_dropped_total and named on stderr; returns false.
  bool TryPush(Event event);
  // Returns once every event pushed before the call has been appended (or has failed).
  void Flush();
  size_t depth() const;

 private:
  // Queues the event under `lock` (held, with room checked), releases it and wakes the writer
  // when it should.
  void Enqueue(std::unique_lock<std::mutex>& lock, Event event);
  void Run();

  EventWriter* writer_;
  const size_t capacity_;
  Health* health_;
  MetricsRegistry* metrics_;
  Counter* queued_;
  Counter* appended_;
  Counter* failed_;
  Counter* dropped_;
  mutable std::mutex mu_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::condition_variable drained_;
  std::deque<Event> queue_;
  uint64_t pushed_ = 0;
  uint64_t done_ = 0;
  int flushing_ = 0;  // Flush calls waiting: the writer does not let a batch gather
  bool stop_ = false;
  // Set by the destructor after a grace period: stop retrying a spool that keeps failing.
  bool stop_abandon_ = false;
  std::thread thread_;
};

}  // namespace seccloud
