// R3, R9 (issue 3): what Linux does with a spliced tunnel's bytes relayed inside the kernel with a
// BPF sockmap (an sk_skb stream verdict that redirects each skb to the peer socket's egress, as
// Cilium's and Envoy's sockmap acceleration do) — the questions that decide whether the proxy's
// spliced relay (src/proxy/tcp_relay.h) may use it. A plain program (needs root or CAP_BPF and
// CAP_NET_ADMIN), built and run by bench/tunnel_sockmap_probe.sh; every socket is on loopback.
//
// The relay: two SOCKHASH maps keyed by socket cookie. `targets` (no program) holds each socket
// under its peer's cookie; `verdict` (the program attached as BPF_SK_SKB_STREAM_VERDICT) holds
// both sockets. The program is five instructions of raw BPF (no clang, no libbpf):
//   key = bpf_get_socket_cookie(skb); return bpf_sk_redirect_hash(skb, targets, &key, 0);
// Sockets join `targets` first, so a verdict never runs before its peer can be found (a failed
// lookup is SK_DROP: bytes TCP already acknowledged, lost).
//
// Modes:
//   queued        bytes already in a socket's receive queue when it joins the map (the ClientHello
//                 the proxy peeked at): are they relayed, and in order? And the client's FIN?
//   backpressure  a client sends --bytes as fast as it can through the relay to an origin that
//                 reads nothing for --stall-ms, then reads and checks every byte (a pattern:
//                 order and loss). Prints what the client got accepted and what the kernel held
//                 meanwhile (MemAvailable, /proc/net/sockstat TCP pages), for the sockmap and for
//                 a user-space copy relay (recv/send, which stops reading when its send blocks).
//                 --parser also attaches a stream parser (strparser mode). A third row: a verdict
//                 of SK_PASS (each skb to the socket's own psock queue) on a socket that nobody
//                 reads meanwhile — the queue a bounded design would fall back to.
//   relay         --exchanges request/response exchanges (512-byte request, --size response) on
//                 one tunnel, sockmap against the copy relay, alternated --rounds times: wall
//                 time, this process's CPU (client, origin and relay threads, with the kernel work
//                 done in their context) and the whole machine's busy CPU from /proc/stat (which
//                 also holds the softirq and kworker time the redirect is done in — and every
//                 other process on the machine), each per 1,000 exchanges.

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

long Bpf(int cmd, bpf_attr* attr) { return ::syscall(__NR_bpf, cmd, attr, sizeof(*attr)); }

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "%s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

int MakeSockhash() {
  bpf_attr a{};
  a.map_type = BPF_MAP_TYPE_SOCKHASH;
  a.key_size = 8;
  a.value_size = 8;
  a.max_entries = 1024;
  const int fd = static_cast<int>(Bpf(BPF_MAP_CREATE, &a));
  if (fd < 0) Die("BPF_MAP_CREATE sockhash");
  return fd;
}

constexpr bpf_insn Insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  return bpf_insn{code, dst, src, off, imm};
}

// key = cookie(skb's socket); return bpf_sk_redirect_hash(skb, targets, &key, 0 /* egress */).
int LoadVerdict(int targets) {
  const bpf_insn prog[] = {
      Insn(BPF_ALU64 | BPF_MOV | BPF_X, 6, 1, 0, 0),  // r6 = skb
      Insn(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_get_socket_cookie),
      Insn(BPF_STX | BPF_MEM | BPF_DW, 10, 0, -8, 0),  // *(u64*)(fp - 8) = cookie
      Insn(BPF_ALU64 | BPF_MOV | BPF_X, 1, 6, 0, 0),
      Insn(BPF_LD | BPF_DW | BPF_IMM, 2, BPF_PSEUDO_MAP_FD, 0, targets),
      Insn(0, 0, 0, 0, 0),
      Insn(BPF_ALU64 | BPF_MOV | BPF_X, 3, 10, 0, 0),
      Insn(BPF_ALU64 | BPF_ADD | BPF_K, 3, 0, 0, -8),
      Insn(BPF_ALU64 | BPF_MOV | BPF_K, 4, 0, 0, 0),
      Insn(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_sk_redirect_hash),
      Insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
  };
  static char log[16384];
  static const char kLicense[] = "Apache-2.0";
  bpf_attr a{};
  a.prog_type = BPF_PROG_TYPE_SK_SKB;
  a.insns = reinterpret_cast<uint64_t>(prog);
  a.insn_cnt = sizeof(prog) / sizeof(prog[0]);
  a.license = reinterpret_cast<uint64_t>(kLicense);
  a.log_buf = reinterpret_cast<uint64_t>(log);
  a.log_size = sizeof(log);
  a.log_level = 1;
  const int fd = static_cast<int>(Bpf(BPF_PROG_LOAD, &a));
  if (fd < 0) {
    std::fprintf(stderr, "verifier: %s\n", log);
    Die("BPF_PROG_LOAD verdict");
  }
  return fd;
}

