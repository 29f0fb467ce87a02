#include "socd/receivers.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <unordered_map>

#include "soc/frame.h"

namespace seccloud::socd {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using asio::ip::tcp;
using asio::ip::udp;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// Connections one tcp or tls input serves at once; more are refused (and counted).
constexpr size_t kMaxConnectionsPerInput = 1024;
constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
constexpr int kUdpReceiveBuffer = 8 << 20;
// A connection reads into a small buffer; one whose read fills it (a busy sender with a backlog
// in the socket) moves to a big one, so its lines arrive a few thousand at a time, and goes back
// to the small one on the first read that does not fill the small size. Big buffers are rationed
// per input, so 1,024 connections hold at most kBigReadBuffersPerInput × 256 KiB + the rest ×
// 16 KiB (32 MiB), however they behave.
constexpr size_t kSmallReadBytes = 16 * 1024;
constexpr size_t kBigReadBytes = 256 * 1024;
constexpr size_t kBigReadBuffersPerInput = 64;
// A UDP input reads up to this many datagrams per recvmmsg (each into a buffer of the largest
// datagram), and at most kUdpRounds such reads before it lets the other inputs run.
constexpr size_t kUdpBatch = 16;
constexpr size_t kUdpDatagramBytes = 65536;
constexpr int kUdpRounds = 16;
// Senders whose drop counter a UDP input remembers (the address → tenant lookup is made once per
// sender, not per drop); forgotten all at once when full, and on a reload of the tenants.
constexpr size_t kDropCacheSenders = 4096;
// Records handed to the queue together; bounds what one connection holds outside the queue even
// when a read of tiny lines frames tens of thousands.
constexpr size_t kPushRecords = 1024;

struct Input {
  SocInputConfig config;
  soc::Format format = soc::Format::kText;
  bool sniff = true;
  Counter* received = nullptr;
  Counter* dropped = nullptr;  // datagrams of the input's own tenant, or of no known tenant
  Counter* truncated = nullptr;
  Counter* refused = nullptr;
  Counter* framing_errors = nullptr;
  Gauge* read_buffer_bytes = nullptr;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::unique_ptr<udp::socket> udp_socket;
  std::unique_ptr<asio::ssl::context> tls;
  std::atomic<size_t> connections{0};
  std::atomic<size_t> big_buffers{0};  // of kBigReadBuffersPerInput
  std::atomic<int64_t> buffer_bytes{0};
  // UDP only, touched only on the receivers' thread (the receive loop and the drop timer):
  // datagrams dropped by the sender's tenant, and the drops not yet reported in a problem event.
  std::map<std::string, Counter*, std::less<>> dropped_by_tenant;
  // The drop counter of each sender seen dropping (by address), of the tenants as they were at
  // drop_cache_generation; the last one's apart, for a flood from one sender.
  std::unordered_map<std::string, Counter*> drop_cache;
  uint64_t drop_cache_generation = 0;
  std::string last_drop_key;
  Counter* last_drop_counter = nullptr;
  // The last sender of a datagram that was queued (AddressKey) and its address as text.
  std::string last_peer_key;
  std::string last_peer_text;
  // Datagrams the kernel dropped, the socket's receive buffer full (SO_RXQ_OVFL): its count as
  // last seen, which each datagram queued after a drop carries.
  Counter* kernel_dropped = nullptr;
  uint32_t kernel_drops_seen = 0;
  MetricsRegistry* metrics = nullptr;
  std::unique_ptr<asio::steady_timer> drop_timer;  // armed while a report waits for its turn
  bool drop_timer_armed = false;
  std::chrono::steady_clock::time_point last_drop_report{};
  bool drop_reported = false;
  uint64_t unreported_drops = 0;
  uint64_t unreported_kernel_drops = 0;
  std::chrono::steady_clock::time_point first_unreported_drop{};
  udp::endpoint last_drop_peer;
  DatagramRefusal last_drop_why = DatagramRefusal::kNone;

