#!/usr/bin/env python3
"""The benchmark client: streams every file of a corpus to scand (SCAN + chunks) and to clamd
(zINSTREAM + chunks), one connection per file, N concurrent connections; the same chunking
(64 KiB, 4-byte big-endian lengths, zero-length end) for both. Each file is read into memory
before the clock starts. Usage: stream_client.py CORPUS SCAND_SOCKET CLAMD_SOCKET CONNECTIONS"""
import os, socket, struct, sys, threading, time

corpus, scand_sock, clamd_sock, conns = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
files = sorted(os.path.join(corpus, f) for f in os.listdir(corpus))
blobs = [open(f, "rb").read() for f in files]
total = sum(len(b) for b in blobs)

def stream(path, header, data):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.sendall(header)
    for i in range(0, len(data), 65536):
        c = data[i:i + 65536]
        s.sendall(struct.pack(">I", len(c)) + c)
    s.sendall(b"\0\0\0\0")
    answer = b""
    while not answer.endswith((b"\n", b"\0")):
        r = s.recv(4096)
        if not r:
            break
        answer += r
    s.close()
    return answer

def run(name, path, header, found):
    idx, lock, hits, errors = [0], threading.Lock(), [0], [0]
    def worker():
        while True:
            with lock:
                i = idx[0]; idx[0] += 1
            if i >= len(blobs):
                return
            a = stream(path, header, blobs[i])
            if found(a):
                hits[0] += 1
            elif b"error" in a.lower() and b'"result":"clean"' not in a:
                errors[0] += 1
    t0 = time.perf_counter()
    ts = [threading.Thread(target=worker) for _ in range(conns)]
    for t in ts: t.start()
    for t in ts: t.join()
    dt = time.perf_counter() - t0
    print(f"{name:8s} {total / dt / 1e6:8.1f} MB/s {len(blobs) / dt:9.1f} files/s  {dt:6.2f} s  detections {hits[0]}  errors {errors[0]}")
    return dt

# Warm-up (page cache, lazy initialisation), then alternate the two twice and keep the best.
for p, h in ((scand_sock, b"SCAN\n"), (clamd_sock, b"zINSTREAM\0")):
    stream(p, h, b"warm-up")
best = {}
for _ in range(2):
    best["scand"] = min(best.get("scand", 1e9), run("scand", scand_sock, b"SCAN\n", lambda a: b'"result":"infected"' in a or b'"result":"suspicious"' in a))
    best["clamd"] = min(best.get("clamd", 1e9), run("clamd", clamd_sock, b"zINSTREAM\0", lambda a: a.rstrip(b"\0\n").endswith(b"FOUND")))
print(f"ratio scand/clamd throughput (best of 2): {best['clamd'] / best['scand']:.2f}x")