// return skb->len: every skb is a whole message (strparser mode).
int LoadParser() {
  const bpf_insn prog[] = {
      Insn(BPF_LDX | BPF_MEM | BPF_W, 0, 1, offsetof(__sk_buff, len), 0),
      Insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
  };
  static const char kLicense[] = "Apache-2.0";
  bpf_attr a{};
  a.prog_type = BPF_PROG_TYPE_SK_SKB;
  a.insns = reinterpret_cast<uint64_t>(prog);
  a.insn_cnt = sizeof(prog) / sizeof(prog[0]);
  a.license = reinterpret_cast<uint64_t>(kLicense);
  const int fd = static_cast<int>(Bpf(BPF_PROG_LOAD, &a));
  if (fd < 0) Die("BPF_PROG_LOAD parser");
  return fd;
}

// return SK_PASS: each skb goes to the socket's own psock queue (ingress_msg), read with recv().
int LoadPass() {
  const bpf_insn prog[] = {
      Insn(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, SK_PASS),
      Insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
  };
  static const char kLicense[] = "Apache-2.0";
  bpf_attr a{};
  a.prog_type = BPF_PROG_TYPE_SK_SKB;
  a.insns = reinterpret_cast<uint64_t>(prog);
  a.insn_cnt = sizeof(prog) / sizeof(prog[0]);
  a.license = reinterpret_cast<uint64_t>(kLicense);
  const int fd = static_cast<int>(Bpf(BPF_PROG_LOAD, &a));
  if (fd < 0) Die("BPF_PROG_LOAD pass");
  return fd;
}

void Attach(int map, int prog, bpf_attach_type type) {
  bpf_attr a{};
  a.target_fd = static_cast<uint32_t>(map);
  a.attach_bpf_fd = static_cast<uint32_t>(prog);
  a.attach_type = type;
  if (Bpf(BPF_PROG_ATTACH, &a) != 0) Die("BPF_PROG_ATTACH");
}

uint64_t Cookie(int fd) {
  uint64_t cookie = 0;
  socklen_t len = sizeof(cookie);
  if (::getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) != 0) Die("SO_COOKIE");
  return cookie;
}

void Put(int map, uint64_t key, int fd) {
  uint64_t value = static_cast<uint64_t>(fd);
  bpf_attr a{};
  a.map_fd = static_cast<uint32_t>(map);
  a.key = reinterpret_cast<uint64_t>(&key);
  a.value = reinterpret_cast<uint64_t>(&value);
  a.flags = BPF_ANY;
  if (Bpf(BPF_MAP_UPDATE_ELEM, &a) != 0) Die("BPF_MAP_UPDATE_ELEM");
}

struct KernelRelay {
  int targets = -1;
  int verdict = -1;
  explicit KernelRelay(bool parser) {
    targets = MakeSockhash();
    verdict = MakeSockhash();
    Attach(verdict, LoadVerdict(targets), BPF_SK_SKB_STREAM_VERDICT);
    if (parser) Attach(verdict, LoadParser(), BPF_SK_SKB_STREAM_PARSER);
  }
  // Joins a (client side) and b (origin side). `kick`: then set SO_RCVLOWAT, whose setsockopt
  // runs tcp_data_ready() and so the verdict over what is already queued.
  void Join(int a, int b, bool kick) const {
    Put(targets, Cookie(a), b);
    Put(targets, Cookie(b), a);
    Put(verdict, Cookie(a), a);
    Put(verdict, Cookie(b), b);
    if (kick) {
      const int one = 1;
      ::setsockopt(a, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof(one));
      ::setsockopt(b, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof(one));
    }
  }
};

