// socd: the SOC service process (R18–R20).
#include "socd/socd.h"

#include <pthread.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <thread>

#include "core/config.h"
#include "core/event.h"
#include "core/text.h"
#include "net/http.h"
#include "net/service_host.h"
#include "soc/parse.h"
#include "socd/api.h"
#include "socd/detectors.h"
#include "socd/receivers.h"
#include "socd/tailers.h"

namespace seccloud::socd {
namespace {

// What the ingest queue may hold for the inputs that can wait (TCP, TLS, tailers), besides
// soc.queue_records (default 200,000: ~160 MiB of raw text alone for seccloud events of ~840
// bytes, which a sender with a backlog fills at once), while the pipeline takes 4,096 records
// at a time: 32 MiB is several such batches of any kind of record. The rest waits in the
// senders' sockets (TCP back-pressure) and the files on disk.
constexpr size_t kQueueBytes = size_t{32} << 20;
// What the queued UDP datagrams may hold, apart from kQueueBytes (a datagram cannot wait, so they
// do not share the waiting inputs' bound; src/socd/README.md). Without it only soc.queue_records
// bounds them: 200,000 × (64 KiB + a 280-byte item) is ~12.3 GiB. 64 MiB is ~115,000 syslog
// datagrams of 300 bytes (~580 counted each) or ~1,000 of the largest.
constexpr size_t kDatagramBytes = size_t{64} << 20;
// With a udp input, 1/kDatagramReserveShare of soc.queue_records is kept for datagrams: the
// inputs that can wait fill at most the rest.
constexpr size_t kDatagramReserveShare = 4;

soc::AlertPolicy PolicyOf(const SocConfig& sc) {
  soc::AlertPolicy p;
  p.critical_tenants = sc.critical_tenants;
  for (const IpPrefix& a : sc.critical_assets) p.critical_assets.push_back(a.ToString());
  return p;
}

// Only rules (with soc.expected and the placeholders), intel and alerting policy reload in
// place; the rest needs a restart.
bool SameExceptDetection(SocConfig a, SocConfig b) {
  a.rules = b.rules;
  a.intel = b.intel;
  a.placeholders = b.placeholders;
  a.tenant_placeholders = b.tenant_placeholders;
  a.expected = b.expected;
  return a == b;
}

// A new alert, or (d.resolves) an absence alert closed because its system is heard of again: both
// are what a tenant is told.
void RecordAlertEvent(net::ServiceHost& host, int64_t id, const soc::Detection& d) {
  Event e = Event::Make("soc.alert", "alert", d.resolves ? "alert-recovered" : "alert-raised",
                        Outcome::kSuccess);
  e.Set("event.category", "intrusion_detection");
  e.Set("event.type", "info");
  e.Set("event.severity", static_cast<int64_t>(d.level));
  e.Set("rule.id", d.rule_id);
  e.Set("rule.name", d.rule_title);
  e.Set("rule.ruleset", d.ruleset);
  if (!d.tenant.empty()) e.Set("tenant.id", d.tenant);
  if (!d.terminal.empty()) {
    if (IpAddress::Parse(d.terminal))
      e.Set("source.ip", d.terminal);
    else
      e.Set("host.name", d.terminal);
  }
  e.Set("seccloud.alert.group", id);
  e.Set("seccloud.alert.entity", d.entity);
  boost::json::array evidence;
  for (size_t i = 0; i < d.evidence.size() && i < 100; ++i) evidence.emplace_back(d.evidence[i]);
  e.Set("seccloud.alert.evidence", boost::json::value(std::move(evidence)));
  e.Set("message", std::string("alert ") + std::to_string(id) +
                       (d.resolves ? " recovered: " : ": ") + d.rule_title);
  host.events().Push(std::move(e));
}

}  // namespace

size_t DatagramReserve(const SocConfig& sc) {
  // A spool tailer catching up under a low soc.queue_records held every slot, and UDP lost
  // everything (src/socd/README.md).
  const bool udp = std::any_of(sc.inputs.begin(), sc.inputs.end(), [](const SocInputConfig& c) {
    return c.protocol == SocInputConfig::Protocol::kUdp;
  });
  return udp ? sc.queue_records / kDatagramReserveShare : 0;
}

int RunSocService(const std::filesystem::path& config_path) {
  auto host_or = net::ServiceHost::Create("socd", config_path);
  if (!host_or) {
    std::fprintf(stderr, "seccloud socd: %s\n", host_or.error().ToString().c_str());
    return 1;
  }
  net::ServiceHost& host = **host_or;
  const std::shared_ptr<const Config> config = host.config();
  const SocConfig sc = config->soc;
  if (!sc.enabled) {
    std::fprintf(stderr, "seccloud socd: the configuration has no enabled soc section\n");
    return 1;
  }
  auto fail = [&](const std::string& what) {
    std::fprintf(stderr, "seccloud socd: %s\n", what.c_str());
    host.RecordSystemEvent("system.service", "start-failed", Outcome::kFailure, what);
    return 1;
  };

  soc::EmbeddedStoreOptions so;
  so.directory = sc.store_dir;
  so.normalize = soc::Normalize;
  so.default_retention_days = static_cast<int>(sc.retention_default_days);
  so.ingest_level = sc.ingest_level;
  for (const auto& [cls, days] : sc.retention_days) so.retention_days[cls] = static_cast<int>(days);
  auto store_or = soc::OpenEmbeddedStore(std::move(so));
  if (!store_or) return fail(store_or.error().ToString());
  std::unique_ptr<soc::LogStore> store = std::move(*store_or);

  std::error_code mkdir_error;
  std::filesystem::create_directories(sc.alerts_db.parent_path(), mkdir_error);
  if (mkdir_error)
    return fail("cannot create " + sc.alerts_db.parent_path().string() + ": " +
                mkdir_error.message());
  soc::AlertStoreOptions ao;
  ao.path = sc.alerts_db.string();
  ao.group_window_ms = sc.group_window.count();
  ao.policy = PolicyOf(sc);
  auto alerts_or = soc::OpenAlertStore(ao);
  if (!alerts_or) return fail(alerts_or.error().ToString());
  std::unique_ptr<soc::AlertStore> alerts = std::move(*alerts_or);

  DetectorsReport report;
  auto detectors_or = BuildDetectors(sc, &report);
  if (!detectors_or) return fail(detectors_or.error().ToString());
  for (const auto& e : report.rules.errors)
    std::fprintf(stderr, "seccloud socd: rule error: %s\n", e.ToString().c_str());
  // seccloud-absence rules resume where the previous run left them (soc/absence.h).
  if ((*detectors_or)->engine) {
    auto entities = alerts->LoadAbsence();
    if (!entities) return fail(entities.error().ToString());
    (*detectors_or)->engine->RestoreAbsence(*entities);
  }

  auto checkpoints = store->LoadCheckpoints();
  if (!checkpoints) return fail(checkpoints.error().ToString());

  MetricsRegistry& m = host.metrics();
  IngestQueue queue(sc.queue_records, kQueueBytes, kDatagramBytes, DatagramReserve(sc));
  m.AddGaugeFunction("seccloud_soc_queue_records", "Records waiting for the pipeline", "",
                     [&queue] { return static_cast<double>(queue.size()); });
  const ProblemSink problem = IngestProblemSink(host.events(), /*may_wait=*/true);

  // Receivers bind first, so a taken port fails the start before anything runs.
  boost::asio::io_context net_io;
  // The tenants a dropped datagram's sender is looked up in; replaced on reload.
  std::mutex tenants_mu;
  std::shared_ptr<const TenantRegistry> tenants = config->registry;
  auto sender_tenant = [&](const std::string& address) -> std::string {
    std::shared_ptr<const TenantRegistry> r;
    {
      std::lock_guard lock(tenants_mu);
      r = tenants;
    }
    const auto a = IpAddress::Parse(address);
    const Tenant* owner = a && r ? r->Lookup(*a) : nullptr;
    return owner ? owner->id : std::string();
  };
  auto receivers_or =
      Receivers::Start(net_io, sc.inputs, queue, m,
                       IngestProblemSink(host.events(), /*may_wait=*/false), sender_tenant);
  if (!receivers_or) return fail(receivers_or.error().ToString());
  std::unique_ptr<Receivers> receivers = std::move(*receivers_or);
  // seccloud_soc_dropped_total of each tenant starts at 0, so that a first flood is an increase.
  auto tenant_ids = [](const std::shared_ptr<const TenantRegistry>& r) {
    std::vector<std::string> ids;
    if (r)
      for (const Tenant& t : r->tenants()) ids.push_back(t.id);
    return ids;
  };
  receivers->RegisterTenants(tenant_ids(config->registry));

  // Before dropping privileges: the CLI's token file is created root-owned, mode 0600.
  auto auth_or = ApiAuth::Open(sc.api_tokens, sc.api_cli_token);
  if (!auth_or) return fail("soc.api: " + auth_or.error().ToString());
  std::unique_ptr<ApiAuth> auth = std::move(*auth_or);
  auto ctx = std::make_shared<ApiContext>();
  boost::asio::io_context api_io;
  auto api_or = StartApiServer(api_io, sc, MakeApiHandler(ctx));
  if (!api_or) return fail(api_or.error().message);
  std::unique_ptr<net::AdminServer> api = std::move(*api_or);

  if (auto st = host.DropPrivileges({sc.store_dir, sc.alerts_db.parent_path()}); !st)
    return fail(st.error().ToString());

  Pipeline pipeline(
      queue, *store, *alerts, config->registry, m,
      [&host](int64_t id, const soc::Detection& d) { RecordAlertEvent(host, id, d); },
      [&host](bool ok, const std::string& detail) {
        host.health().Set("store", ok, ok ? "" : "the log store refuses writes: " + detail);
      });
  pipeline.SetDetectors(std::move(*detectors_or));
  std::mutex report_mu;
  std::string rules_summary = report.Summary();

  // Requests are served only once api_io runs, after the context is filled in here.
  ctx->auth = auth.get();
  ctx->metrics = [&m] { return m.RenderPrometheus(); };
  ctx->healthy = [&host] { return host.health().healthy(); };
  ctx->store = store.get();
  ctx->alerts = alerts.get();
  ctx->now_ms = WallClockMs;
  ctx->stats = [&]() {
    boost::json::object o;
    const PipelineCounters& c = pipeline.counters();
    o["records"] = c.records.load();
    o["parse_failures"] = c.parse_failures.load();
    o["batches"] = c.batches.load();
    o["store_failures"] = c.store_failures.load();
    o["detections"] = c.detections.load();
    o["alerts_new"] = c.alerts_new.load();
    o["alerts_grouped"] = c.alerts_grouped.load();
    o["alerts_suppressed"] = c.alerts_suppressed.load();
    o["alerts_recovered"] = c.alerts_recovered.load();
    o["correlation_events_dropped"] = c.correlation_events_dropped.load();
    o["correlation_non_numeric_values"] = c.correlation_non_numeric_values.load();
    o["correlation_windows_unjudged"] = c.correlation_windows_unjudged.load();
    o["correlation_groups_evicted"] = c.correlation_groups_evicted.load();
    o["correlation_groups_evicted_for_memory"] = c.correlation_groups_evicted_for_memory.load();
    o["queue"] = queue.size();
    const soc::StoreStats s = store->Stats();
    o["store_records"] = s.records;
    o["store_raw_bytes"] = s.raw_bytes;
    o["store_stored_bytes"] = s.stored_bytes;
    {
      std::lock_guard lock(report_mu);
      o["rules"] = rules_summary;
    }
    return o;
  };

  const PipelineCounters& pc = pipeline.counters();
  struct CounterMetric {
    const char* name;
    const char* help;
    const std::atomic<uint64_t>* value;
  } counters[] = {
      {"seccloud_soc_stored_total", "Records durably stored", &pc.records},
      {"seccloud_soc_parse_failures_total", "Records stored raw because no parser understood them",
       &pc.parse_failures},
      {"seccloud_soc_store_failures_total", "Store appends that failed and were retried",
       &pc.store_failures},
      {"seccloud_soc_detections_total", "Rule matches handed to alerting", &pc.detections},
      {"seccloud_soc_alerts_new_total", "New alerts", &pc.alerts_new},
      {"seccloud_soc_alerts_grouped_total", "Detections grouped into an open alert",
       &pc.alerts_grouped},
      {"seccloud_soc_alerts_suppressed_total", "Detections removed by a suppression",
       &pc.alerts_suppressed},
      {"seccloud_soc_correlation_events_dropped_total",
       "Correlation events whose value or order was lost (median/percentile past "
       "max_events_per_group, value_count past max_values_per_group, temporal_ordered out of "
       "order)",
       &pc.correlation_events_dropped},
      {"seccloud_soc_correlation_non_numeric_values_total",
       "Metric correlation values that are not numbers (skipped)",
       &pc.correlation_non_numeric_values},
      {"seccloud_soc_correlation_windows_unjudged_total",
       "Tumbling windows not judged because values were dropped (median/percentile, value_count)",
       &pc.correlation_windows_unjudged},
      {"seccloud_soc_correlation_groups_evicted_total",
       "Correlation groups evicted because the correlation had max_groups groups",
       &pc.correlation_groups_evicted},
      {"seccloud_soc_correlation_groups_evicted_for_memory_total",
       "Correlation groups evicted because the correlation's state reached its byte budget "
       "(max_state_bytes, or max_total_state_bytes over all correlations)",
       &pc.correlation_groups_evicted_for_memory},
  };
  for (const CounterMetric& c : counters)
    m.AddGaugeFunction(c.name, c.help, "",
                       [v = c.value] { return static_cast<double>(v->load()); });

  SpoolTailOptions sto;
  sto.spool_dir = config->events.spool_dir;
  sto.all_services = sc.all_spools;
  sto.services = sc.spools;
  SpoolTailer spools(sto, *checkpoints, queue, m, problem);
  std::vector<std::unique_ptr<FileTailer>> files;
  for (const SocInputConfig& in : sc.inputs) {
    if (in.protocol != SocInputConfig::Protocol::kFile) continue;
    FileTailOptions fo;
    fo.name = in.name;
    fo.path = in.path;
    fo.sniff = in.format == "auto";
    if (!fo.sniff) soc::ParseFormatName(in.format, &fo.format);
    fo.tenant = in.tenant;
    files.push_back(std::make_unique<FileTailer>(fo, *checkpoints, queue, m, problem));
  }

  pipeline.Start();
  spools.Start();
  for (auto& f : files) f->Start();
  std::thread net_thread([&] {
    ::pthread_setname_np(::pthread_self(), "soc-net");  // the network receivers
    net_io.run();
  });
  std::thread api_thread([&] { api_io.run(); });

  // Retention: at start and every hour; the only deletion there is.
  std::atomic<bool> stop_retention{false};
  std::thread retention([&] {
    auto next = std::chrono::steady_clock::now();
    while (!stop_retention.load()) {
      if (std::chrono::steady_clock::now() >= next) {
        auto r = store->EnforceRetention(WallClockMs());
        if (!r) problem("retention", r.error().message);
        // Blocks of days that are over are recompressed at the archive level (R18: compressed
        // storage); ingest writes them fast.
        if (auto st = store->Compact(WallClockMs() - 86'400'000); !st)
          problem("compaction", st.error().message);
        alerts->ExpireSuppressions();
        next = std::chrono::steady_clock::now() + std::chrono::hours(1);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  });

  host.OnReload([&](const std::shared_ptr<const Config>& next) -> Status {
    if (!SameExceptDetection(next->soc, sc))
      return MakeError(
          Errc::kInvalidArgument,
          "only soc.rules, soc.expected, soc.placeholders and soc.intel reload in place; "
          "other changes to the soc "
          "section take effect with a restart of socd");
    DetectorsReport r;
    ASSIGN_OR_RETURN(auto d, BuildDetectors(next->soc, &r));
    pipeline.SetDetectors(std::move(d));
    pipeline.SetTenants(next->registry);
    {
      std::lock_guard lock(tenants_mu);
      tenants = next->registry;
    }
    receivers->RegisterTenants(tenant_ids(next->registry));
    std::lock_guard lock(report_mu);
    rules_summary = r.Summary();
    std::fprintf(stderr, "seccloud socd: reloaded: %s\n", rules_summary.c_str());
    return {};
  });

  host.health().Set("store", true);
  std::fprintf(stderr, "seccloud socd: %s; store %s; API on %s; admin on %s\n",
               rules_summary.c_str(), sc.store_dir.c_str(),
               api->local_endpoint().ToString().c_str(), host.admin_endpoint().ToString().c_str());
  const int rc = host.Run([&](std::chrono::steady_clock::time_point) {
    receivers->Stop();
    spools.Stop();
    for (auto& f : files) f->Stop();
    queue.Close();
    pipeline.Join();
    if (auto st = store->Flush(); !st) problem("store", st.error().message);
  });
  stop_retention = true;
  retention.join();
  net_io.stop();
  net_thread.join();
  api->Stop();  // also cancels the streamed searches
  api_io.stop();
  api_thread.join();
  WaitForSearchStreams();  // their threads read the store
  for (const CounterMetric& c : counters) m.RemoveGaugeFunction(c.name);
  m.RemoveGaugeFunction("seccloud_soc_queue_records");
  return rc;
}

}  // namespace seccloud::socd
