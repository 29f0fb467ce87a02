#!/usr/bin/env python3
"""R18: a seccloud-format intel feed taken from a soc_store_bench data set.

IPs, /24s, names, URLs and hashes seen in the data, every k-th in sorted order, plus a few broad
parents, so that `soc_store_bench --intel-feed FILE --dump-detections OUT` makes intel fire
~50,000 times on /tmp/socbench-small instead of twice: two builds' dumps then compare intel
matching for real.

    bench/intel_feed_from_data.py [DATA_DIR] > feed.txt
"""
import json
import os
import re
import sys

IPV4 = re.compile(r'^(\d{1,3}\.){3}\d{1,3}$')
IPV6 = re.compile(r'^[0-9a-fA-F:]+$')
HASH = re.compile(r'^[0-9a-fA-F]{32}$|^[0-9a-fA-F]{40}$|^[0-9a-fA-F]{64}$')
URL = re.compile(r'^[a-z]+://')
NAME = re.compile(r'^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+$')
NAME_KEYS = ('domain', 'name', 'rrname', 'host', 'server')
SYSMON_HASH = re.compile(r'(?:MD5|SHA1|SHA256|IMPHASH)=([0-9A-Fa-f]+)')  # "SHA256=…,MD5=…"
JSON_FILES = ('seccloud-proxy.ndjson', 'seccloud-dns.ndjson', 'eve.json', 'windows.json',
              'seccloud-scan.ndjson')


class Seen:
    def __init__(self):
        self.ips, self.names, self.urls, self.hashes = set(), set(), set(), set()

    def walk(self, value, key=''):
        if isinstance(value, dict):
            for k, x in value.items():
                self.walk(x, key + '.' + k if key else k)
        elif isinstance(value, list):
            for x in value:
                self.walk(x, key)
        elif isinstance(value, str):
            self.string(value, key)

    def string(self, v, key):
        if IPV4.match(v) or (':' in v and IPV6.match(v) and v.count(':') >= 2):
            self.ips.add(v)
        elif HASH.match(v):
            self.hashes.add(v)
        elif URL.match(v):
            self.urls.add(v)
        elif NAME.match(v) and any(s in key.lower() for s in NAME_KEYS):
            self.names.add(v)
        for m in SYSMON_HASH.finditer(v):
            self.hashes.add(m.group(1))


def pick(values, step):
    return sorted(values)[::step]


def main():
    data = sys.argv[1] if len(sys.argv) > 1 else '/tmp/socbench-small'
    seen = Seen()
    for name in JSON_FILES:
        path = os.path.join(data, name)
        if not os.path.exists(path):
            continue
        with open(path, errors='replace') as f:
            for line in f:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line that is not JSON has no indicators for this feed
                seen.walk(record)
    access = os.path.join(data, 'nginx-access.log')
    if os.path.exists(access):
        with open(access, errors='replace') as f:
            for line in f:
                ip = line.split(' ', 1)[0]
                if IPV4.match(ip):
                    seen.ips.add(ip)
    print(len(seen.ips), len(seen.names), len(seen.urls), len(seen.hashes), file=sys.stderr)
    v4 = [i for i in seen.ips if IPV4.match(i)]
    out = ['# addresses seen in the data']
    out += pick(seen.ips, max(1, len(seen.ips) // 3000))
    out.append('')
    out += [ip.rsplit('.', 1)[0] + '.0/24 # a /24 of the data'
            for ip in pick(v4, max(1, len(seen.ips) // 40))]
    out.append('')
    out.append('# names seen in the data')
    out += pick(seen.names, max(1, len(seen.names) // 2000))
    out.append('')
    out += pick(seen.urls, max(1, len(seen.urls) // 500))
    out.append('')
    out += [h + ' # a hash of the data'
            for h in pick(seen.hashes, max(1, len(seen.hashes) // 300)) if len(h) in (32, 40, 64)]
    out += ['', '# broad parents', 'lg.jp', 'bosai.co.jp', '10.3.0.0/16']
    print('\n'.join(out))


if __name__ == '__main__':
    main()
