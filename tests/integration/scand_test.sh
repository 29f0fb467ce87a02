#!/usr/bin/env bash
# R8: the real `seccloud scand` and `seccloud scan`: clamscan-style output and exit codes, in-process
# and through scand; /healthz and /metrics; a signature added to the directory is picked up by
# the poller (scan.update event) and detects; detections write scan.detection events.
# Usage: scand_test.sh SECCLOUD_BINARY SOURCE_DIR
set -euo pipefail
bin=$1
src=$2
work=$(mktemp -d /tmp/scand-it.XXXXXX)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$work/scand.log" ] && sed 's/^/  scand: /' "$work/scand.log" >&2; exit 1; }

mkdir -p "$work/state" "$work/spool" "$work/sigs"
cp "$src"/etc/signatures/clamav/* "$work/sigs/"
# A free port for the admin server: supervisor.admin + 2 is scand's.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
admin_base=$((port - 2))
cat > "$work/seccloud.yaml" <<YAML
node: {name: it, state_dir: state}
events: {spool_dir: spool}
supervisor: {admin: "127.0.0.1:$admin_base"}
scan:
  socket: scand.sock
  workers: 2
  clamav: {database: sigs}
  yara: {rules: ["$src/etc/signatures/yara"]}
  updates: {poll_interval: 500ms, max_age: 24h}
YAML
printf '%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' > "$work/eicar.com"
echo "an ordinary letter" > "$work/clean.txt"
printf 'x SECCLOUD-INTEGRATION-PROBE-2718 y' > "$work/probe.bin"

# In-process: exit 1 with a FOUND line, 0 when clean, 2 on a missing file.
set +e
out=$("$bin" scan --in-process --config "$work/seccloud.yaml" "$work/eicar.com" "$work/clean.txt" 2>/dev/null); rc=$?
set -e
[ "$rc" = 1 ] || fail "in-process scan exit $rc, want 1"
grep -q "eicar.com: Eicar-Test-Signature.* FOUND" <<<"$out" || fail "no FOUND line: $out"
grep -q "clean.txt: OK" <<<"$out" || fail "no OK line: $out"
"$bin" scan --in-process --config "$work/seccloud.yaml" "$work/clean.txt" >/dev/null 2>&1 || fail "clean file not exit 0"
set +e; "$bin" scan --in-process --config "$work/seccloud.yaml" "$work/nonexistent" >/dev/null 2>&1; rc=$?; set -e
[ "$rc" = 2 ] || fail "missing file exit $rc, want 2"

# scand
"$bin" scand --config "$work/seccloud.yaml" 2>"$work/scand.log" &
pid=$!
for _ in $(seq 1 100); do [ -S "$work/scand.sock" ] && break; sleep 0.1; done
[ -S "$work/scand.sock" ] || fail "scand did not create its socket"
set +e
out=$("$bin" scan --config "$work/seccloud.yaml" "$work/eicar.com" /usr/share/clamav-testfiles/clam.zip "$work/clean.txt" 2>"$work/scan.err"); rc=$?
set -e
[ "$rc" = 1 ] || fail "scan via scand exit $rc"
grep -q "via scand" "$work/scan.err" || fail "did not go through scand: $(cat "$work/scan.err")"
grep -q "clam.zip: ClamAV-Test-File.* FOUND" <<<"$out" || fail "clam.zip not found via scand: $out"

health=$(curl -fsS "http://127.0.0.1:$port/healthz") || fail "healthz not answering"
grep -q '"status":"ok"' <<<"$health" || fail "healthz: $health"
metrics=$(curl -fsS "http://127.0.0.1:$port/metrics")
grep -q '^seccloud_scan_scans_total 3' <<<"$metrics" || fail "scans_total: $(grep scan_scans <<<"$metrics")"
grep -q '^seccloud_scan_signature_info{version="clamav:local-' <<<"$metrics" || fail "no signature_info"
grep -q '^seccloud_scan_last_update_success_seconds' <<<"$metrics" || fail "no last update"

# Hot reload: a new signature appears in the directory; the poller swaps the engine.
"$bin" scan --config "$work/seccloud.yaml" "$work/probe.bin" >/dev/null 2>&1 || fail "probe already detected"
echo "SecCloud-Integration-Probe:0:*:$(printf 'SECCLOUD-INTEGRATION-PROBE-2718' | xxd -p | tr -d '\n')" > "$work/sigs/probe.ndb"
for _ in $(seq 1 60); do
  grep -rqs '"action":"reloaded"' "$work/spool" && break; sleep 0.2
done
set +e; out=$("$bin" scan --config "$work/seccloud.yaml" "$work/probe.bin" 2>/dev/null); rc=$?; set -e
[ "$rc" = 1 ] || fail "new signature not in effect after reload (exit $rc): $out"
grep -q "SecCloud-Integration-Probe" <<<"$out" || fail "$out"

# Signatures three days old (max_age 24 h): an alert event, and health turns red.
touch -d "3 days ago" "$work"/sigs/*
for _ in $(seq 1 60); do
  grep -rqs '"action":"signatures-stale"' "$work/spool" && break; sleep 0.2
done
grep -rqs '"action":"signatures-stale"' "$work/spool" || fail "no staleness alert"
grep -rs '"action":"signatures-stale"' "$work/spool" | grep -q '"kind":"alert"' || fail "stale event not an alert"
health=$(curl -sS "http://127.0.0.1:$port/healthz")
grep -q '"signatures":{"ok":false' <<<"$health" || fail "health not red when stale: $health"

kill -TERM "$pid"; wait "$pid" || true; pid=""
grep -rqs '"dataset":"scan.detection"' "$work/spool" || fail "no scan.detection event"
grep -rqs '"dataset":"scan.update"' "$work/spool" || fail "no scan.update event"
[ ! -e "$work/scand.sock" ] || fail "socket left behind"
echo "scand integration: OK"
