#!/usr/bin/env python3
# R18: a seccloud-format intel feed taken from a soc_store_bench data set (IPs, /24s, names, URLs and
# hashes seen in it, every k-th in sorted order, plus a few broad parents), so that
# `soc_store_bench --intel-feed FILE --dump-detections OUT` makes intel fire ~50,000 times on
# /tmp/socbench-small instead of twice: two builds' dumps then compare intel matching for real.
#   bench/intel_feed_from_data.py [DATA_DIR] > feed.txt
import json, re, sys, glob, os
d=sys.argv[1] if len(sys.argv) > 1 else '/tmp/socbench-small'
ips=set(); doms=set(); urls=set(); hashes=set()
ipre=re.compile(r'^(\d{1,3}\.){3}\d{1,3}$')
def walk(v,key=''):
    if isinstance(v,dict):
        for k,x in v.items(): walk(x,(key+'.'+k) if key else k)
    elif isinstance(v,list):
        for x in v: walk(x,key)
    elif isinstance(v,str):
        if ipre.match(v) or (':' in v and re.match(r'^[0-9a-fA-F:]+$',v) and v.count(':')>=2): ips.add(v)
        elif re.match(r'^[0-9a-fA-F]{32}$|^[0-9a-fA-F]{40}$|^[0-9a-fA-F]{64}$',v): hashes.add(v)
        elif re.match(r'^[a-z]+://',v): urls.add(v)
        elif re.match(r'^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+$',v) and not ipre.match(v) and any(s in key.lower() for s in ('domain','name','rrname','host','server')): doms.add(v)
        # hashes inside "SHA256=...,MD5=..." (Sysmon Hashes)
        for m in re.finditer(r'(?:MD5|SHA1|SHA256|IMPHASH)=([0-9A-Fa-f]+)',v): hashes.add(m.group(1))
for f in ['seccloud-proxy.ndjson','seccloud-dns.ndjson','eve.json','windows.json','seccloud-scan.ndjson']:
    p=os.path.join(d,f)
    if not os.path.exists(p): continue
    for line in open(p,errors='replace'):
        try: walk(json.loads(line))
        except Exception: pass
for line in open(os.path.join(d,'nginx-access.log'),errors='replace'):
    ip=line.split(' ',1)[0]
    if ipre.match(ip): ips.add(ip)
def pick(s,step): return sorted(s)[::step]
out=[]
print(len(ips),len(doms),len(urls),len(hashes),file=sys.stderr)
out.append('# addresses seen in the data')
out+= pick(ips, max(1,len(ips)//3000))
out.append('')
out+= [ip.rsplit('.',1)[0]+'.0/24 # a /24 of the data' for ip in pick([i for i in ips if ipre.match(i)], max(1,len(ips)//40))]
out.append('')
out.append('# names seen in the data')
out+= pick(doms, max(1,len(doms)//2000))
out.append('')
out+= pick(urls, max(1,len(urls)//500))
out.append('')
out+= [h+' # a hash of the data' for h in pick(hashes, max(1,len(hashes)//300)) if len(h) in (32,40,64)]
print('\n'.join(out))
print('')
print('# broad parents')
print('lg.jp')
print('bosai.co.jp')
print('10.3.0.0/16')
