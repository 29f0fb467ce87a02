#!/usr/bin/env bash
# Row R0/R26: the lab topology carries real traffic the way the production paths do.
#  - tenant 1's terminal reaches a real HTTP server in "the internet" through its tenant NAT host
#    and the seccloud gateway, and the server logs the TRANSLATED source (100.64.1.10);
#  - the same over IPv6 (routed ULA);
#  - tenant 2 cannot reach tenant 1's LAN, and it is the gateway's nftables isolation rule that
#    stops it (control: with the rule deleted the same connection succeeds);
#  - "lab down" leaves no namespace, interface or process behind, and is idempotent.
# A trap runs "lab down" on every exit, including failures and signals.
#
# Environment (for lab_cleanup_test.sh): LAB_TEST_PREFIX overrides the lab name;
# LAB_TEST_FAULT=exit-after-up makes the test fail right after "lab up";
# LAB_TEST_FAULT=wait-after-servers prints "paused" once its servers run and waits for a signal.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lab_lib.sh
. "$here/lab_lib.sh"
lab_require_root

p=${LAB_TEST_PREFIX:-lt$$}
work=$(mktemp -d)
export LAB_STATE_DIR="$work/state"

cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  local j
  for j in $(jobs -p); do kill "$j" 2>/dev/null || true; done
  "$LAB" down --name "$p" >/dev/null 2>&1 || echo "lab_test: lab down failed for $p" >&2
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

in_node() { local node=$1; shift; "$LAB" exec --name "$p" "$node" -- "$@"; }
curl_ok() { in_node "$1" curl -fsS -g --connect-timeout 2 --max-time 5 "$2"; }
curl_fails() { ! in_node "$1" curl -fsS -g --connect-timeout 1 --max-time 2 "$2" >/dev/null 2>&1; }
# peer_of LOG PATH: the client address http.server logged for "GET PATH".
peer_of() { awk -v want="\"GET $2" 'index($0, want) { print $1 }' "$1"; }
isolation_drops() {
  in_node gw nft list chain inet sclab forward |
    sed -n 's/.*counter packets \([0-9]*\) .*tenant-isolation.*/\1/p'
}

# ---- up -----------------------------------------------------------------------------------------
t0=$(now_ms)
"$LAB" up --name "$p" --tenants 2 >/dev/null
t_up=$(($(now_ms) - t0))
env_file="$LAB_STATE_DIR/$p.env"
[ -r "$env_file" ] || fail "lab up wrote no $env_file"
# shellcheck disable=SC1090
. "$env_file"
if [ "$LAB_T1_TERMINAL_IP" != 10.1.0.10 ] || [ "$LAB_T1_TRANSLATED_IP" != 100.64.1.10 ] ||
  [ "$LAB_T1_TRANSLATED_NET" != 100.64.1.0/24 ] || [ "$LAB_GW_NS" != "$p-gw" ]; then
  fail "env file does not describe the topology: $(cat "$env_file")"
fi
for ns in "$LAB_GW_NS" "$LAB_INET_NS" "$LAB_T1_LAN_NS" "$LAB_T1_GW_NS" "$LAB_T2_LAN_NS" "$LAB_T2_GW_NS"; do
  [ -e "/run/netns/$ns" ] || fail "namespace $ns missing after up"
done
"$LAB" status --name "$p" >/dev/null || fail "lab status is not 0 on a lab that is up"
pass "lab up (${t_up} ms): 6 namespaces, env file, status 0"

if "$LAB" up --name "$p" >/dev/null 2>&1; then fail "a second 'lab up' on the same name succeeded"; fi
"$LAB" status --name "$p" >/dev/null || fail "a refused second 'lab up' damaged the running lab"
pass "a second 'lab up' with the same name is refused and leaves the lab intact"

[ "${LAB_TEST_FAULT:-}" != exit-after-up ] || { echo "lab_test: injected failure after up" >&2; exit 1; }

