#!/usr/bin/python3
"""R3/R9/R10 with a real browser: headless Chromium through the real `seccloud proxy`.

Starts a real nginx origin (HTTP, and HTTPS with a good and an expired certificate from
tests/tls/make-test-pki.sh), imports UT1-style categories, makes the interception CA with
`seccloud ca init`, trusts it in a private NSS database (certutil) and drives
`chromium --headless=new --proxy-server=… --dump-dom`, then the DevTools protocol (python3's
websocket client) to click the warning page's "continue" link:
  - an allowed page renders (HTTP and intercepted HTTPS);
  - a blocked category shows the Japanese/English block page whose reference id is the event id;
  - an origin with an expired certificate shows the proxy's error page inside TLS;
  - a warning page's continue link, clicked, leads to the site;
  - a file chosen in a form and submitted (R8, upload scanning through the real scand): EICAR
    gets the block page naming the signature and never reaches the origin, over intercepted
    HTTPS; a clean file arrives.
Chromium runs as root in CI: --no-sandbox, a private --user-data-dir and HOME, its own process
group, killed by pid. Exit 77 (skipped) only when chromium is not installed.
Usage: proxy_chromium_test.py SECCLOUD_BINARY SOURCE_DIR
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

PROXY_PORT = 3128
HTTP_PORT = 8080
GOOD_PORT = 8443
EXPIRED_PORT = 8444
ADMIN_PORT = 19800  # the proxy's admin endpoint is this + 1
BLOCKED_JA = "このページへのアクセスは、セキュリティポリシーによりブロックされました。"
BLOCKED_EN = "Access to this page was blocked by the security policy."
WARN_JA = "このページは注意が必要なサイトに分類されています。"
ORIGIN_TITLE = "seccloud origin page"


class Failure(Exception):
    pass


def check(cond, what, detail=""):
    if not cond:
        raise Failure(what + (": " + detail[:3000] if detail else ""))
    print("ok -", what, flush=True)


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def can_connect(ip, port):
    try:
        with socket.create_connection((ip, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for(cond, limit=20.0):
    deadline = time.time() + limit
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return cond()


def stop(proc):
    """SIGTERM to the process (group) we started, SIGKILL after 5 s."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        pass
    try:  # the group: Chromium's helpers may outlive its launcher
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


