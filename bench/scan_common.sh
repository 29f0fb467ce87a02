# Shared set-up of the scan benchmarks (sourced, not run): a work directory removed on exit,
# scand and clamd started with the same signature directory, limits and thread count, each
# waited for until its socket answers, and stopped by pid.
#   scan_bench_init            sets $work (chmod 755: clamd drops to its own user for files)
#   start_scand SIGDIR THREADS [YAML_LINES]   starts scand on $work/scand.sock; sets $scand_pid
#   start_clamd SIGDIR THREADS [CONF_LINES]   starts clamd on $work/clamd.sock; sets $clamd_pid
#   wait_socket SOCKET PID SECONDS            waits until SOCKET exists (fails if PID died)
#   rss_kib PID                               resident memory of PID in KiB
# Callers set $bin (the seccloud binary) before start_scand.
command -v clamd >/dev/null || PATH=$PATH:/usr/sbin
scan_bench_pids=()
scan_bench_init() {
  work=$(mktemp -d /tmp/scanbench.XXXXXX)
  chmod 755 "$work"
  mkdir -p "$work/state" "$work/spool" "$work/tmp"
  trap scan_bench_cleanup EXIT
}
scan_bench_cleanup() {
  for p in "${scan_bench_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
wait_socket() {
  local sock=$1 pid=$2 seconds=$3 i
  for ((i = 0; i < seconds * 20; i++)); do
    [ -S "$sock" ] && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

start_scand() {
  local sigs=$1 threads=$2 extra=${3:-}
  rm -f "$work/scand.sock"
  cat >"$work/seccloud.yaml" <<YAML
node: {name: bench, state_dir: state}
events: {spool_dir: spool}
supervisor: {admin: "127.0.0.1:0"}
scan:
  socket: scand.sock
  workers: $threads
  temp_dir: tmp
  clamav: {database: $sigs}
  limits: {max_scan_size: 200MiB, max_file_size: 50MiB, max_recursion: 17, max_files: 10000,
           max_scan_time: 120s, max_stream_size: 100MiB}
$extra
YAML
  "$bin" scand --config "$work/seccloud.yaml" 2>>"$work/scand.log" &
  scand_pid=$!
  scan_bench_pids+=("$scand_pid")
}

start_clamd() {
  local sigs=$1 threads=$2 extra=${3:-}
  rm -f "$work/clamd.sock"
  command -v clamd >/dev/null || { echo "clamd not installed (clamav-daemon)" >&2; exit 1; }
  cat >"$work/clamd.conf" <<CONF
LocalSocket $work/clamd.sock
Foreground yes
DatabaseDirectory $sigs
TemporaryDirectory $work/tmp
PidFile $work/clamd.pid
LogFile $work/clamd.log
LogVerbose no
LogClean no
MaxThreads $threads
# seccloud runs without the clean cache (see src/scan/README.md); so does clamd here, which also
# keeps repeated scans of the same files from being answered from its cache.
DisableCache yes
MaxQueue 200
StreamMaxLength 100M
MaxScanSize 200M
MaxFileSize 50M
MaxRecursion 17
MaxFiles 10000
MaxScanTime 120000
User root
$extra
CONF
  clamd --config-file="$work/clamd.conf" >>"$work/clamd.out" 2>>"$work/clamd.err" &
  clamd_pid=$!
  scan_bench_pids+=("$clamd_pid")
}

# make_synthetic_cud COUNT OUT_DIR: COUNT synthetic signatures (bench/scan_make_signatures.py)
# packed by sigtool into OUT_DIR/synthetic.cud, the unsigned container both daemons load.
make_synthetic_cud() {
  local count=$1 out=$2 gen="$work/gen-$1"
  python3 "$here/scan_make_signatures.py" "$count" "$gen" synthetic
  (cd "$gen" && echo seccloud-bench | sigtool --quiet --unsigned --no-cdiff \
    --build=synthetic.cud --cvd-version=1 --datadir="$gen/none" >/dev/null 2>&1) ||
    { echo "sigtool --build failed for $count signatures" >&2; exit 1; }
  mkdir -p "$out"
  mv "$gen/synthetic.cud" "$out/"
  rm -rf "$gen"
  chmod -R a+rX "$out"
}

# ping_ready SOCKET PID SECONDS: waits until the daemon answers PING with PONG (scand and clamd
# speak the same command); fails when PID died or SECONDS passed.
ping_ready() {
  python3 - "$@" <<'PY'
import os, socket, sys, time
sock, pid, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
end = time.monotonic() + seconds
while time.monotonic() < end:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(1)
    try:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(2)
        s.connect(sock)
        s.sendall(b"PING\n")
        if s.recv(64).startswith(b"PONG"):
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.02)
sys.exit(1)
PY
}