int Listen() {
  const int l = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in s{};
  s.sin_family = AF_INET;
  s.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(l, reinterpret_cast<sockaddr*>(&s), sizeof(s)) != 0 || ::listen(l, 8) != 0)
    Die("listen");
  return l;
}

// A connected pair through listener l: returns the connecting end, *accepted the other.
int Connect(int l, int* accepted) {
  sockaddr_in s{};
  socklen_t n = sizeof(s);
  ::getsockname(l, reinterpret_cast<sockaddr*>(&s), &n);
  const int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (::connect(c, reinterpret_cast<sockaddr*>(&s), sizeof(s)) != 0) Die("connect");
  *accepted = ::accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
  if (*accepted < 0) Die("accept");
  return c;
}

// client ↔ p1 (the proxy's client side) and p2 (the proxy's origin side) ↔ origin.
struct Tunnel {
  int client = -1, p1 = -1, p2 = -1, origin = -1;
  Tunnel() {
    const int lc = Listen();
    const int lo = Listen();
    client = Connect(lc, &p1);
    p2 = Connect(lo, &origin);
    ::close(lc);
    ::close(lo);
  }
  ~Tunnel() {
    for (int fd : {client, p1, p2, origin}) ::close(fd);
  }
};

long MemAvailableKib() {
  FILE* f = std::fopen("/proc/meminfo", "r");
  char line[256];
  long v = -1;
  while (f && std::fgets(line, sizeof(line), f))
    if (std::strncmp(line, "MemAvailable:", 13) == 0) v = std::atol(line + 13);
  if (f) std::fclose(f);
  return v;
}

long SockstatTcpPages() {
  FILE* f = std::fopen("/proc/net/sockstat", "r");
  char line[256];
  long v = -1;
  while (f && std::fgets(line, sizeof(line), f))
    if (std::strncmp(line, "TCP:", 4) == 0)
      if (const char* m = std::strstr(line, " mem ")) v = std::atol(m + 5);
  if (f) std::fclose(f);
  return v;
}

// Busy and total jiffies of the whole machine.
std::pair<uint64_t, uint64_t> MachineJiffies() {
  FILE* f = std::fopen("/proc/stat", "r");
  unsigned long long v[10] = {};
  if (f) {
    if (std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                    &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]) < 8)
      v[0] = 0;
    std::fclose(f);
  }
  uint64_t total = 0;
  for (int i = 0; i < 8; ++i) total += v[i];
  return {total - v[3] - v[4], total};  // busy = all but idle and iowait
}

// CPU time of the kernel's worker threads (kworker/*, ksoftirqd/*): the psock's backlog, which
// sends the redirected skbs, runs in a kworker; softirqs overflow into ksoftirqd. Machine-wide:
// it also holds other processes' share of those threads.
double KernelThreadsCpuSeconds() {
  double ticks = 0;
  if (DIR* d = ::opendir("/proc")) {
    while (const dirent* e = ::readdir(d)) {
      if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
      char path[300], line[512];
      std::snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
      FILE* f = std::fopen(path, "r");
      if (!f) continue;
      const bool ok = std::fgets(line, sizeof(line), f) != nullptr;
      std::fclose(f);
      const char* open = ok ? std::strchr(line, '(') : nullptr;
      const char* close = ok ? std::strrchr(line, ')') : nullptr;
      if (!open || !close) continue;
      const std::string_view comm(open + 1, static_cast<size_t>(close - open - 1));
      if (!comm.starts_with("kworker") && !comm.starts_with("ksoftirqd")) continue;
      unsigned long long utime = 0, stime = 0;
      // After ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime
      // stime
      if (std::sscanf(close + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
                      &stime) == 2)
        ticks += static_cast<double>(utime + stime);
    }
    ::closedir(d);
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double ProcessCpuSeconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

uint8_t PatternByte(uint64_t i) { return static_cast<uint8_t>((i * 131) ^ (i >> 11)); }

bool SendAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t m = ::send(fd, p, n, MSG_NOSIGNAL);
    if (m <= 0) {
      if (m < 0 && errno == EINTR) continue;
      return false;
    }
    p += m;
    n -= static_cast<size_t>(m);
  }
  return true;
}