class Lab:
    def __init__(self, binary, source):
        self.binary = binary
        self.source = source
        self.dir = tempfile.mkdtemp(prefix="seccloud-chromium-")
        os.chmod(self.dir, 0o755)  # nginx workers run as nobody
        pid = os.getpid()
        tail = "%d.%d" % (pid // 250 % 250, pid % 250 + 1)
        self.ip = "127.87." + tail  # the proxy
        self.origin_ip = "127.88." + tail
        self.procs = []
        self.chromium = find_chromium()
        self.home = os.path.join(self.dir, "home")

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def run(self, argv, **kw):
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
        if r.returncode != 0:
            raise Failure("%s failed (%d): %s" % (" ".join(argv), r.returncode, r.stdout))
        return r.stdout

    def spawn(self, argv, log, env=None):
        out = open(self.path(log), "wb")
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True, env=env)
        self.procs.append(p)
        return p

    # ---- the world --------------------------------------------------------------------------

    def start_origin(self):
        self.run([os.path.join(self.source, "tests/tls/make-test-pki.sh"), self.path("pki")])
        www = self.path("www")
        os.makedirs(www)
        os.chmod(www, 0o755)
        with open(os.path.join(www, "form.html"), "w") as f:
            f.write("<!doctype html><html><head><title>upload</title></head><body>"
                    "<form method=\"post\" enctype=\"multipart/form-data\" action=\"/keep\">"
                    "<input type=\"text\" name=\"comment\" value=\"monthly report\">"
                    "<input type=\"file\" name=\"attachment\"></form></body></html>\n")
        os.chmod(os.path.join(www, "form.html"), 0o644)
        with open(os.path.join(www, "index.html"), "w") as f:
            f.write("<!doctype html><html><head><title>%s</title></head>"
                    "<body><p id=\"origin\">served by the origin</p>"
                    "<script>document.getElementById('origin').dataset.js = 'ran';</script>"
                    "</body></html>\n" % ORIGIN_TITLE)
        os.chmod(os.path.join(www, "index.html"), 0o644)
        # nginx workers (nobody) read the keys: the PKI directory is private to root otherwise.
        for name in ("good", "expired"):
            for ext in ("pem", "key"):
                os.chmod(self.path("pki", name + "." + ext), 0o644)
        os.chmod(self.path("pki"), 0o755)
        d = self.path("nginx")
        os.makedirs(d)
        # /keep takes an upload and answers with its length (nginx reads the whole body first).
        locations = ("location = /keep { proxy_pass http://%s:%d/sink; } "
                     "location = /sink { default_type text/plain; "
                     "return 200 \"received $content_length bytes\"; }" %
                     (self.origin_ip, HTTP_PORT))
        servers = "  server { listen %s:%d; root %s; %s }\n" % (self.origin_ip, HTTP_PORT, www,
                                                             locations)
        for name, port in (("good", GOOD_PORT), ("expired", EXPIRED_PORT)):
            servers += ("  server { listen %s:%d ssl; root %s; ssl_certificate %s; "
                        "ssl_certificate_key %s; %s }\n" %
                        (self.origin_ip, port, www, self.path("pki", name + ".pem"),
                         self.path("pki", name + ".key"), locations))
        with open(os.path.join(d, "nginx.conf"), "w") as f:
            f.write("pid %s/nginx.pid;\nworker_processes 1;\nerror_log stderr notice;\n"
                    "events { worker_connections 256; }\nhttp {\n"
                    "  log_format uri '$request_method $uri $status';\n"
                    "  access_log %s/access.log uri;\n  client_body_temp_path %s/tmp;\n"
                    "  proxy_temp_path %s/tmp-p;\n  fastcgi_temp_path %s/tmp-f;\n"
                    "  uwsgi_temp_path %s/tmp-u;\n  scgi_temp_path %s/tmp-s;\n"
                    "  types { text/html html; }\n  client_max_body_size 0;\n%s}\n" % ((d,) * 7 + (servers,)))
        self.spawn(["nginx", "-p", d, "-c", d + "/nginx.conf", "-e", "stderr", "-g", "daemon off;"],
                   "nginx.out")
        ok = wait_for(lambda: all(can_connect(self.origin_ip, p)
                                  for p in (HTTP_PORT, GOOD_PORT, EXPIRED_PORT)), 10)
        check(ok, "nginx origin listens", open(self.path("nginx.out")).read())

    def config(self):
        hosts = "".join("    %s: [%s]\n" % (h, self.origin_ip) for h in (
            "www.origin.example", "casino.example", "games.example", "good.seccloud.test",
            "expired.seccloud.test"))
        return ("node: {name: chromium-gw, state_dir: state}\n"
                "events: {spool_dir: spool}\n"
                "supervisor: {admin: '%s:%d', drain_timeout: 1s}\n"
                "tenants:\n"
                "  - {id: tsu, name: 津市, networks: [127.0.0.1/32], proxies: [],\n"
                "     contacts: [{name: 津市 情報政策課, email: joho@city.tsu.example}]}\n"
                "proxy:\n"
                "  listen: ['%s:%d']\n"
                "  workers: 2\n"
                "  system_resolver: false\n"
                "  block_page_language: ja\n"
                "  hosts:\n%s"
                "  tls: {intercept: true, ca_dir: ca, extra_trust: [pki/bundle.pem]}\n"
                "  scan: {max_size: 10MiB, on_error: block}\n"
                "scan:\n"
                "  socket: scand.sock\n"
                "  workers: 2\n"
                "  clamav: {database: %s/etc/signatures/clamav}\n"
                "policy:\n"
                "  category_db: categories.db\n"
                "  common:\n"
                "    categories: {gambling: block, games: warn}\n" %
                (self.ip, ADMIN_PORT, self.ip, PROXY_PORT, hosts, self.source))

    def start_proxy(self):
        for cat, host in (("gambling", "casino.example"), ("games", "games.example")):
            os.makedirs(self.path("ut1", cat))
            with open(self.path("ut1", cat, "domains"), "w") as f:
                f.write(host + "\n")
        self.run([self.binary, "policy", "import-categories", self.path("ut1"),
                  self.path("categories.db")])
        with open(self.path("seccloud.yaml"), "w") as f:
            f.write(self.config())
        self.run([self.binary, "ca", "init", "--config", self.path("seccloud.yaml")])
        self.spawn([self.binary, "scand", "--config", self.path("seccloud.yaml")], "scand.out")
        check(wait_for(lambda: os.path.exists(self.path("scand.sock")), 30), "scand is up",
              open(self.path("scand.out")).read())
        self.proxy = self.spawn([self.binary, "proxy", "--config", self.path("seccloud.yaml")],
                                "proxy.out")

        def healthy():
            try:
                with urllib.request.urlopen("http://%s:%d/healthz" % (self.ip, ADMIN_PORT + 1),
                                            timeout=1) as r:
                    return r.status == 200
            except OSError:
                return False
        check(wait_for(lambda: can_connect(self.ip, PROXY_PORT) and healthy(), 15),
              "seccloud proxy is up", open(self.path("proxy.out")).read())

    def trust_ca(self):
        """The interception CA in a private NSS database, where Chromium on Linux looks."""
        nssdb = os.path.join(self.home, ".pki", "nssdb")
        os.makedirs(nssdb)
        self.run(["certutil", "-d", "sql:" + nssdb, "-N", "--empty-password"])
        self.run(["certutil", "-d", "sql:" + nssdb, "-A", "-n", "seccloud interception CA",
                  "-t", "C,,", "-i", self.path("ca", "ca.pem")])

    # ---- the browser ------------------------------------------------------------------------

    def chromium_argv(self, profile):
        return [self.chromium, "--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
                "--user-data-dir=" + self.path(profile),
                "--proxy-server=http://%s:%d" % (self.ip, PROXY_PORT),
                # http:// stays http:// (no HTTPS-first probing through the proxy), no
                # background traffic through the proxy besides the page.
                "--disable-features=HttpsUpgrades,HttpsFirstBalancedModeAutoEnable,"
                "MediaRouter,OptimizationHints,Translate",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--metrics-recording-only"]

    def env(self):
        e = dict(os.environ)
        e["HOME"] = self.home
        return e

    def dump_dom(self, url, profile="profile-dump"):
        argv = self.chromium_argv(profile) + ["--virtual-time-budget=3000", "--dump-dom", url]
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL, start_new_session=True, env=self.env())
        try:
            out, err = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            out, err = p.communicate()
            raise Failure("chromium --dump-dom %s did not finish in 60 s: %s" %
                          (url, err.decode(errors="replace")[-2000:]))
        finally:
            try:
                os.killpg(p.pid, signal.SIGKILL)  # helpers (zygote, GPU) left behind
            except ProcessLookupError:
                pass
        return out.decode(errors="replace"), err.decode(errors="replace")

    def events(self):
        out = []
        spool = self.path("spool", "proxy")
        if not os.path.isdir(spool):
            return out
        for name in sorted(os.listdir(spool)):
            if not name.endswith(".ndjson"):
                continue
            with open(os.path.join(spool, name), encoding="utf-8") as f:
                for line in f:
                    try:
                        e = json.loads(line)
                    except ValueError:
                        continue
                    if e.get("event", {}).get("dataset") == "proxy.access":
                        out.append(e)
        return out

    def event_with_id(self, event_id):
        found = []

        def look():
            found[:] = [e for e in self.events() if e.get("event", {}).get("id") == event_id]
            return bool(found)
        wait_for(look, 10)
        return found[0] if found else None

    def origin_requests(self, uri):
        try:
            with open(self.path("nginx", "access.log")) as f:
                return [line for line in f if line.split()[1:2] == [uri]]
        except OSError:
            return []

    def cleanup(self, keep):
        for p in reversed(self.procs):
            stop(p)
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)


