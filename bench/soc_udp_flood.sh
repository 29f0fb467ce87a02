#!/usr/bin/env bash
# R18: what a UDP flood costs socd's network thread (soc-net), the real `seccloud socd` fed by
# bench/soc_udp_flood.c (built here with `cc -O2`).
#
# socd runs from a private config in a temp dir: one udp input on a loopback port without a
# tenant of its own (the sender, 127.0.0.1, is in tenant `kita` of 30, so each dropped datagram's
# tenant is looked up), `soc.queue_records: 1000`, an empty rules directory. The sender sends N
# syslog datagrams of 114 bytes with sendmmsg as fast as loopback takes them: most find the queue
# full and are dropped by socd, some overflow the socket's kernel buffer. Per run:
#   kdrop   datagrams the kernel dropped (the socket's `drops` column of /proc/net/udp)
#   read    datagrams soc-net took from the socket (sent − kdrop)
#   stored  records in the store 3 s after the flood (/api/v1/stats `records`)
#   cpu_s   soc-net's utime+stime over the flood (its /proc task), µs/read and read/cpu_s from it
# --mode strace adds soc-net's system calls (`strace -c -p <soc-net tid>`, attached 1 s before
# the flood) and calls/read; --mode callgrind runs socd under `valgrind --tool=callgrind
# --separate-threads=yes` and adds soc-net's instructions (the thread file holding UdpLoop) and
# instr/read. Instruction and system-call counts do not move with the machine's load; the CPU
# figures do: with --baseline the two binaries alternate, round by round, and the table's last
# lines give branch / base ratios of µs/read (and of instr/read, calls/read).
#
# Usage: bench/soc_udp_flood.sh [--binary PATH] [--baseline PATH] [--datagrams N] [--rounds K]
#                               [--mode time|strace|callgrind] [--keep]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
bin=$src/build/release/apps/seccloud/seccloud
baseline=""
datagrams=1000000
rounds=1
mode=time
keep=0
usage="usage: $0 [--binary PATH] [--baseline PATH] [--datagrams N] [--rounds K] [--mode time|strace|callgrind] [--keep]"
while [ $# -gt 0 ]; do
  case $1 in
    --binary) bin=$2; shift 2 ;;
    --baseline) baseline=$2; shift 2 ;;
    --datagrams) datagrams=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --mode) mode=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
case $mode in time|strace|callgrind) ;; *) echo "$usage" >&2; exit 2 ;; esac
[[ $datagrams =~ ^[0-9]+$ && $rounds =~ ^[1-9][0-9]*$ ]] || { echo "$usage" >&2; exit 2; }
[ -x "$bin" ] || { echo "no seccloud binary at $bin (ninja -C build/release seccloud)" >&2; exit 1; }
[ -z "$baseline" ] || [ -x "$baseline" ] || { echo "no seccloud binary at $baseline" >&2; exit 1; }
bin=$(realpath "$bin")
[ -z "$baseline" ] || baseline=$(realpath "$baseline")
[ "$mode" != strace ] || command -v strace >/dev/null || { echo "strace is not installed" >&2; exit 1; }
[ "$mode" != callgrind ] || command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }

top=$(mktemp -d /tmp/soc_udp_flood.XXXXXX)
socd_pid=""
cleanup() {
  [ -z "$socd_pid" ] || kill "$socd_pid" 2>/dev/null || true
  [ -z "$socd_pid" ] || wait "$socd_pid" 2>/dev/null || true
  if [ "$keep" = 1 ]; then echo "kept $top" >&2; else rm -rf "$top"; fi
}
trap cleanup EXIT
cc -O2 -o "$top/flood" "$here/soc_udp_flood.c"
free_port() {  # $1: udp or tcp
  python3 -c "import socket,sys
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM if sys.argv[1]=='udp' else socket.SOCK_STREAM)
s.bind(('127.0.0.1',0));print(s.getsockname()[1])" "$1"
}