  void AddBufferBytes(int64_t delta) {
    read_buffer_bytes->Set(static_cast<double>(buffer_bytes.fetch_add(delta) + delta));
  }
};

// A connection's read buffer, accounted in its input's read_buffer_bytes gauge. It keeps its
// input alive: a connection's coroutine frame may be destroyed with the io_context, after the
// Receivers that own the inputs.
class ReadBuffer {
 public:
  explicit ReadBuffer(std::shared_ptr<Input> in) : in_(std::move(in)), bytes_(kSmallReadBytes) {
    in_->AddBufferBytes(static_cast<int64_t>(kSmallReadBytes));
  }
  ~ReadBuffer() {
    in_->AddBufferBytes(-static_cast<int64_t>(bytes_.size()));
    if (big()) in_->big_buffers.fetch_sub(1);
  }
  ReadBuffer(const ReadBuffer&) = delete;
  ReadBuffer& operator=(const ReadBuffer&) = delete;

  asio::mutable_buffer buffer() { return asio::buffer(bytes_); }
  std::string_view view(size_t n) const { return {bytes_.data(), n}; }
  // After a read of n bytes whose contents are consumed: grow or shrink as the header says.
  void Adapt(size_t n) {
    if (!big() && n == bytes_.size()) {
      size_t taken = in_->big_buffers.load();
      do {
        if (taken >= kBigReadBuffersPerInput) return;
      } while (!in_->big_buffers.compare_exchange_weak(taken, taken + 1));
      Resize(kBigReadBytes);
    } else if (big() && n < kSmallReadBytes) {
      Resize(kSmallReadBytes);
      in_->big_buffers.fetch_sub(1);
    }
  }

 private:
  bool big() const { return bytes_.size() == kBigReadBytes; }
  void Resize(size_t size) {
    in_->AddBufferBytes(static_cast<int64_t>(size) - static_cast<int64_t>(bytes_.size()));
    std::vector<char>(size).swap(bytes_);  // shrinking releases the memory too
  }