def reference_id(dom):
    m = re.search(r"参照番号</th><td><code>([^<]+)</code>", dom)
    return m.group(1) if m else None


class DevTools:
    """A minimal Chrome DevTools Protocol client over python3-websocket."""

    def __init__(self, lab):
        import websocket  # Debian python3-websocket
        self.lab = lab
        argv = lab.chromium_argv("profile-devtools") + ["--remote-debugging-port=0",
                                                         "about:blank"]
        self.proc = lab.spawn(argv, "chromium-devtools.out", env=lab.env())
        port_file = lab.path("profile-devtools", "DevToolsActivePort")
        check(wait_for(lambda: os.path.exists(port_file) and
                       len(open(port_file).read().split()) >= 2, 30),
              "chromium exposes DevTools", open(lab.path("chromium-devtools.out")).read())
        port = int(open(port_file).read().split()[0])
        with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port, timeout=5) as r:
            targets = json.load(r)
        page = next(t for t in targets if t.get("type") == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30)
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise Failure("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})

    def evaluate(self, expression):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return r.get("result", {}).get("value")

    def body_text(self):
        return self.evaluate("document.body ? document.body.innerText : ''") or ""

    def upload(self, form_url, path):
        """Opens the form, chooses `path` in its file input as a person would, submits it."""
        self.call("Page.navigate", url=form_url)
        check(wait_for(lambda: self.evaluate("document.readyState") == "complete" and
                       self.evaluate("!!document.querySelector('input[type=file]')"), 20),
              "the form page loads: " + form_url, self.body_text())
        root = self.call("DOM.getDocument")["root"]["nodeId"]
        node = self.call("DOM.querySelector", nodeId=root, selector="input[type=file]")["nodeId"]
        self.call("DOM.setFileInputFiles", files=[path], nodeId=node)
        self.evaluate("document.forms[0].submit()")

    def wait_location(self, pattern, limit=20):
        ok = wait_for(lambda: re.search(pattern, self.evaluate("location.href") or "") and
                      self.evaluate("document.readyState") == "complete", limit)
        return ok

    def close(self):
        try:
            self.ws.close()
        finally:
            stop(self.proc)


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    lab = Lab(os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]))
    if not lab.chromium:
        print("SKIP: chromium is not installed (Debian package chromium)")
        return 77
    ok = False
    try:
        lab.start_origin()
        lab.start_proxy()
        lab.trust_ca()

        dom, err = lab.dump_dom("http://www.origin.example:%d/" % HTTP_PORT)
        check("served by the origin" in dom and 'data-js="ran"' in dom,
              "an allowed page renders over HTTP (and its script runs)", dom + err)

        dom, err = lab.dump_dom("https://good.seccloud.test:%d/" % GOOD_PORT)
        check("served by the origin" in dom, "an allowed page renders over intercepted HTTPS "
              "(the interception CA is trusted)", dom + err)
        events = [e for e in lab.events()
                  if e.get("url", {}).get("full") == "https://good.seccloud.test:%d/" % GOOD_PORT]
        check(any(e.get("seccloud", {}).get("tls", {}).get("mode") == "intercepted"
                  for e in events), "the HTTPS page was intercepted", json.dumps(events))

        dom, err = lab.dump_dom("http://casino.example:%d/" % HTTP_PORT)
        check(BLOCKED_JA in dom and BLOCKED_EN in dom and "gambling" in dom,
              "a blocked category shows the Japanese/English block page", dom + err)
        ref = reference_id(dom)
        check(ref is not None, "the block page shows a reference id", dom)
        e = lab.event_with_id(ref)
        check(e is not None and e.get("event", {}).get("action") == "blocked" and
              e.get("url", {}).get("domain") == "casino.example",
              "the reference id is the blocked request's event id", json.dumps(e))
        check("津市 情報政策課" in dom, "the block page names the tenant's contact", dom)

        dom, err = lab.dump_dom("https://expired.seccloud.test:%d/" % EXPIRED_PORT)
        check("502 Bad Gateway" in dom and "expired" in dom and
              "要求されたページを安全に取得できなかった" in dom,
              "an expired origin certificate shows the proxy's error page inside TLS", dom + err)

        # The warning page, clicked through like a person would.
        dt = DevTools(lab)
        try:
            dt.call("Page.enable")
            dt.call("Page.navigate", url="http://games.example:%d/" % HTTP_PORT)
            check(wait_for(lambda: WARN_JA in (dt.evaluate("document.body.innerText") or ""), 20),
                  "a warn category shows the warning page",
                  str(dt.evaluate("document.documentElement.outerHTML")))
            href = dt.evaluate("document.querySelector('a.continue').href")
            check(bool(href) and href.startswith("http://seccloud.invalid/continue?"),
                  "the warning page has a continue link", str(href))
            dt.evaluate("document.querySelector('a.continue').click()")
            check(dt.wait_location(r"^http://games\.example:%d/$" % HTTP_PORT),
                  "the continue link leads back to the site", str(dt.evaluate("location.href")))
            check(wait_for(lambda: "served by the origin" in
                           (dt.evaluate("document.body.innerText") or ""), 20),
                  "after continuing, the site itself is shown",
                  str(dt.evaluate("document.documentElement.outerHTML")))
            # Uploads from the browser, over intercepted HTTPS: a form with a file chosen.
            form = "https://good.seccloud.test:%d/form.html" % GOOD_PORT
            with open(lab.path("eicar.com"), "w") as f:
                f.write(r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*")
            with open(lab.path("letter.txt"), "w") as f:
                f.write("an ordinary letter\n" * 1000)
            dt.upload(form, lab.path("eicar.com"))
            check(wait_for(lambda: "Eicar-Test-Signature" in dt.body_text(), 20),
                  "an infected file submitted in a form gets the block page naming the signature",
                  dt.body_text())
            check("malware was found in the upload (file eicar.com)" in dt.body_text(),
                  "the block page names the uploaded file", dt.body_text())
            check(not lab.origin_requests("/keep"), "nothing of the infected upload reached the "
                  "origin", "".join(lab.origin_requests("/keep")))
            dt.upload(form, lab.path("letter.txt"))
            check(wait_for(lambda: re.search(r"received \d+ bytes", dt.body_text()), 20),
                  "a clean file submitted in a form reaches the origin", dt.body_text())
            check(len(lab.origin_requests("/keep")) == 1, "exactly the clean upload reached the "
                  "origin", "".join(lab.origin_requests("/keep")))
        finally:
            dt.close()
        uploads = [e for e in lab.events() if e.get("url", {}).get("full") ==
                   "https://good.seccloud.test:%d/keep" % GOOD_PORT]
        results = sorted(e.get("seccloud", {}).get("scan", {}).get("upload", {}).get("result", "")
                         for e in uploads)
        check(results == ["clean", "infected"], "both uploads' scan results are in the access "
              "log", json.dumps(uploads))
        actions = [e.get("event", {}).get("action") for e in lab.events()
                   if e.get("url", {}).get("domain") in ("games.example", "seccloud.invalid")]
        check("warned" in actions and "warn-accepted" in actions,
              "the warning and its acceptance are in the access log", str(actions))
        ok = True
        print("proxy_chromium: OK")
        return 0
    except Failure as f:
        print("FAIL:", f, file=sys.stderr)
        for log in ("proxy.out", "nginx.out", "scand.out"):
            try:
                print("---- %s\n%s" % (log, open(lab.path(log)).read()[-3000:]), file=sys.stderr)
            except OSError:
                pass
        print("(kept %s)" % lab.dir, file=sys.stderr)
        return 1
    finally:
        lab.cleanup(keep=not ok)


if __name__ == "__main__":
    sys.exit(main())
