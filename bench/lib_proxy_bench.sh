# Shared by bench/proxy_vs_squid.sh and bench/proxy_tls_vs_squid.sh (R3): sourced, not run.
# Process start/stop, CPU accounting, the load generator, the filter data both proxies load, and
# the result table. The caller sets `here` (the repository) and `tmp` (its scratch directory)
# before calling pb_init.

# pb_init: the cleanup trap for everything started with pb_track.
pb_pids=()
pb_init() {
  trap pb_cleanup EXIT
}
pb_track() { pb_pids+=("$1"); }

# pb_stop pid...: TERM, then KILL what is left after 3 s.
pb_stop() {
  local p alive
  for p in "$@"; do kill "$p" 2>/dev/null || true; done
  for _ in $(seq 30); do
    alive=0
    for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && return 0
    sleep 0.1
  done
  for p in "$@"; do kill -9 "$p" 2>/dev/null || true; done
}

pb_cleanup() {
  [ ${#pb_pids[@]} -gt 0 ] && pb_stop "${pb_pids[@]}"
  [ -n "${KEEP_TMP:-}" ] && { echo "kept $tmp" >&2; return; }
  rm -rf "$tmp"
}

# pb_wait_port ip port [tries]: until something accepts there (0.1 s per try).
pb_wait_port() {
  local tries=${3:-100}
  for _ in $(seq "$tries"); do
    if (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "$0: nothing listens on $1:$2" >&2
  return 1
}

# pb_cpu_ns pid: CPU time in nanoseconds (user + system, from each thread's schedstat) of a
# process and all its descendant processes. /proc/PID/stat's utime+stime count in 10 ms ticks,
# too coarse for a few thousand requests of 20 µs; schedstat misses only threads that exit
# between two samples (neither proxy starts or ends threads per request).
pb_cpu_ns() {
  local p files=()
  for p in $(pstree -pT "$1" | grep -o '([0-9]*)' | tr -d '()'); do
    files+=(/proc/"$p"/task/*/schedstat)
  done
  cat "${files[@]}" 2>/dev/null | awk '{ s += $1 } END { printf "%.0f", s }'
}

# pb_ratio a b: a/b with two decimals, "-" when b is 0 or missing.
pb_ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0 && a != "") printf "%.2f", a / b; else print "-" }'
}

# pb_json_field json name: one field of proxy_load's JSON line.
pb_json_field() {
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d.get(sys.argv[2], ""))' "$1" "$2"
}

# pb_find_load: the proxy_load binary (bench/CMakeLists.txt builds it; `cmake --build --preset
# release --target proxy_load`), or PROXY_LOAD from the environment.
pb_find_load() {
  PROXY_LOAD=${PROXY_LOAD:-$here/build/release/bench/proxy_load}
  [ -x "$PROXY_LOAD" ] || {
    echo "$0: $PROXY_LOAD is missing (cmake --build --preset release --target proxy_load)" >&2
    exit 1
  }
}

# pb_measure row name pid -- proxy_load args...: runs proxy_load (its own warm-up, then the
# measured window) and records in R[row,name,*] rps, p50, p99, p999, cpu (the proxy's CPU-s per
# 1,000 requests over the measured window), client (proxy_load's own), origin (the origin
# server's, when the caller sets pb_origin_pid), late, incomplete. Any failed request fails the
# benchmark. The proxy's CPU is sampled when proxy_load's window opens and closes.
declare -A R
pb_measure() {
  local row=$1 name=$2 pid=$3
  shift 4
  local out before after warm
  warm=$(awk -v a="$*" 'BEGIN { n = split(a, w, " "); for (i = 1; i < n; i++) if (w[i] == "--warmup") print w[i+1] }')
  warm=${warm:-2}
  local outfile="$tmp/measure.out"
  "$PROXY_LOAD" "$@" >"$outfile" &
  local load_pid=$!
  # proxy_load starts its schedule 50 ms after it starts; its window opens `warm` s later.
  sleep "$(awk -v w="$warm" 'BEGIN { printf "%.2f", w + 0.05 }')"
  before=$(pb_cpu_ns "$pid")
  local origin_before=0 origin_after=0
  [ -n "${pb_origin_pid:-}" ] && origin_before=$(pb_cpu_ns "$pb_origin_pid")
  # PB_STRACE_DIR=DIR: `strace -c -f` on the proxy for the window (counts only: strace slows
  # every call), to DIR/ROW-NAME.strace; the requests of the window go to DIR/ROW-NAME.requests.
  local strace_pid=""
  if [ -n "${PB_STRACE_DIR:-}" ]; then
    strace -c -f -U name,calls -o "$PB_STRACE_DIR/$row-$name.strace" -p "$pid" 2>/dev/null &
    strace_pid=$!
  fi
  wait $load_pid || { echo "$0: proxy_load failed for $name in $row" >&2; exit 1; }
  if [ -n "$strace_pid" ]; then
    kill -INT "$strace_pid"
    wait "$strace_pid" || true
    pb_json_field "$(cat "$outfile")" requests >"$PB_STRACE_DIR/$row-$name.requests"
  fi
  after=$(pb_cpu_ns "$pid")
  [ -n "${pb_origin_pid:-}" ] && origin_after=$(pb_cpu_ns "$pb_origin_pid")
  out=$(cat "$outfile")
  echo "$out" >"$tmp/load-$row-$name.json"
  if [ "$(pb_json_field "$out" errors)" != 0 ]; then
    echo "$0: $name failed requests in $row: $out" >&2
    exit 1
  fi
  local requests
  requests=$(pb_json_field "$out" requests)
  R[$row,$name,rps]=$(pb_json_field "$out" rps)
  R[$row,$name,p50]=$(pb_json_field "$out" p50_ms)
  R[$row,$name,p99]=$(pb_json_field "$out" p99_ms)
  R[$row,$name,p999]=$(pb_json_field "$out" p999_ms)
  R[$row,$name,late]=$(pb_json_field "$out" late)
  # Requests of the window still unanswered 5 s after it (a proxy that cannot keep up with a
  # fixed rate): its latency figures are then lower bounds.
  R[$row,$name,incomplete]=$(pb_json_field "$out" incomplete)
  R[$row,$name,client]=$(awk -v c="$(pb_json_field "$out" client_cpu_s)" -v n="$requests" \
    'BEGIN { printf "%.4f", (n > 0 ? c / n * 1000 : 0) }')
  # The proxy's CPU is sampled up to the end of proxy_load's drain (<= 5 s after the window when
  # answers are late): count it against the requests of the window, a slight overcount for both.
  R[$row,$name,cpu]=$(awk -v t=$((after - before)) -v n="$requests" \
    'BEGIN { printf "%.4f", (n > 0 ? t / 1e9 / n * 1000 : 0) }')
  # The origin's (nginx, pb_origin_pid when the caller sets it), over the same window.
  if [ -n "${pb_origin_pid:-}" ]; then
    R[$row,$name,origin]=$(awk -v t=$((origin_after - origin_before)) -v n="$requests" \
      'BEGIN { printf "%.4f", (n > 0 ? t / 1e9 / n * 1000 : 0) }')
  fi
}

# pb_start_origin SERVER-BLOCK: nginx with that server block (listening on $ORIGIN), in
# $tmp/origin (files it serves go in $tmp/origin/www beforehand); waits for the port.
pb_start_origin() {
  mkdir -p "$tmp/origin/www"
  chmod -R a+rX "$tmp/origin"
  cat >"$tmp/origin/nginx.conf" <<EOF
$(pb_nginx_head "$tmp/origin")
  $1
}
EOF
  nginx -p "$tmp/origin" -c "$tmp/origin/nginx.conf" -e stderr -g 'daemon off;' 2>"$tmp/origin/out" &
  pb_track $!
  disown
  pb_wait_port "${ORIGIN%:*}" "${ORIGIN#*:}"
}

# pb_start_seccloud BINARY [PROXY-LINES]: seccloud's proxy on $SECCLOUD_IP:$PORT with WORKERS
# workers, plain HTTP, the filter data's policy (unless FILTER is none), in $tmp/seccloud.
# PROXY-LINES (indented "  key: value" lines, newline-separated) go under `proxy:`, e.g. `hosts:`
# and `tls:`; when they name `ca_dir: ca` the interception CA is made first (`seccloud ca init`)
# unless $tmp/seccloud/ca holds one already. The client connects from 127.0.0.1: a bench tenant
# owns it (a real deployment has one per municipality). Sets seccloud_pid and waits for the port.
# Its output is appended to $tmp/seccloud/out (a script may start it more than once).
pb_start_seccloud() {
  local binary=$1 proxy_lines=${2:-}
  mkdir -p "$tmp/seccloud"
  cat >"$tmp/seccloud/seccloud.yaml" <<EOF
node: {name: bench, state_dir: state}
events: {spool_dir: spool}
supervisor: {admin: $SECCLOUD_IP:19000}
tenants:
  - {id: bench, name: bench, networks: [127.0.0.0/24]}
proxy:
  listen: [$SECCLOUD_IP:$PORT]
  workers: $WORKERS
  system_resolver: false
EOF
  if [ -n "$proxy_lines" ]; then printf '%s\n' "$proxy_lines" >>"$tmp/seccloud/seccloud.yaml"; fi
  if [ "$FILTER" != none ]; then cat "$tmp/filter/seccloud-policy.yaml" >>"$tmp/seccloud/seccloud.yaml"; fi
  if grep -q '^ *ca_dir: ca$' <<<"$proxy_lines" && [ ! -f "$tmp/seccloud/ca/ca.pem" ]; then
    "$binary" ca init --config "$tmp/seccloud/seccloud.yaml" >/dev/null
  fi
  "$binary" proxy --config "$tmp/seccloud/seccloud.yaml" 2>>"$tmp/seccloud/out" &
  seccloud_pid=$!
  pb_track $seccloud_pid
  disown
  pb_wait_port $SECCLOUD_IP $PORT 600
}

# pb_start_squid SQUID IP:PORT PORT-LINE [EXTRA-LINES]: Squid with no cache, its access log on,
# WORKERS workers and the filter data's ACLs (unless FILTER is none), in $tmp/squid; EXTRA-LINES
# go after the port line (ssl-bump, hosts_file). Sets squid_pid and waits for the port.
pb_start_squid() {
  local squid=$1 ip=${2%:*} port=${2##*:} port_line=$3 extra=${4:-} acls=""
  mkdir -p "$tmp/squid"
  if [ "$FILTER" != none ]; then acls=$(cat "$tmp/filter/squid-acl.conf"); fi
  cat >"$tmp/squid/squid.conf" <<EOF
$port_line
$extra
workers $WORKERS
cache deny all
cache_mem 0 MB
acl bench src 127.0.0.0/24
$acls
http_access allow bench
http_access deny all
access_log stdio:$tmp/squid/access.log
cache_log $tmp/squid/cache.log
cache_store_log none
pid_filename $tmp/squid/squid.pid
coredump_dir $tmp/squid
cache_effective_user proxy
forwarded_for delete
netdb_filename none
pinger_enable off
shutdown_lifetime 1 seconds
max_filedescriptors 16384
EOF
  chown -R proxy "$tmp/squid" 2>/dev/null || true
  if [ "$WORKERS" -gt 1 ]; then
    "$squid" -f "$tmp/squid/squid.conf" --foreground 2>>"$tmp/squid/out" &
  else
    "$squid" -N -f "$tmp/squid/squid.conf" 2>>"$tmp/squid/out" &
  fi
  squid_pid=$!
  pb_track $squid_pid
  disown
  pb_wait_port "$ip" "$port" 1200
}

# pb_metric_label metric what: the table label of one metric ("what" labels the rps line).
pb_metric_label() {
  case $1 in
    rps) echo "$2" ;;
    p50) echo "  latency p50 ms" ;;
    p99) echo "  latency p99 ms" ;;
    p999) echo "  latency p99.9 ms" ;;
    cpu) echo "  CPU-s per 1,000 requests" ;;
    client) echo "  (proxy_load's CPU-s per 1,000 requests)" ;;
    origin) echo "  (the origin's CPU-s per 1,000 requests)" ;;
    incomplete) echo "  NOT ANSWERED within 5 s after the window" ;;
  esac
}

# pb_print_rows label-function row...: the comparison table of R[row,seccloud|squid,*].
# label-function row metric prints the row's label.
pb_print_rows() {
  local labeler=$1
  shift
  local row m a b
  printf '%-52s %12s %12s %8s\n' "row" "seccloud" "squid" "ratio"
  for row in "$@"; do
    for m in rps p50 p99 p999 cpu client origin incomplete; do
      a=${R[$row,seccloud,$m]:-}
      b=${R[$row,squid,$m]:-}
      [ -z "$a$b" ] && continue
      [ "$m" = incomplete ] && [ "$a$b" = 00 ] && continue
      printf '%-52s %12s %12s %8s\n' "$($labeler "$row" "$m")" "$a" "$b" "$(pb_ratio "$a" "$b")"
    done
  done
}

# ---- the same filter data in both proxies (issue 3: all UT1 categories + URLhaus) -------------
# pb_filter_data DATA_DIR BINARY full|domains: makes, under $tmp/filter,
#   categories.db         seccloud's compiled category database (seccloud policy import-categories)
#   seccloud-policy.yaml  a `policy:` section: every UT1 category blocked, URLhaus as a feed
#   squid-acl.conf        Squid ACL lines: per UT1 category a dstdomain list (domain and its
#                         subdomains, as UT1 means) and a url_regex list (the category's URL
#                         prefixes), URLhaus domains as dstdomain and its URLs as url_regex; each
#                         denied by http_access before the bench network's allow
# and prints one line describing the data. "domains" leaves out every URL list on both sides
# (UT1's urls files, URLhaus's URL feed): Squid's url_regex lists are what a deployment would
# move into a helper (squidGuard, ufdbGuard), and this shows the proxies without them.
pb_filter_data() {
  local data=$1 binary=$2 mode=$3 dir="$tmp/filter"
  local ut1="$data/url-categories/ut1" urlhaus="$data/threat-intel/urlhaus"
  if [ ! -d "$ut1" ] || [ ! -d "$urlhaus" ]; then
    echo "$0: --filter $mode needs $ut1 and $urlhaus (the shared data set)" >&2
    exit 1
  fi
  mkdir -p "$dir/squid"
  if [ "$mode" = domains ]; then
    local c
    for c in "$ut1"/*/; do
      [ -f "$c/domains" ] || continue
      mkdir -p "$dir/ut1-domains/$(basename "$c")"
      cp "$c/domains" "$dir/ut1-domains/$(basename "$c")/"
    done
    mkdir -p "$dir/urlhaus-domains"
    cp "$urlhaus/urlhaus-filter-domains.txt" "$dir/urlhaus-domains/"
    ut1="$dir/ut1-domains"
    urlhaus="$dir/urlhaus-domains"
  fi
  "$binary" policy import-categories "$ut1" "$dir/categories.db" >"$dir/import.out" 2>&1 || {
    cat "$dir/import.out" >&2
    exit 1
  }
  {
    echo "policy:"
    echo "  category_db: $dir/categories.db"
    echo "  common:"
    printf '    categories: {'
    local first=1 c
    for c in "$ut1"/*/; do
      c=$(basename "$c")
      [ -f "$ut1/$c/domains" ] || [ -f "$ut1/$c/urls" ] || continue
      [ $first = 1 ] || printf ', '
      printf '"%s": block' "$c"
      first=0
    done
    echo '}'
    echo "  feeds:"
    echo "    - {name: urlhaus, source: $urlhaus, interval: 24h}"
  } >"$dir/seccloud-policy.yaml"
  # Squid: UT1 domains mean "this domain and its subdomains" = dstdomain ".name". URL lines are
  # "host/path" prefixes = url_regex "^https?://host/path" with the regex characters escaped.
  python3 - "$ut1" "$urlhaus" "$dir/squid" >"$dir/squid-acl.conf" 2>"$dir/squid-counts.txt" <<'EOF'
import os, re, sys
ut1, urlhaus, out = sys.argv[1:4]
host_re = re.compile(r"^[A-Za-z0-9._-]+$")
def domains(path):
    seen = set()
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            d = line.strip().lower().rstrip(".")
            if not d or d.startswith(("#", "!")) or not host_re.match(d):
                continue
            seen.add(d)
    # Squid refuses nothing but warns about (and drops) a name already covered by a parent.
    keep = []
    for d in sorted(seen, key=lambda s: s.count(".")):
        parts = d.split(".")
        if any(".".join(parts[i:]) in covered for i in range(1, len(parts))):
            continue
        covered.add(d)
        keep.append("." + d)
    return keep
def urls(path):
    keep = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            u = line.strip()
            if not u or u.startswith(("#", "!")) or "/" not in u or any(c.isspace() for c in u):
                continue
            keep.append("^https?://" + re.escape(u))
    return keep
lines, acls, n_dom, n_url = [], [], 0, 0
def emit(name, kind, entries):
    global n_dom, n_url
    if not entries:
        return
    fn = os.path.join(out, name + "." + kind)
    with open(fn, "w") as f:
        f.write("\n".join(entries) + "\n")
    lines.append(f'acl {name} {kind} "{fn}"')
    acls.append(name)
    if kind == "dstdomain":
        n_dom += len(entries)
    else:
        n_url += len(entries)
for c in sorted(os.listdir(ut1)):
    covered = set()
    if os.path.isfile(os.path.join(ut1, c, "domains")):
        emit(f"ut1_{c}_domains", "dstdomain", domains(os.path.join(ut1, c, "domains")))
    if os.path.isfile(os.path.join(ut1, c, "urls")):
        emit(f"ut1_{c}_urls", "url_regex", urls(os.path.join(ut1, c, "urls")))
covered = set()
emit("urlhaus_domains", "dstdomain", domains(os.path.join(urlhaus, "urlhaus-filter-domains.txt")))
if os.path.isfile(os.path.join(urlhaus, "urlhaus-filter.txt")):
    emit("urlhaus_urls", "url_regex", urls(os.path.join(urlhaus, "urlhaus-filter.txt")))
for a in acls:
    lines.append(f"http_access deny {a}")
print("\n".join(lines))
print(f"{n_dom} dstdomain entries, {n_url} url_regex entries", file=sys.stderr)
EOF
  echo "filter data ($mode): UT1 + URLhaus; Squid:" \
    "$(grep -c '^acl ' "$dir/squid-acl.conf") ACLs, $(cat "$dir/squid-counts.txt");" \
    "seccloud: $(tail -1 "$dir/import.out")"
}

# The start of the benchmark origin's nginx.conf, shared by the proxy benchmarks: everything in
# DIR, no access log, keep-alive without limit; the caller adds its server blocks and the final
# "}" that closes `http {`.
pb_nginx_head() {
  local dir=$1
  cat <<EOF
pid $dir/nginx.pid;
worker_processes 1;
error_log stderr warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  default_type application/octet-stream;
  keepalive_requests 1000000;
EOF
}