  std::shared_ptr<Input> in_;
  std::vector<char> bytes_;
};

struct Shared {
  IngestQueue* queue = nullptr;
  ProblemSink problems;
  SenderTenant sender_tenant;
  // A UDP input reports dropped datagrams as a problem event at most this often (each one is
  // counted at once): a flood must not become a flood of events.
  std::chrono::steady_clock::duration drop_report_interval = std::chrono::seconds(60);
  // Raised by RegisterTenants (a reload): the UDP inputs forget the senders' drop counters.
  std::atomic<uint64_t> tenants_generation{0};
  std::atomic<bool> stopped{false};
};

// Fills a new item in place (the caller's vector or a local: no move of a whole item). Takes
// `data` by value so that a framed record's bytes move into the record instead of being copied a
// second time.
void FillItem(IngestItem& item, const Input& in, std::string data, bool truncated,
              const std::string& peer, int64_t received_ms) {
  soc::Record& r = item.record;
  r.format = in.format;
  item.sniff_format = in.sniff;
  r.source = in.config.name;
  r.peer = peer;
  r.tenant = in.config.tenant;
  r.received_ms = received_ms;
  if (data.size() > soc::kMaxRawBytes) {
    data.resize(soc::kMaxRawBytes);
    truncated = true;
  }
  r.raw = std::move(data);
  r.truncated = truncated;
}

// Hands all of `items` to the queue (one lock per attempt, not per record), waiting for room as
// long as it takes: meanwhile this connection reads nothing more, so its socket buffers fill and
// TCP's window slows the sender (back-pressure, nothing dropped). Clears `items`; false when the
// service stops first.
awaitable<bool> PushAllWaiting(Shared* shared, std::vector<IngestItem>& items,
                               asio::steady_timer& timer) {
  size_t next = 0;
  while (true) {
    if (!shared->queue->PushSome(items, &next)) co_return false;
    if (next == items.size()) break;
    if (shared->stopped.load()) co_return false;
    timer.expires_after(std::chrono::milliseconds(5));
    co_await timer.async_wait(kNoThrow);
  }
  items.clear();
  co_return true;
}

Counter& DroppedByTenant(MetricsRegistry& metrics, const std::string& input,
                         const std::string& tenant) {
  return metrics.GetCounter("seccloud_soc_dropped_total",
                            "UDP datagrams dropped because the ingest queue was full",
                            "source=\"" + PrometheusLabelValue(input) + "\",tenant=\"" +
                                PrometheusLabelValue(tenant) + "\"");
}

// The sender's address (not its port) as bytes in `out`: the family, the address, for IPv6 the
// scope.
std::string_view AddressKey(const udp::endpoint& peer,
                            char (&out)[1 + sizeof(in6_addr) + sizeof(uint32_t)]) {
  const sockaddr* sa = peer.data();
  if (sa->sa_family == AF_INET) {
    out[0] = '4';
    std::memcpy(out + 1, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, sizeof(in_addr));
    return {out, 1 + sizeof(in_addr)};
  }
  const auto* v6 = reinterpret_cast<const sockaddr_in6*>(sa);
  out[0] = '6';
  std::memcpy(out + 1, &v6->sin6_addr, sizeof(in6_addr));
  std::memcpy(out + 1 + sizeof(in6_addr), &v6->sin6_scope_id, sizeof(uint32_t));
  return {out, sizeof out};
}

// The counter of datagrams dropped for `peer`'s tenant: the input's own, else the one the
// sender's address belongs to ("none" when it belongs to none). Tenants are the configured
// ones, so the counters stay few whoever sends. The sender's tenant is looked up once per
// sender (drop_cache) and the last sender's counter is kept apart: under a flood, a drop is
// counted without a text address, a std::function call, a lock or a prefix lookup.
// `key` is AddressKey(peer).
Counter& DroppedCounter(Input* in, Shared* shared, const udp::endpoint& peer,
                        std::string_view key) {
  if (!in->config.tenant.empty() || !shared->sender_tenant) return *in->dropped;
  if (const uint64_t g = shared->tenants_generation.load(std::memory_order_acquire);
      g != in->drop_cache_generation) {
    in->drop_cache.clear();
    in->last_drop_counter = nullptr;
    in->drop_cache_generation = g;
  }
  if (in->last_drop_counter && key == in->last_drop_key) return *in->last_drop_counter;
  in->last_drop_key.assign(key);
  auto cached = in->drop_cache.find(in->last_drop_key);
  if (cached != in->drop_cache.end()) return *(in->last_drop_counter = cached->second);
  Counter* counter = in->dropped;
  if (std::string tenant = shared->sender_tenant(peer.address().to_string()); !tenant.empty()) {
    auto it = in->dropped_by_tenant.find(tenant);
    if (it == in->dropped_by_tenant.end()) {
      Counter& c = DroppedByTenant(*in->metrics, in->config.name, tenant);
      it = in->dropped_by_tenant.emplace(std::move(tenant), &c).first;
    }
    counter = it->second;
  }
  if (in->drop_cache.size() >= kDropCacheSenders) in->drop_cache.clear();
  in->drop_cache.emplace(in->last_drop_key, counter);
  in->last_drop_counter = counter;
  return *counter;
}

std::string Seconds(std::chrono::steady_clock::duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", std::chrono::duration<double>(d).count());
  return buf;
}

// Reports the drops not reported yet: how many, over how long, the last sender and why; and
// those the kernel made.
void ReportDrops(Input* in, Shared* shared, std::chrono::steady_clock::time_point now) {
  const uint64_t n = in->unreported_drops;
  const uint64_t k = in->unreported_kernel_drops;
  const std::string during = " in the last " + Seconds(now - in->first_unreported_drop);
  std::string message;
  if (n > 0) {
    const std::string reason =
        in->last_drop_why == DatagramRefusal::kBytes
            ? "the queued datagrams were at their bound of " +
                  std::to_string(shared->queue->max_datagram_bytes()) + " bytes (they take " +
                  std::to_string(shared->queue->datagram_bytes()) + " now)"
            : "the ingest queue held its " + std::to_string(shared->queue->capacity()) +
                  " records (soc.queue_records)";
    message = std::to_string(n) + " UDP datagram(s) dropped" + (n > 1 ? during : "") +
              ", the last from " + in->last_drop_peer.address().to_string() + ": " + reason +
              "; the pipeline is behind";
  }
  if (k > 0) {
    if (!message.empty()) message += "; ";
    message += std::to_string(k) + " UDP datagram(s) dropped by the kernel" +
               (n + k > 1 ? during : "") +
               ", the socket's receive buffer full: socd's network thread is behind";
  }
  shared->problems(in->config.name,
                   message +
                       " (seccloud_soc_dropped_total and seccloud_soc_kernel_dropped_total count "
                       "every drop; this is reported at most once every " +
                       Seconds(shared->drop_report_interval) + ")");
  in->drop_reported = true;
  in->last_drop_report = now;
  in->unreported_drops = 0;
  in->unreported_kernel_drops = 0;
}

// Notes `socd` datagrams dropped by socd and `kernel` by the kernel (already counted) and
// reports them at most once per drop_report_interval: the first at once, the ones after it when
// the interval has passed (a timer on the receivers' own thread), so a flood is reported in full
// and without waiting for a later drop.
void NoteDrops(const std::shared_ptr<Input>& in, const std::shared_ptr<Shared>& shared,
               uint64_t socd, uint64_t kernel) {
  const bool first = in->unreported_drops + in->unreported_kernel_drops == 0;
  in->unreported_drops += socd;
  in->unreported_kernel_drops += kernel;
  if (in->drop_timer_armed) return;  // the report is due; a drop costs no clock read
  const auto now = std::chrono::steady_clock::now();
  if (first) in->first_unreported_drop = now;
  const auto due = in->last_drop_report + shared->drop_report_interval;
  if (!in->drop_reported || now >= due) {
    ReportDrops(in.get(), shared.get(), now);
    return;
  }
  in->drop_timer_armed = true;
  in->drop_timer->expires_at(due);
  // Holds the input and the shared state until it runs, or until the io_context drops it.
  in->drop_timer->async_wait([in, shared](boost::system::error_code ec) {
    in->drop_timer_armed = false;
    if (ec || shared->stopped.load() || in->unreported_drops + in->unreported_kernel_drops == 0)
      return;
    ReportDrops(in.get(), shared.get(), std::chrono::steady_clock::now());
  });
}

// Counts a datagram socd dropped (the queue full) and reports it as NoteDrops does.
void CountDrop(const std::shared_ptr<Input>& in, const std::shared_ptr<Shared>& shared,
               const udp::endpoint& peer, std::string_view key, DatagramRefusal why) {
  DroppedCounter(in.get(), shared.get(), peer, key).Increment();
  in->last_drop_peer = peer;
  in->last_drop_why = why;
  NoteDrops(in, shared, 1, 0);
}

// What one recvmmsg reads into: kUdpBatch datagrams, their senders and their control messages
// (SO_RXQ_OVFL). ~1 MiB per UDP input.
struct UdpBatch {
  std::vector<char> bytes = std::vector<char>(kUdpBatch * kUdpDatagramBytes);
  std::array<mmsghdr, kUdpBatch> msgs{};
  std::array<iovec, kUdpBatch> iov{};
  std::array<udp::endpoint, kUdpBatch> from;
  union Control {
    cmsghdr align;
    char bytes[CMSG_SPACE(sizeof(uint32_t))];
  };
  std::array<Control, kUdpBatch> control{};

