// tls_sendcost — the write-side figure of bench/README.md "tls30" (R3, issue 3): the sending
// thread's CPU time (user + system) for moving 7 TLS 1.3-sized records of 16,406 bytes (114,842
// bytes, ~112 KiB) over loopback TCP, in two writes (4 records, then 3), as TlsStream does today
// (mode 0: the records copied into one output buffer, one send per write) against one send per
// record (mode 1: MSG_MORE on all but the last record of a write).
//
// Not built by CMake (a one-off measurement, no project code). Build and run, alternating the
// modes as the README's figures were taken:
//   g++ -O2 -std=c++20 -pthread bench/tls_sendcost.cc -o /tmp/tls_sendcost
//   for i in 1 2 3 4 5 6 7 8; do /tmp/tls_sendcost 0 20000; /tmp/tls_sendcost 1 20000; done
// Prints "mode M: X us sender CPU per 7 records (112 KiB)".
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>
static double ThreadCpu() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}
int main(int argc, char** argv) {
  const int mode = atoi(argv[1]);  // 0 copy+send per write, 1 send per record
  const int iters = atoi(argv[2]);
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(0x7f000001);
  a.sin_port = 0;
  bind(ls, (sockaddr*)&a, sizeof a);
  listen(ls, 1);
  socklen_t l = sizeof a;
  getsockname(ls, (sockaddr*)&a, &l);
  int c = socket(AF_INET, SOCK_STREAM, 0);
  connect(c, (sockaddr*)&a, sizeof a);
  int s = accept(ls, nullptr, nullptr);
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    std::vector<char> b(256 * 1024);
    while (recv(s, b.data(), b.size(), 0) > 0) {
    }
  });
  const size_t kRec = 16406;
  const int kRecs = 7;  // 7 full TLS 1.3 records: ~112 KiB
  std::vector<char> record(kRec, 'x');
  std::vector<char> out;
  out.reserve(128 * 1024);
  double t0 = ThreadCpu();
  for (int i = 0; i < iters; ++i) {
    int sent_recs = 0;
    // two writes: 4 records (64 KiB), then 3
    for (int w = 0; w < 2; ++w) {
      int n = w == 0 ? 4 : 3;
      if (mode == 0) {
        out.clear();
        for (int r = 0; r < n; ++r) {
          record[0] ^= r;
          out.insert(out.end(), record.begin(), record.end());
        }
        size_t off = 0;
        while (off < out.size()) {
          ssize_t k = send(c, out.data() + off, out.size() - off, MSG_NOSIGNAL);
          if (k <= 0) return 1;
          off += k;
        }
      } else {
        for (int r = 0; r < n; ++r) {
          record[0] ^= r;
          size_t off = 0;
          while (off < kRec) {
            ssize_t k =
                send(c, record.data() + off, kRec - off, MSG_NOSIGNAL | (r + 1 < n ? MSG_MORE : 0));
            if (k <= 0) return 1;
            off += k;
          }
        }
      }
      sent_recs += n;
    }
  }
  double t1 = ThreadCpu();
  shutdown(c, SHUT_WR);
  reader.join();
  printf("mode %d: %.2f us sender CPU per 7 records (112 KiB)\n", mode, (t1 - t0) / iters * 1e6);
}
