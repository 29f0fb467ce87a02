#!/usr/bin/env bash
# R18: syslog ingest over TCP — the real `seccloud socd` against Debian's rsyslogd, side by side in
# one run, fed the same stream by the same sender (bench/soc_tcp_sender.py).
#
#   socd:    private config in a temp dir, one TCP syslog input on loopback (format syslog,
#            framing auto), every Sigma rule of ../shared/data/sigma/rules, the threat-intel feeds
#            of ../shared/data/threat-intel; each batch parsed, attributed, fsync'd to the store,
#            indexed, run through detection and intel, alerts stored.
#   rsyslog: private config (no system config): imtcp on another loopback port, omfile writing
#            %rawmsg% to one file, defaults otherwise (no fsync), in the foreground (-n).
#
# The lines are bench/loggen.py's syslog-format sources (sshd/sudo/kernel firewall/cron lines and
# Loghub-style OpenSSH and Linux lines), newline-framed. Each receiver gets the whole stream while
# the other idles; "complete" is socd's /api/v1/stats `records` reaching the line count, or
# rsyslog's output file reaching the byte count. CPU seconds are utime+stime of the receiver's
# process from /proc/<pid>/stat over its phase; RSS is VmRSS / VmHWM at the end.
#
# --stream json sends seccloud's own events instead (loggen's proxy, dns and scan NDJSON; socd's
# input then has framing lines and format seccloud-event). --stream spool gives socd the same
# events the way seccloud's services do, as an event spool (one file per pass, renamed into
# events.spool_dir/bench/ at the start of socd's phase, seccloud.seq renumbered to run on across
# passes) that its SpoolTailer follows; rsyslog still gets them over TCP. --baseline PATH starts a second socd
# from another seccloud binary (e.g. main's) beside the first, with its own state, and every pass
# runs rsyslog, socd, socd-baseline in turn, so the two builds are compared in one run on the same
# (shared, noisy) machine; the table then has a column for each.
#
# Usage: bench/soc_vs_rsyslog.sh [--records N] [--binary PATH] [--passes K] [--stream syslog|json]
#                                [--baseline PATH]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
shared=$(cd "$src/../shared/data" 2>/dev/null && pwd || echo /work/shared/data)
bin=$src/build/release/apps/seccloud/seccloud
records=1000000
passes=1
stream=syslog
baseline=""
while [ $# -gt 0 ]; do
  case $1 in
    --records) records=$2; shift 2 ;;
    --binary) bin=$2; shift 2 ;;
    --passes) passes=$2; shift 2 ;;
    --stream) stream=$2; shift 2 ;;
    --baseline) baseline=$2; shift 2 ;;
    *) echo "usage: $0 [--records N] [--binary PATH] [--passes K] [--stream syslog|json] [--baseline PATH]" >&2; exit 2 ;;
  esac
done
[ -x "$bin" ] || { echo "no seccloud binary at $bin (cmake --build --preset release --target seccloud)" >&2; exit 1; }
[ -z "$baseline" ] || [ -x "$baseline" ] || { echo "no seccloud binary at $baseline" >&2; exit 1; }
# socd starts in its own directory: a relative path given here would not be found there.
bin=$(realpath "$bin")
[ -z "$baseline" ] || baseline=$(realpath "$baseline")
case $stream in
  syslog) sources=syslog,loghub-openssh,loghub-linux
          files="syslog.log loghub-openssh.log loghub-linux.log"
          input_opts="format: syslog" ;;
  json) sources=seccloud-proxy,seccloud-dns,seccloud-scan
        files="seccloud-proxy.ndjson seccloud-dns.ndjson seccloud-scan.ndjson"
        input_opts="format: seccloud-event, framing: lines" ;;
  spool) sources=seccloud-proxy,seccloud-dns,seccloud-scan
         files="seccloud-proxy.ndjson seccloud-dns.ndjson seccloud-scan.ndjson"
         input_opts="format: seccloud-event, framing: lines" ;;
  *) echo "--stream is syslog, json or spool" >&2; exit 2 ;;
esac
rsyslogd=$(command -v rsyslogd || echo /usr/sbin/rsyslogd)
[ -x "$rsyslogd" ] || { echo "rsyslogd not installed (apt-get install rsyslog)" >&2; exit 1; }

