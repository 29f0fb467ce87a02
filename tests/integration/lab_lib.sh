# Shared helpers for the lab tests (row R0/R26); sourced, not run.
# shellcheck shell=bash

lab_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB=$(cd "$lab_here/../.." && pwd)/lab/lab
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)

# Tests need root (namespaces, veth, nftables). Exit 77, which CTest reports as "skipped".
lab_require_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: $(basename "$0") needs root to create network namespaces, veth pairs and nftables rules" >&2
    exit 77
  fi
}

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

# Namespaces and root-namespace links that still carry the prefix (prints them; empty = clean).
lab_leftovers() {
  local p=$1
  ip netns list | awk '{print $1}' | grep -E "^${p}-" || true
  ip -o link show | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | grep -E "^${p}-" || true
  # Any interface, in any namespace still mounted, whose namespace name carries the prefix
  # is covered by the first line; /run/netns is where "ip netns" keeps them.
  find /run/netns -maxdepth 1 -name "${p}-*" 2>/dev/null || true
}

assert_nothing_left() {
  local p=$1 left
  left=$(lab_leftovers "$p")
  [ -z "$left" ] || fail "leftovers of lab '$p': $(echo "$left" | tr '\n' ' ')"
  pass "nothing of lab '$p' remains (ip netns list, ip link, /run/netns)"
}

# wait_listen NODE PORT [PREFIX]: wait up to 5 s for a TCP listener on PORT inside NODE.
wait_listen() {
  local node=$1 port=$2 p=$3
  for _ in $(seq 1 100); do
    if "$LAB" exec --name "$p" "$node" -- ss -Hltn "sport = :$port" | grep -q .; then return 0; fi
    sleep 0.05
  done
  fail "nothing listens on $node:$port after 5 s"
}

now_ms() { date +%s%3N; }
