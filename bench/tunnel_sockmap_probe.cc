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
//                 reads meanwhile — the queue the bounded design falls back to; a fourth: the
//                 bounded relay (--budget bytes redirected before user space must catch up).
//                 --kind K runs only row K (0 copy, 1 sockmap, 2 SK_PASS, 3 bounded).
//   transfer      the bounded relay (below) against the copy relay: 1 B … 50 MiB both ways at
//                 once, checksummed, each side half-closing after its bytes, the origin reading
//                 at once or after 3 s. Exits 1 on any loss, reordering, missing end of stream,
//                 or an error left on the relay's sockets (SO_ERROR).
//   halfclose     the bounded relay: a FIN one way while the other way still sends (after it,
//                 and while it streams to a client that has not read yet). Exits 1 likewise.
//   wakeups       the plain sockmap relay with a thread in epoll_wait on the joined sockets
//                 (as the proxy's reactor would be): is it woken per verdict, for nothing?
//   reset         the bounded relay: the origin, then the client, resets while the other
//                 streams; exits 1 if the relay has not ended 10 s later.
//   crossfin      the bounded relay: the client sends --budget + --extra bytes and its FIN while
//                 --down bytes stream to it unread (--client-rcvbuf shrinks its buffer). Exits 1
//                 unless the origin reads every byte.
//   uploadfirst   the client sends --up bytes, half-closes, and only then reads --down bytes from
//                 a full-duplex origin. Exits 1 on any loss, or if the upload is stuck for 15 s.
//   writefirst    the origin writes --down bytes before it reads the client's --up bytes
//                 (--origin-rcvbuf shrinks its buffer). Exits 1 on any loss.
//                 These three take --copy (the copy relay instead) and --budget.
//   transfer, halfclose and the three above end by SIGALRM after --deadline-s (600) seconds.
//   relay         --exchanges request/response exchanges (512-byte request, --size response) on
//                 one tunnel: copy relay, sockmap, bounded, alternated --rounds times: wall
//                 time, this process's CPU (client, origin and relay threads, with the kernel work
//                 done in their context) and the whole machine's busy CPU from /proc/stat (which
//                 also holds the softirq and kworker time the redirect is done in — and every
//                 other process on the machine), each per 1,000 exchanges.

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
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

// Loads an SK_SKB program; on a refusal prints the verifier's log and exits.
int LoadProg(const bpf_insn* insns, size_t count, const char* what) {
  static char log[65536];
  static const char kLicense[] = "Apache-2.0";
  bpf_attr a{};
  a.prog_type = BPF_PROG_TYPE_SK_SKB;
  a.insns = reinterpret_cast<uint64_t>(insns);
  a.insn_cnt = static_cast<uint32_t>(count);
  a.license = reinterpret_cast<uint64_t>(kLicense);
  a.log_buf = reinterpret_cast<uint64_t>(log);
  a.log_size = sizeof(log);
  a.log_level = 1;
  const int fd = static_cast<int>(Bpf(BPF_PROG_LOAD, &a));
  if (fd < 0) {
    std::fprintf(stderr, "verifier: %s\n", log);
    Die(what);
  }
  return fd;
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
  return LoadProg(prog, std::size(prog), "BPF_PROG_LOAD verdict");
}

// return skb->len: every skb is a whole message (strparser mode).
int LoadParser() {
  const bpf_insn prog[] = {
      Insn(BPF_LDX | BPF_MEM | BPF_W, 0, 1, offsetof(__sk_buff, len), 0),
      Insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
  };
  return LoadProg(prog, std::size(prog), "BPF_PROG_LOAD parser");
}

// return SK_PASS: each skb goes to the socket's own psock queue (ingress_msg), read with recv().
int LoadPass() {
  const bpf_insn prog[] = {
      Insn(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, SK_PASS),
      Insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
  };
  return LoadProg(prog, std::size(prog), "BPF_PROG_LOAD pass");
}

