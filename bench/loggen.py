#!/usr/bin/env python3
"""R18 SOC benchmark log generator: realistic mixed logs with stable statistics, fixed seed.

Writes one file per source format into --out, plus manifest.json naming each file's soc::Format
("syslog", "access-log", "eve", "windows-event", "seccloud-event", "text"), its line and byte
counts, the time span and the planted search needle. Lines of every file are in time order and
spread evenly over the span, so reading the files in proportion to their line counts replays
the mixed stream in (nearly) time order.

Sources and their share of records (fixed, so any size has the same statistics):
  seccloud-proxy   proxy.access events (events.md)                        24 %
  seccloud-dns     dns.query events                                        14 %
  seccloud-scan    scan.detection events                                 0.1 %
  syslog           sshd / sudo / kernel nftables/iptables lines (RFC 3164) 12 %
  nginx            nginx combined access log                              12 %
  eve              Suricata EVE flow / dns / alert JSON                    10 %
  windows          Windows Security / Sysmon events as evtx JSON           10 %
                   (Event.System / Event.EventData, the shape of the Sigma regression data;
                   1 in 2,000 is one of those regression events itself, re-timed)
  loghub-*         Loghub-style HDFS, Hadoop, Apache error, OpenSSH, Linux lines  17.9 %

Loghub: when ../shared/data/logs/loghub/<System>/<System>_2k.log exist, their lines are used as
templates (timestamps replaced, IPs re-drawn); otherwise built-in templates of the same shapes
are used (and the manifest says so). On the reference machine only README.upstream.md is there.

Addresses: 30 tenants own 10.<t>.0.0/16 (terminals 10.t.0-31.1-254, tenant sizes Zipf-like),
internet peers are half a popular set of 5,000 (Zipf), half fresh random public addresses (a long
tail: most appear once). The needle 203.0.113.77 (TEST-NET-3, never drawn otherwise) is planted
in exactly --needle-count records spread over the span, for the single-IP search.

Usage: loggen.py --out DIR (--bytes N | --gb G | --records N) [--days 30] [--seed 18]
"""

import argparse
import calendar
import glob
import json
import os
import random
import re
import sys
import time

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
WDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
NEEDLE = "203.0.113.77"

# (source name, file, soc format, weight)
SOURCES = [
    ("seccloud-proxy", "seccloud-proxy.ndjson", "seccloud-event", 240),
    ("seccloud-dns", "seccloud-dns.ndjson", "seccloud-event", 140),
    ("seccloud-scan", "seccloud-scan.ndjson", "seccloud-event", 1),
    ("syslog", "syslog.log", "syslog", 120),
    ("nginx", "nginx-access.log", "access-log", 120),
    ("eve", "eve.json", "eve", 100),
    ("windows", "windows.json", "windows-event", 100),
    ("loghub-hdfs", "loghub-hdfs.log", "text", 60),
    ("loghub-hadoop", "loghub-hadoop.log", "text", 30),
    ("loghub-apache", "loghub-apache-error.log", "access-log", 20),
    ("loghub-openssh", "loghub-openssh.log", "syslog", 50),
    ("loghub-linux", "loghub-linux.log", "syslog", 19),
]


