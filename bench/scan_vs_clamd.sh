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
. "$here/scan_common.sh"
scan_bench_init

python3 "$here/make_scan_corpus.py" "$work/corpus" "$corpus_mb"
cp /usr/share/clamav-testfiles/* "$work/corpus/" 2>/dev/null || true
mkdir -p "$work/sigs"
cp "$src"/etc/signatures/clamav/* "$work/sigs/"
chmod -R a+rX "$work"

# ClamAV only on the scand side, so both match the same signature set; the same limits and
# thread count on both (bench/scan_common.sh).
start_scand sigs "$threads"
start_clamd "$work/sigs" "$threads"
wait_socket "$work/scand.sock" "$scand_pid" 30 || { cat "$work/scand.log"; exit 1; }
wait_socket "$work/clamd.sock" "$clamd_pid" 30 || { cat "$work/clamd.err" "$work/clamd.log" 2>/dev/null; exit 1; }

echo "corpus: $(find "$work/corpus" -type f | wc -l) files, $(du -sm "$work/corpus" | cut -f1) MB; $threads scanning threads each, $threads client connections"
python3 "$here/stream_client.py" "$work/corpus" "$work/scand.sock" "$work/clamd.sock" "$threads"