  // Resets what the kernel changes (lengths) before each read.
  void Arm() {
    for (size_t i = 0; i < kUdpBatch; ++i) {
      iov[i].iov_base = bytes.data() + i * kUdpDatagramBytes;
      iov[i].iov_len = kUdpDatagramBytes;
      msghdr& h = msgs[i].msg_hdr;
      h = {};
      h.msg_name = from[i].data();
      h.msg_namelen = static_cast<socklen_t>(from[i].capacity());
      h.msg_iov = &iov[i];
      h.msg_iovlen = 1;
      h.msg_control = control[i].bytes;
      h.msg_controllen = sizeof control[i].bytes;
      msgs[i].msg_len = 0;
    }
  }
};

// Takes datagram i of a read: the kernel's drop count it carries, then the datagram itself,
// queued or dropped. False once the queue is closed (shutting down).
bool TakeDatagram(const std::shared_ptr<Input>& in, const std::shared_ptr<Shared>& shared,
                  UdpBatch& batch, size_t i) {
  msghdr& h = batch.msgs[i].msg_hdr;
  for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SO_RXQ_OVFL ||
        c->cmsg_len < CMSG_LEN(sizeof(uint32_t)))
      continue;
    uint32_t total = 0;  // the socket's drops so far, wrapping at 2^32
    std::memcpy(&total, CMSG_DATA(c), sizeof total);
    if (const uint32_t more = total - in->kernel_drops_seen; more != 0) {
      in->kernel_drops_seen = total;
      in->kernel_dropped->Increment(more);
      NoteDrops(in, shared, 0, more);
    }
  }
  udp::endpoint& from = batch.from[i];
  // An IPv4 or IPv6 socket's sender always fits; resize would throw on a longer one.
  if (h.msg_namelen > from.capacity()) return true;
  from.resize(h.msg_namelen);
  std::string_view data(batch.bytes.data() + i * kUdpDatagramBytes, batch.msgs[i].msg_len);
  // Senders end datagrams with a newline or NUL now and then (RFC 5426 allows neither).
  while (!data.empty() && (data.back() == '\n' || data.back() == '\0' || data.back() == '\r'))
    data.remove_suffix(1);
  if (data.empty()) return true;
  // A datagram cannot wait: when the queue is full it is lost, and counted as such. One the
  // queue surely refuses is not made an item first.
  char key_bytes[1 + sizeof(in6_addr) + sizeof(uint32_t)];
  const std::string_view key = AddressKey(from, key_bytes);
  DatagramRefusal why = shared->queue->DatagramRefusalHint(data.size());
  if (why == DatagramRefusal::kNone) {
    // The text of the last sender's address is kept: a sender sends many datagrams.
    if (key != in->last_peer_key) {
      in->last_peer_key.assign(key);
      in->last_peer_text = from.address().to_string();
    }
    IngestItem item;
    FillItem(item, *in, std::string(data), false, in->last_peer_text, WallClockMs());
    if (item.record.truncated) in->truncated->Increment();
    if (shared->queue->TryPush(item, &why)) {
      in->received->Increment();
      return true;
    }
  }
  if (why == DatagramRefusal::kClosed) {
    // Shutting down: the datagram just read is lost all the same; counted, not reported.
    DroppedCounter(in.get(), shared.get(), from, key).Increment();
    return false;
  }
  CountDrop(in, shared, from, key, why);
  return true;
}

