#!/usr/bin/env bash
# R3: the HTTP/1.1 framing table (tests/integration/proxy_framing_test.cc) through seccloud's
# proxy and through Squid, side by side: each row's status, what the origin received (requests)
# or whether the client connection closed (responses), and what the row's check found; the rows
# where the two proxies differ are marked "<>". Squid's answers are printed, not judged.
#
#   bench/proxy_framing_vs_squid.sh [--test-binary PATH]
#
# Needs squid (squid-openssl), a release build of integration_test (and seccloud). Squid listens
# on 127.79.0.8:3128 with a private configuration in a temporary directory, the test's origin on
# 127.79.0.9:8099. Run as root (Squid drops to user proxy).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
TEST="$here/build/release/tests/integration/integration_test"
case "${1:-}" in
  --test-binary) TEST=$2 ;;
  "") ;;
  *) echo "usage: $0 [--test-binary PATH]" >&2; exit 2 ;;
esac
command -v squid >/dev/null || { echo "$0: squid is missing (scripts/install-deps)" >&2; exit 1; }
[ -x "$TEST" ] || { echo "$0: $TEST is missing" >&2; exit 1; }

tmp=$(mktemp -d /tmp/framing-vs-squid.XXXXXX)
chmod 755 "$tmp"
squid_pid=
cleanup() {
  if [ -n "$squid_pid" ]; then kill "$squid_pid" 2>/dev/null || true; wait "$squid_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

cat >"$tmp/squid.conf" <<CONF
http_port 127.79.0.8:3128
cache deny all
cache_mem 0 MB
acl clients src 127.0.0.0/8
http_access allow clients
http_access deny all
access_log stdio:$tmp/access.log
cache_log $tmp/cache.log
cache_store_log none
pid_filename $tmp/squid.pid
coredump_dir $tmp
cache_effective_user proxy
netdb_filename none
pinger_enable off
shutdown_lifetime 1 seconds
CONF
chown -R proxy "$tmp" 2>/dev/null || true
squid -N -f "$tmp/squid.conf" 2>>"$tmp/squid.out" &
squid_pid=$!
for _ in $(seq 100); do
  if (exec 3<>/dev/tcp/127.79.0.8/3128) 2>/dev/null; then break; fi
  sleep 0.1
done

filter='ProxyFramingTest.*'
SECCLOUD_FRAMING_PRINT=1 "$TEST" --gtest_filter="$filter" 2>&1 | grep '^FRAMING|' >"$tmp/seccloud" || true
SECCLOUD_FRAMING_PROXY=127.79.0.8:3128 SECCLOUD_FRAMING_ORIGIN=127.79.0.9 \
  "$TEST" --gtest_filter="$filter" 2>&1 | grep '^FRAMING|' >"$tmp/squid" || true
echo "$(squid -v | head -1); seccloud from $TEST's build"
python3 - "$tmp/seccloud" "$tmp/squid" <<'PY'
import sys
def rows(path):
    out = {}
    for line in open(path, encoding='utf-8', errors='replace'):
        f = line.rstrip('\n').split('|')
        out[(f[1], f[2])] = f[3:]
    return out
a, b = rows(sys.argv[1]), rows(sys.argv[2])
print('| | table | row | seccloud: status, origin/close, check | squid: status, origin/close, check |')
print('|---|---|---|---|---|')
for key in a:
    x, y = a[key], b.get(key, ['(no line)'])
    mark = '' if x[:2] == y[:2] and x[2:] == y[2:] else '<>'
    print(f'| {mark} | {key[0]} | {key[1]} | {" ; ".join(x)} | {" ; ".join(y)} |')
PY
