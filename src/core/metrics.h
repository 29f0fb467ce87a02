#pragma once
// Counters and gauges every service exposes on /metrics (Prometheus text format 0.0.4), and the
// health every service reports on /healthz. Both are safe for concurrent use from any thread.

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace seccloud {

class Counter {
 public:
  void Increment(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class MetricsRegistry {
 public:
  // `name` follows Prometheus rules ([a-zA-Z_:][a-zA-Z0-9_:]*); `labels` is the inside of the
  // braces, already escaped (`service="proxy",tenant="tsu"`), or empty. Asking twice for the same
  // name and labels returns the same object; references stay valid for the registry's lifetime.
  Counter& GetCounter(std::string_view name, std::string_view help, std::string_view labels = {});
  Gauge& GetGauge(std::string_view name, std::string_view help, std::string_view labels = {});
  // Values computed at scrape time (uptime, queue lengths owned elsewhere).
  void AddGaugeFunction(std::string_view name, std::string_view help, std::string_view labels,
                        std::function<double()> fn);
  // Owners of a gauge function call this before they go away.
  void RemoveGaugeFunction(std::string_view name, std::string_view labels = {});

  std::string RenderPrometheus() const;

 private:
  struct Family {
    std::string help;
    std::string type;                          // "counter" or "gauge"
    std::map<std::string, Counter*> counters;  // by labels
    std::map<std::string, Gauge*> gauges;
    std::map<std::string, std::function<double()>> functions;
  };
  mutable std::mutex mu_;
  std::map<std::string, Family, std::less<>> families_;
  std::deque<Counter> counter_storage_;
  std::deque<Gauge> gauge_storage_;
};

// Escapes a label value for the Prometheus text format.
std::string PrometheusLabelValue(std::string_view v);

// A service is healthy when every component it registered is; each component carries the reason
// it is not ("spool: No space left on device").
class Health {
 public:
  void Set(std::string_view component, bool ok, std::string_view detail = {});
  bool healthy() const;
  // {"component": {"ok": true, "detail": ""}, ...}
  std::string ComponentsJson() const;
  std::string FirstProblem() const;

 private:
  struct State {
    bool ok = true;
    std::string detail;
  };
  mutable std::mutex mu_;
  std::map<std::string, State, std::less<>> components_;
};

const char* Version();

}  // namespace seccloud
