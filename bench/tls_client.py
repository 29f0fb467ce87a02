#!/usr/bin/env python3
"""HTTPS-through-a-proxy load generator (R3/R9 benchmark; stdlib only, asyncio + ssl).

Each of CONNECTIONS loops opens a TCP connection to the proxy, sends CONNECT HOST:PORT, waits for
200, does a TLS handshake inside the tunnel (SNI = HOST, verified against --cafile) and then
  --mode keepalive: sends GET requests one after another on that tunnel until the time is up;
  --mode newconn:   sends one GET (Connection: close) and starts over with a new CONNECT.
Responses are read whole (Content-Length or chunked) and their size checked. Latency is per
request: from sending the GET to the last body byte (keepalive), or from opening the TCP
connection to the last body byte (newconn: CONNECT + handshake + request).

--procs P splits the connections over P processes (one event loop each) so that the client is
less of a bottleneck. Prints one line of JSON: requests, errors, seconds, rps, p50_ms, p99_ms,
client_cpu_s (this generator's own CPU time, to see when it is the bottleneck).
"""
import argparse, asyncio, json, multiprocessing, os, resource, ssl, sys, time


def parse_args():
    a = argparse.ArgumentParser()
    a.add_argument("--proxy", required=True, help="host:port of the proxy")
    a.add_argument("--target", required=True, help="host:port to CONNECT to (host is the SNI)")
    a.add_argument("--path", default="/1k")
    a.add_argument("--cafile", required=True, help="roots that verify the certificate we see")
    a.add_argument("--size", type=int, required=True, help="expected body size")
    a.add_argument("--connections", type=int, default=32)
    a.add_argument("--seconds", type=float, default=10)
    a.add_argument("--mode", choices=["keepalive", "newconn"], default="keepalive")
    a.add_argument("--procs", type=int, default=1)
    return a.parse_args()


async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, chunked = None, False
    for line in lines[1:]:
        k, _, v = line.partition(":")
        k = k.strip().lower()
        if k == "content-length":
            length = int(v)
        elif k == "transfer-encoding" and "chunked" in v.lower():
            chunked = True
    n = 0
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # no trailers expected
                break
            n += len(await reader.readexactly(size + 2)) - 2
    elif length is not None:
        n = len(await reader.readexactly(length))
    else:
        n = len(await reader.read())
    return status, n


async def open_tunnel(args, ctx):
    phost, pport = args.proxy.rsplit(":", 1)
    host = args.target.rsplit(":", 1)[0]
    reader, writer = await asyncio.open_connection(phost, int(pport))
    writer.write(f"CONNECT {args.target} HTTP/1.1\r\nHost: {args.target}\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200") and not head.startswith(b"HTTP/1.0 200"):
        raise RuntimeError("CONNECT refused: " + head.split(b"\r\n")[0].decode("latin-1"))
    await writer.start_tls(ctx, server_hostname=host)
    return reader, writer


async def worker(args, ctx, deadline, lat, counts):
    name, port = args.target.rsplit(":", 1)
    host = name if port == "443" else args.target  # the Host header names a non-default port
    keep = f"GET {args.path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: tls_client\r\n\r\n".encode()
    close = (f"GET {args.path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: tls_client\r\n"
             "Connection: close\r\n\r\n").encode()
    while time.monotonic() < deadline:
        writer = None
        try:
            t0 = time.monotonic()
            reader, writer = await open_tunnel(args, ctx)
            while time.monotonic() < deadline:
                if args.mode == "keepalive":
                    t0 = time.monotonic()
                writer.write(keep if args.mode == "keepalive" else close)
                status, n = await read_response(reader)
                t1 = time.monotonic()
                if status != 200 or n != args.size:
                    raise RuntimeError(f"status {status}, {n} bytes")
                if t1 <= deadline:
                    lat.append(t1 - t0)
                if args.mode == "newconn":
                    break
        except Exception as e:  # noqa: BLE001 - every failure is counted and reported
            if time.monotonic() < deadline:
                counts["errors"] += 1
                counts.setdefault("first_error", repr(e))
                await asyncio.sleep(0.01)
        finally:
            if writer is not None:
                writer.transport.abort()  # no close_notify wait: neither side needs it


async def run(args, connections):
    ctx = ssl.create_default_context(cafile=args.cafile)
    ctx.set_alpn_protocols(["http/1.1"])
    lat, counts = [], {"errors": 0}
    start = time.monotonic()
    deadline = start + args.seconds
    await asyncio.gather(*(worker(args, ctx, deadline, lat, counts) for _ in range(connections)))
    return lat, counts, args.seconds


def child(args, connections, q):
    lat, counts, secs = asyncio.run(run(args, connections))
    q.put((lat, counts))


def main():
    args = parse_args()
    procs = max(1, min(args.procs, args.connections))
    share = [args.connections // procs + (1 if i < args.connections % procs else 0)
             for i in range(procs)]
    if procs == 1:
        lat, counts, _ = asyncio.run(run(args, args.connections))
        results = [(lat, counts)]
    else:
        q = multiprocessing.Queue()
        ps = [multiprocessing.Process(target=child, args=(args, s, q)) for s in share]
        for p in ps:
            p.start()
        results = [q.get() for _ in ps]
        for p in ps:
            p.join()
    lat = sorted(x for r in results for x in r[0])
    errors = sum(r[1]["errors"] for r in results)
    first = next((r[1]["first_error"] for r in results if "first_error" in r[1]), None)
    pct = lambda q: round(lat[min(len(lat) - 1, int(q * len(lat)))] * 1000, 3) if lat else None
    out = {"requests": len(lat), "errors": errors, "seconds": args.seconds,
           "rps": round(len(lat) / args.seconds, 1), "p50_ms": pct(0.50), "p99_ms": pct(0.99)}
    ru = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    out["client_cpu_s"] = round(sum(r.ru_utime + r.ru_stime for r in ru), 2)  # incl. start-up
    if first:
        out["first_error"] = first
    print(json.dumps(out))


if __name__ == "__main__":
    main()
