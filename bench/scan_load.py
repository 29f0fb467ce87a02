#!/usr/bin/env python3
"""A steady scan load on scand (SCAN + chunks) or clamd (zINSTREAM + chunks): CONNECTIONS
clients each stream FILE, wait for the answer, and start again, for SECONDS. Prints one JSON line:
scans answered, refused (connection refused/reset, no answer, or an error verdict), detections,
and the latency p50/p99/max in milliseconds. The signature-swap benchmark and the mirror
integration test both use it, so scand and clamd see the same load generator.

Usage: scan_load.py scand|clamd SOCKET FILE CONNECTIONS SECONDS [EXPECT]
EXPECT: a substring every answer must contain to count as an answer (e.g. a signature name);
answers without it count as refused ("wrong")."""
import json, socket, struct, sys, threading, time

kind, path, file_path, conns, seconds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
expect = sys.argv[6].encode() if len(sys.argv) > 6 else None
data = open(file_path, "rb").read()
header = b"SCAN\n" if kind == "scand" else b"zINSTREAM\0"


def scan_once():
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(60)
    try:
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
        return answer
    except OSError as e:
        return b"refused: " + str(e).encode()
    finally:
        s.close()


def good(answer):
    if kind == "scand":
        ok = answer.startswith(b"{") and b'"result":"error"' not in answer
    else:
        ok = answer.startswith(b"stream:") and not answer.rstrip(b"\0\n").endswith(b"ERROR")
    return ok and (expect is None or expect in answer)


lock = threading.Lock()
latencies, refused, found, samples = [], [0], [0], []
deadline = time.monotonic() + seconds


def worker():
    while time.monotonic() < deadline:
        t0 = time.perf_counter()
        a = scan_once()
        dt = (time.perf_counter() - t0) * 1000
        with lock:
            if good(a):
                latencies.append(dt)
                if b"infected" in a or b"FOUND" in a:
                    found[0] += 1
            else:
                refused[0] += 1
                if len(samples) < 3:
                    samples.append(a[:200].decode(errors="replace"))


threads = [threading.Thread(target=worker) for _ in range(conns)]
for t in threads:
    t.start()
for t in threads:
    t.join()
latencies.sort()


def pct(p):
    if not latencies:
        return 0.0
    return round(latencies[min(len(latencies) - 1, int(len(latencies) * p))], 2)


print(json.dumps({"target": kind, "scans": len(latencies), "refused": refused[0], "detections": found[0],
                  "p50_ms": pct(0.50), "p99_ms": pct(0.99), "max_ms": round(latencies[-1], 2) if latencies else 0.0,
                  "refused_samples": samples}))