// Reads what the socket holds, kUdpBatch datagrams per system call, until it is empty or
// kUdpRounds reads were made (then the other inputs have their turn), and waits again.
awaitable<void> UdpLoop(std::shared_ptr<Input> in, std::shared_ptr<Shared> shared) {
  auto batch = std::make_unique<UdpBatch>();
  while (!shared->stopped.load()) {
    auto [ec] = co_await in->udp_socket->async_wait(udp::socket::wait_read, kNoThrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || shared->stopped.load()) co_return;
      continue;
    }
    for (int round = 0; round < kUdpRounds; ++round) {
      batch->Arm();
      const int got = ::recvmmsg(in->udp_socket->native_handle(), batch->msgs.data(),
                                 static_cast<unsigned>(kUdpBatch), MSG_DONTWAIT, nullptr);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) break;  // EAGAIN: nothing more; an error is the next wait's
      // Once the queue is closed every datagram of the batch is refused, and counted as dropped:
      // they were taken from the kernel all the same.
      bool closed = false;
      for (size_t i = 0; i < static_cast<size_t>(got); ++i)
        if (!TakeDatagram(in, shared, *batch, i)) closed = true;
      if (closed) co_return;
      if (static_cast<size_t>(got) < kUdpBatch) break;
    }
  }
}

