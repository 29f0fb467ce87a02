#!/usr/bin/env bash
# Rows R3/R26 across a real network: the seccloud proxy runs in the lab's gateway namespace; the
# terminals of two tenants reach it through their tenant NAT hosts (static 1:1 NAT), so the proxy
# sees only translated addresses (100.64.i.10). The access events must still name the tenant and
# the terminal's real address (10.i.0.10, attribution "nat"), a request that carries
# X-Forwarded-For from a host that is not the tenant's declared proxy must be flagged, and the
# origin in "the internet" must see the gateway, not the terminal.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lab_lib.sh
. "$here/lab_lib.sh"
lab_require_root
bin=${SECCLOUD_BINARY:?set by CTest}

p=lp$$
work=$(mktemp -d)
export LAB_STATE_DIR="$work/state"
cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  local j
  for j in $(jobs -p); do kill "$j" 2>/dev/null || true; done
  "$LAB" down --name "$p" >/dev/null 2>&1 || true
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$LAB" up --name "$p" --tenants 2 >/dev/null
# shellcheck disable=SC1090
. "$LAB_STATE_DIR/$p.env"
in_node() { local node=$1; shift; "$LAB" exec --name "$p" "$node" -- "$@"; }

# The internet's origin logs who connects.
mkdir -p "$work/www" && echo "hello from the internet" > "$work/www/index.html"
in_node inet "$PY" "$here/lab_http_server.py" "$LAB_INET_IP" 8080 "$work/www" \
  > "$work/origin.log" 2>&1 &
wait_listen inet 8080 "$p"

# The proxy on the gateway's transit address towards tenant 1 (reachable from both tenants'
# NAT hosts through the gateway's routes).
cat > "$work/seccloud.yaml" <<YAML
node: {name: lab-gw, state_dir: state}
events: {spool_dir: spool}
supervisor: {admin: '127.0.0.1:0'}
tenants:
  - id: t1
    name: 一番町
    networks: [$LAB_T1_TRANSLATED_NET]
    nat: [{translated: $LAB_T1_TRANSLATED_NET, internal: $LAB_T1_LAN_NET}]
  - id: t2
    name: 二番町
    networks: [$LAB_T2_TRANSLATED_NET]
    nat: [{translated: $LAB_T2_TRANSLATED_NET, internal: $LAB_T2_LAN_NET}]
proxy:
  listen: ['$LAB_T1_GW_TRANSIT_IP:3128']
  workers: 1
  system_resolver: false
  hosts: {www.internet.example: [$LAB_INET_IP]}
YAML
# Not through in_node: a function in the background would be a subshell, and $! its pid.
"$LAB" exec --name "$p" gw -- "$bin" proxy --config "$work/seccloud.yaml" > "$work/proxy.log" 2>&1 &
proxy_pid=$!
wait_listen gw 3128 "$p"

proxy="http://$LAB_T1_GW_TRANSIT_IP:3128"
out=$(in_node t1-lan curl -fsS --max-time 5 -x "$proxy" http://www.internet.example:8080/index.html) ||
  fail "tenant 1's terminal through NAT and the proxy"
[ "$out" = "hello from the internet" ] || fail "unexpected body: $out"
in_node t2-lan curl -fsS --max-time 5 -x "$proxy" -H 'X-Forwarded-For: 10.9.9.9' \
  http://www.internet.example:8080/index.html >/dev/null || fail "tenant 2's terminal"
pass "both tenants' terminals browse through their NAT hosts and the proxy"

kill -TERM "$proxy_pid"
wait "$proxy_pid" || fail "the proxy did not drain cleanly: $(cat "$work/proxy.log")"
events=$(cat "$work"/spool/proxy/*.ndjson)
t1=$(echo "$events" | grep '"tenant":{"id":"t1"}' | head -n 1)
t2=$(echo "$events" | grep '"tenant":{"id":"t2"}' | head -n 1)
[ -n "$t1" ] && [ -n "$t2" ] || fail "an event per tenant: $events"
echo "$t1" | grep -q "\"client\":{\"ip\":\"$LAB_T1_TRANSLATED_IP\"}" || fail "t1 client is the translated address: $t1"
echo "$t1" | grep -q "\"source\":{\"ip\":\"$LAB_T1_TERMINAL_IP\"}" || fail "t1 terminal recovered through NAT: $t1"
echo "$t1" | grep -q '"attribution":"nat"' || fail "t1 attribution nat: $t1"
echo "$t2" | grep -q "\"source\":{\"ip\":\"$LAB_T2_TERMINAL_IP\"}" || fail "t2 terminal recovered through NAT: $t2"
echo "$t2" | grep -q '"attribution":"untrusted-xff-ignored"' || fail "t2's forged X-Forwarded-For flagged: $t2"
pass "events name tenant and real terminal ($LAB_T1_TERMINAL_IP, $LAB_T2_TERMINAL_IP) behind NAT"

peers=$(awk '/"GET \/index.html/ { print $1 }' "$work/origin.log" | sort -u)
[ "$peers" = "$LAB_GW_INET_IP" ] || fail "the origin must see only the gateway ($LAB_GW_INET_IP), saw: $peers"
pass "the internet sees the gateway, never a terminal's internal address"
echo "lab_proxy_nat_test: OK"
