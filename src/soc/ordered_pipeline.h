// An ordered pipeline for R18's search: work(i) runs for i = 0, 1, … n-1 on a few threads, at
// most `window` items ahead of the consumer, and the consumer takes the results in index order.
// The search decodes and prefilters its candidate blocks this way (both cores), while it merges
// and delivers records in time order on its own thread; memory stays bounded by the window.
// The window opens as items are taken: Take(i) lets items below i + min(window, threads + items
// taken before) start, so at first each thread has one item and none waits in line — a consumer
// that stops after its first item (a search whose first block fills its limit) waits for no
// item started after it, and had at most threads - 1 others worked on.
#ifndef SECCLOUD_SOC_ORDERED_PIPELINE_H_
#define SECCLOUD_SOC_ORDERED_PIPELINE_H_

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace seccloud::soc {

template <typename T>
class OrderedPipeline {
 public:
  // work(i, &result) must be safe to call from any thread, concurrently for different i. With
  // threads 0 (or when no thread can be started) Take() runs it on the caller's thread.
  OrderedPipeline(size_t n, size_t threads, size_t window, std::function<void(size_t, T*)> work)
      : n_(n), window_(std::max<size_t>(1, window)), work_(std::move(work)), slots_(n) {
    threads = std::min(threads, n);
    for (size_t t = 0; t < threads; ++t) {
      try {
        workers_.emplace_back([this] { Run(); });
      } catch (const std::system_error&) {
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
    limit_ = std::max(limit_, i + std::min(window_, workers_.size() + taken_));
    cv_.notify_all();
    cv_.wait(lock, [&] { return slots_[i].has_value(); });
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
      work_(i, &result);
      lock.lock();
      slots_[i] = std::move(result);
      cv_.notify_all();
    }
  }

  const size_t n_, window_;
  const std::function<void(size_t, T*)> work_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::optional<T>> slots_;  // guarded by mu_
  size_t claimed_ = 0;                   // the next item a worker starts
  size_t limit_ = 0;                     // workers start items below it (set by Take)
  size_t taken_ = 0;                     // items taken so far
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace seccloud::soc

#endif  // SECCLOUD_SOC_ORDERED_PIPELINE_H_
