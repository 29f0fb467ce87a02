// R18: the UDP flood of bench/soc_udp_flood.sh. Sends N copies of one 114-byte syslog line to
// 127.0.0.1:PORT from one socket, 64 a sendmmsg call, as fast as loopback takes them (the
// receiver's kernel buffer overflows: what is dropped there is the receiver's to count).
// Prints the number sent.
//
// Usage: soc_udp_flood PORT N
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s PORT N\n", argv[0]);
    return 2;
  }
  char* end = NULL;
  const long port = strtol(argv[1], &end, 10);
  if (*end != '\0' || port <= 0 || port > 65535) {
    fprintf(stderr, "soc_udp_flood: bad port %s\n", argv[1]);
    return 2;
  }
  const long n = strtol(argv[2], &end, 10);
  if (*end != '\0' || n < 0) {
    fprintf(stderr, "soc_udp_flood: bad count %s\n", argv[2]);
    return 2;
  }
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) {
    perror("soc_udp_flood: socket");
    return 1;
  }
  struct sockaddr_in to;
  memset(&to, 0, sizeof to);
  to.sin_family = AF_INET;
  to.sin_port = htons((unsigned short)port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr*)&to, sizeof to) != 0) {
    perror("soc_udp_flood: connect");
    return 1;
  }
  static const char line[] =
      "<38>Nov 27 17:40:00 host01 sshd[4242]: Failed password for invalid user admin from "
      "10.1.2.3 port 53422 ssh2";
  enum { kBatch = 64 };
  struct mmsghdr m[kBatch];
  struct iovec v[kBatch];
  for (int i = 0; i < kBatch; i++) {
    v[i].iov_base = (void*)line;
    v[i].iov_len = sizeof line - 1;
    memset(&m[i], 0, sizeof m[i]);
    m[i].msg_hdr.msg_iov = &v[i];
    m[i].msg_hdr.msg_iovlen = 1;
  }
  long sent = 0;
  while (sent < n) {
    const unsigned k = n - sent < kBatch ? (unsigned)(n - sent) : kBatch;
    const int r = sendmmsg(fd, m, k, 0);
    if (r > 0) {
      sent += r;
    } else if (r < 0 && errno != EINTR && errno != ENOBUFS && errno != EAGAIN) {
      // ECONNREFUSED too: nothing listens on the port (the receiver is gone).
      perror("soc_udp_flood: sendmmsg");
      return 1;
    }
  }
  printf("%ld\n", sent);
  close(fd);
  return 0;
}