# ---- servers: "internet" web server (v4 and v6), and a server on tenant 1's terminal -------------
mkdir -p "$work/www"
echo "hello from the internet" >"$work/www/index.txt"
start_server() { # NODE BIND PORT LOG
  # lab exec execs "ip netns exec", which execs python: $! is the server's own pid.
  "$LAB" exec --name "$p" "$1" -- "$PY" "$here/lab_http_server.py" "$2" "$3" "$work/www" >"$4" 2>&1 &
  server_pids+=("$!")
}
server_pids=()
start_server inet "$LAB_INET_IP" 8080 "$work/inet4.log"
start_server inet "$LAB_INET_IP6" 8080 "$work/inet6.log"
start_server t1-lan "$LAB_T1_TERMINAL_IP" 8081 "$work/t1v4.log"
start_server t1-lan "$LAB_T1_TERMINAL_IP6" 8081 "$work/t1v6.log"
wait_listen inet 8080 "$p"
wait_listen t1-lan 8081 "$p"
for _ in $(seq 1 100); do  # both binds of each port
  [ "$(in_node inet ss -Hltn 'sport = :8080' | wc -l)" -ge 2 ] &&
    [ "$(in_node t1-lan ss -Hltn 'sport = :8081' | wc -l)" -ge 2 ] && break
  sleep 0.05
done

if [ "${LAB_TEST_FAULT:-}" = wait-after-servers ]; then
  echo "servers: ${server_pids[*]}"
  echo "paused"
  sleep 60 &
  wait $!
  exit 1
fi

# ---- IPv4 through tenant NAT and the gateway: the server sees the translated address ------------
body=$(curl_ok t1-lan "http://$LAB_INET_IP:8080/index.txt?from=t1-v4") ||
  fail "tenant 1 terminal cannot reach the internet server over IPv4"
[ "$body" = "hello from the internet" ] || fail "unexpected body: $body"
peer=$(peer_of "$work/inet4.log" "/index.txt?from=t1-v4")
[ "$peer" = "$LAB_T1_TRANSLATED_IP" ] ||
  fail "internet server saw peer '$peer' for tenant 1, want $LAB_T1_TRANSLATED_IP; log: $(cat "$work/inet4.log")"
if awk '{print $1}' "$work/inet4.log" | grep -qx "$LAB_T1_TERMINAL_IP"; then
  fail "internet server saw the untranslated terminal address $LAB_T1_TERMINAL_IP"
fi
pass "t1 terminal $LAB_T1_TERMINAL_IP -> $LAB_INET_IP:8080 via t1 gw and seccloud gw; server logged peer $peer"

curl_ok t2-lan "http://$LAB_INET_IP:8080/index.txt?from=t2-v4" >/dev/null ||
  fail "tenant 2 terminal cannot reach the internet server over IPv4"
peer=$(peer_of "$work/inet4.log" "/index.txt?from=t2-v4")
[ "$peer" = "$LAB_T2_TRANSLATED_IP" ] || fail "server saw '$peer' for tenant 2, want $LAB_T2_TRANSLATED_IP"
pass "t2 terminal is translated to its own /24: server logged peer $peer"

# ---- IPv6 path (routed ULA, no NAT) -------------------------------------------------------------
body=$(curl_ok t1-lan "http://[$LAB_INET_IP6]:8080/index.txt?from=t1-v6") ||
  fail "tenant 1 terminal cannot reach the internet server over IPv6"
[ "$body" = "hello from the internet" ] || fail "unexpected IPv6 body: $body"
peer=$(peer_of "$work/inet6.log" "/index.txt?from=t1-v6")
[ "$peer" = "$LAB_T1_TERMINAL_IP6" ] || fail "IPv6 server saw '$peer', want $LAB_T1_TERMINAL_IP6"
pass "IPv6: t1 terminal [$LAB_T1_TERMINAL_IP6] -> [$LAB_INET_IP6]:8080, server logged peer $peer"

# ---- tenant isolation ---------------------------------------------------------------------------
# The path into tenant 1's LAN exists (static 1:1 NAT inbound), as the internet host shows:
curl_ok inet "http://$LAB_T1_TRANSLATED_IP:8081/index.txt?from=inet" >/dev/null ||
  fail "the internet host cannot reach tenant 1's terminal at its translated address"
