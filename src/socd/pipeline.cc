#include "socd/pipeline.h"

#include <malloc.h>
#include <pthread.h>

#include <chrono>
#include <map>
#include <unordered_map>

#include "soc/field_view.h"
#include "soc/parse.h"

namespace seccloud::socd {
namespace {

constexpr size_t kBatch = 4096;
constexpr auto kBatchWait = std::chrono::milliseconds(50);
// Group commit: parsed records wait here while the store commits the previous group (its
// fdatasync), and the store then takes all of them (up to the limits below) in one Append, so the
// commit grows with the load and costs one fdatasync per group rather than per 4,096 records.
// Bounded so that memory stays bounded: normalised records are a few KiB each (16,384 waiting
// here and in each later stage cost socd +155-176 MiB of peak RSS over main on 300,000 syslog
// lines and 1.6x on JSON events, for no measurable gain on a busy 2-core machine; 8,192 is
// main's depth).
constexpr size_t kPreparedRecords = 2 * kBatch;
constexpr size_t kPreparedBatches = 16;  // bounds the idle ticks (empty batches) too
constexpr size_t kGroupRecords = 4 * kBatch;
// The memory of one group's records (Record::MemoryBytes: raw and the normalised fields' arena).
// Usual records hold 4–10 KiB each once normalised (an EVE record ~9.5 KiB by UseFieldArena's
// sizes), so the record bounds decide under usual load (16,384 EVE records ~155 MiB) and these
// byte bounds only under records that are large or hostile once normalised.
constexpr size_t kGroupBytes = 128 << 20;
// The memory of the records waiting prepared, as Record::MemoryBytes counts it (raw text and the
// arena of their normalised fields; the store's prepared copy of them is not counted): the record
// bound alone would let 8,192 records of 64 KiB each hold 1 GiB here, and a bound on raw bytes
// would let hostile records (~8 KiB JSON arrays of zeros, ~20× that once normalised) hold more.
constexpr size_t kPreparedBytes = 256 << 20;
// Stored groups waiting for detection: detection of one overlaps the commit of the next.
constexpr size_t kStoredGroups = 1;
// How long the pipeline must have had no records before the freed heap is handed back.
constexpr auto kTrimAfterIdle = std::chrono::seconds(5);

// Appends what the store prepared for one batch to what it prepared for the batches before it in
// the same group (records in order: the later batch's records come after the earlier's).
void AppendPrepared(soc::PreparedBatch&& from, soc::PreparedBatch* to) {
  to->Append(std::move(from));
}

}  // namespace

Pipeline::Pipeline(IngestQueue& queue, soc::LogStore& store, soc::AlertStore& alerts,
                   std::shared_ptr<const TenantRegistry> tenants, MetricsRegistry& metrics,
                   AlertCallback on_alert, StoreHealth store_health)
    : queue_(queue),
      store_(store),
      alerts_(alerts),
      metrics_(metrics),
      on_alert_(std::move(on_alert)),
      store_health_(std::move(store_health)),
      tenants_(std::move(tenants)) {}

Pipeline::~Pipeline() {
  queue_.Close();
  Join();
}

void Pipeline::SetDetectors(std::unique_ptr<Detectors> detectors) {
  std::lock_guard lock(mu_);
  pending_ = std::move(detectors);
}

void Pipeline::SetTenants(std::shared_ptr<const TenantRegistry> tenants) {
  std::lock_guard lock(mu_);
  tenants_ = std::move(tenants);
}

void Pipeline::Start() {
  // Named so that top -H, perf and /proc/<pid>/task/*/comm tell the stages apart.
  prepare_thread_ = std::thread([this] {
    ::pthread_setname_np(::pthread_self(), "soc-prepare");
    PrepareLoop();
  });
  commit_thread_ = std::thread([this] {
    ::pthread_setname_np(::pthread_self(), "soc-commit");
    CommitLoop();
  });
  detect_thread_ = std::thread([this] {
    ::pthread_setname_np(::pthread_self(), "soc-detect");
    DetectLoop();
  });
}

void Pipeline::Join() {
  if (prepare_thread_.joinable()) prepare_thread_.join();
  if (commit_thread_.joinable()) commit_thread_.join();
  if (detect_thread_.joinable()) detect_thread_.join();
}

void Pipeline::Prepare(IngestItem& item) {
  soc::Record& r = item.record;
  if (item.sniff_format) r.format = soc::SniffFormat(r.raw);
  soc::Normalize(r);
  if (!r.parsed) {
    counters_.parse_failures.fetch_add(1, std::memory_order_relaxed);
    // Per source, so an operator sees which sender's format is wrong. Sources are the configured
    // inputs and spools: a bounded set. Only the prepare thread touches the map.
    auto it = unparsed_by_source_.find(r.source);
    if (it == unparsed_by_source_.end()) {
      Counter& c = metrics_.GetCounter("seccloud_soc_unparsed_total",
                                       "Records stored raw because they did not parse, by source",
                                       "source=\"" + PrometheusLabelValue(r.source) + "\"");
      it = unparsed_by_source_.emplace(r.source, &c).first;
    }
    it->second->Increment();
  }
}

void Pipeline::Detect(const std::vector<soc::Record>& batch, int64_t now_ms, bool flush) {
  if (!detectors_) return;
  std::vector<soc::Detection> found;
  soc::FieldView fields;  // the dataset's lookup, without building a pending record's tree
  // Correlations whose condition is judged at the end of a window (lt/lte/eq) fire here.
  if (flush && detectors_->engine) detectors_->engine->Flush(now_ms, &found);
  for (size_t i = 0; i < batch.size(); ++i) {
    const soc::Record& r = batch[i];
    // The next records' first reads, while this one is looked at (the batch is cold by now:
    // Normalize, Prepare and Append ran over all of it since).
    soc::FieldView::Prefetch(batch, i);
    // The SOC's own alerts come back through its spool; detecting on them would feed back.
    fields.Reset(r);
    if (const soc::FieldRef& ds = fields.Dataset();
        ds.is_string() && ds.str().starts_with("soc.")) {
      continue;
    }
    // One view for the record's readers: a pending record's root index is built once.
    if (detectors_->engine) detectors_->engine->Process(fields, &found);
    if (detectors_->intel) soc::MatchRecord(*detectors_->intel, fields, &found);
  }
  CountCorrelation();
  if (found.empty()) {
    if (flush) SaveAbsence(false);
    return;
  }
  counters_.detections.fetch_add(found.size(), std::memory_order_relaxed);
  auto outcomes = alerts_.AddAll(found);
  if (!outcomes) {
    std::fprintf(stderr, "seccloud soc: alerts not stored: %s\n",
                 outcomes.error().ToString().c_str());
    return;
  }
  for (size_t i = 0; i < outcomes->size() && i < found.size(); ++i) {
    const soc::IngestOutcome& o = (*outcomes)[i];
    switch (o.kind) {
      case soc::IngestOutcome::Kind::kNewAlert:
        counters_.alerts_new.fetch_add(1, std::memory_order_relaxed);
        if (on_alert_) on_alert_(o.alert_id, found[i]);
        break;
      case soc::IngestOutcome::Kind::kGrouped:
        counters_.alerts_grouped.fetch_add(1, std::memory_order_relaxed);
        break;
      case soc::IngestOutcome::Kind::kSuppressed:
        counters_.alerts_suppressed.fetch_add(1, std::memory_order_relaxed);
        break;
      case soc::IngestOutcome::Kind::kResolved:
        if (o.alert_id == 0) break;
        counters_.alerts_recovered.fetch_add(1, std::memory_order_relaxed);
        if (on_alert_) on_alert_(o.alert_id, found[i]);
        break;
    }
  }
  // After the alerts: a crash in between reports an entity down again rather than never.
  if (flush) SaveAbsence(false);
}

void Pipeline::CountCorrelation() {
  if (!detectors_ || !detectors_->engine) return;
  const soc::CorrelationStats& now = detectors_->engine->correlation_stats();
  auto add = [](std::atomic<uint64_t>& to, uint64_t now_value, uint64_t& counted) {
    if (now_value > counted) to.fetch_add(now_value - counted, std::memory_order_relaxed);
    counted = now_value;
  };
  add(counters_.correlation_events_dropped, now.events_dropped,
      correlation_counted_.events_dropped);
  add(counters_.correlation_non_numeric_values, now.non_numeric_values,
      correlation_counted_.non_numeric_values);
  add(counters_.correlation_windows_unjudged, now.windows_unjudged,
      correlation_counted_.windows_unjudged);
  add(counters_.correlation_groups_evicted, now.groups_evicted,
      correlation_counted_.groups_evicted);
  add(counters_.correlation_groups_evicted_for_memory, now.groups_evicted_for_memory,
      correlation_counted_.groups_evicted_for_memory);
}

void Pipeline::SaveAbsence(bool all) {
  if (!detectors_ || !detectors_->engine) return;
  auto changes = detectors_->engine->TakeAbsenceChanges(all);
  if (changes.empty()) return;
  if (auto st = alerts_.SaveAbsence(changes); !st) {
    counters_.absence_save_failures.fetch_add(1, std::memory_order_relaxed);
    std::fprintf(stderr, "seccloud soc: absence state not saved: %s\n",
                 st.error().ToString().c_str());
  }
}

// Stage 1: parse and attribute. Runs beside stage 2 so that parsing the next batch overlaps the
// store's fdatasync and detection of the previous one.
void Pipeline::PrepareLoop() {
  std::vector<IngestItem> batch;
  while (queue_.PopBatch(&batch, kBatch, kBatchWait)) {
    std::shared_ptr<const TenantRegistry> tenants;
    {
      std::lock_guard lock(mu_);
      tenants = tenants_;
    }
    // The store's per-record step right after Normalize and attribution (which adds tenant.id),
    // while the record is still in the CPU's caches; the commit thread would find it cold.
    soc::PreparedBatch prepared;
    size_t batch_bytes = 0;
    for (IngestItem& item : batch) {
      Prepare(item);
      if (tenants) attributor_.Attribute(item.record, tenants);
      store_.Prepare(item.record, &prepared);
      batch_bytes += item.record.MemoryBytes();
    }
    std::unique_lock lock(prepared_mu_);
    // An empty batch still goes through: it is stage 3's tick for correlation windows. A batch
    // always fits into an empty hand-over, whatever its size.
    prepared_room_.wait(lock, [&] {
      return prepared_.empty() || (prepared_.size() < kPreparedBatches &&
                                   prepared_records_ + batch.size() <= kPreparedRecords &&
                                   prepared_bytes_ + batch_bytes <= kPreparedBytes);
    });
    prepared_records_ += batch.size();
    prepared_bytes_ += batch_bytes;
    counters_.prepared.fetch_add(batch.size(), std::memory_order_relaxed);
    prepared_.push_back({std::move(batch), std::move(prepared), batch_bytes});
    prepared_ready_.notify_one();
    batch = {};
  }
  std::lock_guard lock(prepared_mu_);
  prepared_done_ = true;
  prepared_ready_.notify_one();
}

// Stage 2: store durably (group commit), then hand the group to detection.
void Pipeline::CommitLoop() {
  std::unordered_map<std::string, Counter*> per_tenant;
  auto tenant_counter = [&](const std::string& tenant) -> Counter& {
    auto it = per_tenant.find(tenant);
    if (it != per_tenant.end()) return *it->second;
    Counter& c = metrics_.GetCounter(
        "seccloud_soc_records_total", "Records stored, by tenant",
        "tenant=\"" + PrometheusLabelValue(tenant.empty() ? "none" : tenant) + "\"");
    per_tenant.emplace(tenant, &c);
    return c;
  };
  while (true) {
    // Everything parsed meanwhile, in order, up to the group's limits: one Append, one fdatasync.
    std::vector<ParsedBatch> batches;
    size_t count = 0;
    bool done = false;
    {
      std::unique_lock lock(prepared_mu_);
      prepared_ready_.wait(lock, [&] { return !prepared_.empty() || prepared_done_; });
      size_t bytes = 0;
      while (!prepared_.empty()) {
        ParsedBatch& next = prepared_.front();
        if (count > 0 && (count + next.items.size() > kGroupRecords || bytes >= kGroupBytes)) break;
        bytes += next.bytes;
        prepared_bytes_ -= next.bytes;
        prepared_records_ -= next.items.size();
        count += next.items.size();
        batches.push_back(std::move(next));
        prepared_.pop_front();
      }
      done = prepared_.empty() && prepared_done_;
      prepared_room_.notify_one();
    }
    // The records move once, from the items into the group that is stored and then detected.
    std::vector<soc::Record> group;
    if (count > 0) {
      // The newest position of each source in this group, committed with it.
      std::map<std::string, std::string> positions;
      group.reserve(count);
      soc::PreparedBatch prepared = std::move(batches.front().prepared);
      for (size_t b = 0; b < batches.size(); ++b) {
        if (b > 0) AppendPrepared(std::move(batches[b].prepared), &prepared);
        for (IngestItem& item : batches[b].items) {
          if (!item.checkpoint_key.empty())
            positions[std::move(item.checkpoint_key)] = std::move(item.checkpoint_value);
          group.push_back(std::move(item.record));
        }
      }
      batches.clear();
      std::vector<soc::Checkpoint> checkpoints;
      for (auto& [k, v] : positions) checkpoints.push_back({k, v});
      // Nothing is dropped: a failing store (disk full) is retried until it takes the group, and
      // the receivers wait behind the full queues meanwhile.
      bool reported = false;
      while (true) {
        auto st = store_.AppendPrepared(group, checkpoints, prepared);
        if (st) break;
        counters_.store_failures.fetch_add(1, std::memory_order_relaxed);
        if (!reported && store_health_) store_health_(false, st.error().message);
        reported = true;
        std::this_thread::sleep_for(std::chrono::seconds(1));
      }
      if (reported && store_health_) store_health_(true, "");
      // Per run of one tenant (a connection's records mostly share one): a lookup per run.
      for (size_t i = 0; i < group.size();) {
        size_t j = i + 1;
        while (j < group.size() && group[j].tenant == group[i].tenant) ++j;
        tenant_counter(group[i].tenant).Increment(j - i);
        i = j;
      }
      counters_.records.fetch_add(group.size(), std::memory_order_relaxed);
      counters_.batches.fetch_add(1, std::memory_order_relaxed);
    }
    // An empty group is a tick: detection judges its windows on time, not on records.
    std::unique_lock lock(stored_mu_);
    stored_room_.wait(lock, [&] { return stored_.size() < kStoredGroups || group.empty(); });
    if (!group.empty() || stored_.empty()) stored_.push_back(std::move(group));
    if (done) stored_done_ = true;
    stored_ready_.notify_one();
    if (done) return;
  }
}

// Stage 3: detection and alerts over stored records, beside the commit of the next group.
void Pipeline::DetectLoop() {
  auto next_flush = std::chrono::steady_clock::now();
  bool trimmed = true;  // nothing detected since the last malloc_trim
  auto last_records = next_flush;
  while (true) {
    std::vector<soc::Record> group;
    {
      std::unique_lock lock(stored_mu_);
      stored_ready_.wait(lock, [&] { return !stored_.empty() || stored_done_; });
      if (stored_.empty()) {
        lock.unlock();
        SaveAbsence(true);  // exact last-seen times for the next start
        return;
      }
      group = std::move(stored_.front());
      stored_.pop_front();
      stored_room_.notify_one();
    }
    {
      std::lock_guard lock(mu_);
      if (pending_) {
        // Reload: correlation windows and absence entities carry over to the new rules.
        if (detectors_ && detectors_->engine && pending_->engine) {
          SaveAbsence(false);
          pending_->engine->RestoreState(detectors_->engine->TakeState());
        }
        CountCorrelation();  // the old engine's last counts; the new one's start from its own
        detectors_ = std::move(pending_);
        correlation_counted_ = {};
      }
    }
    const auto now = std::chrono::steady_clock::now();
    const bool flush = now >= next_flush;
    if (flush) next_flush = now + std::chrono::seconds(1);
    if (!group.empty()) {
      trimmed = false;
      last_records = now;
    }
    if (group.empty() && !flush) continue;
    Detect(group, WallClockMs(), flush);
    if (group.empty() && !trimmed && now - last_records >= kTrimAfterIdle) {
      // An empty group follows every record before it through the stages: the pipeline is idle.
      // The records of a burst were allocated and freed on four threads, whose malloc arenas
      // keep the freed pages (socd held 442 MiB after 300,000 syslog lines, its peak 462);
      // hand them back once per idle spell. Not at every short pause: the pages would be
      // faulted in again by the next records.
      ::malloc_trim(0);
      trimmed = true;
    }
  }
}

}  // namespace seccloud::socd
