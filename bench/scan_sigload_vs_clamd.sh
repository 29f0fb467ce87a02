#!/usr/bin/env bash
# R8 benchmark: signature load time and resident memory, seccloud scand vs clamd (Debian
# clamav-daemon), side by side in one run, with COUNT synthetic signatures each (90 % MD5 hashes
# in .hdb, 10 % 16-byte body patterns in .ndb: bench/scan_make_signatures.py) packed by sigtool
# into one unsigned container (synthetic.cud) that both daemons load from the same directory.
# Load time: from the start of the process until it answers PING (parse, compile, listen).
# Memory: VmRSS once it answers. Prints both and the ratios scand/clamd (below 1: scand is faster
# or smaller).
# Usage: bench/scan_sigload_vs_clamd.sh [SECCLOUD_BINARY] [COUNTS (default "100000 1000000")] [THREADS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
bin=${1:-$src/build/release/apps/seccloud/seccloud}
counts=${2:-100000 1000000}
threads=${3:-2}
. "$here/scan_common.sh"
scan_bench_init

# measure NAME START_FUNCTION SOCKET: prints "seconds rss_kib" of one daemon start.
measure() {
  local name=$1 starter=$2 sock=$3 t0 t1 pid rss
  t0=$(date +%s.%N)
  $starter "$work/sigs" "$threads"
  if [ "$name" = scand ]; then pid=$scand_pid; else pid=$clamd_pid; fi
  ping_ready "$sock" "$pid" 900 || {
    echo "$name did not come up" >&2
    cat "$work/scand.log" "$work/clamd.err" "$work/clamd.log" 2>/dev/null | tail -20 >&2
    exit 1
  }
  t1=$(date +%s.%N)
  rss=$(rss_kib "$pid")
  stop_pid "$pid"
  # What each loaded, from its own log (proves both read the whole container).
  if [ "$name" = scand ]; then
    grep -o '[0-9]* ClamAV signatures' "$work/scand.log" | tail -1 >&2
  else
    grep -o 'Loaded [0-9]* signatures' "$work/clamd.log" | tail -1 >&2
  fi
  echo "$(echo "$t1 - $t0" | bc -l) $rss"
}

printf '%-10s %12s %12s %8s %14s %14s %8s\n' signatures "scand load s" "clamd load s" ratio \
  "scand RSS MiB" "clamd RSS MiB" ratio
for n in $counts; do
  rm -rf "$work/sigs"
  make_synthetic_cud "$n" "$work/sigs"
  # Page cache warm for both: one untimed read of the container.
  cat "$work/sigs/synthetic.cud" >/dev/null
  read -r s_time s_rss < <(measure scand start_scand "$work/scand.sock")
  read -r c_time c_rss < <(measure clamd start_clamd "$work/clamd.sock")
  printf '%-10s %12.2f %12.2f %7.2fx %14.1f %14.1f %7.2fx\n' "$n" "$s_time" "$c_time" \
    "$(echo "$s_time / $c_time" | bc -l)" "$(echo "$s_rss / 1024" | bc -l)" \
    "$(echo "$c_rss / 1024" | bc -l)" "$(echo "$s_rss / $c_rss" | bc -l)"
done
