#!/usr/bin/env bash
# R8: the throughput cost of CL_SCAN_GENERAL_ALLMATCHES (scan.clamav.all_matches, the default),
# which lets YARA see the archive members after libclamav's first detection. Two scands (all
# matches on / off) and clamd (its INSTREAM stops at the first match) side by side in one run,
# each with the same signatures, limits and threads, on two corpora:
#   mixed     bench/make_scan_corpus.py (mostly clean: text, HTML, images, ZIPs, PDFs) + Debian's
#             clamav-testfiles, as in scan_vs_clamd.sh
#   infected  ZIPs whose first member is EICAR, followed by 4 MiB of text members: the worst case,
#             where first-match stops at once and all-matches unpacks everything
# Prints MB/s and files/s per daemon (bench/stream_client.py: best of 2 alternating passes) and
# the all/first ratio.
# Usage: bench/scan_allmatch_vs_clamd.sh [SECCLOUD_BINARY] [CORPUS_MB] [THREADS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
bin=${1:-$src/build/release/apps/seccloud/seccloud}
corpus_mb=${2:-100}
threads=${3:-2}
. "$here/scan_common.sh"
scan_bench_init

python3 "$here/make_scan_corpus.py" "$work/mixed" "$corpus_mb"
cp /usr/share/clamav-testfiles/* "$work/mixed/" 2>/dev/null || true
python3 - "$work/infected" <<'PY'
import io, os, random, sys, zipfile
out = sys.argv[1]; os.makedirs(out)
rng = random.Random(4)
eicar = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
words = b"municipal office budget council report tax health school water road park".split()
for i in range(24):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("eicar.com", eicar)
        for m in range(4):
            z.writestr(f"part{m}.txt", b" ".join(rng.choice(words) for _ in range(150000))[: 1 << 20])
    open(os.path.join(out, f"infected{i:02d}.zip"), "wb").write(b.getvalue())
PY
mkdir -p "$work/sigs"
cp "$src"/etc/signatures/clamav/* "$work/sigs/"
chmod -R a+rX "$work"

# scand with all matches (the default) on $work/scand.sock; the second, first-match scand gets its
# own state directory, spool and socket.
start_scand sigs "$threads"
all_pid=$scand_pid
mkdir -p "$work/first/state" "$work/first/spool" "$work/first/tmp"
sed -e "s|state_dir: state|state_dir: $work/first/state|; s|spool_dir: spool|spool_dir: $work/first/spool|" \
    -e "s|socket: scand.sock|socket: $work/first.sock|; s|temp_dir: tmp|temp_dir: $work/first/tmp|" \
    -e "s|clamav: {database: sigs}|clamav: {database: $work/sigs, all_matches: false}|" \
    "$work/seccloud.yaml" >"$work/first.yaml"
grep -q "all_matches: false" "$work/first.yaml" || { echo "first-match config not written" >&2; exit 1; }
"$bin" scand --config "$work/first.yaml" 2>>"$work/first.log" &
first_pid=$!
scan_bench_pids+=("$first_pid")
start_clamd "$work/sigs" "$threads"
wait_socket "$work/scand.sock" "$all_pid" 30 || { cat "$work/scand.log"; exit 1; }
wait_socket "$work/first.sock" "$first_pid" 30 || { cat "$work/first.log"; exit 1; }
wait_socket "$work/clamd.sock" "$clamd_pid" 30 || { cat "$work/clamd.err" "$work/clamd.log" 2>/dev/null; exit 1; }

for corpus in mixed infected; do
  echo "== $corpus: $(find "$work/$corpus" -type f | wc -l) files, $(du -sm "$work/$corpus" | cut -f1) MB; $threads threads, $threads connections"
  echo "-- scand all_matches: true (default) vs clamd"
  a=$(python3 "$here/stream_client.py" "$work/$corpus" "$work/scand.sock" "$work/clamd.sock" "$threads")
  echo "$a"
  echo "-- scand all_matches: false vs clamd"
  f=$(python3 "$here/stream_client.py" "$work/$corpus" "$work/first.sock" "$work/clamd.sock" "$threads")
  echo "$f"
  python3 - "$a" "$f" <<'PY'
import re, sys
def best(text):
    return max(float(m) for m in re.findall(r"^scand\s+([\d.]+) MB/s", text, re.M))
a, f = best(sys.argv[1]), best(sys.argv[2])
print(f"all_matches/first-match throughput (best MB/s): {a:.1f} / {f:.1f} = {a / f:.2f}x")
PY
done
echo "CPU seconds (user+sys) of each daemon over the whole run:"
for p in "$all_pid:scand-all" "$first_pid:scand-first" "$clamd_pid:clamd"; do
  awk -v n="${p#*:}" -v hz="$(getconf CLK_TCK)" '{printf "  %-12s %.1f\n", n, ($14 + $15) / hz}' "/proc/${p%%:*}/stat"
done
