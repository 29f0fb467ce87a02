#!/usr/bin/env python3
"""R18 benchmark load generator: pushes a file of newline-framed syslog lines over one TCP
connection as fast as the receiver takes them, then waits until the receiver reports it has all
of them, and prints one JSON line: lines, bytes, send seconds, total seconds (until complete).

The whole file is read into memory first and sent in 1 MiB writes cut at line boundaries, so the
sender costs almost no CPU per line (sendall of large buffers) and is the same for every receiver.

  soc_tcp_sender.py --port P --file F --done-cmd 'CMD'   # CMD prints the receiver's count
  --count-mode lines|bytes    what CMD prints (records stored, or bytes written)
"""

import argparse
import json
import socket
import subprocess
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--file", required=True)
    ap.add_argument("--done-cmd", required=True,
                    help="shell command printing the receiver's progress (a number)")
    ap.add_argument("--count-mode", choices=["lines", "bytes"], default="lines")
    ap.add_argument("--baseline", type=int, default=0, help="the progress value before sending")
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--poll", type=float, default=0.05)
    args = ap.parse_args()

    with open(args.file, "rb") as f:
        data = f.read()
    if not data.endswith(b"\n"):
        data += b"\n"
    lines = data.count(b"\n")
    target = args.baseline + (lines if args.count_mode == "lines" else len(data))

    chunks = []
    pos = 0
    while pos < len(data):
        end = min(len(data), pos + (1 << 20))
        if end < len(data):
            end = data.rindex(b"\n", pos, end) + 1
        chunks.append(memoryview(data)[pos:end])
        pos = end

    s = socket.create_connection((args.host, args.port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    t0 = time.monotonic()
    for c in chunks:
        s.sendall(c)
    t_sent = time.monotonic() - t0

    def progress():
        out = subprocess.run(args.done_cmd, shell=True, capture_output=True, text=True).stdout
        try:
            return int(out.strip() or 0)
        except ValueError:
            return 0

    have = 0
    while True:
        have = progress()
        if have >= target:
            break
        if time.monotonic() - t0 > args.timeout:
            print("soc_tcp_sender: timeout: receiver has %d of %d" % (have - args.baseline,
                                                                     target - args.baseline),
                  file=sys.stderr)
            sys.exit(1)
        time.sleep(args.poll)
    total = time.monotonic() - t0
    s.close()
    print(json.dumps({"lines": lines, "bytes": len(data), "send_s": round(t_sent, 3),
                      "total_s": round(total, 3), "received": have - args.baseline}))


if __name__ == "__main__":
    main()