class Clock:
    """Formats one instant in every timestamp style the sources use; cached per day."""

    def __init__(self):
        self.day = None
        self.hms = ["%02d:%02d:%02d" % (s // 3600, s // 60 % 60, s % 60) for s in range(86400)]
        self.hms_compact = [h.replace(":", "") for h in self.hms]

    def set(self, t_ms):
        day, ms_of_day = divmod(t_ms, 86_400_000)
        if day != self.day:
            self.day = day
            tm = time.gmtime(day * 86400)
            self.y, self.mo, self.d, self.wd = tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_wday
            self.iso_day = "%04d-%02d-%02d" % (self.y, self.mo, self.d)
            self.bsd_day = "%s %2d" % (MONTHS[self.mo - 1], self.d)
            self.clf_day = "%02d/%s/%04d" % (self.d, MONTHS[self.mo - 1], self.y)
            self.hdfs_day = "%02d%02d%02d" % (self.y % 100, self.mo, self.d)
            self.ctime_day = "%s %s %02d" % (WDAYS[self.wd], MONTHS[self.mo - 1], self.d)
        self.t_ms = t_ms
        self.sec, self.ms = divmod(ms_of_day, 1000)

    def iso_ms(self):  # 2026-11-26T03:20:22.123Z
        return "%sT%s.%03dZ" % (self.iso_day, self.hms[self.sec], self.ms)

    def eve(self):  # 2026-11-26T03:20:22.123456+0000
        return "%sT%s.%03d%03d+0000" % (self.iso_day, self.hms[self.sec], self.ms, self.ms * 7 % 1000)

    def win(self):  # 2026-11-26T03:20:22.1234567Z
        return "%sT%s.%03d%04dZ" % (self.iso_day, self.hms[self.sec], self.ms, self.ms * 13 % 10000)

    def win_utc(self):  # 2026-11-26 03:20:22.123
        return "%s %s.%03d" % (self.iso_day, self.hms[self.sec], self.ms)

    def bsd(self):  # Nov 26 03:20:22
        return "%s %s" % (self.bsd_day, self.hms[self.sec])

    def clf(self):  # 26/Nov/2026:03:20:22 +0000
        return "%s:%s +0000" % (self.clf_day, self.hms[self.sec])

    def hdfs(self):  # 261126 032022
        return "%s %s" % (self.hdfs_day, self.hms_compact[self.sec])

    def hadoop(self):  # 2026-11-26 03:20:22,123
        return "%s %s,%03d" % (self.iso_day, self.hms[self.sec], self.ms)

    def ctime(self):  # Thu Nov 26 03:20:22 2026
        return "%s %s %04d" % (self.ctime_day, self.hms[self.sec], self.y)


class Population:
    """Who appears in the logs: tenants' terminals, servers, users, internet peers, names."""

    def __init__(self, rng):
        self.rng = rng
        r = rng
        # Tenant sizes: a few cities, many towns and villages (Zipf-like weights).
        self.tenants = ["t%02d" % i for i in range(1, 31)]
        w = [1.0 / (i + 1) ** 0.9 for i in range(30)]
        acc, self.tenant_cum = 0.0, []
        for x in w:
            acc += x
            self.tenant_cum.append(acc)
        self.tenant_total = acc
        self.popular = []
        while len(self.popular) < 5000:
            ip = self.random_public()
            self.popular.append(ip)
        pw = [1.0 / (i + 1) ** 1.1 for i in range(5000)]
        acc, self.popular_cum = 0.0, []
        for x in pw:
            acc += x
            self.popular_cum.append(acc)
        self.popular_total = acc
        words = ("shiyakusho kenko fukushi kosodate kankyo gomi bosai kanko shisetsu toshokan "
                 "gakko kyoiku suido zeimu koseki hoken nenkin jutaku doboku kotsu shinsei "
                 "news weather mail drive cdn api static img video shop bank map search login "
                 "portal update support docs blog forum cloud office sync auth").split()
        tlds = ["jp", "co.jp", "go.jp", "lg.jp", "ne.jp", "or.jp", "com", "net", "org", "io"]
        self.domains = []
        for i in range(4000):
            self.domains.append("%s%s.%s" % (r.choice(words), "" if i < 300 else str(i),
                                             r.choice(tlds)))
        dw = [1.0 / (i + 1) ** 1.0 for i in range(4000)]
        acc, self.domain_cum = 0.0, []
        for x in dw:
            acc += x
            self.domain_cum.append(acc)
        self.domain_total = acc
        self.users = (["tanaka", "suzuki", "sato", "takahashi", "watanabe", "ito", "yamamoto",
                       "nakamura", "kobayashi", "kato", "yoshida", "yamada", "sasaki", "yamaguchi",
                       "matsumoto", "inoue", "kimura", "hayashi", "shimizu", "saito"] +
                      ["user%03d" % i for i in range(200)])
        self.bad_users = ["root", "admin", "test", "oracle", "postgres", "ubuntu", "guest",
                          "ftpuser", "pi", "git", "user", "support", "webmaster", "mysql"]
        self.hosts = ["srv%02d-t%02d" % (i, t) for t in range(1, 31) for i in range(1, 9)]
        self.pcs = ["PC-%s-%04d" % (t, i) for t in self.tenants for i in range(60)]

    def bisect(self, cum, total):
        x = self.rng.random() * total
        lo, hi = 0, len(cum) - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if cum[mid] < x:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def tenant_index(self):
        return self.bisect(self.tenant_cum, self.tenant_total)

    def terminal(self, t=None):
        if t is None:
            t = self.tenant_index()
        r = self.rng.getrandbits(13)
        return "10.%d.%d.%d" % (t + 1, r >> 8, (r & 255) % 254 + 1)

    def server(self):
        t = self.tenant_index()
        return "10.%d.200.%d" % (t + 1, self.rng.getrandbits(3) + 10)

    def random_public(self):
        r = self.rng
        while True:
            a = r.randint(1, 223)
            if a in (10, 127, 100, 169, 172, 192, 198, 203, 0):
                continue
            return "%d.%d.%d.%d" % (a, r.getrandbits(8), r.getrandbits(8), r.randint(1, 254))

    def internet(self):
        if self.rng.random() < 0.5:
            return self.popular[self.bisect(self.popular_cum, self.popular_total)]
        return self.random_public()

    def domain(self):
        return self.domains[self.bisect(self.domain_cum, self.domain_total)]


UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Microsoft-CryptoAPI/10.0", "Windows-Update-Agent/10.0.10011.16384 Client-Protocol/2.50",
    "curl/7.88.1", "python-requests/2.31.0", "Go-http-client/1.1",
]
PATHS = ["/", "/index.html", "/favicon.ico", "/css/site.css", "/js/app.js", "/img/logo.png",
         "/api/v1/items", "/api/v1/login", "/search", "/news/2026/11/", "/kurashi/gomi/index.html",
         "/bosai/hinan.html", "/download/form.pdf", "/wp-login.php", "/.env", "/admin/",
         "/cgi-bin/luci", "/shinsei/online", "/robots.txt", "/sitemap.xml"]
CATEGORIES = ["news", "search", "government", "education", "shopping", "cdn", "webmail",
              "social-network", "video", "finance", "software-update", "unknown"]


def zipf_pick(rng, seq, s=1.0):
    # Cheap skewed pick: first elements far more likely.
    i = int(len(seq) * (rng.random() ** (2.5 * s)))
    return seq[i]


class Generator:
    def __init__(self, args):
        self.rng = random.Random(args.seed)
        self.pop = Population(self.rng)
        self.clock = Clock()
        self.seq = {}
        self.winlog_regression = self.load_regression(args.regression_dir)
        self.loghub = self.load_loghub(args.loghub_dir)

    # ---- templates from the shared data ----

    def load_regression(self, d):
        out = []
        for path in sorted(glob.glob(os.path.join(d, "**", "*.json"), recursive=True)):
            try:
                with open(path, encoding="utf-8") as f:
                    ev = json.load(f)
            except (OSError, ValueError):
                continue
            if not isinstance(ev, dict) or "Event" not in ev:
                continue
            sys_ = ev["Event"].get("System", {})
            if not isinstance(sys_.get("TimeCreated"), dict):
                continue
            sys_["TimeCreated"] = {"#attributes": {"SystemTime": "\x00T\x00"}}
            text = json.dumps(ev, ensure_ascii=False, separators=(",", ":"))
            out.append(text.split("\x00T\x00"))
        return out

    def load_loghub(self, d):
        found = {}
        for name in ("HDFS", "Hadoop", "Apache", "OpenSSH", "Linux"):
            path = os.path.join(d, name, name + "_2k.log")
            if os.path.exists(path):
                with open(path, encoding="utf-8", errors="replace") as f:
                    found[name] = [l.rstrip("\n") for l in f if l.strip()]
        return found

    # ---- one line per source ----

    def gen_seccloud_proxy(self, ip=None):
        r, p, c = self.rng, self.pop, self.clock
        t = p.tenant_index()
        src = ip or p.terminal(t)
        dom = p.domain()
        blocked = r.random() < 0.03
        method = "GET" if r.random() < 0.85 else ("POST" if r.random() < 0.8 else "CONNECT")
        status = 403 if blocked else zipf_pick(r, [200, 200, 304, 302, 404, 206, 500])
        path = zipf_pick(r, PATHS)
        scheme = "https" if r.random() < 0.9 else "http"
        cat = "malware" if blocked and r.random() < 0.2 else zipf_pick(r, CATEGORIES)
        self.seq["proxy"] = self.seq.get("proxy", 0) + 1
        tls = "intercepted" if scheme == "https" and r.random() < 0.7 else (
            "spliced" if scheme == "https" else "none")
        return ('{"@timestamp":"%s","event":{"dataset":"proxy.access","kind":"event",'
                '"category":["web","network"],"type":["access"],"action":"%s","outcome":"%s",'
                '"id":"%016x","duration":%d},"observer":{"name":"sc-node1","type":"proxy"},'
                '"tenant":{"id":"t%02d"},"client.ip":"10.%d.250.1","source":{"ip":"%s"},'
                '"seccloud":{"seq":%d,"attribution":"xff","url":{"category":"%s"},'
                '"tls":{"mode":"%s"},"verdict":{"action":"%s","layer":"common"}},'
                '"destination":{"ip":"%s","port":%d,"domain":"%s"},'
                '"http":{"request":{"method":"%s","bytes":%d},"response":{"status_code":%d,'
                '"bytes":%d}},"url":{"full":"%s://%s%s","domain":"%s"},'
                '"user_agent":{"original":"%s"}}') % (
            c.iso_ms(), "blocked" if blocked else "allowed", "failure" if blocked else "success",
            r.getrandbits(64), r.randint(200_000, 900_000_000), t + 1, t + 1, src,
            self.seq["proxy"], cat, tls, "block" if blocked else "allow", p.internet(),
            443 if scheme == "https" else 80, dom, method, r.randint(200, 2000), status,
            int(r.expovariate(1 / 30000)), scheme, dom, path, dom, zipf_pick(r, UAS))

    def gen_seccloud_dns(self, ip=None):
        r, p, c = self.rng, self.pop, self.clock
        t = p.tenant_index()
        qtype = zipf_pick(r, ["A", "AAAA", "HTTPS", "A", "PTR", "MX", "TXT"])
        dom = p.domain()
        name = dom if r.random() < 0.6 else "%s.%s" % (zipf_pick(r, ["www", "api", "cdn", "mail",
                                                                    "static", "img"]), dom)
        rcode = "NOERROR" if r.random() < 0.93 else "NXDOMAIN"
        self.seq["dns"] = self.seq.get("dns", 0) + 1
        rpz = r.random() < 0.002
        return ('{"@timestamp":"%s","event":{"dataset":"dns.query","kind":"event",'
                '"category":["network"],"type":["protocol"],"action":"%s","outcome":"success",'
                '"id":"%016x"},"observer":{"name":"sc-node1","type":"dns"},"tenant":{"id":"t%02d"},'
                '"client":{"ip":"%s"},"source":{"ip":"%s"},"dns":{"question":{"name":"%s",'
                '"type":"%s"},"response_code":"%s"%s},"seccloud":{"seq":%d,"dns":{"role":"resolver"%s}}}'
                ) % (
            c.iso_ms(), "blocked" if rpz else "answered", r.getrandbits(64), t + 1,
            ip or p.terminal(t), ip or p.terminal(t), name, qtype, rcode,
            (',"answers":[{"type":"A","data":"%s"}]' % p.internet()) if rcode == "NOERROR" and
            qtype == "A" else "", self.seq["dns"],
            ',"policy":"rpz-malware"' if rpz else "")

    def gen_seccloud_scan(self, ip=None):
        r, p, c = self.rng, self.pop, self.clock
        t = p.tenant_index()
        sig = zipf_pick(r, ["Win.Trojan.Agent-1234", "Eicar-Signature", "Doc.Dropper.Emotet-77",
                            "Js.Downloader.Nemucod-9", "YARA.SUSP_PowerShell_B64"])
        self.seq["scan"] = self.seq.get("scan", 0) + 1
        return ('{"@timestamp":"%s","event":{"dataset":"scan.detection","kind":"alert",'
                '"category":["malware"],"type":["info"],"action":"blocked","outcome":"success",'
                '"id":"%016x"},"observer":{"name":"sc-node1","type":"scan"},"tenant":{"id":"t%02d"},'
                '"source":{"ip":"%s"},"file":{"name":"%s","size":%d,"hash":{"sha256":"%064x"}},'
                '"seccloud":{"seq":%d,"scan":{"engine":"clamav","signature":"%s",'
                '"db_version":"27470"}}}') % (
            c.iso_ms(), r.getrandbits(64), t + 1, ip or p.terminal(t),
            zipf_pick(r, ["invoice.doc", "setup.exe", "report.zip", "photo.js", "update.ps1"]),
            r.randint(1000, 5_000_000), r.getrandbits(256), self.seq["scan"], sig)

    def gen_syslog(self, ip=None):
        r, p, c = self.rng, self.pop, self.clock
        host = zipf_pick(r, p.hosts)
        pid = r.randint(300, 65000)
        x = r.random()
        if x < 0.45:  # sshd
            y = r.random()
            if y < 0.55:
                msg = "sshd[%d]: Failed password for %s%s from %s port %d ssh2" % (
                    pid, "invalid user " if r.random() < 0.6 else "", zipf_pick(r, p.bad_users),
                    ip or p.internet(), r.randint(1024, 65535))
            elif y < 0.75:
                msg = "sshd[%d]: Accepted publickey for %s from %s port %d ssh2: ED25519 SHA256:%s" % (
                    pid, zipf_pick(r, p.users), ip or p.terminal(), r.randint(1024, 65535),
                    "%043x" % r.getrandbits(172))
            elif y < 0.9:
                msg = "sshd[%d]: Connection closed by %s port %d [preauth]" % (
                    pid, ip or p.internet(), r.randint(1024, 65535))
            else:
                msg = "sshd[%d]: pam_unix(sshd:session): session opened for user %s(uid=%d) by (uid=0)" % (
                    pid, zipf_pick(r, p.users), r.randint(1000, 1200))
        elif x < 0.6:  # sudo
            u = zipf_pick(r, p.users)
            msg = "sudo: %s : TTY=pts/%d ; PWD=/home/%s ; USER=root ; COMMAND=%s" % (
                u, r.randint(0, 5), u, zipf_pick(r, ["/usr/bin/systemctl restart nginx",
                                                     "/usr/bin/apt-get upgrade -y",
                                                     "/usr/bin/journalctl -u sshd",
                                                     "/bin/cat /var/log/auth.log",
                                                     "/usr/sbin/nft list ruleset"]))
        elif x < 0.9:  # kernel firewall (nftables log prefix, iptables-style fields)
            proto = "TCP" if r.random() < 0.8 else "UDP"
            msg = ("kernel: [%d.%06d] nft-drop IN=eth0 OUT= MAC=52:54:00:%02x:%02x:%02x:52:54:00:12:34:56:08:00 "
                   "SRC=%s DST=%s LEN=%d TOS=0x00 PREC=0x00 TTL=%d ID=%d %sPROTO=%s SPT=%d DPT=%d %s") % (
                r.randint(1000, 9_999_999), r.getrandbits(19), r.getrandbits(8), r.getrandbits(8),
                r.getrandbits(8), ip or p.internet(), p.server(), r.randint(40, 1500),
                r.randint(30, 128), r.getrandbits(16), "DF " if r.random() < 0.5 else "", proto,
                r.randint(1024, 65535), zipf_pick(r, [22, 23, 445, 3389, 80, 443, 8080, 53]),
                "WINDOW=64240 RES=0x00 SYN URGP=0" if proto == "TCP" else "LEN=%d" % r.randint(8, 512))
        else:  # cron and systemd chatter
            msg = zipf_pick(r, [
                "CRON[%d]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)" % pid,
                "systemd[1]: Started session-%d.scope - Session %d of User %s." % (
                    pid, pid, zipf_pick(r, p.users)),
                "systemd[1]: logrotate.service: Deactivated successfully.",
                "postfix/smtpd[%d]: connect from unknown[%s]" % (pid, p.internet())])
        return "%s %s %s" % (c.bsd(), host, msg)

    def gen_nginx(self, ip=None):
        r, p, c = self.rng, self.pop, self.clock
        client = ip or (p.internet() if r.random() < 0.7 else p.terminal())
        method = "GET" if r.random() < 0.9 else "POST"
        path = zipf_pick(r, PATHS)
        if r.random() < 0.3:
            path += "?id=%d" % r.randint(1, 99999)
        status = zipf_pick(r, [200, 200, 304, 404, 301, 403, 500])
        ref = "-" if r.random() < 0.5 else "https://www.city%02d.lg.jp/" % r.randint(1, 30)
        return '%s - - [%s] "%s %s HTTP/1.1" %d %d "%s" "%s"' % (
            client, c.clf(), method, path, status, int(r.expovariate(1 / 8000)), ref,
            zipf_pick(r, UAS))

    def gen_eve(self, ip=None):
        r, p, c = self.rng, self.pop, self.clock
        x = r.random()
        src = ip or p.terminal()
        dst = p.internet()
        flow_id = r.getrandbits(50)
        sport = r.randint(1024, 65535)
        if x < 0.6:
            proto = "TCP" if r.random() < 0.8 else "UDP"
            return ('{"timestamp":"%s","flow_id":%d,"in_iface":"eth1","event_type":"flow",'
                    '"src_ip":"%s","src_port":%d,"dest_ip":"%s","dest_port":%d,"proto":"%s",'
                    '"app_proto":"%s","flow":{"pkts_toserver":%d,"pkts_toclient":%d,'
                    '"bytes_toserver":%d,"bytes_toclient":%d,"start":"%s","end":"%s",'
                    '"age":%d,"state":"closed","reason":"timeout","alerted":false}}') % (
                c.eve(), flow_id, src, sport, dst, zipf_pick(r, [443, 80, 53, 123, 993, 8443]),
                proto, zipf_pick(r, ["tls", "http", "dns", "failed"]), r.randint(1, 400),
                r.randint(1, 800), r.randint(60, 90000), r.randint(60, 2_000_000), c.eve(),
                c.eve(), r.randint(0, 120))
        if x < 0.95:
            return ('{"timestamp":"%s","flow_id":%d,"in_iface":"eth1","event_type":"dns",'
                    '"src_ip":"%s","src_port":%d,"dest_ip":"10.%d.0.53","dest_port":53,'
                    '"proto":"UDP","dns":{"type":"query","id":%d,"rrname":"%s","rrtype":"%s",'
                    '"tx_id":0,"opcode":0}}') % (
                c.eve(), flow_id, src, sport, r.randint(1, 30), r.getrandbits(16), p.domain(),
                zipf_pick(r, ["A", "AAAA", "HTTPS"]))
        sig = zipf_pick(r, [
            (2013028, "ET POLICY curl User-Agent Outbound", "Attempted Information Leak", 2),
            (2027865, "ET INFO Observed DNS Query to .cloud TLD", "Potentially Bad Traffic", 2),
            (2001219, "ET SCAN Potential SSH Scan", "Attempted Information Leak", 2),
            (2024792, "ET MALWARE Win32/Emotet CnC Activity", "A Network Trojan was detected", 1),
            (2019401, "ET POLICY Vulnerable Java Version 1.8.x Detected", "Potential Corporate Privacy Violation", 1)])
        return ('{"timestamp":"%s","flow_id":%d,"in_iface":"eth1","event_type":"alert",'
                '"src_ip":"%s","src_port":%d,"dest_ip":"%s","dest_port":%d,"proto":"TCP",'
                '"alert":{"action":"allowed","gid":1,"signature_id":%d,"rev":%d,'
                '"signature":"%s","category":"%s","severity":%d},"app_proto":"http"}') % (
            c.eve(), flow_id, src, sport, dst, zipf_pick(r, [80, 443, 22, 8080]), sig[0],
            r.randint(1, 9), sig[1], sig[2], sig[3])

    def gen_windows(self, ip=None):
        r, p, c = self.rng, self.pop, self.clock
        if self.winlog_regression and r.random() < 0.0005 and ip is None:
            parts = self.winlog_regression[r.randrange(len(self.winlog_regression))]
            return c.win().join(parts)
        comp = zipf_pick(r, p.pcs)
        rec = r.randint(1, 9_999_999)
        x = r.random()
        if x < 0.35:
            eid, chan, prov = 4624, "Security", "Microsoft-Windows-Security-Auditing"
            data = ('"SubjectUserSid":"S-1-5-18","SubjectUserName":"%s$","SubjectDomainName":"LGWAN",'
                    '"TargetUserName":"%s","TargetDomainName":"LGWAN","LogonType":%d,'
                    '"LogonProcessName":"%s","AuthenticationPackageName":"%s",'
                    '"WorkstationName":"%s","IpAddress":"%s","IpPort":"%d"') % (
                comp, zipf_pick(r, p.users), zipf_pick(r, [3, 2, 10, 5, 7]),
                zipf_pick(r, ["NtLmSsp", "Kerberos", "User32"]),
                zipf_pick(r, ["NTLM", "Kerberos", "Negotiate"]), comp, ip or p.terminal(),
                r.randint(1024, 65535))
        elif x < 0.45:
            eid, chan, prov = 4625, "Security", "Microsoft-Windows-Security-Auditing"
            data = ('"TargetUserName":"%s","TargetDomainName":"LGWAN","Status":"0xc000006d",'
                    '"SubStatus":"0xc000006a","LogonType":3,"WorkstationName":"%s",'
                    '"IpAddress":"%s","IpPort":"%d"') % (
                zipf_pick(r, p.users + p.bad_users), comp, ip or p.terminal(),
                r.randint(1024, 65535))
        elif x < 0.7:
            eid, chan, prov = 1, "Microsoft-Windows-Sysmon/Operational", "Microsoft-Windows-Sysmon"
            img = zipf_pick(r, [r"C:\\Windows\\System32\\svchost.exe",
                                r"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
                                r"C:\\Windows\\explorer.exe", r"C:\\Windows\\System32\\conhost.exe",
                                r"C:\\Program Files\\Microsoft Office\\root\\Office16\\EXCEL.EXE",
                                r"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
                                r"C:\\Windows\\System32\\cmd.exe"])
            base = img.rsplit("\\", 1)[-1]
            data = ('"RuleName":"-","UtcTime":"%s","ProcessGuid":"{%08X-%04X-%04X-0000-0010%08X}",'
                    '"ProcessId":%d,"Image":"%s","FileVersion":"10.0.19041.1","Description":"%s",'
                    '"Product":"Microsoft Windows Operating System","Company":"Microsoft Corporation",'
                    '"OriginalFileName":"%s","CommandLine":"\\"%s\\" %s","CurrentDirectory":"C:\\\\Users\\\\%s\\\\",'
                    '"User":"LGWAN\\\\%s","LogonId":"0x%x","IntegrityLevel":"Medium",'
                    '"Hashes":"SHA256=%064X","ParentImage":"C:\\\\Windows\\\\explorer.exe",'
                    '"ParentCommandLine":"C:\\\\Windows\\\\Explorer.EXE"') % (
                c.win_utc(), r.getrandbits(32), r.getrandbits(16), r.getrandbits(16),
                r.getrandbits(32), r.randint(100, 60000), img, base, base, img,
                zipf_pick(r, ["", "--type=renderer", "-k netsvcs -p", "/c dir", "-NoProfile"]),
                zipf_pick(r, p.users), zipf_pick(r, p.users), r.getrandbits(24), r.getrandbits(256))
        elif x < 0.9:
            eid, chan, prov = 3, "Microsoft-Windows-Sysmon/Operational", "Microsoft-Windows-Sysmon"
            data = ('"RuleName":"-","UtcTime":"%s","ProcessId":%d,"Image":"%s","User":"LGWAN\\\\%s",'
                    '"Protocol":"tcp","Initiated":"true","SourceIsIpv6":"false","SourceIp":"%s",'
                    '"SourcePort":%d,"DestinationIsIpv6":"false","DestinationIp":"%s",'
                    '"DestinationPort":%d') % (
                c.win_utc(), r.randint(100, 60000),
                zipf_pick(r, [r"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
                              r"C:\\Windows\\System32\\svchost.exe",
                              r"C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE"]),
                zipf_pick(r, p.users), ip or p.terminal(), r.randint(1024, 65535), p.internet(),
                zipf_pick(r, [443, 80, 53, 445]))
        else:
            eid, chan, prov = 4688, "Security", "Microsoft-Windows-Security-Auditing"
            data = ('"SubjectUserName":"%s","SubjectDomainName":"LGWAN","NewProcessId":"0x%x",'
                    '"NewProcessName":"C:\\\\Windows\\\\System32\\\\%s","TokenElevationType":"%%%%1938",'
                    '"ProcessId":"0x%x","CommandLine":"","ParentProcessName":"C:\\\\Windows\\\\explorer.exe"'
                    ) % (zipf_pick(r, p.users), r.getrandbits(16),
                         zipf_pick(r, ["notepad.exe", "taskmgr.exe", "mmc.exe", "whoami.exe"]),
                         r.getrandbits(16))
        return ('{"Event":{"System":{"Provider":{"#attributes":{"Name":"%s"}},"EventID":%d,'
                '"Version":2,"Level":0,"Task":12544,"Keywords":"0x8020000000000000",'
                '"TimeCreated":{"#attributes":{"SystemTime":"%s"}},"EventRecordID":%d,'
                '"Channel":"%s","Computer":"%s.lgwan.local"},"EventData":{%s}}}') % (
            prov, eid, c.win(), rec, chan, comp, data)

    def lh(self, name):
        lines = self.loghub.get(name)
        return lines[self.rng.randrange(len(lines))] if lines else None

    def gen_loghub_hdfs(self, ip=None):
        r, c = self.rng, self.clock
        blk = "blk_%d" % (r.getrandbits(62) - (1 << 61))
        dn = ip or "10.250.%d.%d" % (r.randint(0, 20), r.randint(1, 254))
        x = r.random()
        if x < 0.3:
            body = "INFO dfs.DataNode$PacketResponder: PacketResponder %d for block %s terminating" % (
                r.randint(0, 2), blk)
        elif x < 0.55:
            body = "INFO dfs.DataNode$PacketResponder: Received block %s of size %d from /%s" % (
                blk, r.choice([67108864, r.randint(1000, 67108864)]), dn)
        elif x < 0.8:
            body = "INFO dfs.FSNamesystem: BLOCK* NameSystem.addStoredBlock: blockMap updated: %s:50010 is added to %s size %d" % (
                dn, blk, r.randint(1000, 67108864))
        elif x < 0.95:
            body = "INFO dfs.DataNode$DataXceiver: Receiving block %s src: /%s:%d dest: /%s:50010" % (
                blk, dn, r.randint(30000, 60000), dn)
        else:
            body = "WARN dfs.DataNode$DataXceiver: %s:50010:Got exception while serving %s to /%s:" % (
                dn, blk, dn)
        return "%s %d %s" % (c.hdfs(), r.randint(1, 40000), body)

    def gen_loghub_hadoop(self, ip=None):
        r, c = self.rng, self.clock
        app = "application_1445144423722_%04d" % r.randint(1, 9999)
        body = zipf_pick(r, [
            "INFO [main] org.apache.hadoop.mapreduce.v2.app.MRAppMaster: Created MRAppMaster for application appattempt_%s_000001" % app[12:],
            "INFO [RMCommunicator Allocator] org.apache.hadoop.mapreduce.v2.app.rm.RMContainerAllocator: Recalculating schedule, headroom=<memory:%d, vCores:-%d>" % (r.randint(0, 9000), r.randint(0, 30)),
            "INFO [AsyncDispatcher event handler] org.apache.hadoop.mapreduce.v2.app.job.impl.TaskAttemptImpl: attempt_1445144423722_0020_m_%06d_0 TaskAttempt Transitioned from NEW to UNASSIGNED" % r.randint(0, 99),
            "WARN [LeaseRenewer:msrabi@msra-sa-41:9000] org.apache.hadoop.hdfs.LeaseRenewer: Failed to renew lease for [DFSClient_NONMAPREDUCE_1537864556_1] for %d seconds.  Will retry shortly ..." % r.randint(1, 600),
            "ERROR [RMCommunicator Allocator] org.apache.hadoop.mapreduce.v2.app.rm.RMContainerAllocator: ERROR IN CONTACTING RM. ",
            "INFO [IPC Server handler %d on 62270] org.apache.hadoop.mapred.TaskAttemptListenerImpl: Progress of TaskAttempt attempt_1445144423722_0020_m_%06d_0 is : %.7f" % (r.randint(0, 29), r.randint(0, 99), r.random())])
        return "%s %s" % (c.hadoop(), body)

    def gen_loghub_apache(self, ip=None):
        r, p, c = self.rng, self.pop, self.clock
        x = r.random()
        if x < 0.4:
            body = "[notice] jk2_init() Found child %d in scoreboard slot %d" % (
                r.randint(1000, 32000), r.randint(5, 12))
        elif x < 0.7:
            body = "[notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties"
        elif x < 0.9:
            body = "[error] [client %s] Directory index forbidden by rule: /var/www/html/" % (
                ip or p.internet())
        else:
            body = "[error] mod_jk child workerEnv in error state %d" % r.randint(6, 9)
        return "[%s] %s" % (c.ctime(), body)

    def gen_loghub_openssh(self, ip=None):
        r, p, c = self.rng, self.pop, self.clock
        pid = r.randint(1000, 32000)
        a = ip or p.internet()
        body = zipf_pick(r, [
            "Invalid user %s from %s" % (zipf_pick(r, p.bad_users), a),
            "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=%s" % a,
            "Failed password for invalid user %s from %s port %d ssh2" % (zipf_pick(r, p.bad_users), a, r.randint(1024, 65535)),
            "Received disconnect from %s: 11: Bye Bye [preauth]" % a,
            "reverse mapping checking getaddrinfo for %d-%d-%d-%d.static.example.net [%s] failed - POSSIBLE BREAK-IN ATTEMPT!" % (r.getrandbits(8), r.getrandbits(8), r.getrandbits(8), r.getrandbits(8), a),
            "pam_unix(sshd:auth): check pass; user unknown"])
        return "%s LabSZ sshd[%d]: %s" % (c.bsd(), pid, body)

    def gen_loghub_linux(self, ip=None):
        r, p, c = self.rng, self.pop, self.clock
        pid = r.randint(1000, 32000)
        body = zipf_pick(r, [
            "sshd(pam_unix)[%d]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=%s  user=root" % (pid, ip or p.internet()),
            "su(pam_unix)[%d]: session opened for user news by (uid=0)" % pid,
            "su(pam_unix)[%d]: session closed for user news" % pid,
            "logrotate: ALERT exited abnormally with [1]",
            "ftpd[%d]: connection from %s () at %s" % (pid, ip or p.internet(), c.ctime()),
            "kernel: Memory: 125312k/129720k available (1540k kernel code, 2860k reserved, 599k data, 144k init, 0k highmem)",
            "cups: cupsd shutdown succeeded"])
        return "%s combo %s" % (c.bsd(), body)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    shared = os.path.normpath(os.path.join(here, "..", "..", "shared", "data"))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    size = ap.add_mutually_exclusive_group(required=True)
    size.add_argument("--bytes", type=int)
    size.add_argument("--gb", type=float, help="GiB of raw logs")
    size.add_argument("--records", type=int)
    ap.add_argument("--days", type=float, default=30)
    ap.add_argument("--end", default="2026-11-01T00:00:00Z", help="end of the span (UTC)")
    ap.add_argument("--seed", type=int, default=18)
    ap.add_argument("--needle-count", type=int, default=5)
    ap.add_argument("--sources", help="comma-separated subset of the sources (default: all)")
    ap.add_argument("--regression-dir", default=os.path.join(shared, "sigma", "regression_data"))
    ap.add_argument("--loghub-dir", default=os.path.join(shared, "logs", "loghub"))
    args = ap.parse_args()

    target_bytes = args.bytes or (int(args.gb * (1 << 30)) if args.gb else None)
    # Records are generated in time order; the span is laid out for an estimated record count
    # (a pilot of 20,000 records measures the mean line size) and generation stops at the size.
    g = Generator(args)
    sources = SOURCES
    if args.sources:
        wanted = args.sources.split(",")
        unknown = set(wanted) - {s[0] for s in SOURCES}
        if unknown:
            ap.error("unknown sources: %s" % ", ".join(sorted(unknown)))
        sources = [s for s in SOURCES if s[0] in wanted]
    names = [s[0] for s in sources]
    cum, acc = [], 0
    for s in sources:
        acc += s[3]
        cum.append(acc)
    total_w = acc
    fns = [getattr(g, "gen_" + n.replace("-", "_")) for n in names]

    def pick(x):
        v = x * total_w
        for i, c in enumerate(cum):
            if v < c:
                return i
        return len(cum) - 1

    end_ms = calendar.timegm(time.strptime(args.end, "%Y-%m-%dT%H:%M:%SZ")) * 1000
    span_ms = int(args.days * 86_400_000)
    start_ms = end_ms - span_ms
    if args.records:
        n_est = args.records
    else:
        pilot_rng = random.Random(args.seed + 1)
        saved = g.rng
        g.rng = pilot_rng
        g.pop.rng = pilot_rng
        g.clock.set(start_ms)
        tot = 0
        for _ in range(20000):
            tot += len(fns[pick(pilot_rng.random())]()) + 1
        g.rng = saved
        g.pop.rng = saved
        g.seq = {}
        n_est = max(1, int(target_bytes / (tot / 20000)))

    os.makedirs(args.out, exist_ok=True)
    files = [open(os.path.join(args.out, s[1]), "w", encoding="utf-8", buffering=1 << 20)
             for s in sources]
    bufs = [[] for _ in sources]
    lines = [0] * len(sources)
    nbytes = [0] * len(sources)
    # The needle: records k * n / (count + 1), rotating over sources that carry an IP.
    needle_at = {int((k + 1) * n_est / (args.needle_count + 1)): k for k in range(args.needle_count)}
    needle_sources = [n for n in ["syslog", "nginx", "seccloud-proxy", "eve", "loghub-openssh",
                                  "windows", "seccloud-dns"] if n in names] or names
    needles = []
    rng = g.rng
    step = span_ms / n_est
    written = 0
    i = 0
    t0 = time.time()
    while True:
        if args.records is not None:
            if i >= args.records:
                break
        elif written >= target_bytes:
            break
        t_ms = start_ms + int(i * step) + (rng.getrandbits(10) % max(1, int(step)))
        if t_ms >= end_ms:
            t_ms = end_ms - 1
        g.clock.set(t_ms)
        k = needle_at.get(i)
        if k is not None:
            si = names.index(needle_sources[k % len(needle_sources)])
            line = fns[si](NEEDLE)
            needles.append({"source": names[si], "line": lines[si] + 1, "time_ms": t_ms})
        else:
            si = pick(rng.random())
            line = fns[si]()
        b = bufs[si]
        b.append(line)
        lines[si] += 1
        n = len(line.encode("utf-8")) + 1 if not line.isascii() else len(line) + 1
        nbytes[si] += n
        written += n
        if len(b) >= 4096:
            b.append("")
            files[si].write("\n".join(b))
            b.clear()
        i += 1
    for si, f in enumerate(files):
        if bufs[si]:
            bufs[si].append("")
            f.write("\n".join(bufs[si]))
        f.close()
    elapsed = time.time() - t0
    manifest = {
        "generator": "bench/loggen.py",
        "seed": args.seed,
        "span": {"start_ms": start_ms, "end_ms": end_ms, "days": args.days},
        "records": i,
        "bytes": written,
        "needle": {"ip": NEEDLE, "records": needles},
        "loghub_templates": sorted(g.loghub) or "built-in (no Loghub *_2k.log samples found)",
        "windows_regression_templates": len(g.winlog_regression),
        "files": [{"source": s[0], "path": s[1], "format": s[2], "lines": lines[j],
                   "bytes": nbytes[j]} for j, s in enumerate(sources)],
    }
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print("loggen: %d records, %.1f MiB in %.1f s (%.0f records/s) -> %s" % (
        i, written / (1 << 20), elapsed, i / max(elapsed, 1e-9), args.out), file=sys.stderr)


if __name__ == "__main__":
    main()