work=$(mktemp -d /tmp/soc-vs-rsyslog.XXXXXX)
declare -A socd_pid api_port syslog_port auth
rs_pid=""
cleanup() {
  for p in "${socd_pid[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
  [ -n "$rs_pid" ] && kill "$rs_pid" 2>/dev/null && wait "$rs_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
freeport() {
  python3 -c 'import socket
s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ---- the stream ----
python3 "$here/loggen.py" --out "$work/data" --records "$records" --sources "$sources"
(cd "$work/data" && cat $files) > "$work/stream.log"
lines=$(wc -l < "$work/stream.log")
bytes=$(stat -c %s "$work/stream.log")

# ---- socd ----
spools=""
[ "$stream" = spool ] && spools=bench
# One spool file per pass and receiver (the seqs of a service run on across its files).
make_spool_file() {  # out first-seq
  python3 - "$work/stream.log" "$1" "$2" <<'PY'
import re, sys
seq = int(sys.argv[3])
pat = re.compile(rb'"seccloud":\{"seq":\d+')
with open(sys.argv[1], "rb") as f, open(sys.argv[2], "wb") as out:
    for line in f:
        line, n = pat.subn(b'"seccloud":{"seq":%d' % seq, line, count=1)
        if n != 1:
            sys.exit("a line without seccloud.seq")
        out.write(line)
        seq += 1
PY
}
start_socd() {  # name binary
  local name=$1 dir=$work/$1 admin
  syslog_port[$name]=$(freeport)
  api_port[$name]=$(freeport)
  admin=$(freeport)
  mkdir -p "$dir/state" "$dir/spool"
  {
    echo "node: {name: bench, state_dir: state}"
    echo "events: {spool_dir: spool}"
    echo "supervisor: {admin: \"127.0.0.1:$((admin - 3))\"}"
    echo "tenants:"
    for i in $(seq 1 30); do printf '  - {id: t%02d, name: t%02d, networks: [10.%d.0.0/16]}\n' "$i" "$i" "$i"; done
    cat <<YAML
soc:
  store: soc/store
  alerts: soc/alerts.db
  api: "127.0.0.1:${api_port[$name]}"
  spools: [$spools]
  inputs:
    - {name: bench-tcp, protocol: tcp, listen: "127.0.0.1:${syslog_port[$name]}", $input_opts}
  rules: ["$shared/sigma/rules"]
  intel:
    - {name: signature-base-c2, path: "$shared/threat-intel/signature-base/c2-iocs.txt", format: loki-c2, level: high}
    - {name: urlhaus, path: "$shared/threat-intel/urlhaus/urlhaus-filter.txt", format: adblock, level: high}
    - {name: urlhaus-domains, path: "$shared/threat-intel/urlhaus/urlhaus-filter-domains.txt", format: domains, level: high}
YAML
  } > "$dir/seccloud.yaml"
  (cd "$dir" && exec "$2" socd --config "$dir/seccloud.yaml" > "$dir/socd.log" 2>&1) &
  socd_pid[$name]=$!
  for _ in $(seq 1 600); do
    curl -fsS "http://127.0.0.1:${api_port[$name]}/healthz" > /dev/null 2>&1 && break
    kill -0 "${socd_pid[$name]}" 2>/dev/null || { cat "$dir/socd.log" >&2; echo "$name exited" >&2; exit 1; }
    sleep 0.1
  done
  # The API wants a bearer token: the local CLI's, which socd creates beside its alerts database.
  auth[$name]="Authorization: Bearer $(cat "$dir/soc/api-cli.token")"
}
socd_records() {  # name
  curl -fsS -H "${auth[$1]}" "http://127.0.0.1:${api_port[$1]}/api/v1/stats" 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["records"])' 2>/dev/null || echo 0
}
receivers=(socd)
start_socd socd "$bin"
if [ -n "$baseline" ]; then
  receivers+=(socd-baseline)
  start_socd socd-baseline "$baseline"
fi

# ---- rsyslog ----
rs_port=$(freeport)
mkdir -p "$work/rs"
cat > "$work/rsyslog.conf" <<CONF
global(workDirectory="$work/rs")
module(load="imtcp")
template(name="raw" type="string" string="%rawmsg%\n")
input(type="imtcp" port="$rs_port" address="127.0.0.1")
action(type="omfile" file="$work/rsyslog.out" template="raw")
CONF
"$rsyslogd" -n -f "$work/rsyslog.conf" -i "$work/rsyslogd.pid" > "$work/rsyslog.log" 2>&1 &
rs_pid=$!
for _ in $(seq 1 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $rs_port)).close()" 2>/dev/null && break
  kill -0 "$rs_pid" 2>/dev/null || { cat "$work/rsyslog.log" >&2; echo "rsyslogd exited" >&2; exit 1; }
  sleep 0.1