void Attach(int map, int prog, bpf_attach_type type) {
  bpf_attr a{};
  a.target_fd = static_cast<uint32_t>(map);
  a.attach_bpf_fd = static_cast<uint32_t>(prog);
  a.attach_type = type;
  if (Bpf(BPF_PROG_ATTACH, &a) != 0) Die("BPF_PROG_ATTACH");
  ::close(prog);  // the attachment holds the program
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
  ~KernelRelay() {
    ::close(targets);
    ::close(verdict);
  }
  KernelRelay(const KernelRelay&) = delete;
  KernelRelay& operator=(const KernelRelay&) = delete;
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
    for (int fd : {client, p1, p2, origin})
      if (fd >= 0) ::close(fd);
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

// The bounded kernel relay (a design to test, not the proxy's): the verdict redirects while the
// direction's redirected bytes stay under a limit the relay's user-space side sets, and passes
// (SK_PASS: the socket's own psock queue, charged to its receive buffer, so TCP's window closes
// when it is full — the "SK_PASS, p1 unread" row) once past it. Then user space takes over the
// direction: it waits until the peer's psock backlog has handed every redirected byte to the
// peer's send queue (bytes_acked + SIOCOUTQ reach redirected + its own writes), copies what was
// passed, and tells the program where it stands (`resume_at`: the passed bytes it has relayed;
// `limit`: redirected + budget). The program redirects again only on an skb that finds every
// passed byte relayed (passed == resume_at): the verdicts of one socket run one at a time, so
// nothing passed can still be waiting behind a redirected skb. A peer missing from `targets`
// also passes, instead of the helper's SK_DROP.
struct Counters {  // written by the program only (one entry per direction, keyed by cookie)
  uint64_t redirected = 0, passed = 0, paused = 0;
};
// Written by user space only, replaced whole. A verdict may still read an element that an update
// has replaced, so it may see an older pair, or one field of an older update of the same key:
// that is safe, as every published resume_at is at most the passed bytes relayed (passed ==
// resume_at then means none is waiting) and every published limit a bound set earlier. Not
// excluded: the replaced element reused at once for another key's update — a preallocated hash
// keeps it as the CPU's spare, and BPF_F_NO_PREALLOC frees it to bpf_mem_alloc, which also hands
// it out again without an RCU grace period (kernel/bpf/hashtab.c htab_elem_free) — so the
// verdict could pair the other direction's resume_at with this one's passed. A relay in the
// proxy should keep the control in a slot per direction of a BPF_F_MMAPABLE array, each value
// written in place as one aligned 8-byte store (a map update's memcpy gives no such promise).
struct Control {
  uint64_t resume_at = 0, limit = 0;
};

int MakeHash(uint32_t value_size) {
  bpf_attr a{};
  a.map_type = BPF_MAP_TYPE_HASH;
  a.key_size = 8;
  a.value_size = value_size;
  a.max_entries = 1024;
  const int fd = static_cast<int>(Bpf(BPF_MAP_CREATE, &a));
  if (fd < 0) Die("BPF_MAP_CREATE hash");
  return fd;
}

// A few lines of assembly with forward jumps to labels.
class Asm {
 public:
  void Op(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
    insns_.push_back(Insn(code, dst, src, off, imm));
  }
  void LoadMap(uint8_t dst, int fd) {
    Op(BPF_LD | BPF_DW | BPF_IMM, dst, BPF_PSEUDO_MAP_FD, 0, fd);
    Op(0, 0, 0, 0, 0);
  }
  void Jump(uint8_t code, uint8_t dst, uint8_t src, int32_t imm, int label) {
    fixups_.push_back({insns_.size(), label});
    Op(code, dst, src, 0, imm);
  }
  void Label(int label) {
    if (labels_.size() <= static_cast<size_t>(label))
      labels_.resize(static_cast<size_t>(label) + 1);
    labels_[static_cast<size_t>(label)] = insns_.size();
  }
  std::vector<bpf_insn> Done() {
    for (auto [at, label] : fixups_)
      insns_[at].off = static_cast<int16_t>(labels_[static_cast<size_t>(label)] - at - 1);
    return insns_;
  }

 private:
  std::vector<bpf_insn> insns_;
  std::vector<std::pair<size_t, int>> fixups_;
  std::vector<size_t> labels_;
};

int LoadBoundedVerdict(int targets, int counters, int control) {
  enum { kPause, kPassCount, kPass, kDrop };
  Asm a;
  a.Op(BPF_ALU64 | BPF_MOV | BPF_X, 6, 1, 0, 0);                       // r6 = skb
  a.Op(BPF_LDX | BPF_MEM | BPF_W, 7, 6, offsetof(__sk_buff, len), 0);  // r7 = len
  // An skb without data is the FIN. Redirected, the peer's psock backlog sends 0 bytes, takes
  // that for a hard error, sets EPIPE on the peer (its next recv fails: a first version lost
  // the passed bytes still queued behind it) and stops its transmission. Passed, it can wait in
  // the socket's own backlog behind skbs redirected to it and fail there alike (EPIPE was seen
  // at the end of transfers). Dropped, nothing is lost: the FIN is in the socket's state already
  // (recv gives 0 once the passed bytes are read, poll says POLLRDHUP).
  a.Jump(BPF_JMP | BPF_JEQ | BPF_K, 7, 0, 0, kDrop);
  a.Op(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_get_socket_cookie);
  a.Op(BPF_STX | BPF_MEM | BPF_DW, 10, 0, -8, 0);  // key at fp - 8
  a.LoadMap(1, counters);
  a.Op(BPF_ALU64 | BPF_MOV | BPF_X, 2, 10, 0, 0);
  a.Op(BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, -8);
  a.Op(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem);
  a.Jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 0, kPass);
  a.Op(BPF_ALU64 | BPF_MOV | BPF_X, 8, 0, 0, 0);  // r8 = counters
  a.LoadMap(1, control);
  a.Op(BPF_ALU64 | BPF_MOV | BPF_X, 2, 10, 0, 0);
  a.Op(BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, -8);
  a.Op(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem);
  a.Jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 0, kPassCount);
  a.Op(BPF_ALU64 | BPF_MOV | BPF_X, 9, 0, 0, 0);  // r9 = control
  // Paused: redirect again only when every passed byte has been relayed.
  a.Op(BPF_LDX | BPF_MEM | BPF_DW, 1, 8, offsetof(Counters, paused), 0);
  a.Jump(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 0, 100);
  a.Op(BPF_LDX | BPF_MEM | BPF_DW, 1, 8, offsetof(Counters, passed), 0);
  a.Op(BPF_LDX | BPF_MEM | BPF_DW, 2, 9, offsetof(Control, resume_at), 0);
  a.Jump(BPF_JMP | BPF_JNE | BPF_X, 1, 2, 0, kPassCount);
  a.Label(100);
  a.Op(BPF_LDX | BPF_MEM | BPF_DW, 1, 8, offsetof(Counters, redirected), 0);
  a.Op(BPF_ALU64 | BPF_ADD | BPF_X, 1, 7, 0, 0);
  a.Op(BPF_LDX | BPF_MEM | BPF_DW, 2, 9, offsetof(Control, limit), 0);
  a.Jump(BPF_JMP | BPF_JGT | BPF_X, 1, 2, 0, kPause);
  a.Op(BPF_ALU64 | BPF_MOV | BPF_X, 1, 6, 0, 0);
  a.LoadMap(2, targets);
  a.Op(BPF_ALU64 | BPF_MOV | BPF_X, 3, 10, 0, 0);
  a.Op(BPF_ALU64 | BPF_ADD | BPF_K, 3, 0, 0, -8);
  a.Op(BPF_ALU64 | BPF_MOV | BPF_K, 4, 0, 0, 0);
  a.Op(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_sk_redirect_hash);
  a.Jump(BPF_JMP | BPF_JNE | BPF_K, 0, 0, SK_PASS, kPause);
  a.Op(BPF_LDX | BPF_MEM | BPF_DW, 1, 8, offsetof(Counters, redirected), 0);
  a.Op(BPF_ALU64 | BPF_ADD | BPF_X, 1, 7, 0, 0);
  a.Op(BPF_STX | BPF_MEM | BPF_DW, 8, 1, offsetof(Counters, redirected), 0);
  a.Op(BPF_ST | BPF_MEM | BPF_DW, 8, 0, offsetof(Counters, paused), 0);
  a.Op(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, SK_PASS);  // with the redirect set: __SK_REDIRECT
  a.Op(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
  a.Label(kPause);
  a.Op(BPF_ST | BPF_MEM | BPF_DW, 8, 0, offsetof(Counters, paused), 1);
  a.Label(kPassCount);
  a.Op(BPF_LDX | BPF_MEM | BPF_DW, 1, 8, offsetof(Counters, passed), 0);
  a.Op(BPF_ALU64 | BPF_ADD | BPF_X, 1, 7, 0, 0);
  a.Op(BPF_STX | BPF_MEM | BPF_DW, 8, 1, offsetof(Counters, passed), 0);
  a.Label(kPass);
  a.Op(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, SK_PASS);
  a.Op(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
  a.Label(kDrop);
  a.Op(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, SK_DROP);
  a.Op(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
  const std::vector<bpf_insn> prog = a.Done();
  return LoadProg(prog.data(), prog.size(), "BPF_PROG_LOAD bounded verdict");
}

void PutValue(int map, uint64_t key, const void* value) {
  bpf_attr a{};
  a.map_fd = static_cast<uint32_t>(map);
  a.key = reinterpret_cast<uint64_t>(&key);
  a.value = reinterpret_cast<uint64_t>(value);
  a.flags = BPF_ANY;
  if (Bpf(BPF_MAP_UPDATE_ELEM, &a) != 0) Die("BPF_MAP_UPDATE_ELEM value");
}

Counters ReadCounters(int map, uint64_t key) {
  Counters c;
  bpf_attr a{};
  a.map_fd = static_cast<uint32_t>(map);
  a.key = reinterpret_cast<uint64_t>(&key);
  a.value = reinterpret_cast<uint64_t>(&c);
  if (Bpf(BPF_MAP_LOOKUP_ELEM, &a) != 0) Die("BPF_MAP_LOOKUP_ELEM counters");
  return c;
}

// Bytes the socket's send queue has taken: acknowledged, then (read second, so the sum never
// counts a byte twice) not yet acknowledged.
uint64_t BytesInto(int fd) {
  tcp_info ti{};
  socklen_t len = sizeof(ti);
  ::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len);
  int outq = 0;
  ::ioctl(fd, SIOCOUTQ, &outq);
  return ti.tcpi_bytes_acked + static_cast<uint64_t>(outq);
}

bool Closed(int fd) {
  tcp_info ti{};
  socklen_t len = sizeof(ti);
  return ::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
         ti.tcpi_state == 7;  // TCP_CLOSE (include/net/tcp_states.h)
}

struct BoundedRelay {
  int targets = -1, verdict = -1, counters = -1, control = -1;
  uint64_t budget;
  std::thread up, down;
  std::atomic<uint64_t> copied{0};  // bytes user space relayed (passed), both directions

  BoundedRelay(int p1, int p2, uint64_t budget_bytes) : budget(budget_bytes) {
    targets = MakeSockhash();
    verdict = MakeSockhash();
    counters = MakeHash(sizeof(Counters));
    control = MakeHash(sizeof(Control));
    Attach(verdict, LoadBoundedVerdict(targets, counters, control), BPF_SK_SKB_STREAM_VERDICT);
    const uint64_t base1 = BytesInto(p1), base2 = BytesInto(p2);  // before any redirect
    const Counters zero;
    const Control start{0, budget};
    for (int fd : {p1, p2}) {
      PutValue(counters, Cookie(fd), &zero);
      PutValue(control, Cookie(fd), &start);
    }
    Put(targets, Cookie(p1), p2);
    Put(targets, Cookie(p2), p1);
    Put(verdict, Cookie(p1), p1);
    Put(verdict, Cookie(p2), p2);
    const int one = 1;
    ::setsockopt(p1, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof(one));
    ::setsockopt(p2, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof(one));
    up = std::thread([this, p1, p2, base2] { Pump(p1, p2, base2); });
    down = std::thread([this, p1, p2, base1] { Pump(p2, p1, base1); });
  }

  // `base`: what `to` had taken before the join.
  void Pump(int from, int to, uint64_t base) {
    const uint64_t key = Cookie(from);
    uint64_t written = 0;  // by this thread into `to`
    uint64_t relayed_passed = 0;
    std::vector<char> buf(256 * 1024);
    // False when `to` can take nothing more (reset or closed): what is redirected to it then
    // never reaches its send queue, and a wait without this end waited for ever (`reset`).
    auto wait_backlog = [&] {
      while (BytesInto(to) - base < ReadCounters(counters, key).redirected + written) {
        if (Closed(to)) return false;
        ::usleep(500);
      }
      return true;
    };
    while (true) {
      pollfd pfd{from, POLLIN | POLLRDHUP, 0};
      ::poll(&pfd, 1, 1000);
      if (Closed(to)) break;  // the other way was reset: the tunnel is over
      const ssize_t n = ::recv(from, buf.data(), buf.size(), MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      // recv() gives 0 once the FIN is in and the readable queue is empty, but bytes the program
      // passed may still wait in the psock backlog behind bytes redirected to `from` that its
      // reader has not taken (both directions share it): the end of stream is when every passed
      // byte has been read.
      if (n == 0 && ReadCounters(counters, key).passed > relayed_passed) {
        ::usleep(1000);
        continue;
      }
      if (n <= 0) break;           // end of stream or an error
      if (!wait_backlog()) break;  // every redirected byte before these, in `to`'s send queue
      if (!SendAll(to, buf.data(), static_cast<size_t>(n))) break;
      written += static_cast<uint64_t>(n);
      relayed_passed += static_cast<uint64_t>(n);
      copied += static_cast<uint64_t>(n);
      const Control next{relayed_passed, ReadCounters(counters, key).redirected + budget};
      PutValue(control, key, &next);
    }
    wait_backlog();  // the FIN after the last redirected byte
    if (std::getenv("PROBE_DEBUG")) {
      const Counters c = ReadCounters(counters, key);
      int err = 0;
      socklen_t el = sizeof(err);
      ::getsockopt(to, SOL_SOCKET, SO_ERROR, &err, &el);
      std::fprintf(
          stderr,
          "pump %d->%d: redirected %llu passed %llu paused %llu written %llu into %llu err %d\n",
          from, to, (unsigned long long)c.redirected, (unsigned long long)c.passed,
          (unsigned long long)c.paused, (unsigned long long)written,
          (unsigned long long)(BytesInto(to) - base), err);
    }
    ::shutdown(to, SHUT_WR);
  }
  void Join() {
    up.join();
    down.join();
  }
  // After Join.
  ~BoundedRelay() {
    for (int fd : {targets, verdict, counters, control}) ::close(fd);
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
// nobody reads while the client sends (is the psock's own queue bounded?), read from p1 after;
// 3: the bounded kernel relay.
BackpressureResult Backpressure(int kind, bool parser, uint64_t bytes, int stall_ms,
                                uint64_t budget) {
  Tunnel t;
  std::unique_ptr<BoundedRelay> bounded;
  std::unique_ptr<KernelRelay> relay;
  std::unique_ptr<CopyRelay> copy;
  int reader = t.origin;
  int pass_map = -1;
  if (kind == 1) {
    relay = std::make_unique<KernelRelay>(parser);
    relay->Join(t.p1, t.p2, true);
  } else if (kind == 2) {
    pass_map = MakeSockhash();
    Attach(pass_map, LoadPass(), BPF_SK_SKB_STREAM_VERDICT);
    Put(pass_map, Cookie(t.p1), t.p1);
    reader = t.p1;
  } else if (kind == 3) {
    bounded = std::make_unique<BoundedRelay>(t.p1, t.p2, budget);
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
  if (copy || bounded) ::shutdown(t.origin, SHUT_WR);
  if (copy) copy->Join();
  if (bounded) bounded->Join();
  if (pass_map >= 0) ::close(pass_map);
  return r;
}

struct RelayResult {
  double wall_s = 0, process_cpu_s = 0, kthreads_cpu_s = 0, machine_busy_s = 0;
  double p50_us = 0, p99_us = 0, max_us = 0;  // one exchange's round trip
};

// kind 0: the copy relay; 1: the sockmap redirect; 2: the bounded kernel relay.
RelayResult Exchanges(int kind, int exchanges, size_t size, uint64_t budget) {
  Tunnel t;
  std::unique_ptr<KernelRelay> relay;
  std::unique_ptr<CopyRelay> copy;
  std::unique_ptr<BoundedRelay> bounded;
  if (kind == 1) {
    relay = std::make_unique<KernelRelay>(false);
    relay->Join(t.p1, t.p2, true);
  } else if (kind == 2) {
    bounded = std::make_unique<BoundedRelay>(t.p1, t.p2, budget);
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
  if (bounded) bounded->Join();
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

// Writes `n` bytes of the pattern starting at `seed`, then half-closes; reads until the end of
// stream and checks `expect` bytes of the pattern starting at `expect_seed`. Returns an error
// text, empty when all was right.
std::string Side(int fd, uint64_t seed, uint64_t n, uint64_t expect_seed, uint64_t expect,
                 int read_delay_ms, int write_delay_ms = 0) {
  std::string error;
  std::thread writer([&] {
    if (write_delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(write_delay_ms));
    std::vector<char> buf(256 * 1024);
    for (uint64_t off = 0; off < n;) {
      const size_t k = static_cast<size_t>(std::min<uint64_t>(buf.size(), n - off));
      for (size_t i = 0; i < k; ++i) buf[i] = static_cast<char>(PatternByte(seed + off + i));
      if (!SendAll(fd, buf.data(), k)) {
        error = "send failed";
        break;
      }
      off += k;
    }
    ::shutdown(fd, SHUT_WR);
  });
  if (read_delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(read_delay_ms));
  std::vector<char> in(256 * 1024);
  uint64_t got = 0;
  bool intact = true;
  while (true) {
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, 10000) <= 0) {
      error += " no end of stream after " + std::to_string(got) + " bytes";
      break;
    }
    const ssize_t m = ::recv(fd, in.data(), in.size(), 0);
    if (m < 0 && errno == EINTR) continue;
    if (m <= 0) break;
    for (ssize_t i = 0; i < m; ++i)
      if (static_cast<uint8_t>(in[static_cast<size_t>(i)]) != PatternByte(expect_seed + got + i))
        intact = false;
    got += static_cast<uint64_t>(m);
  }
  writer.join();
  if (got != expect) error += " read " + std::to_string(got) + " of " + std::to_string(expect);
  if (!intact) error += " bytes out of order or changed";
  return error;
}

// The relay's sockets must end without a pending error: a data-less (FIN) skb the program passed
// or redirected left EPIPE on them (a psock backlog's 0-byte send taken for a hard error) while
// the bytes still arrived. Reads SO_ERROR (which clears it) after the relay has joined.
std::string RelaySocketErrors(int p1, int p2) {
  std::string error;
  for (int fd : {p1, p2}) {
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0)
      error += std::string(" ") + (fd == p1 ? "p1" : "p2") + " SO_ERROR " + std::strerror(err);
  }
  return error;
}

// Both ways at once, each side half-closing after its bytes; `slow`: the origin starts reading
// only after 3 s (the client's bytes wait in the relay meanwhile).
int Transfer(int argc, char** argv) {
  const uint64_t budget = Arg(argc, argv, "--budget", 4 << 20);
  int failures = 0;
  std::printf("%-10s %-6s %12s %10s %14s %s\n", "relay", "reader", "bytes_each", "wall_s",
              "copied_by_user", "result");
  for (uint64_t n : {1ull, 1000ull, 65537ull, 1ull << 20, 50ull << 20})
    for (int slow : {0, 1})
      for (int kind : {0, 3}) {
        Tunnel t;
        std::unique_ptr<CopyRelay> copy;
        std::unique_ptr<BoundedRelay> bounded;
        if (kind == 3)
          bounded = std::make_unique<BoundedRelay>(t.p1, t.p2, budget);
        else
          copy = std::make_unique<CopyRelay>(t.p1, t.p2);
        const auto t0 = Clock::now();
        std::string origin_error;
        std::thread origin([&] { origin_error = Side(t.origin, 7, n, 1, n, slow ? 3000 : 0); });
        const std::string client_error = Side(t.client, 1, n, 7, n, 0);
        origin.join();
        if (copy) copy->Join();
        if (bounded) bounded->Join();
        const std::string error = client_error + (origin_error.empty() ? "" : " origin:") +
                                  origin_error + RelaySocketErrors(t.p1, t.p2);
        if (!error.empty()) ++failures;
        std::printf("%-10s %-6s %12llu %10.3f %14llu %s\n", kind ? "bounded" : "copy",
                    slow ? "slow" : "fast", static_cast<unsigned long long>(n),
                    std::chrono::duration<double>(Clock::now() - t0).count(),
                    static_cast<unsigned long long>(bounded ? bounded->copied.load() : 2 * n),
                    error.empty() ? "ok" : error.c_str());
        std::fflush(stdout);
      }
  return failures == 0 ? 0 : 1;
}

// Half-close each way: one side sends `small` bytes and its FIN at once; the other reads to the
// end of stream, waits 300 ms, then sends `large` bytes and its FIN, which must all arrive.
int HalfClose(int argc, char** argv) {
  const uint64_t budget = Arg(argc, argv, "--budget", 4 << 20);
  int failures = 0;
  for (int client_first : {1, 0})
    for (uint64_t large : {1000ull, 8ull << 20}) {
      Tunnel t;
      BoundedRelay relay(t.p1, t.p2, budget);
      const int first = client_first ? t.client : t.origin;
      const int second = client_first ? t.origin : t.client;
      std::string first_error, second_error;
      std::thread a([&] { first_error = Side(first, 3, 1000, 9, large, 0); });
      std::thread b([&] {
        // Reads the first side's bytes to their end, then answers.
        std::vector<char> in(64 * 1024);
        uint64_t got = 0;
        while (true) {
          const ssize_t m = ::recv(second, in.data(), in.size(), 0);
          if (m <= 0) break;
          got += static_cast<uint64_t>(m);
        }
        if (got != 1000) second_error = "read " + std::to_string(got) + " of 1000";
        ::usleep(300 * 1000);
        std::vector<char> buf(static_cast<size_t>(large));
        for (uint64_t i = 0; i < large; ++i) buf[i] = static_cast<char>(PatternByte(9 + i));
        if (!SendAll(second, buf.data(), buf.size())) second_error += " send failed";
        ::shutdown(second, SHUT_WR);
      });
      a.join();
      b.join();
      relay.Join();
      const std::string error = first_error + second_error + RelaySocketErrors(t.p1, t.p2);
      if (!error.empty()) ++failures;
      std::printf("%s FINs first, then %llu bytes the other way: %s\n",
                  client_first ? "client" : "origin", static_cast<unsigned long long>(large),
                  error.empty() ? "ok" : error.c_str());
    }
  // The FIN while the other way streams: the origin sends `large` at once, the client reads
  // nothing for 500 ms (the redirected bytes wait in p1's psock backlog), sends 1000 bytes and
  // its FIN at 200 ms, then reads everything.
  for (uint64_t large : {8ull << 20, 50ull << 20}) {
    Tunnel t;
    BoundedRelay relay(t.p1, t.p2, budget);
    std::string origin_error;
    std::thread o([&] { origin_error = Side(t.origin, 9, large, 3, 1000, 0); });
    const std::string client_error = Side(t.client, 3, 1000, 9, large, 500, 200);
    o.join();
    relay.Join();
    const std::string error = client_error + origin_error + RelaySocketErrors(t.p1, t.p2);
    if (!error.empty()) ++failures;
    std::printf("client FINs while %llu bytes stream to it: %s\n",
                static_cast<unsigned long long>(large), error.empty() ? "ok" : error.c_str());
  }
  return failures == 0 ? 0 : 1;
}

// A reset: the client streams `n` bytes; the origin (or the client) reads 1 MiB, then resets
// (SO_LINGER 0, close). The relay must end — both directions — within 10 s.
int Reset(int argc, char** argv) {
  const uint64_t budget = Arg(argc, argv, "--budget", 4 << 20);
  int failures = 0;
  for (int origin_resets : {1, 0}) {
    Tunnel t;
    auto relay = std::make_unique<BoundedRelay>(t.p1, t.p2, budget);
    const int sender = origin_resets ? t.client : t.origin;
    int resetter = origin_resets ? t.origin : t.client;
    std::thread send_thread([&] {
      std::vector<char> buf(256 * 1024, 'x');
      for (int i = 0; i < 200; ++i)
        if (!SendAll(sender, buf.data(), buf.size())) break;
    });
    std::vector<char> in(64 * 1024);
    uint64_t got = 0;
    while (got < (1u << 20)) {
      const ssize_t m = ::recv(resetter, in.data(), in.size(), 0);
      if (m <= 0) break;
      got += static_cast<uint64_t>(m);
    }
    const linger hard{1, 0};
    ::setsockopt(resetter, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
    ::close(resetter);
    if (origin_resets)
      t.origin = -1;
    else
      t.client = -1;
    const auto t0 = Clock::now();
    std::atomic<bool> ended{false};
    std::thread joiner([&] {
      relay->Join();
      ended = true;
    });
    while (!ended && Clock::now() - t0 < std::chrono::seconds(10)) ::usleep(10 * 1000);
    const bool ok = ended;
    std::printf("%s resets after 1 MiB: %s\n", origin_resets ? "origin" : "client",
                ok ? "the relay ended" : "the relay did NOT end within 10 s");
    std::fflush(stdout);
    if (!ok) {
      ++failures;
      std::_Exit(1);  // its threads wait for ever; nothing to clean up in a probe
    }
    joiner.join();
    ::shutdown(sender, SHUT_RDWR);  // the sender may still be blocked in send
    send_thread.join();
  }
  return failures == 0 ? 0 : 1;
}

// Voluntary context switches of the calling thread.
long ThreadSwitches() {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/self/task/%ld/status", static_cast<long>(::gettid()));
  FILE* f = std::fopen(path, "r");
  char line[256];
  long v = -1;
  while (f && std::fgets(line, sizeof(line), f))
    if (std::strncmp(line, "voluntary_ctxt_switches:", 24) == 0) v = std::atol(line + 24);
  if (f) std::fclose(f);
  return v;
}

// Is a thread waiting in epoll_wait on the joined sockets woken by the verdict's data_ready,
// though nothing becomes readable? Exchanges as `relay` (sockmap), a watcher thread in
// epoll_wait on p1 and p2 registered with `events`; its voluntary context switches per exchange.
int Wakeups(int argc, char** argv) {
  const int exchanges = static_cast<int>(Arg(argc, argv, "--exchanges", 20000));
  for (uint32_t events : {uint32_t{EPOLLIN | EPOLLET}, uint32_t{EPOLLRDHUP | EPOLLET}}) {
    Tunnel t;
    KernelRelay relay(false);
    relay.Join(t.p1, t.p2, true);
    const int ep = ::epoll_create1(EPOLL_CLOEXEC);
    for (int fd : {t.p1, t.p2}) {
      epoll_event ev{};
      ev.events = events;
      ev.data.fd = fd;
      ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
    std::atomic<bool> stop{false};
    std::atomic<long> switches{0}, reported{0};
    std::thread watcher([&] {
      const long s0 = ThreadSwitches();
      epoll_event out[4];
      while (!stop) {
        const int n = ::epoll_wait(ep, out, 4, 200);
        if (n > 0) reported += n;
      }
      switches = ThreadSwitches() - s0;
    });
    ::usleep(100 * 1000);
    std::thread origin([&] {
      std::vector<char> req(512), resp(1024, 'r');
      for (int i = 0; i < exchanges; ++i)
        if (!RecvAll(t.origin, req.data(), req.size()) ||
            !SendAll(t.origin, resp.data(), resp.size()))
          break;
    });
    std::vector<char> req(512, 'q'), resp(1024);
    const auto t0 = Clock::now();
    for (int i = 0; i < exchanges; ++i)
      if (!SendAll(t.client, req.data(), req.size()) ||
          !RecvAll(t.client, resp.data(), resp.size()))
        break;
    const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
    origin.join();
    stop = true;
    watcher.join();
    ::close(ep);
    std::printf(
        "epoll %-18s %d exchanges in %.2f s: watcher woken %.2f times an exchange, "
        "events reported %ld\n",
        events & EPOLLIN ? "EPOLLIN|EPOLLET" : "EPOLLRDHUP|EPOLLET", exchanges, wall,
        static_cast<double>(switches) / exchanges, reported.load());
  }
  return 0;
}

// The client uploads past the budget (so its tail is passed) while the origin's stream to it
// waits unread in p1's psock backlog, then FINs: the passed tail waits in that backlog behind
// the stream, so p1's recv() gives 0 before it can be read. The origin must get it all.
// --copy: the copy relay instead.
int CrossFin(int argc, char** argv) {
  const uint64_t budget = Arg(argc, argv, "--budget", 4 << 20);
  const uint64_t extra = Arg(argc, argv, "--extra", 256 << 10);
  const uint64_t down = Arg(argc, argv, "--down", 50ull << 20);
  const int client_read_delay = static_cast<int>(Arg(argc, argv, "--client-read-delay", 2000));
  const uint64_t up = budget + extra;
  Tunnel t;
  if (const int rb = static_cast<int>(Arg(argc, argv, "--client-rcvbuf", 0)); rb > 0)
    ::setsockopt(t.client, SOL_SOCKET, SO_RCVBUF, &rb, sizeof(rb));
  std::unique_ptr<BoundedRelay> brelay;
  std::unique_ptr<CopyRelay> crelay;
  if (Flag(argc, argv, "--copy"))
    crelay = std::make_unique<CopyRelay>(t.p1, t.p2);
  else
    brelay = std::make_unique<BoundedRelay>(t.p1, t.p2, budget);
  std::string origin_error;
  std::thread o([&] { origin_error = Side(t.origin, 9, down, 3, up, 0); });
  const std::string client_error = Side(t.client, 3, up, 9, down, client_read_delay, 500);
  std::printf("client side: %s\n", client_error.empty() ? "ok" : client_error.c_str());
  std::fflush(stdout);
  o.join();
  if (brelay)
    brelay->Join();
  else
    crelay->Join();
  const std::string error = (client_error.empty() ? "" : "client:") + client_error +
                            (origin_error.empty() ? "" : " origin:") + origin_error;
  std::printf("client sends %llu and FINs while %llu stream to it unread: %s\n",
              (unsigned long long)up, (unsigned long long)down,
              error.empty() ? "ok" : error.c_str());
  return error.empty() ? 0 : 1;
}

// An origin that writes its whole response before it reads the request body (the client
// uploads and reads at once). The copy relay keeps the directions independent.
int WriteFirst(int argc, char** argv) {
  const uint64_t budget = Arg(argc, argv, "--budget", 4 << 20);
  const uint64_t up = Arg(argc, argv, "--up", 50ull << 20);
  const uint64_t down = Arg(argc, argv, "--down", 50ull << 20);
  Tunnel t;
  if (const int rb = static_cast<int>(Arg(argc, argv, "--origin-rcvbuf", 0)); rb > 0)
    ::setsockopt(t.origin, SOL_SOCKET, SO_RCVBUF, &rb, sizeof(rb));
  std::unique_ptr<BoundedRelay> brelay;
  std::unique_ptr<CopyRelay> crelay;
  if (Flag(argc, argv, "--copy"))
    crelay = std::make_unique<CopyRelay>(t.p1, t.p2);
  else
    brelay = std::make_unique<BoundedRelay>(t.p1, t.p2, budget);
  std::string origin_error;
  std::atomic<uint64_t> origin_sent{0};
  std::thread o([&] {
    std::vector<char> buf(256 * 1024);
    for (uint64_t off = 0; off < down;) {
      const size_t k = static_cast<size_t>(std::min<uint64_t>(buf.size(), down - off));
      for (size_t i = 0; i < k; ++i) buf[i] = static_cast<char>(PatternByte(9 + off + i));
      if (!SendAll(t.origin, buf.data(), k)) {
        origin_error = "send failed";
        break;
      }
      off += k;
      origin_sent = off;
    }
    ::shutdown(t.origin, SHUT_WR);
    uint64_t got = 0;
    std::vector<char> in(256 * 1024);
    while (true) {
      pollfd pfd{t.origin, POLLIN, 0};
      if (::poll(&pfd, 1, 10000) <= 0) {
        origin_error += " no end";
        break;
      }
      const ssize_t m = ::recv(t.origin, in.data(), in.size(), 0);
      if (m <= 0) break;
      got += static_cast<uint64_t>(m);
    }
    if (got != up) origin_error += " read " + std::to_string(got) + " of " + std::to_string(up);
  });
  const std::string client_error = Side(t.client, 3, up, 9, down, 0);
  std::printf("%s: client side: %s (origin had sent %llu of %llu)\n", crelay ? "copy" : "bounded",
              client_error.empty() ? "ok" : client_error.c_str(),
              (unsigned long long)origin_sent.load(), (unsigned long long)down);
  std::fflush(stdout);
  if (!client_error.empty()) std::_Exit(1);
  o.join();
  if (brelay)
    brelay->Join();
  else
    crelay->Join();
  std::printf("origin side: %s\n", origin_error.empty() ? "ok" : origin_error.c_str());
  return origin_error.empty() ? 0 : 1;
}

// A client that sends its whole upload before it reads (as an HTTP client sends a request
// body), to a full-duplex origin that answers while it reads.
int UploadFirst(int argc, char** argv) {
  const uint64_t budget = Arg(argc, argv, "--budget", 4 << 20);
  const uint64_t up = Arg(argc, argv, "--up", 50ull << 20);
  const uint64_t down = Arg(argc, argv, "--down", 50ull << 20);
  Tunnel t;
  if (const int rb = static_cast<int>(Arg(argc, argv, "--client-rcvbuf", 0)); rb > 0)
    ::setsockopt(t.client, SOL_SOCKET, SO_RCVBUF, &rb, sizeof(rb));
  std::unique_ptr<BoundedRelay> brelay;
  std::unique_ptr<CopyRelay> crelay;
  if (Flag(argc, argv, "--copy"))
    crelay = std::make_unique<CopyRelay>(t.p1, t.p2);
  else
    brelay = std::make_unique<BoundedRelay>(t.p1, t.p2, budget);
  std::string origin_error;
  std::thread o([&] { origin_error = Side(t.origin, 9, down, 3, up, 0); });
  std::atomic<uint64_t> client_sent{0};
  std::atomic<bool> upload_done{false};
  std::thread w([&] {
    std::vector<char> buf(256 * 1024);
    for (uint64_t off = 0; off < up;) {
      const size_t k = static_cast<size_t>(std::min<uint64_t>(buf.size(), up - off));
      for (size_t i = 0; i < k; ++i) buf[i] = static_cast<char>(PatternByte(3 + off + i));
      if (!SendAll(t.client, buf.data(), k)) break;
      off += k;
      client_sent = off;
    }
    ::shutdown(t.client, SHUT_WR);
    upload_done = true;
  });
  const auto t0 = Clock::now();
  while (!upload_done && Clock::now() - t0 < std::chrono::seconds(15)) ::usleep(10000);
  if (!upload_done) {
    std::printf("%s: client upload stuck at %llu of %llu after 15 s (client reads only after)\n",
                crelay ? "copy" : "bounded", (unsigned long long)client_sent.load(),
                (unsigned long long)up);
    std::fflush(stdout);
    std::_Exit(1);
  }
  w.join();
  uint64_t got = 0;
  std::vector<char> in(256 * 1024);
  bool intact = true;
  while (true) {
    pollfd pfd{t.client, POLLIN, 0};
    if (::poll(&pfd, 1, 10000) <= 0) break;
    const ssize_t m = ::recv(t.client, in.data(), in.size(), 0);
    if (m <= 0) break;
    for (ssize_t i = 0; i < m; ++i)
      if (static_cast<uint8_t>(in[static_cast<size_t>(i)]) != PatternByte(9 + got + i))
        intact = false;
    got += static_cast<uint64_t>(m);
  }
  o.join();
  if (brelay)
    brelay->Join();
  else
    crelay->Join();
  std::printf("%s: upload done; client read %llu of %llu%s; origin: %s\n",
              crelay ? "copy" : "bounded", (unsigned long long)got, (unsigned long long)down,
              intact ? "" : " CORRUPT", origin_error.empty() ? "ok" : origin_error.c_str());
  return got == down && intact && origin_error.empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string_view mode = argc > 1 ? argv[1] : "";
  // A relay that stops moving bytes can leave a check waiting for ever (a direction waiting on
  // its peer's backlog); SIGALRM's default action ends the process, so the check fails instead.
  for (std::string_view check : {"transfer", "halfclose", "crossfin", "uploadfirst", "writefirst"})
    if (mode == check) ::alarm(static_cast<unsigned>(Arg(argc, argv, "--deadline-s", 600)));
  if (mode == "queued") return Queued();
  if (mode == "transfer") return Transfer(argc, argv);
  if (mode == "halfclose") return HalfClose(argc, argv);
  if (mode == "reset") return Reset(argc, argv);
  if (mode == "wakeups") return Wakeups(argc, argv);
  if (mode == "crossfin") return CrossFin(argc, argv);
  if (mode == "uploadfirst") return UploadFirst(argc, argv);
  if (mode == "writefirst") return WriteFirst(argc, argv);
  if (mode == "backpressure") {
    const uint64_t bytes = Arg(argc, argv, "--bytes", 1ull << 30);
    const int stall_ms = static_cast<int>(Arg(argc, argv, "--stall-ms", 10000));
    const bool parser = Flag(argc, argv, "--parser");
    std::printf("%-22s %14s %16s %14s %14s %s\n", "relay", "accepted_B", "MemAvail_drop_KiB",
                "tcp_mem_pages", "origin_read_B", "in_order");
    const uint64_t budget = Arg(argc, argv, "--budget", 4 << 20);
    const uint64_t only = Arg(argc, argv, "--kind", 4);  // 0..3: that row alone
    for (int kind : {0, 1, 2, 3}) {
      if (only < 4 && static_cast<uint64_t>(kind) != only) continue;
      const BackpressureResult r = Backpressure(kind, parser, bytes, stall_ms, budget);
      const char* name = kind == 0   ? "user-space copy"
                         : kind == 2 ? "SK_PASS, p1 unread"
                         : kind == 3 ? "bounded sockmap"
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
    const uint64_t budget = Arg(argc, argv, "--budget", 4 << 20);
    for (int r = 0; r < rounds; ++r)
      for (int kind : {0, 1, 2}) {
        const RelayResult x = Exchanges(kind, exchanges, size, budget);
        const double k = 1000.0 / exchanges;
        std::printf("%-6d %-8s %8.3f %15.2f %18.2f %18.2f %12.0f %8.0f %8.0f %9.0f\n", r + 1,
                    kind == 0   ? "copy"
                    : kind == 1 ? "sockmap"
                                : "bounded",
                    x.wall_s, x.process_cpu_s * 1000 * k, x.kthreads_cpu_s * 1000 * k,
                    x.machine_busy_s * 1000 * k, exchanges / x.wall_s, x.p50_us, x.p99_us,
                    x.max_us);
        std::fflush(stdout);
      }
    return 0;
  }
  std::fprintf(stderr,
               "usage: %s queued | backpressure [--bytes N] [--stall-ms MS] [--parser] "
               "[--budget B] [--kind 0-3] | transfer [--budget B] | halfclose [--budget B] | reset "
               "[--budget B] "
               "| wakeups [--exchanges N] | crossfin [--down N] [--extra N] [--client-rcvbuf B] "
               "[--client-read-delay MS] [--budget B] [--copy] | uploadfirst [--up N] [--down N] "
               "[--client-rcvbuf B] [--budget B] [--copy] | writefirst [--up N] [--down N] "
               "[--origin-rcvbuf B] [--budget B] [--copy] | relay [--exchanges N] [--size BYTES] "
               "[--rounds K] "
               "[--budget B]\n",
               argv[0]);
  return 2;
}
