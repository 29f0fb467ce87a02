#pragma once
// The SOC's pipeline (R18–R20), three threads: the first takes batches from the IngestQueue,
// parses each record and attributes it to a tenant; the second appends what the first parsed
// meanwhile, as one group with the sources' positions, to the store (durable before anything else
// sees it: group commit, one fdatasync per group, so the commit grows with the load); the third
// runs detection and threat-intelligence matching over the stored records and hands what fired to
// the alert store, while the second commits the next group. Records keep their order from queue
// to store to detection.

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/metrics.h"
#include "core/tenant_registry.h"
#include "soc/alert.h"
#include "soc/attribution.h"
#include "soc/detect.h"
#include "soc/intel.h"
#include "soc/store.h"
#include "socd/ingest_queue.h"

namespace seccloud::socd {

// What runs over stored records; replaced whole on reload.
struct Detectors {
  std::unique_ptr<soc::DetectionEngine> engine;  // may be null: no rules
  std::shared_ptr<const soc::IntelSet> intel;    // may be null: no feeds
};

struct PipelineCounters {
  std::atomic<uint64_t> records{0};
  std::atomic<uint64_t> prepared{0};  // records parsed and handed to the commit stage
  std::atomic<uint64_t> parse_failures{0};
  std::atomic<uint64_t> batches{0};
  std::atomic<uint64_t> store_failures{0};
  std::atomic<uint64_t> detections{0};
  std::atomic<uint64_t> alerts_new{0};
  std::atomic<uint64_t> alerts_grouped{0};
  std::atomic<uint64_t> alerts_suppressed{0};
  std::atomic<uint64_t> alerts_recovered{0};  // absence alerts closed because events resumed
  std::atomic<uint64_t> absence_save_failures{0};
  // What explains a quiet correlation (soc::CorrelationStats, summed over reloads): events whose
  // value or order was lost (median/percentile past max_events_per_group, value_count past
  // max_values_per_group, temporal_ordered out of order; every other event past the cap is
  // aggregated, corr29), metric values that are not numbers, tumbling windows not judged because
  // they lost values.
  std::atomic<uint64_t> correlation_events_dropped{0};
  std::atomic<uint64_t> correlation_non_numeric_values{0};
  std::atomic<uint64_t> correlation_windows_unjudged{0};
  // Correlation groups evicted: max_groups reached, or the state's byte budgets (cmem30).
  std::atomic<uint64_t> correlation_groups_evicted{0};
  std::atomic<uint64_t> correlation_groups_evicted_for_memory{0};
};

class Pipeline {
 public:
  // Called for every new alert (not for grouped or suppressed detections), and for an absence
  // alert closed by its entity's recovery (Detection::resolves set), on the pipeline thread.
  using AlertCallback = std::function<void(int64_t alert_id, const soc::Detection&)>;
  // Reports store failures and recoveries (health).
  using StoreHealth = std::function<void(bool ok, const std::string& detail)>;

  Pipeline(IngestQueue& queue, soc::LogStore& store, soc::AlertStore& alerts,
           std::shared_ptr<const TenantRegistry> tenants, MetricsRegistry& metrics,
           AlertCallback on_alert, StoreHealth store_health);
  ~Pipeline();

  void SetDetectors(std::unique_ptr<Detectors> detectors);  // any thread; used from the next batch
  void SetTenants(std::shared_ptr<const TenantRegistry> tenants);
  void Start();
  // Processes what is queued (the queue must be closed first), then returns.
  void Join();

  const PipelineCounters& counters() const { return counters_; }

 private:
  void PrepareLoop();
  void CommitLoop();
  void DetectLoop();
  void Prepare(IngestItem& item);
  // Runs detection over a stored batch; `flush` (the once-a-second wall-clock tick) also judges
  // correlation windows that ended and silent seccloud-absence entities, and persists the
  // absence entities that changed.
  void Detect(const std::vector<soc::Record>& batch, int64_t now_ms, bool flush);
  void SaveAbsence(bool all);
  // Adds what the engine's correlation counters gained since the last call to counters_.
  void CountCorrelation();

  IngestQueue& queue_;
  soc::LogStore& store_;
  soc::AlertStore& alerts_;
  MetricsRegistry& metrics_;
  AlertCallback on_alert_;
  StoreHealth store_health_;
  std::mutex mu_;
  std::shared_ptr<const TenantRegistry> tenants_;  // guarded by mu_
  std::unique_ptr<Detectors> pending_;             // guarded by mu_
  std::unique_ptr<Detectors> detectors_;           // detect thread only
  soc::CorrelationStats correlation_counted_;  // detectors_'s engine's, as counted; detect thread
  std::unordered_map<std::string, Counter*> unparsed_by_source_;  // prepare thread only
  soc::Attributor attributor_;                                    // prepare thread only
  std::mutex prepared_mu_;
  std::condition_variable prepared_ready_;
  std::condition_variable prepared_room_;
  // A parsed batch and what the store's Prepare made of its records (in the same order).
  struct ParsedBatch {
    std::vector<IngestItem> items;
    soc::PreparedBatch prepared;
    size_t bytes = 0;  // its records' Record::MemoryBytes when they were handed over
  };
  std::deque<ParsedBatch> prepared_;  // guarded by prepared_mu_
  size_t prepared_records_ = 0;       // guarded by prepared_mu_
  size_t prepared_bytes_ = 0;         // their MemoryBytes; guarded by prepared_mu_
  bool prepared_done_ = false;        // guarded by prepared_mu_
  std::mutex stored_mu_;
  std::condition_variable stored_ready_;
  std::condition_variable stored_room_;
  std::deque<std::vector<soc::Record>> stored_;  // guarded by stored_mu_; empty = a tick
  bool stored_done_ = false;                     // guarded by stored_mu_
  PipelineCounters counters_;
  std::thread prepare_thread_;
  std::thread commit_thread_;
  std::thread detect_thread_;
};

}  // namespace seccloud::socd