[ "$(peer_of "$work/t1v4.log" "/index.txt?from=inet")" = "$LAB_INET_IP" ] ||
  fail "t1 server did not log the internet host; log: $(cat "$work/t1v4.log")"
pass "control: internet -> $LAB_T1_TRANSLATED_IP:8081 reaches t1 terminal (static NAT inbound)"

drops0=$(isolation_drops)
[ -n "$drops0" ] || fail "gateway has no tenant-isolation rule"
curl_fails t2-lan "http://$LAB_T1_TERMINAL_IP:8081/index.txt?from=t2-internal" ||
  fail "tenant 2 reached tenant 1's internal address $LAB_T1_TERMINAL_IP"
curl_fails t2-lan "http://$LAB_T1_TRANSLATED_IP:8081/index.txt?from=t2-translated" ||
  fail "tenant 2 reached tenant 1's terminal at $LAB_T1_TRANSLATED_IP through the gateway"
drops1=$(isolation_drops)
[ "$drops1" -gt "$drops0" ] || fail "the gateway's isolation rule did not count the IPv4 attempt ($drops0 -> $drops1)"
curl_fails t2-lan "http://[$LAB_T1_TERMINAL_IP6]:8081/index.txt?from=t2-v6" ||
  fail "tenant 2 reached tenant 1's terminal [$LAB_T1_TERMINAL_IP6] over IPv6"
drops2=$(isolation_drops)
[ "$drops2" -gt "$drops1" ] || fail "the gateway's isolation rule did not count the IPv6 attempt ($drops1 -> $drops2)"
for log in "$work/t1v4.log" "$work/t1v6.log"; do
  if grep -q 'from=t2' "$log"; then fail "tenant 1's server logged a request from tenant 2: $(cat "$log")"; fi
done
pass "t2 -> t1 blocked: internal 10.1.0.10 not routed, 100.64.1.10 and [fd00:1::10] dropped by the gateway (counter $drops0 -> $drops2)"

# Control: without the rule, the very same connections go through, so the rule is what isolates.
handle=$(in_node gw nft -a list chain inet sclab forward | sed -n 's/.*tenant-isolation.*# handle \([0-9]*\).*/\1/p')
[ -n "$handle" ] || fail "cannot find the handle of the tenant-isolation rule"
in_node gw nft delete rule inet sclab forward handle "$handle"
curl_ok t2-lan "http://$LAB_T1_TRANSLATED_IP:8081/index.txt?from=t2-norule" >/dev/null ||
  fail "even without the isolation rule t2 cannot reach t1: the block above was not the rule's doing"
peer=$(peer_of "$work/t1v4.log" "/index.txt?from=t2-norule")
[ "$peer" = "$LAB_T2_TRANSLATED_IP" ] || fail "t1 server saw '$peer' for t2 without the rule, want $LAB_T2_TRANSLATED_IP"
curl_ok t2-lan "http://[$LAB_T1_TERMINAL_IP6]:8081/index.txt?from=t2-v6-norule" >/dev/null ||
  fail "even without the isolation rule t2 cannot reach t1 over IPv6"
pass "control: with the isolation rule deleted, t2 reaches t1 (v4 peer $peer, and v6)"

# ---- down ---------------------------------------------------------------------------------------
t0=$(now_ms)
"$LAB" down --name "$p" >/dev/null
t_down=$(($(now_ms) - t0))
assert_nothing_left "$p"
for pid in "${server_pids[@]}"; do
  if kill -0 "$pid" 2>/dev/null; then fail "server process $pid survived lab down"; fi
done
pass "lab down (${t_down} ms) killed the ${#server_pids[@]} servers running inside the namespaces"
[ ! -e "$env_file" ] || fail "lab down left $env_file"
"$LAB" down --name "$p" >/dev/null || fail "a second lab down is not idempotent"
if "$LAB" status --name "$p" >/dev/null; then fail "lab status is 0 on a lab that is down"; fi
pass "lab down is idempotent; status reports down"
# Reported, not judged: timings are no pass/fail threshold (a loaded machine fails any limit).
pass "up+down: $((t_up + t_down)) ms"
