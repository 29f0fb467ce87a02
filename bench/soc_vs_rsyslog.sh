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
# Usage: bench/soc_vs_rsyslog.sh [--records N] [--binary PATH] [--passes K]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
shared=$(cd "$src/../shared/data" 2>/dev/null && pwd || echo /work/shared/data)
bin=$src/build/release/apps/seccloud/seccloud
records=1000000
passes=1
while [ $# -gt 0 ]; do
  case $1 in
    --records) records=$2; shift 2 ;;
    --binary) bin=$2; shift 2 ;;
    --passes) passes=$2; shift 2 ;;
    *) echo "usage: $0 [--records N] [--binary PATH] [--passes K]" >&2; exit 2 ;;
  esac
done
[ -x "$bin" ] || { echo "no seccloud binary at $bin (cmake --build --preset release --target seccloud)" >&2; exit 1; }
rsyslogd=$(command -v rsyslogd || echo /usr/sbin/rsyslogd)
[ -x "$rsyslogd" ] || { echo "rsyslogd not installed (apt-get install rsyslog)" >&2; exit 1; }

work=$(mktemp -d /tmp/soc-vs-rsyslog.XXXXXX)
socd_pid=""
rs_pid=""
cleanup() {
  [ -n "$socd_pid" ] && kill "$socd_pid" 2>/dev/null && wait "$socd_pid" 2>/dev/null || true
  [ -n "$rs_pid" ] && kill "$rs_pid" 2>/dev/null && wait "$rs_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
freeport() {
  python3 -c 'import socket
s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ---- the stream ----
python3 "$here/loggen.py" --out "$work/data" --records "$records" \
  --sources syslog,loghub-openssh,loghub-linux
cat "$work/data/syslog.log" "$work/data/loghub-openssh.log" "$work/data/loghub-linux.log" \
  > "$work/stream.log"
lines=$(wc -l < "$work/stream.log")
bytes=$(stat -c %s "$work/stream.log")

# ---- socd ----
syslog_port=$(freeport)
api_port=$(freeport)
admin_port=$(freeport)
mkdir -p "$work/state" "$work/spool"
{
  echo "node: {name: bench, state_dir: state}"
  echo "events: {spool_dir: spool}"
  echo "supervisor: {admin: \"127.0.0.1:$((admin_port - 3))\"}"
  echo "tenants:"
  for i in $(seq 1 30); do printf '  - {id: t%02d, name: t%02d, networks: [10.%d.0.0/16]}\n' "$i" "$i" "$i"; done
  cat <<YAML
soc:
  store: soc/store
  alerts: soc/alerts.db
  api: "127.0.0.1:$api_port"
  spools: []
  inputs:
    - {name: syslog-tcp, protocol: tcp, listen: "127.0.0.1:$syslog_port", format: syslog}
  rules: ["$shared/sigma/rules"]
  intel:
    - {name: signature-base-c2, path: "$shared/threat-intel/signature-base/c2-iocs.txt", format: loki-c2, level: high}
    - {name: urlhaus, path: "$shared/threat-intel/urlhaus/urlhaus-filter.txt", format: adblock, level: high}
    - {name: urlhaus-domains, path: "$shared/threat-intel/urlhaus/urlhaus-filter-domains.txt", format: domains, level: high}
YAML
} > "$work/seccloud.yaml"
"$bin" socd --config "$work/seccloud.yaml" > "$work/socd.log" 2>&1 &
socd_pid=$!
for _ in $(seq 1 600); do
  curl -fsS "http://127.0.0.1:$api_port/healthz" > /dev/null 2>&1 && break
  kill -0 "$socd_pid" 2>/dev/null || { cat "$work/socd.log" >&2; echo "socd exited" >&2; exit 1; }
  sleep 0.1
done
# The API wants a bearer token: the local CLI's, which socd creates beside its alerts database.
auth="Authorization: Bearer $(cat "$work/soc/api-cli.token")"
socd_records() { curl -fsS -H "$auth" "http://127.0.0.1:$api_port/api/v1/stats" 2>/dev/null |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["records"])' 2>/dev/null || echo 0; }

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
rss_mib() { awk -v k="$2" '$1 == k":" {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }

# Sets phase_* from the sender's result and the receiver's CPU.
run_phase() {  # name pid port done-cmd count-mode baseline
  local c0 c1 out
  c0=$(cpu_s "$2")
  out=$(python3 "$here/soc_tcp_sender.py" --port "$3" --file "$work/stream.log" \
    --done-cmd "$4" --count-mode "$5" --baseline "$6")
  c1=$(cpu_s "$2")
  phase_total=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['total_s'])" "$out")
  phase_cpu=$(python3 -c "print(round($c1 - $c0, 2))")
  echo "  $1: $out cpu_s=$phase_cpu" >&2
}

declare -A best_rate best_cpu
best_rate[socd]=0
best_rate[rsyslog]=0
for pass in $(seq 1 "$passes"); do
  base=$(rs_bytes)
  run_phase rsyslog "$rs_pid" "$rs_port" "stat -c %s $work/rsyslog.out 2>/dev/null || echo 0" bytes "$base"
  rate=$(python3 -c "print(round($lines / $phase_total))")
  if [ "$rate" -gt "${best_rate[rsyslog]}" ]; then best_rate[rsyslog]=$rate; best_cpu[rsyslog]=$phase_cpu; fi
  base=$(socd_records)
  run_phase socd "$socd_pid" "$syslog_port" \
    "curl -fsS -H '$auth' http://127.0.0.1:$api_port/api/v1/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"records\"])'" \
    lines "$base"
  rate=$(python3 -c "print(round($lines / $phase_total))")
  if [ "$rate" -gt "${best_rate[socd]}" ]; then best_rate[socd]=$rate; best_cpu[socd]=$phase_cpu; fi
done

stats=$(curl -fsS -H "$auth" "http://127.0.0.1:$api_port/api/v1/stats")
s_rss=$(rss_mib "$socd_pid" VmRSS); s_hwm=$(rss_mib "$socd_pid" VmHWM)
r_rss=$(rss_mib "$rs_pid" VmRSS); r_hwm=$(rss_mib "$rs_pid" VmHWM)
python3 - "$lines" "$bytes" "${best_rate[socd]}" "${best_rate[rsyslog]}" "${best_cpu[socd]}" \
  "${best_cpu[rsyslog]}" "$s_rss" "$s_hwm" "$r_rss" "$r_hwm" "$passes" "$stats" <<'PY'
import json, sys
(lines, nbytes, s_rate, r_rate, s_cpu, r_cpu, s_rss, s_hwm, r_rss, r_hwm, passes,
 stats) = sys.argv[1:]
lines, nbytes = int(lines), int(nbytes)
s_rate, r_rate, s_cpu, r_cpu = float(s_rate), float(r_rate), float(s_cpu), float(r_cpu)
print()
print("%d syslog lines, %.1f MiB, one TCP connection each; best of %s pass(es)" % (
    lines, nbytes / 1048576, passes))
print()
print("| | socd | rsyslogd | ratio socd/rsyslog |")
print("|---|---|---|---|")
print("| events/s (until all stored / written) | %s | %s | %.2f |" % (
    f"{s_rate:,.0f}", f"{r_rate:,.0f}", s_rate / r_rate if r_rate else 0))
print("| CPU seconds for the stream | %.2f | %.2f | %.2f |" % (s_cpu, r_cpu, s_cpu / r_cpu if r_cpu else 0))
print("| events per CPU-second | %s | %s | %.2f |" % (
    f"{lines / s_cpu:,.0f}" if s_cpu else "-", f"{lines / r_cpu:,.0f}" if r_cpu else "-",
    (lines / s_cpu) / (lines / r_cpu) if s_cpu and r_cpu else 0))
print("| RSS at end / peak MiB | %s / %s | %s / %s | %.1f |" % (
    s_rss, s_hwm, r_rss, r_hwm, float(s_hwm) / float(r_hwm) if float(r_hwm) else 0))
st = json.loads(stats)
keep = {k: v for k, v in st.items() if not isinstance(v, (dict, list))}
print()
print("socd stats after the run:", json.dumps(keep, sort_keys=True))
print()
print("Not the same work: socd parses every line into ECS fields, attributes the tenant, commits")
print("every batch with fdatasync, indexes tokens into Bloom filters, runs every loaded Sigma rule")
print("and the intel feeds and stores alerts; rsyslogd appends %rawmsg% to one file (no fsync).")
PY
