#pragma once
// The SOC's network receivers (R18): syslog over UDP (RFC 5426), TCP (RFC 6587: octet counting or
// newline framing, detected per frame) and TLS (RFC 5425), and JSON lines over TCP. Every record
// carries its sender's address, its input's name and format, and the tenant the input is fixed to.
// TCP and TLS readers stop reading while the ingest queue is full (back-pressure reaches the
// sender through TCP flow control); UDP datagrams that find the queue full (its records, or the
// queued datagrams' bytes) are dropped, counted by input and tenant
// (seccloud_soc_dropped_total{source,tenant}) and reported as a problem at most once a minute:
// the first drop at once, the drops after it once the minute has passed. Datagrams the kernel
// drops (the socket's receive buffer full) are counted by SO_RXQ_OVFL
// (seccloud_soc_kernel_dropped_total{source}) and reported with them.

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/event_queue.h"
#include "core/metrics.h"
#include "core/result.h"
#include "core/soc_config.h"
#include "socd/ingest_queue.h"
#include "socd/tailers.h"

namespace seccloud::socd {

// The id of the tenant a sender's address (text) belongs to, "" for none. Called on the receivers'
// thread, only for datagrams that are dropped (the pipeline attributes the rest).
using SenderTenant = std::function<std::string(const std::string& address)>;

// socd's problem sink: the message goes to stderr and, as an ingest-problem event
// (system.service), to `events`. With `may_wait` false the event is handed over with
// EventQueue::TryPush, which never waits: dropped (and counted in seccloud_events_dropped_total)
// while the spool is behind. The receivers' sink must not wait — their one thread serves every
// network input, so a report waiting for a full event queue stopped UDP, TCP and TLS alike.
ProblemSink IngestProblemSink(EventQueue& events, bool may_wait);

class Receivers {
 public:
  virtual ~Receivers() = default;
  // Binds every udp, tcp and tls input of `inputs` now (a taken port is an error here) and serves
  // them once `io` runs. File inputs are not handled here (FileTailer). `io` must run on one
  // thread. A UDP input reports its drops at most once per `drop_report_interval`.
  static Result<std::unique_ptr<Receivers>> Start(
      boost::asio::io_context& io, const std::vector<SocInputConfig>& inputs, IngestQueue& queue,
      MetricsRegistry& metrics, ProblemSink problems, SenderTenant sender_tenant = {},
      std::chrono::milliseconds drop_report_interval = std::chrono::seconds(60));
  // The port input `input` (a udp, tcp or tls input's name) is bound to — what port 0 became;
  // 0 for a name that is not one of those.
  virtual uint16_t Port(std::string_view input) const = 0;
  // Registers seccloud_soc_dropped_total{source,tenant} at 0 for each of `tenant_ids` and each
  // udp input without a tenant of its own (a sender's tenant is found by its address), so that
  // a first flood shows as an increase. Call at start and on reload; safe from any thread.
  virtual void RegisterTenants(const std::vector<std::string>& tenant_ids) = 0;
  // Closes the listeners and connections; records already queued stay queued.
  virtual void Stop() = 0;
};

}  // namespace seccloud::socd