bool RecvAll(int fd, char* p, size_t n) {
  while (n > 0) {
    const ssize_t m = ::recv(fd, p, n, 0);
    if (m <= 0) {
      if (m < 0 && errno == EINTR) continue;
      return false;
    }
    p += m;
    n -= static_cast<size_t>(m);
  }
  return true;
}

// The user-space relay: one thread per direction, recv then a blocking send; a send that blocks
// stops that direction's reads, so the sender is held by TCP's window. End of stream or an error
// half-closes the other side.
struct CopyRelay {
  std::thread up, down;
  CopyRelay(int p1, int p2) {
    auto pump = [](int from, int to) {
      std::vector<char> buf(64 * 1024);
      while (true) {
        const ssize_t n = ::recv(from, buf.data(), buf.size(), 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0 || !SendAll(to, buf.data(), static_cast<size_t>(n))) break;
      }
      ::shutdown(to, SHUT_WR);
    };
    up = std::thread(pump, p1, p2);
    down = std::thread(pump, p2, p1);
  }
  void Join() {
    up.join();
    down.join();
  }
};

int Queued() {
  KernelRelay relay(false);
  for (bool kick : {false, true}) {
    Tunnel t;
    SendAll(t.client, "hello", 5);  // queued at p1 before it joins
    ::usleep(100 * 1000);
    relay.Join(t.p1, t.p2, kick);
    ::usleep(300 * 1000);
    int at_origin = 0;
    ::ioctl(t.origin, FIONREAD, &at_origin);
    SendAll(t.client, "world", 5);
    ::usleep(300 * 1000);
    char buf[64] = {};
    const ssize_t n = ::recv(t.origin, buf, sizeof(buf) - 1, MSG_DONTWAIT);
    std::printf(
        "%-16s 5 bytes queued before joining: %d at the origin 300 ms after; "
        "after 5 more: %zd bytes \"%s\"\n",
        kick ? "with SO_RCVLOWAT" : "without a kick", at_origin, n, n > 0 ? buf : "");
    if (!kick) continue;
    // The client's FIN: the verdict sees skbs with data only, so the end of stream stays at p1.
    ::shutdown(t.client, SHUT_WR);
    ::usleep(300 * 1000);
    const ssize_t eof = ::recv(t.origin, buf, sizeof(buf), MSG_DONTWAIT);
    pollfd pfd{t.p1, POLLIN | POLLRDHUP, 0};
    ::poll(&pfd, 1, 0);
    std::printf("client FIN: the origin's recv gives %zd (%s); p1 polls%s%s\n", eof,
                eof == 0 ? "end of stream" : std::strerror(errno),
                (pfd.revents & POLLIN) ? " POLLIN" : "",
                (pfd.revents & POLLRDHUP) ? " POLLRDHUP" : "");
  }
  return 0;
}

struct BackpressureResult {
  uint64_t accepted = 0;  // bytes the client's send() took while the origin read nothing
  long mem_kib = 0;       // MemAvailable's drop meanwhile
  long tcp_pages = 0;     // /proc/net/sockstat TCP pages' rise meanwhile
  uint64_t checked = 0;   // bytes the origin then read, all in order
  bool intact = true;
};