done
rs_bytes() { stat -c %s "$work/rsyslog.out" 2>/dev/null || echo 0; }

cpu_s() {  # utime + stime of a process, seconds
  awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"
}
# utime, stime (seconds) and minor page faults of a process, space-separated: the split says
# whether a change in CPU time is the program's own work or the kernel's (faults, syscalls).
cpu_split() {
  awk -v hz="$(getconf CLK_TCK)" '{print $14 / hz, $15 / hz, $10}' "/proc/$1/stat"
}
rss_mib() { awk -v k="$2" '$1 == k":" {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }

# Per thread of a process: name, seconds on a CPU, seconds runnable but waiting for a CPU
# (/proc/<pid>/task/*/schedstat). The difference of two snapshots over a phase says where each
# thread's wall time went: on a CPU, in the run queue (a busy machine), or blocked (the rest:
# fdatasync, an empty or full hand-over, the socket).
sched_snapshot() {  # pid file
  python3 - "$1" > "$2" <<'PY'
import json, os, sys
out = {}
base = "/proc/%s/task" % sys.argv[1]
for tid in os.listdir(base):
    try:
        comm = open("%s/%s/comm" % (base, tid)).read().strip()
        run, wait = open("%s/%s/schedstat" % (base, tid)).read().split()[:2]
    except OSError:
        continue
    out[tid] = [comm, int(run) / 1e9, int(wait) / 1e9]
print(json.dumps(out))
PY
}
sched_report() {  # before after wall-seconds
  python3 - "$1" "$2" "$3" <<'PY'
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
wall = float(sys.argv[3])
by = {}
for tid, (comm, run, wait) in b.items():
    r0, w0 = (a[tid][1], a[tid][2]) if tid in a else (0.0, 0.0)
    d = by.setdefault(comm, [0, 0.0, 0.0])
    d[0] += 1
    d[1] += run - r0
    d[2] += wait - w0
rows = sorted(by.items(), key=lambda kv: -kv[1][1])
print("    threads over %.1f s wall: " % wall + "; ".join(
    "%s%s cpu %.2f s, run-queue %.2f s, blocked %.1f s" % (
        c, " x%d" % n if n > 1 else "", r, w, max(0.0, n * wall - r - w))
    for c, (n, r, w) in rows if r > 0.005), file=sys.stderr)
PY
}

# The spool's phase: the pass's file appears in the spool at once (a rename), then the same
# polling as soc_tcp_sender.py until socd stored every line; prints the same JSON.
spool_phase() {  # name done-cmd baseline
  local first=$(( $3 + 1 )) f
  f=$(printf '%s/%s/spool/bench/bench-%020d.ndjson' "$work" "$1" "$first")
  mkdir -p "$(dirname "$f")"
  make_spool_file "$work/spool.tmp" "$first"
  python3 - "$work/spool.tmp" "$f" "$2" "$3" "$lines" "$bytes" <<'PY'
import json, os, subprocess, sys, time
tmp, dst, cmd, base, lines, nbytes = sys.argv[1:7]
target = int(base) + int(lines)
t0 = time.monotonic()
os.rename(tmp, dst)
while True:
    out = subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    have = int(out) if out.isdigit() else 0
    if have >= target:
        break
    if time.monotonic() - t0 > 1800:
        sys.exit("spool: timeout: socd has %d of %d" % (have - int(base), int(lines)))
    time.sleep(0.05)
print(json.dumps({"lines": int(lines), "bytes": int(nbytes), "send_s": 0,
                  "total_s": round(time.monotonic() - t0, 3), "received": have - int(base)}))
PY
}

# Sets phase_* from the sender's result and the receiver's CPU.
run_phase() {  # name pid port done-cmd count-mode baseline
  local c0 c1 out s0 s1
  c0=$(cpu_s "$2")
  s0=$(cpu_split "$2")
  sched_snapshot "$2" "$work/sched0.json"
  if [ "$stream" = spool ] && [ "$1" != rsyslog ]; then
    out=$(spool_phase "$1" "$4" "$6")
  else
    out=$(python3 "$here/soc_tcp_sender.py" --port "$3" --file "$work/stream.log" \
      --done-cmd "$4" --count-mode "$5" --baseline "$6")
  fi
  c1=$(cpu_s "$2")
  s1=$(cpu_split "$2")
  sched_snapshot "$2" "$work/sched1.json"
  phase_total=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['total_s'])" "$out")
  phase_cpu=$(python3 -c "print(round($c1 - $c0, 2))")
  echo "  $1: $out cpu_s=$phase_cpu $(echo "$s0 $s1" |
    awk '{printf "user_s=%.2f sys_s=%.2f minor_faults=%d", $4 - $1, $5 - $2, $6 - $3}')" >&2
  sched_report "$work/sched0.json" "$work/sched1.json" "$phase_total"
}