template <class Stream, class Framer>
awaitable<void> ReadFramesWith(Stream& stream, Framer& framer, std::shared_ptr<Input> in,
                               Shared* shared, const std::string& peer) {
  ReadBuffer buf(in);
  std::vector<IngestItem> items;
  asio::steady_timer timer(stream.get_executor());
  soc::Frame frame;
  std::string error;
  bool reported = false;  // one problem event per connection: a hostile peer cannot flood them
  while (!shared->stopped.load()) {
    auto [ec, n] = co_await stream.async_read_some(buf.buffer(), kNoThrow);
    if (n > 0) framer.Feed(buf.view(n));  // the framer copies what it keeps
    if (!ec) buf.Adapt(n);
    if (ec) framer.Finish();  // the peer is gone: what is buffered is its last frame
    const int64_t now_ms = WallClockMs();
    while (true) {
      const soc::FrameStatus st = framer.Next(&frame, &error);
      if (st == soc::FrameStatus::kNeedMore) break;
      if (st == soc::FrameStatus::kError) {
        in->framing_errors->Increment();
        if (!reported)
          shared->problems(in->config.name, peer + ": " + error +
                                                " (further framing errors of "
                                                "this connection are only counted)");
        reported = true;
        continue;
      }
      FillItem(items.emplace_back(), *in, std::move(frame.data), frame.truncated, peer, now_ms);
      if (items.back().record.truncated) in->truncated->Increment();
      if (items.size() == kPushRecords) {
        if (!co_await PushAllWaiting(shared, items, timer)) co_return;
        in->received->Increment(kPushRecords);
      }
    }
    if (const size_t count = items.size(); count > 0) {
      if (!co_await PushAllWaiting(shared, items, timer)) co_return;
      in->received->Increment(count);
    }
    if (ec) co_return;
  }
}

template <class Stream>
awaitable<void> ReadFrames(Stream& stream, std::shared_ptr<Input> in, Shared* shared,
                           std::string peer) {
  if (in->config.framing == "lines") {
    soc::LineFramer framer;
    co_await ReadFramesWith(stream, framer, in, shared, peer);
  } else {
    soc::SyslogFramer framer;
    co_await ReadFramesWith(stream, framer, in, shared, peer);
  }
}

awaitable<void> TcpSession(tcp::socket socket, std::shared_ptr<Input> in, Shared* shared) {
  boost::system::error_code ignored;
  const std::string peer = socket.remote_endpoint(ignored).address().to_string();
  co_await ReadFrames(socket, in, shared, peer);
  in->connections.fetch_sub(1);
}

awaitable<void> TlsSession(tcp::socket socket, std::shared_ptr<Input> in, Shared* shared) {
  boost::system::error_code ignored;
  const std::string peer = socket.remote_endpoint(ignored).address().to_string();
  asio::ssl::stream<tcp::socket> stream(std::move(socket), *in->tls);
  asio::steady_timer deadline(stream.get_executor());
  deadline.expires_after(kHandshakeTimeout);
  deadline.async_wait([&stream](boost::system::error_code ec) {
    if (!ec) stream.lowest_layer().close();
  });
  auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kNoThrow);
  deadline.cancel();
  if (ec) {
    in->framing_errors->Increment();
    shared->problems(in->config.name, peer + ": TLS handshake failed: " + ec.message());
  } else {
    co_await ReadFrames(stream, in, shared, peer);
  }
  in->connections.fetch_sub(1);
}

awaitable<void> AcceptLoop(std::shared_ptr<Input> in, Shared* shared) {
  while (!shared->stopped.load()) {
    auto [ec, socket] = co_await in->acceptor->async_accept(kNoThrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || shared->stopped.load()) co_return;
      continue;
    }
    if (in->connections.load() >= kMaxConnectionsPerInput) {
      in->refused->Increment();
      continue;  // the socket closes here
    }
    in->connections.fetch_add(1);
    auto ex = socket.get_executor();
    if (in->tls)
      asio::co_spawn(ex, TlsSession(std::move(socket), in, shared), asio::detached);
    else
      asio::co_spawn(ex, TcpSession(std::move(socket), in, shared), asio::detached);
  }
}