# One run: $1 label, $2 binary; appends a row to $top/rows.
run() {
  local label=$1 binary=$2
  local w
  w=$(mktemp -d "$top/$label.XXXX")
  local port api adm
  port=$(free_port udp); api=$(free_port tcp); adm=$(free_port tcp)
  mkdir -p "$w/state" "$w/spool" "$w/norules"
  {
    echo "node: {name: bench, state_dir: state}"
    echo "events: {spool_dir: spool}"
    echo "supervisor: {admin: \"127.0.0.1:$adm\"}"
    echo "tenants:"
    echo "  - {id: kita, name: kita, networks: [127.0.0.0/8]}"
    for i in $(seq 1 29); do
      printf '  - {id: t%02d, name: t%02d, networks: [10.%d.0.0/16]}\n' "$i" "$i" "$i"
    done
    cat <<YAML
soc:
  store: soc/store
  alerts: soc/alerts.db
  api: "127.0.0.1:$api"
  queue_records: 1000
  inputs:
    - {name: flood, protocol: udp, listen: "127.0.0.1:$port", format: syslog}
  rules: ["$w/norules"]
YAML
  } > "$w/seccloud.yaml"
  local prefix=()
  [ "$mode" != callgrind ] ||
    prefix=(valgrind --tool=callgrind --separate-threads=yes "--callgrind-out-file=$w/cg.out")
  (cd "$w" && exec "${prefix[@]}" "$binary" socd --config "$w/seccloud.yaml" > "$w/socd.log" 2>&1) &
  socd_pid=$!
  local up=0
  for _ in $(seq 1 1200); do
    if curl -fsS "http://127.0.0.1:$api/healthz" >/dev/null 2>&1; then up=1; break; fi
    kill -0 "$socd_pid" 2>/dev/null || break
    sleep 0.1
  done
  [ "$up" = 1 ] || { echo "socd did not start ($label); its log:" >&2; cat "$w/socd.log" >&2; exit 1; }
  local net=""
  for t in /proc/$socd_pid/task/*; do
    [ "$(cat "$t/comm" 2>/dev/null)" = soc-net ] && net=$t
  done
  [ -n "$net" ] || { echo "no soc-net thread in socd ($label)" >&2; exit 1; }
  local cpu0 cpu1 spid=""
  cpu0=$(awk '{print $14+$15}' "$net/stat")
  if [ "$mode" = strace ]; then
    strace -c -o "$w/strace.txt" -p "${net##*/}" 2>/dev/null & spid=$!
    sleep 1
  fi
  local sent
  sent=$("$top/flood" "$port" "$datagrams")
  sleep 3
  cpu1=$(awk '{print $14+$15}' "$net/stat")
  local hexport kdrop
  hexport=$(printf '%04X' "$port")
  kdrop=$(awk -v p=":$hexport" '$2 ~ p"$" {print $NF}' /proc/net/udp | head -1)
  local tok stored
  tok=$(cat "$w/soc/api-cli.token")
  stored=$(curl -fsS -H "Authorization: Bearer $tok" "http://127.0.0.1:$api/api/v1/stats" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["records"])')
  local calls=-1 instr=-1
  if [ -n "$spid" ]; then
    kill -INT "$spid"; wait "$spid" 2>/dev/null || true
    calls=$(awk '$NF == "total" {print $4}' "$w/strace.txt")
  fi
  kill "$socd_pid"; wait "$socd_pid" 2>/dev/null || true
  socd_pid=""
  if [ "$mode" = callgrind ]; then
    local f
    f=$(grep -l UdpLoop "$w"/cg.out-* | head -1 || true)
    [ -n "$f" ] || { echo "no callgrind file of soc-net's thread in $w" >&2; exit 1; }
    instr=$(awk '$1 == "summary:" {print $2; exit}' "$f")
  fi
  echo "$label $sent ${kdrop:-0} $stored $((cpu1 - cpu0)) $calls $instr" >> "$top/rows"
}

hz=$(getconf CLK_TCK)
for r in $(seq 1 "$rounds"); do
  echo "round $r: $(cut -d' ' -f1-3 /proc/loadavg) (load average)" >&2
  [ -z "$baseline" ] || run base "$baseline"
  run branch "$bin"
done
python3 - "$top/rows" "$hz" "$mode" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1])]
hz, mode = int(sys.argv[2]), sys.argv[3]
head = f"{'binary':8} {'sent':>9} {'kdrop':>9} {'read':>9} {'stored':>8} {'cpu_s':>6} {'µs/read':>8} {'read/cpu_s':>10}"
if mode == "strace": head += f" {'calls':>9} {'calls/read':>10}"
if mode == "callgrind": head += f" {'instr':>12} {'instr/read':>10}"
print(head)
per = {}
for label, sent, kdrop, stored, ticks, calls, instr in rows:
    sent, kdrop, stored, ticks, calls, instr = map(int, (sent, kdrop, stored, ticks, calls, instr))
    read = sent - kdrop
    cpu = ticks / hz
    us = cpu * 1e6 / max(read, 1)
    line = f"{label:8} {sent:>9,} {kdrop:>9,} {read:>9,} {stored:>8,} {cpu:>6.2f} {us:>8.3f} {read / max(cpu, 0.01):>10,.0f}"
    extra = None
    if mode == "strace":
        extra = calls / max(read, 1)
        line += f" {calls:>9,} {extra:>10.3f}"
    if mode == "callgrind":
        extra = instr / max(read, 1)
        line += f" {instr:>12,} {extra:>10,.0f}"
    print(line)
    per.setdefault(label, []).append((us, extra))
if "base" in per:
    ratios = [b[0] / a[0] for a, b in zip(per["base"], per["branch"]) if a[0] > 0]
    if ratios:
        print("branch / base µs/read: " + ", ".join(f"{x:.2f}" for x in ratios) +
              f" (mean {sum(ratios) / len(ratios):.2f}, best {min(ratios):.2f})")
    if mode != "time":
        ex = [b[1] / a[1] for a, b in zip(per["base"], per["branch"]) if a[1]]
        if ex:
            print(f"branch / base {'calls' if mode == 'strace' else 'instr'}/read: " +
                  ", ".join(f"{x:.3f}" for x in ex))
PY