// kind 0: the copy relay; 1: the sockmap redirect; 2: a verdict of SK_PASS on p1 alone, which
// nobody reads while the client sends (is the psock's own queue bounded?), read from p1 after.
BackpressureResult Backpressure(int kind, bool parser, uint64_t bytes, int stall_ms) {
  Tunnel t;
  std::unique_ptr<KernelRelay> relay;
  std::unique_ptr<CopyRelay> copy;
  int reader = t.origin;
  if (kind == 1) {
    relay = std::make_unique<KernelRelay>(parser);
    relay->Join(t.p1, t.p2, true);
  } else if (kind == 2) {
    const int map = MakeSockhash();
    Attach(map, LoadPass(), BPF_SK_SKB_STREAM_VERDICT);
    Put(map, Cookie(t.p1), t.p1);
    reader = t.p1;
  } else {
    copy = std::make_unique<CopyRelay>(t.p1, t.p2);
  }
  BackpressureResult r;
  const long mem0 = MemAvailableKib();
  const long tcp0 = SockstatTcpPages();
  ::fcntl(t.client, F_SETFL, O_NONBLOCK);
  std::vector<char> buf(1 << 20);
  const auto stop = Clock::now() + std::chrono::milliseconds(stall_ms);
  uint64_t sent = 0;
  while (sent < bytes && Clock::now() < stop) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), bytes - sent));
    for (size_t i = 0; i < want; ++i) buf[i] = static_cast<char>(PatternByte(sent + i));
    size_t off = 0;
    while (off < want && Clock::now() < stop) {
      const ssize_t n = ::send(t.client, buf.data() + off, want - off, MSG_NOSIGNAL);
      if (n > 0) {
        off += static_cast<size_t>(n);
      } else {
        pollfd pfd{t.client, POLLOUT, 0};
        ::poll(&pfd, 1, 50);
      }
    }
    sent += off;
    if (off < want) break;
  }
  r.accepted = sent;
  r.mem_kib = mem0 - MemAvailableKib();
  r.tcp_pages = SockstatTcpPages() - tcp0;
  ::shutdown(t.client, SHUT_WR);
  // The origin now reads everything and checks it; the relay passes the client's FIN on only in
  // the copy relay (the kernel relay has no user-space end of stream here), so read by count.
  std::vector<char> in(1 << 20);
  uint64_t got = 0;
  while (got < sent) {
    pollfd pfd{reader, POLLIN, 0};
    if (::poll(&pfd, 1, 5000) <= 0) break;
    const ssize_t n = ::recv(reader, in.data(), in.size(), MSG_DONTWAIT);
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; ++i)
      if (static_cast<uint8_t>(in[static_cast<size_t>(i)]) != PatternByte(got + i))
        r.intact = false;
    got += static_cast<uint64_t>(n);
  }
  r.checked = got;
  if (copy) {
    ::shutdown(t.origin, SHUT_WR);
    copy->Join();
  }
  return r;
}

struct RelayResult {
  double wall_s = 0, process_cpu_s = 0, kthreads_cpu_s = 0, machine_busy_s = 0;
  double p50_us = 0, p99_us = 0, max_us = 0;  // one exchange's round trip
};