# Best of the passes: the highest rate and, separately, the fewest CPU seconds.
declare -A best_rate best_cpu
for r in rsyslog "${receivers[@]}"; do best_rate[$r]=0; best_cpu[$r]=1e9; done
keep_best() {  # name
  local rate
  rate=$(python3 -c "print(round($lines / $phase_total))")
  [ "$rate" -gt "${best_rate[$1]}" ] && best_rate[$1]=$rate
  best_cpu[$1]=$(python3 -c "print(min(${best_cpu[$1]}, $phase_cpu))")
}
for pass in $(seq 1 "$passes"); do
  base=$(rs_bytes)
  run_phase rsyslog "$rs_pid" "$rs_port" "stat -c %s $work/rsyslog.out 2>/dev/null || echo 0" bytes "$base"
  keep_best rsyslog
  for r in "${receivers[@]}"; do
    base=$(socd_records "$r")
    run_phase "$r" "${socd_pid[$r]}" "${syslog_port[$r]}" \
      "curl -fsS -H '${auth[$r]}' http://127.0.0.1:${api_port[$r]}/api/v1/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"records\"])'" \
      lines "$base"
    keep_best "$r"
  done
done

report=()
for r in rsyslog "${receivers[@]}"; do
  pid=$rs_pid
  [ "$r" = rsyslog ] || pid=${socd_pid[$r]}
  report+=("$r" "${best_rate[$r]}" "${best_cpu[$r]}" "$(rss_mib "$pid" VmRSS)" "$(rss_mib "$pid" VmHWM)")
done
stats=$(curl -fsS -H "${auth[socd]}" "http://127.0.0.1:${api_port[socd]}/api/v1/stats")
python3 - "$lines" "$bytes" "$passes" "$stream" "$stats" "${report[@]}" <<'PY'
import json, sys
lines, nbytes, passes, stream, stats = sys.argv[1:6]
lines, nbytes = int(lines), int(nbytes)
rows = sys.argv[6:]
cols = []
for i in range(0, len(rows), 5):
    name, rate, cpu, rss, hwm = rows[i:i + 5]
    cols.append((name, float(rate), float(cpu), float(rss or 0), float(hwm or 0)))
print()
print("%d %s lines, %.1f MiB, %s; best of %s pass(es)" % (
    lines, "syslog" if stream == "syslog" else "JSON (seccloud event)", nbytes / 1048576,
    "socd from its event spool, rsyslog over TCP" if stream == "spool"
    else "one TCP connection each", passes))
print()
socds = [c for c in cols if c[0] != "rsyslog"]
r = cols[0]
head = ["rsyslogd"] + [c[0] for c in socds] + ["%s/rsyslog" % c[0] for c in socds]
if len(socds) == 2:
    head.append("socd/socd-baseline")
print("| | " + " | ".join(head) + " |")
print("|---" * (len(head) + 1) + "|")
def row(label, f, fmt):
    vals = [f(c) for c in [r] + socds]
    out = [fmt(v) for v in vals]
    out += ["%.2f" % (f(c) / f(r)) if f(r) else "-" for c in socds]
    if len(socds) == 2:
        out.append("%.2f" % (f(socds[0]) / f(socds[1])) if f(socds[1]) else "-")
    print("| %s | %s |" % (label, " | ".join(out)))
row("events/s (until all stored / written)", lambda c: c[1], lambda v: f"{v:,.0f}")
row("CPU seconds for the stream", lambda c: c[2], lambda v: "%.2f" % v)
row("events per CPU-second", lambda c: lines / c[2] if c[2] else 0, lambda v: f"{v:,.0f}")
row("RSS at end MiB", lambda c: c[3], lambda v: "%.1f" % v)
row("peak RSS MiB", lambda c: c[4], lambda v: "%.1f" % v)
st = json.loads(stats)
keep = {k: v for k, v in st.items() if not isinstance(v, (dict, list))}
print()
print("socd stats after the run:", json.dumps(keep, sort_keys=True))
print()
print("Not the same work: socd parses every line into ECS fields, attributes the tenant, commits")
print("every group of records with fdatasync, indexes tokens into Bloom filters, runs every loaded")
print("Sigma rule and the intel feeds and stores alerts; rsyslogd appends %rawmsg% to one file (no")
print("fsync).")
PY