class ReceiversImpl final : public Receivers {
 public:
  ReceiversImpl(asio::io_context& io, std::shared_ptr<Shared> shared)
      : io_(io), shared_(std::move(shared)) {}
  ~ReceiversImpl() override { Stop(); }

  Status Add(const SocInputConfig& c, MetricsRegistry& metrics) {
    auto in = std::make_shared<Input>();
    in->config = c;
    in->sniff = c.format == "auto";
    if (!in->sniff) soc::ParseFormatName(c.format, &in->format);
    const std::string labels = "source=\"" + PrometheusLabelValue(c.name) + "\"";
    in->received =
        &metrics.GetCounter("seccloud_soc_received_total", "Records received, by source", labels);
    in->metrics = &metrics;
    in->dropped = &metrics.GetCounter(
        "seccloud_soc_dropped_total", "UDP datagrams dropped because the ingest queue was full",
        labels + ",tenant=\"" + PrometheusLabelValue(c.tenant.empty() ? "none" : c.tenant) + "\"");
    if (c.protocol == SocInputConfig::Protocol::kUdp)
      in->kernel_dropped = &metrics.GetCounter(
          "seccloud_soc_kernel_dropped_total",
          "UDP datagrams the kernel dropped before socd read them (mostly a full receive buffer)",
          labels);
    in->truncated =
        &metrics.GetCounter("seccloud_soc_truncated_total",
                            "Records cut at the maximum record size, by source", labels);
    in->refused = &metrics.GetCounter("seccloud_soc_connections_refused_total",
                                      "Connections refused over the per-input limit", labels);
    in->framing_errors = &metrics.GetCounter("seccloud_soc_framing_errors_total",
                                             "Malformed frames and failed TLS handshakes", labels);
    in->read_buffer_bytes =
        &metrics.GetGauge("seccloud_soc_read_buffer_bytes",
                          "Bytes of read buffers held by the input's connections", labels);
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(c.listen.address.ToString(), ec);
    const std::string where = "soc input " + c.name + " (" + c.listen.ToString() + ")";
    if (ec)
      return MakeError(Errc::kInvalidArgument,
                       where + ": the address cannot be bound: " + ec.message());
    if (c.protocol == SocInputConfig::Protocol::kUdp) {
      in->udp_socket = std::make_unique<udp::socket>(io_);
      in->drop_timer = std::make_unique<asio::steady_timer>(io_);
      const udp::endpoint ep(address, c.listen.port);
      in->udp_socket->open(ep.protocol(), ec);
      if (!ec) {
        // A large kernel buffer absorbs bursts while the pipeline catches up; FORCE needs
        // CAP_NET_ADMIN (root before privileges are dropped), else the sysctl cap applies.
        const int size = kUdpReceiveBuffer;
        if (::setsockopt(in->udp_socket->native_handle(), SOL_SOCKET, SO_RCVBUFFORCE, &size,
                         sizeof size) != 0)
          ::setsockopt(in->udp_socket->native_handle(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
        // Each datagram queued after the kernel dropped some carries the socket's drop count
        // (seccloud_soc_kernel_dropped_total); without it (an old kernel) that stays 0.
        const int on = 1;
        ::setsockopt(in->udp_socket->native_handle(), SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof on);
        in->udp_socket->bind(ep, ec);
      }
      if (ec) return MakeError(Errc::kUnavailable, where + ": " + ec.message());
    } else {
      if (c.protocol == SocInputConfig::Protocol::kTls) {
        in->tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
        in->tls->set_options(asio::ssl::context::default_workarounds |
                             asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                             asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
        in->tls->use_certificate_chain_file(c.tls_certificate.string(), ec);
        if (ec)
          return MakeError(
              Errc::kInvalidArgument,
              where + ": certificate " + c.tls_certificate.string() + ": " + ec.message());
        in->tls->use_private_key_file(c.tls_key.string(), asio::ssl::context::pem, ec);
        if (ec)
          return MakeError(Errc::kInvalidArgument,
                           where + ": key " + c.tls_key.string() + ": " + ec.message());
      }
      in->acceptor = std::make_unique<tcp::acceptor>(io_);
      const tcp::endpoint ep(address, c.listen.port);
      in->acceptor->open(ep.protocol(), ec);
      if (!ec) in->acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
      if (!ec) in->acceptor->bind(ep, ec);
      if (!ec) in->acceptor->listen(asio::socket_base::max_listen_connections, ec);
      if (ec) return MakeError(Errc::kUnavailable, where + ": " + ec.message());
    }
    inputs_.push_back(std::move(in));
    return {};
  }

  void Launch() {
    for (auto& in : inputs_) {
      if (in->udp_socket)
        asio::co_spawn(io_, UdpLoop(in, shared_), asio::detached);
      else
        asio::co_spawn(io_, AcceptLoop(in, shared_.get()), asio::detached);
    }
  }

  uint16_t Port(std::string_view input) const override {
    for (const auto& in : inputs_) {
      if (in->config.name != input) continue;
      boost::system::error_code ec;
      if (in->acceptor) return in->acceptor->local_endpoint(ec).port();
      if (in->udp_socket) return in->udp_socket->local_endpoint(ec).port();
    }
    return 0;
  }

  void RegisterTenants(const std::vector<std::string>& tenant_ids) override {
    shared_->tenants_generation.fetch_add(1, std::memory_order_release);
    for (const auto& in : inputs_) {
      if (!in->udp_socket || !in->config.tenant.empty()) continue;
      for (const std::string& id : tenant_ids) DroppedByTenant(*in->metrics, in->config.name, id);
    }
  }

  void Stop() override {
    if (shared_->stopped.exchange(true)) return;
    asio::post(io_, [this] {
      boost::system::error_code ignored;
      for (auto& in : inputs_) {
        if (in->acceptor) in->acceptor->close(ignored);
        if (in->udp_socket) in->udp_socket->close(ignored);
        if (in->drop_timer) in->drop_timer->cancel();
      }
    });
  }

 private:
  asio::io_context& io_;
  std::shared_ptr<Shared> shared_;
  std::vector<std::shared_ptr<Input>> inputs_;
};

}  // namespace

ProblemSink IngestProblemSink(EventQueue& events, bool may_wait) {
  return [&events, may_wait](const std::string& source, const std::string& message) {
    std::fprintf(stderr, "seccloud socd: %s: %s\n", source.c_str(), message.c_str());
    Event e = Event::Make("system.service", "event", "ingest-problem", Outcome::kFailure);
    e.Set("event.category", "host");
    e.Set("seccloud.soc.source", source);
    e.Set("message", message);
    if (may_wait)
      events.Push(std::move(e));
    else
      events.TryPush(std::move(e));
  };
}

Result<std::unique_ptr<Receivers>> Receivers::Start(
    asio::io_context& io, const std::vector<SocInputConfig>& inputs, IngestQueue& queue,
    MetricsRegistry& metrics, ProblemSink problems, SenderTenant sender_tenant,
    std::chrono::milliseconds drop_report_interval) {
  auto shared = std::make_shared<Shared>();
  shared->queue = &queue;
  shared->problems = std::move(problems);
  shared->sender_tenant = std::move(sender_tenant);
  shared->drop_report_interval = drop_report_interval;
  auto r = std::make_unique<ReceiversImpl>(io, shared);
  for (const SocInputConfig& c : inputs) {
    if (c.protocol == SocInputConfig::Protocol::kFile) continue;
    RETURN_IF_ERROR(r->Add(c, metrics));
  }
  r->Launch();
  return std::unique_ptr<Receivers>(std::move(r));
}

}  // namespace seccloud::socd
