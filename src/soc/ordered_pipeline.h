// An ordered pipeline for R18's search: work(i) runs for i = 0, 1, … n-1 on a few threads, at
// most `window` items ahead of the consumer, and the consumer takes the results in index order.
// The search decodes and prefilters its candidate blocks this way (both cores), while it merges
// and delivers records in time order on its own thread; memory stays bounded by the window.
// The window opens as items are taken: Take(i) lets items below i + min(window, threads + items
// taken before) start, so at first each thread has one item and none waits in line — a consumer
// that stops after its first item (a search whose first block fills its limit) waits for no
// item started after it, and had at most threads - 1 others worked on; with first_window 1 (a
// first item that can fill the consumer's need alone) not even those.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

namespace seccloud::soc {

template <typename T>
class OrderedPipeline {
 public:
  // work(i, &result) must be safe to call from any thread, concurrently for different i. With
  // threads 0 (or when no thread can be started) Take() runs it on the caller's thread. An
  // exception work(i) throws on a worker is rethrown by Take(i), as it would be without workers.
  // first_window: how many items may start before the first is taken (at most the threads).
  OrderedPipeline(size_t n, size_t threads, size_t window, std::function<void(size_t, T*)> work,
                  size_t first_window = SIZE_MAX)
      : n_(n),
        window_(std::max<size_t>(1, window)),
        first_window_(std::max<size_t>(1, first_window)),
        work_(std::move(work)),
        slots_(n),
        errors_(n) {
    threads = std::min(threads, n);
    try {
      workers_.reserve(threads);
    } catch (...) {
      threads = 0;
    }
    for (size_t t = 0; t < threads; ++t) {
      try {
        workers_.emplace_back([this] { Run(); });
      } catch (...) {
        break;  // fewer threads (possibly none: Take() then does the work)
      }
    }
  }
  OrderedPipeline(const OrderedPipeline&) = delete;
  OrderedPipeline& operator=(const OrderedPipeline&) = delete;
  // Stops the workers (an item being worked on is finished and dropped) and joins them.
  ~OrderedPipeline() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
  }

  // Item i's result; items are taken in order 0, 1, 2, … (each once, i < n).
  T Take(size_t i) {
    std::unique_lock lock(mu_);
    if (workers_.empty()) {
      // No workers: do it here (claimed is only advanced by this thread).
      claimed_ = i + 1;
      lock.unlock();
      T result{};
      work_(i, &result);
      return result;
    }
    const size_t open =
        taken_ == 0 ? std::min(first_window_, workers_.size()) : workers_.size() + taken_;
    limit_ = std::max(limit_, i + std::min(window_, open));
    cv_.notify_all();
    cv_.wait(lock, [&] { return slots_[i].has_value() || errors_[i] != nullptr; });
    if (errors_[i] != nullptr) {
      ++taken_;
      std::rethrow_exception(std::exchange(errors_[i], nullptr));
    }
    T result = std::move(*slots_[i]);
    slots_[i].reset();
    ++taken_;
    return result;
  }

 private:
  void Run() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stop_ || (claimed_ < n_ && claimed_ < limit_); });
      if (stop_) return;
      const size_t i = claimed_++;
      lock.unlock();
      T result{};
      std::exception_ptr error;
      try {
        work_(i, &result);
      } catch (...) {
        error = std::current_exception();  // Take(i) rethrows it on the consumer's thread
      }
      lock.lock();
      if (error != nullptr)
        errors_[i] = std::move(error);
      else
        slots_[i] = std::move(result);
      cv_.notify_all();
    }
  }

  const size_t n_, window_, first_window_;
  const std::function<void(size_t, T*)> work_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::optional<T>> slots_;     // guarded by mu_
  std::vector<std::exception_ptr> errors_;  // guarded by mu_
  size_t claimed_ = 0;                      // the next item a worker starts
  size_t limit_ = 0;                        // workers start items below it (set by Take)
  size_t taken_ = 0;                        // items taken so far
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace seccloud::soc
