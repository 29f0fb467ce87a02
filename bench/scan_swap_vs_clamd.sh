#!/usr/bin/env bash
# R8 benchmark: scan latency while the signatures are swapped, seccloud scand vs clamd's RELOAD,
# side by side in one run, with the same load generator (bench/scan_load.py: CONNECTIONS clients
# streaming the same 64 KiB clean file back to back, one connection per scan) and the same
# COUNT synthetic signatures (sigtool-built synthetic.cud, as in scan_sigload_vs_clamd.sh), so a
# reload takes long enough to overlap many scans.
# For each daemon: a baseline run without reload, then a run in which, after 3 s, one signature
# file is added to its directory and the reload is requested (scand: SIGHUP, which rebuilds the
# engine in the background and swaps it; clamd: the RELOAD command, ConcurrentDatabaseReload on
# by default). Prints scans, refused, p50/p99/max in ms for each run and the p99 ratio during the
# swap; checks that the reload happened inside the run.
# Usage: bench/scan_swap_vs_clamd.sh [SECCLOUD_BINARY] [COUNT] [CONNECTIONS] [SECONDS] [THREADS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
bin=${1:-$src/build/release/apps/seccloud/seccloud}
count=${2:-100000}
conns=${3:-4}
seconds=${4:-20}
threads=${5:-2}
. "$here/scan_common.sh"
scan_bench_init

make_synthetic_cud "$count" "$work/sigs-scand"
cp -r "$work/sigs-scand" "$work/sigs-clamd"
head -c 65536 /dev/urandom >"$work/clean.bin"
chmod -R a+rX "$work"
start_scand "$work/sigs-scand" "$threads" "  updates: {poll_interval: 1h}"
start_clamd "$work/sigs-clamd" "$threads"
ping_ready "$work/scand.sock" "$scand_pid" 900 || { tail "$work/scand.log"; exit 1; }
ping_ready "$work/clamd.sock" "$clamd_pid" 900 || { tail "$work/clamd.log"; exit 1; }

extra_sig() { echo "Bench.Swap-$1:0:*:$(head -c 16 /dev/urandom | xxd -p)" >"$2/swap-$1.ndb"; }
reload_scand() { extra_sig "$1" "$work/sigs-scand"; kill -HUP "$scand_pid"; }
reload_clamd() {
  extra_sig "$1" "$work/sigs-clamd"
  python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"RELOAD\n"); print(s.recv(64).decode().strip(), file=sys.stderr)' "$work/clamd.sock"
}
reloads_scand() { { grep -rh '"action":"reloaded"' "$work/spool" 2>/dev/null || true; } | wc -l; }
reloads_clamd() { { grep -c 'Database correctly reloaded' "$work/clamd.log" 2>/dev/null || true; } | head -1; }

# run TARGET SOCKET [RELOAD_FUNCTION]: one load run; prints the load generator's JSON line.
run() {
  local target=$1 sock=$2 reload=${3:-} before after load_pid
  before=$("reloads_$target")
  python3 "$here/scan_load.py" "$target" "$sock" "$work/clean.bin" "$conns" "$seconds" >"$work/run.json" &
  load_pid=$!
  if [ -n "$reload" ]; then
    sleep 3
    "$reload" "$RANDOM"
  fi
  wait "$load_pid"
  after=$("reloads_$target")
  if [ -n "$reload" ] && [ "$after" -le "$before" ]; then
    echo "$target: the reload did not finish inside the ${seconds}s run; lengthen SECONDS" >&2
    exit 1
  fi
  cat "$work/run.json"
}

echo "$count signatures, $threads scanning threads each, $conns clients, ${seconds}s per run, 64 KiB clean file"
printf '%-22s %8s %8s %9s %9s %9s\n' run scans refused "p50 ms" "p99 ms" "max ms"
declare -A p99
for target in scand clamd; do
  for mode in baseline swap; do
    reload=""
    [ "$mode" = swap ] && reload="reload_$target"
    line=$(run "$target" "$work/$target.sock" "$reload")
    read -r scans refused p50 p99v max < <(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(r["scans"], r["refused"], r["p50_ms"], r["p99_ms"], r["max_ms"])' "$line")
    printf '%-22s %8s %8s %9s %9s %9s\n' "$target $mode" "$scans" "$refused" "$p50" "$p99v" "$max"
    p99["$target-$mode"]=$p99v
  done
done
printf 'p99 during the swap, scand/clamd: %.2fx (baseline scand/clamd: %.2fx)\n' \
  "$(echo "${p99[scand-swap]} / ${p99[clamd-swap]}" | bc -l)" \
  "$(echo "${p99[scand-baseline]} / ${p99[clamd-baseline]}" | bc -l)"
