#!/usr/bin/env python3
"""Generates the mixed corpus of bench/scan_vs_clamd.sh: text, HTML, PNG- and JPEG-shaped
binaries, ZIP archives, small PDFs; fixed seed. Usage: make_scan_corpus.py DIR MEGABYTES"""
import io, os, random, sys, zipfile, zlib, struct

out, megabytes = sys.argv[1], int(sys.argv[2])
os.makedirs(out, exist_ok=True)
rng = random.Random(8)
words = ("住民 申請 窓口 議会 予算 the of and municipal office budget council report tax "
         "health school water road park library notice meeting minutes").split()

def text(n):
    return " ".join(rng.choice(words) for _ in range(n // 6)).encode()

def html(n):
    body = b"".join(b"<p>" + text(200) + b"</p>\n" for _ in range(max(1, n // 220)))
    return b"<!doctype html><html><head><title>x</title><script>var a=1;</script></head><body>" + body + b"</body></html>"

def png(n):
    raw = rng.randbytes(n)
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 256, max(1, n // 768), 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b"")

def jpeg(n):
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + rng.randbytes(n) + b"\xff\xd9"

def zipped(n):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(rng.randint(1, 8)):
            z.writestr(f"doc{i}.txt", text(n // 4))
            if i % 3 == 0:
                z.writestr(f"img{i}.jpg", jpeg(n // 8))
    return b.getvalue()

def pdf(n):
    stream = zlib.compress(text(n))
    return (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
            b"3 0 obj<</Type/Page/Parent 2 0 R/Contents 4 0 R>>endobj\n4 0 obj<</Length " + str(len(stream)).encode() +
            b"/Filter/FlateDecode>>stream\n" + stream + b"\nendstream endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")

kinds = [("txt", text, 0.25), ("html", html, 0.25), ("png", png, 0.15), ("jpg", jpeg, 0.15), ("zip", zipped, 0.12), ("pdf", pdf, 0.08)]
total, target, i = 0, megabytes << 20, 0
while total < target:
    r, acc = rng.random(), 0
    for ext, fn, share in kinds:
        acc += share
        if r <= acc:
            break
    size = int(rng.lognormvariate(10.5, 1.3))  # median ~36 KB, long tail
    size = max(200, min(size, 8 << 20))
    data = fn(size)
    with open(os.path.join(out, f"f{i:06d}.{ext}"), "wb") as f:
        f.write(data)
    total += len(data)
    i += 1
print(f"make_scan_corpus: {i} files, {total / 1e6:.1f} MB in {out}")
