#include "core/event_queue.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

namespace seccloud {

namespace {
constexpr size_t kMaxBatch = 1024;
// How long the writer lets a batch gather after its first event before writing it. Without it
// the writer woke for nearly every proxy request at 1,000/s (an idle queue gets an event, the
// writer takes it alone) and paid a write, an fdatasync and two futex calls for 2-4 events; an
// event now becomes durable up to this much later, and Flush() does not wait for it.
constexpr auto kGatherWindow = std::chrono::milliseconds(5);
}  // namespace

EventQueue::EventQueue(EventWriter* writer, size_t capacity, MetricsRegistry* metrics,
                       Health* health)
    : writer_(writer), capacity_(capacity == 0 ? 1 : capacity), health_(health), metrics_(metrics) {
  static MetricsRegistry unused;
  MetricsRegistry& m = metrics ? *metrics : unused;
  queued_ = &m.GetCounter("seccloud_events_queued_total", "Events handed to the event writer");
  appended_ =
      &m.GetCounter("seccloud_events_appended_total", "Events durably appended to the spool");
  failed_ = &m.GetCounter("seccloud_events_failed_total",
                          "Events the spool refused (disk full, I/O error, invalid event)");
  dropped_ = &m.GetCounter("seccloud_events_dropped_total",
                           "Events dropped because the event queue was full (TryPush)");
  if (metrics)
    metrics->AddGaugeFunction("seccloud_events_queue_depth", "Events waiting for the writer", "",
                              [this] { return static_cast<double>(depth()); });
  if (health_) health_->Set("events", true);
  thread_ = std::thread([this] { Run(); });
}

EventQueue::~EventQueue() {
  if (metrics_) metrics_->RemoveGaugeFunction("seccloud_events_queue_depth");
  {
    std::unique_lock lock(mu_);
    stop_ = true;
    not_empty_.notify_all();
    not_full_.notify_all();
    if (!drained_.wait_for(lock, std::chrono::seconds(5), [&] { return done_ >= pushed_; }))
      stop_abandon_ = true;
  }
  not_empty_.notify_all();
  thread_.join();
}

void EventQueue::Push(Event event) {
  std::unique_lock lock(mu_);
  not_full_.wait(lock, [&] { return queue_.size() < capacity_ || stop_; });
  Enqueue(lock, std::move(event));
}

void EventQueue::Enqueue(std::unique_lock<std::mutex>& lock, Event event) {
  // The writer sleeps only on an empty queue: waking it for every event would cost a futex call
  // per request on the proxy's hot path.
  const bool was_empty = queue_.empty();
  queue_.push_back(std::move(event));
  ++pushed_;
  queued_->Increment();
  // A full batch need not wait out the gathering window.
  const bool wake = was_empty || queue_.size() == kMaxBatch;
  lock.unlock();
  if (wake) not_empty_.notify_one();
}

bool EventQueue::TryPush(Event event) {
  std::unique_lock lock(mu_);
  if (queue_.size() >= capacity_) {
    lock.unlock();
    dropped_->Increment();
    const auto dataset = event.FindString("event.dataset");
    const auto action = event.FindString("event.action");
    std::fprintf(stderr,
                 "seccloud: event dropped (%.*s %.*s): the event queue holds %zu events, the "
                 "spool is behind\n",
                 static_cast<int>(dataset ? dataset->size() : 1), dataset ? dataset->data() : "?",
                 static_cast<int>(action ? action->size() : 1), action ? action->data() : "?",
                 capacity_);
    return false;
  }
  Enqueue(lock, std::move(event));
  return true;
}

void EventQueue::Flush() {
  std::unique_lock lock(mu_);
  const uint64_t target = pushed_;
  ++flushing_;
  not_empty_.notify_one();  // cut a gathering window short
  drained_.wait(lock, [&] { return done_ >= target; });
  --flushing_;
}

size_t EventQueue::depth() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void EventQueue::Run() {
  std::vector<Event> batch;
  std::vector<Event*> pointers;
  while (true) {
    {
      std::unique_lock lock(mu_);
      not_empty_.wait(lock, [&] { return !queue_.empty() || stop_; });
      if (queue_.empty() && stop_) return;
      not_empty_.wait_for(lock, kGatherWindow,
                          [&] { return queue_.size() >= kMaxBatch || stop_ || flushing_ > 0; });
      while (!queue_.empty() && batch.size() < kMaxBatch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    not_full_.notify_all();
    // An event the spool refuses as invalid can never succeed and is counted and reported; an
    // I/O failure (disk full) keeps the events and retries them, while Push applies
    // back-pressure once the queue is full.
    size_t finished = 0;
    std::chrono::milliseconds backoff(50);
    while (finished < batch.size()) {
      pointers.clear();
      for (size_t i = finished; i < batch.size(); ++i) pointers.push_back(&batch[i]);
      auto results = writer_->AppendAll(pointers);
      size_t ok = 0, invalid = 0;
      std::string error;
      size_t i = 0;
      for (; i < results.size(); ++i) {
        if (results[i]) {
          ++ok;
        } else if (results[i].error().code == Errc::kInvalidArgument) {
          ++invalid;
          std::fprintf(stderr, "seccloud: event refused by the spool: %s\n",
                       results[i].error().ToString().c_str());
        } else {
          error = results[i].error().ToString();
          break;  // this one and the rest are retried
        }
      }
      appended_->Increment(ok);
      failed_->Increment(invalid);
      finished += i;
      if (health_) health_->Set("events", writer_->healthy(), writer_->last_error());
      if (finished < batch.size()) {
        std::fprintf(stderr, "seccloud: spool write failed, retrying %zu event(s): %s\n",
                     batch.size() - finished, error.c_str());
        std::unique_lock lock(mu_);
        if (not_empty_.wait_for(lock, backoff, [&] { return stop_abandon_; })) break;
        backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
      }
    }
    if (finished < batch.size()) {
      failed_->Increment(batch.size() - finished);
      std::fprintf(stderr, "seccloud: LOST %zu event(s) at shutdown: the spool kept failing\n",
                   batch.size() - finished);
    }
    {
      std::lock_guard lock(mu_);
      done_ += batch.size();
    }
    drained_.notify_all();
    batch.clear();
  }
}

}  // namespace seccloud
