#!/usr/bin/env bash
# R3, R9 (issue 3): a spliced tunnel relayed inside the kernel with a BPF sockmap — what the
# kernel does with it, and a bounded design (bench/tunnel_sockmap_probe.cc, built here with
# c++ -O2; see its header for the modes). Exits non-zero when no BPF is available. Needs root (or
# CAP_BPF and CAP_NET_ADMIN); loopback only. A failing check prints "<mode>: FAILED", the run goes
# on, and the script exits 1 at the end. The backpressure mode holds up to --bytes of kernel memory for a moment (the point of
# the test): keep it well under the machine's MemAvailable.
#
# Usage: bench/tunnel_sockmap_probe.sh [--bytes N] [--exchanges N] [--rounds K]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bytes=$((1024 * 1024 * 1024))
exchanges=20000
rounds=3
usage="usage: $0 [--bytes N] [--exchanges N] [--rounds K]"
while [ $# -gt 0 ]; do
  case $1 in
    --bytes) bytes=$2; shift 2 ;;
    --exchanges) exchanges=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
[[ $bytes =~ ^[0-9]+$ && $exchanges =~ ^[1-9][0-9]*$ && $rounds =~ ^[1-9][0-9]*$ ]] ||
  { echo "$usage" >&2; exit 2; }
top=$(mktemp -d /tmp/tunnel_sockmap_probe.XXXXXX)
trap 'rm -rf "$top"' EXIT
c++ -O2 -std=c++20 -pthread -o "$top/probe" "$here/tunnel_sockmap_probe.cc"
load() { echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"; }
failed=0
fail() { echo "$1: FAILED"; failed=$((failed + 1)); }
uname -r
load
echo "== queued: bytes in the receive queue before the socket joins the map"
"$top/probe" queued
load
echo "== backpressure: $bytes bytes to an origin that reads nothing for 10 s"
"$top/probe" backpressure --bytes "$bytes" --stall-ms 10000
"$top/probe" backpressure --bytes "$bytes" --stall-ms 10000 --parser --kind 1 | tail -n +2
load
echo "== transfer: both ways at once, checksummed, each side half-closing after its bytes"
"$top/probe" transfer || fail "transfer"
load
echo "== halfclose: a FIN one way while the other way still sends"
"$top/probe" halfclose || fail "halfclose"
echo "== crossfin: the client FINs after an upload past the budget while a stream to it is unread"
"$top/probe" crossfin --client-rcvbuf 32768 --down 8000000 || fail "crossfin"
"$top/probe" crossfin --budget 16777216 --down 104857600 || fail "crossfin 16 MiB budget"
echo "== uploadfirst: the client uploads 50 MiB before it reads; the origin answers while it reads"
"$top/probe" uploadfirst --client-rcvbuf 32768 || fail "uploadfirst"
echo "== writefirst: the origin writes 50 MiB before it reads the client's 50 MiB"
"$top/probe" writefirst --origin-rcvbuf 32768 || fail "writefirst"
"$top/probe" writefirst --budget 16777216 || fail "writefirst 16 MiB budget"
load
echo "== wakeups: a thread in epoll_wait on the joined sockets"
"$top/probe" wakeups --exchanges "$exchanges"
echo "== reset: the origin, then the client, resets while the other streams"
"$top/probe" reset || fail "reset"
load
echo "== relay: $exchanges exchanges, 512-byte request, 1 KiB response"
"$top/probe" relay --exchanges "$exchanges" --size 1024 --rounds "$rounds"
load
echo "== relay: $((exchanges / 5)) exchanges, 512-byte request, 100 KiB response"
"$top/probe" relay --exchanges $((exchanges / 5)) --size 102400 --rounds "$rounds"
load
[ "$failed" -eq 0 ] || { echo "$failed check(s) FAILED"; exit 1; }