RelayResult Exchanges(bool kernel, int exchanges, size_t size) {
  Tunnel t;
  std::unique_ptr<KernelRelay> relay;
  std::unique_ptr<CopyRelay> copy;
  if (kernel) {
    relay = std::make_unique<KernelRelay>(false);
    relay->Join(t.p1, t.p2, true);
  } else {
    copy = std::make_unique<CopyRelay>(t.p1, t.p2);
  }
  const long hz = ::sysconf(_SC_CLK_TCK);
  const auto [busy0, total0] = MachineJiffies();
  const double cpu0 = ProcessCpuSeconds();
  const double kcpu0 = KernelThreadsCpuSeconds();
  const auto t0 = Clock::now();
  std::thread origin([&] {
    std::vector<char> req(512), resp(size, 'r');
    for (int i = 0; i < exchanges; ++i)
      if (!RecvAll(t.origin, req.data(), req.size()) ||
          !SendAll(t.origin, resp.data(), resp.size()))
        break;
    ::shutdown(t.origin, SHUT_WR);
  });
  std::vector<char> req(512, 'q'), resp(size);
  std::vector<double> rtt_us;
  rtt_us.reserve(static_cast<size_t>(exchanges));
  int done = 0;
  for (; done < exchanges; ++done) {
    const auto start = Clock::now();
    if (!SendAll(t.client, req.data(), req.size()) || !RecvAll(t.client, resp.data(), resp.size()))
      break;
    rtt_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  origin.join();
  RelayResult r;
  r.wall_s = std::chrono::duration<double>(Clock::now() - t0).count();
  r.process_cpu_s = ProcessCpuSeconds() - cpu0;
  r.kthreads_cpu_s = KernelThreadsCpuSeconds() - kcpu0;
  const auto [busy1, total1] = MachineJiffies();
  r.machine_busy_s = static_cast<double>(busy1 - busy0) / static_cast<double>(hz);
  std::sort(rtt_us.begin(), rtt_us.end());
  if (!rtt_us.empty()) {
    r.p50_us = rtt_us[rtt_us.size() / 2];
    r.p99_us = rtt_us[rtt_us.size() * 99 / 100];
    r.max_us = rtt_us.back();
  }
  if (done != exchanges)
    std::fprintf(stderr, "only %d of %d exchanges completed\n", done, exchanges);
  ::shutdown(t.client, SHUT_WR);
  if (copy) copy->Join();
  return r;
}

uint64_t Arg(int argc, char** argv, std::string_view name, uint64_t fallback) {
  for (int i = 2; i + 1 < argc; ++i)
    if (argv[i] == name) return std::strtoull(argv[i + 1], nullptr, 10);
  return fallback;
}

bool Flag(int argc, char** argv, std::string_view name) {
  for (int i = 2; i < argc; ++i)
    if (argv[i] == name) return true;
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string_view mode = argc > 1 ? argv[1] : "";
  if (mode == "queued") return Queued();
  if (mode == "backpressure") {
    const uint64_t bytes = Arg(argc, argv, "--bytes", 1ull << 30);
    const int stall_ms = static_cast<int>(Arg(argc, argv, "--stall-ms", 10000));
    const bool parser = Flag(argc, argv, "--parser");
    std::printf("%-22s %14s %16s %14s %14s %s\n", "relay", "accepted_B", "MemAvail_drop_KiB",
                "tcp_mem_pages", "origin_read_B", "in_order");
    for (int kind : {0, 1, 2}) {
      const BackpressureResult r = Backpressure(kind, parser, bytes, stall_ms);
      const char* name = kind == 0   ? "user-space copy"
                         : kind == 2 ? "SK_PASS, p1 unread"
                         : parser    ? "sockmap+strparser"
                                     : "sockmap redirect";
      std::printf("%-22s %14llu %16ld %14ld %14llu %s\n", name,
                  static_cast<unsigned long long>(r.accepted), r.mem_kib, r.tcp_pages,
                  static_cast<unsigned long long>(r.checked), r.intact ? "yes" : "NO");
    }
    return 0;
  }
  if (mode == "relay") {
    const int exchanges = static_cast<int>(Arg(argc, argv, "--exchanges", 20000));
    const size_t size = Arg(argc, argv, "--size", 1024);
    const int rounds = static_cast<int>(Arg(argc, argv, "--rounds", 3));
    std::printf("%-6s %-8s %8s %15s %18s %18s %12s %8s %8s %9s\n", "round", "relay", "wall_s",
                "proc_cpu_ms/1k", "kthreads_cpu_ms/1k", "machine_cpu_ms/1k", "exchanges/s",
                "p50_us", "p99_us", "max_us");
    for (int r = 0; r < rounds; ++r)
      for (int kernel : {0, 1}) {
        const RelayResult x = Exchanges(kernel, exchanges, size);
        const double k = 1000.0 / exchanges;
        std::printf("%-6d %-8s %8.3f %15.2f %18.2f %18.2f %12.0f %8.0f %8.0f %9.0f\n", r + 1,
                    kernel ? "sockmap" : "copy", x.wall_s, x.process_cpu_s * 1000 * k,
                    x.kthreads_cpu_s * 1000 * k, x.machine_busy_s * 1000 * k, exchanges / x.wall_s,
                    x.p50_us, x.p99_us, x.max_us);
        std::fflush(stdout);
      }
    return 0;
  }
  std::fprintf(stderr,
               "usage: %s queued | backpressure [--bytes N] [--stall-ms MS] [--parser] | relay "
               "[--exchanges N] [--size BYTES] [--rounds K]\n",
               argv[0]);
  return 2;
}
