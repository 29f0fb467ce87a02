#!/usr/bin/env python3
"""HTTP file server for the lab tests (row R0/R26): serves DIR on BIND:PORT and logs one line per
request to stderr, beginning with the peer address the kernel handed to accept().

Unlike `python3 -m http.server` it does no reverse-DNS lookup of its own address on start-up: inside
a lab namespace that lookup would wait for a resolver that the lab deliberately cannot reach.
"""
import functools
import http.server
import socket
import socketserver
import sys


class Server(http.server.ThreadingHTTPServer):
    def server_bind(self):
        socketserver.TCPServer.server_bind(self)  # skip HTTPServer's getfqdn()
        self.server_name, self.server_port = self.server_address[:2]


def main() -> int:
    if len(sys.argv) != 4:
        print("usage: lab_http_server.py BIND PORT DIR", file=sys.stderr)
        return 2
    bind, port, root = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    Server.address_family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=root)
    with Server((bind, port), handler) as httpd:
        print(f"listening on {bind} port {port}", file=sys.stderr, flush=True)
        httpd.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
