#!/usr/bin/env bash
# R8 benchmark: seccloud scand vs clamd (Debian clamav-daemon), side by side in one run, on the
# same generated corpus, the same signature set (etc/signatures/clamav), the same limits, the
# same number of scanning threads, and the same client (bench/stream_client.py: one connection
# per file, 64 KiB chunks, CLIENTS concurrent connections). Prints MB/s, files/s and the ratio.
# Usage: bench/scan_vs_clamd.sh [SECCLOUD_BINARY] [CORPUS_MB] [THREADS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
bin=${1:-$src/build/release/apps/seccloud/seccloud}
corpus_mb=${2:-200}
threads=${3:-2}
command -v clamd >/dev/null || PATH=$PATH:/usr/sbin
command -v clamd >/dev/null || { echo "clamd not installed (clamav-daemon)" >&2; exit 1; }
work=$(mktemp -d /tmp/scanbench.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

python3 "$here/make_scan_corpus.py" "$work/corpus" "$corpus_mb"
cp /usr/share/clamav-testfiles/* "$work/corpus/" 2>/dev/null || true
mkdir -p "$work/sigs" "$work/state" "$work/spool" "$work/tmp"
cp "$src"/etc/signatures/clamav/* "$work/sigs/"
chmod -R a+rX "$work"

# --- seccloud scand: ClamAV only, so both sides match the same signature set.
cat > "$work/seccloud.yaml" <<YAML
node: {name: bench, state_dir: state}
events: {spool_dir: spool}
supervisor: {admin: "127.0.0.1:0"}
scan:
  socket: scand.sock
  workers: $threads
  temp_dir: tmp
  clamav: {database: sigs}
  limits: {max_scan_size: 200MiB, max_file_size: 50MiB, max_recursion: 17, max_files: 10000,
           max_scan_time: 120s, max_stream_size: 100MiB}
YAML
"$bin" scand --config "$work/seccloud.yaml" 2>"$work/scand.log" &
pids+=($!)

# --- clamd with the same limits and threads.
cat > "$work/clamd.conf" <<CONF
LocalSocket $work/clamd.sock
Foreground yes
DatabaseDirectory $work/sigs
TemporaryDirectory $work/tmp
PidFile $work/clamd.pid
LogFile $work/clamd.log
LogVerbose no
LogClean no
MaxThreads $threads
# seccloud runs without the clean cache (see src/scan/README.md); so does clamd here, which also
# keeps the second pass of the same files from being answered from its cache.
DisableCache yes
MaxQueue 200
StreamMaxLength 100M
MaxScanSize 200M
MaxFileSize 50M
MaxRecursion 17
MaxFiles 10000
MaxScanTime 120000
User root
CONF
clamd --config-file="$work/clamd.conf" >"$work/clamd.out" 2>"$work/clamd.err" &
pids+=($!)
for _ in $(seq 1 300); do [ -S "$work/scand.sock" ] && [ -S "$work/clamd.sock" ] && break; sleep 0.1; done
[ -S "$work/scand.sock" ] || { cat "$work/scand.log"; exit 1; }
[ -S "$work/clamd.sock" ] || { cat "$work/clamd.err" "$work/clamd.log" 2>/dev/null; exit 1; }

echo "corpus: $(find "$work/corpus" -type f | wc -l) files, $(du -sm "$work/corpus" | cut -f1) MB; $threads scanning threads each, $threads client connections"
python3 "$here/stream_client.py" "$work/corpus" "$work/scand.sock" "$work/clamd.sock" "$threads"
