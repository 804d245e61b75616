#!/usr/bin/env python3
"""tests/examples/webclient.py - an HTTPS client for the web example's tests.

Usage: webclient.py PORT CAFILE MODE [ARGS]
CAFILE "-": plain HTTP (the web domain's own TCP listener), not HTTPS.
  load CONNS REQUESTS   open CONNS keep-alive connections at once, then send
                        REQUESTS requests spread over them (PUT then GET of
                        unique keys, pages, lists); check every answer.
  garbage               clients sending garbage (not TLS; TLS but not HTTP)
                        are dropped while a keep-alive client carries on.
  limit N               with N connections open and served, one more is
                        refused (closed unanswered); once one goes, a new
                        one is served.
  status PATH CODE      one GET answering CODE within 15 s.
  writes SECONDS FILE   PUT unique keys from 20 connections until killed or
                        SECONDS pass; append each key acknowledged (200) to
                        FILE as soon as the answer is read.
  verify FILE           every key in FILE reads back with its value.
Exit status 0 when every check passed; the first failure is printed.
"""
import asyncio
import json
import os
import ssl
import sys
import time

HOST = "127.0.0.1"


def context(cafile):
    if cafile == "-":
        return None
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = True  # the certificate names 127.0.0.1
    return ctx


class Conn:
    def __init__(self, port, ctx):
        self.port, self.ctx = port, ctx

    async def open(self):
        self.r, self.w = await asyncio.wait_for(
            asyncio.open_connection(HOST, self.port, ssl=self.ctx,
                                    server_hostname=HOST if self.ctx
                                    else None), 15)

    async def request(self, method, path, body=b""):
        head = f"{method} {path} HTTP/1.1\r\nHost: x\r\n"
        if body or method == "PUT":
            head += f"Content-Length: {len(body)}\r\n"
        self.w.write(head.encode() + b"\r\n" + body)
        await self.w.drain()
        return await asyncio.wait_for(self.response(), 15)

    async def response(self):
        head = await self.r.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        code = int(lines[0].split()[1])
        hdrs = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                hdrs[k.strip().lower()] = v.strip()
        body = await self.r.readexactly(int(hdrs.get("content-length", 0)))
        return code, hdrs, body

    def close(self):
        self.w.close()


def fail(msg):
    print("webclient: FAIL:", msg, file=sys.stderr, flush=True)
    os._exit(1)  # at once, from inside any task


def expect(cond, msg):
    if not cond:
        fail(msg)


async def load(port, ctx, nconn, nreq):
    conns = [Conn(port, ctx) for _ in range(nconn)]
    await asyncio.gather(*(c.open() for c in conns))
    # All connections are open at once before any request is sent.
    done = 0
    tag = f"load{os.getpid()}"
    t0 = time.monotonic()

    async def worker(i, c):
        nonlocal done
        k = 0
        while True:
            n = done
            if n >= nreq:
                return
            done += 1
            kind = n % 5
            key = f"{tag}/{i}/{k}"
            if kind == 0:
                code, h, body = await c.request("GET", "/")
                expect(code == 200 and b"web domain" in body,
                       f"page: {code} {body[:80]!r}")
            elif kind in (1, 3):
                val = f"value {i} {k} \u00e9\"\\"
                code, h, body = await c.request("PUT", "/api/kv/" + key,
                                                val.encode())
                expect(code == 200, f"put {key}: {code} {body!r}")
                expect(json.loads(body) == {"key": key, "stored": True},
                       f"put {key}: {body!r}")
                code, h, body = await c.request("GET", "/api/kv/" + key)
                done += 1
                expect(code == 200, f"get {key}: {code} {body!r}")
                expect(json.loads(body) == {"key": key, "value": val},
                       f"get {key}: {body!r}")
                k += 1
            elif kind == 2:
                code, h, body = await c.request("GET", f"/api/kv/none/{i}")
                expect(code == 404, f"missing: {code} {body!r}")
            else:
                code, h, body = await c.request(
                    "GET", f"/api/kv?prefix={tag}/{i}/")
                keys = json.loads(body)["keys"]
                expect(code == 200 and keys == sorted(keys) and
                       len(keys) == k and
                       all(x.startswith(f"{tag}/{i}/") for x in keys),
                       f"list: {code} {body!r} (expected {k} keys)")
            expect(h.get("connection") != "close", "keep-alive refused")

    await asyncio.gather(*(worker(i, c) for i, c in enumerate(conns)))
    for c in conns:
        c.close()
    dt = time.monotonic() - t0
    print(f"webclient: {done} requests on {nconn} connections "
          f"in {dt:.2f} s ({done / dt:.0f}/s)")


async def dropped(r, w, what):
    """The server answers `what` with 400 and closes, or just closes."""
    try:
        data = await asyncio.wait_for(r.read(), 15)
    except (ConnectionResetError, BrokenPipeError):
        data = b""
    expect(data == b"" or (data.startswith(b"HTTP/1.1 400 ") and
                           b"\r\nConnection: close\r\n" in data),
           f"{what}: answered {data[:60]!r}")
    w.close()


async def huge_head(port, ctx):
    """A head that never ends: 431, then the connection is closed."""
    big = Conn(port, ctx)
    await big.open()
    big.w.write(b"GET / HTTP/1.1\r\n" + b"X: " + b"a" * 9000)
    code, _, _ = await asyncio.wait_for(big.response(), 15)
    expect(code == 431, f"huge head: {code}")
    eof = await asyncio.wait_for(big.r.read(), 15)
    expect(eof == b"", "connection not closed after a huge head")
    big.close()


async def garbage_plain(port):
    """Plain HTTP: while a keep-alive client sends request after request,
    others send bytes that are not HTTP, or a head that never ends, or
    garbage after a good request; each is dropped, the good client sees
    only its own answers."""
    good = Conn(port, None)
    await good.open()
    stop = False
    count = 0

    async def good_loop():
        nonlocal count
        while not stop or count < 20:
            code, h, body = await good.request("GET", "/api/kv/none")
            expect(code == 404 and h.get("connection") != "close",
                   f"good client during garbage: {code} {body!r}")
            code, h, body = await good.request("GET", "/")
            expect(code == 200 and b"web domain" in body,
                   f"good client page during garbage: {code}")
            count += 2

    async def bad():
        for i in range(10):
            r, w = await asyncio.open_connection(HOST, port)
            w.write(b"\x00\x01\x02garbage\xff\xfe" * 50 + b"\r\n\r\n")
            await dropped(r, w, "binary garbage")
            r, w = await asyncio.open_connection(HOST, port)
            w.write(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" +
                    os.urandom(500))  # a TLS hello, to a plain port
            w.write_eof()
            await dropped(r, w, "TLS hello")
        # A good request followed by garbage: its answer, then 400.
        r, w = await asyncio.open_connection(HOST, port)
        w.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nNOT HTTP AT ALL\r\n\r\n")
        data = await asyncio.wait_for(r.read(), 15)
        expect(data.startswith(b"HTTP/1.1 200 ") and
               b"HTTP/1.1 400 " in data, f"request then garbage: {data!r}")
        w.close()
        await huge_head(port, None)

    async def bad_then_stop():
        nonlocal stop
        try:
            await bad()
        finally:
            stop = True

    await asyncio.gather(good_loop(), bad_then_stop())
    good.close()
    print(f"webclient: {count} good requests answered during the garbage")


async def limit(port, ctx, n):
    conns = [Conn(port, ctx) for _ in range(n)]
    for c in conns:
        await c.open()
        code, _, _ = await c.request("GET", "/")
        expect(code == 200, f"connection within the limit: {code}")
    extra = Conn(port, ctx)
    await extra.open()
    extra.w.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        data = await asyncio.wait_for(extra.r.read(), 15)
    except (ConnectionResetError, BrokenPipeError):
        data = b""
    expect(data == b"", f"connection {n + 1} of {n} served: {data[:40]!r}")
    extra.close()
    conns[0].close()
    await conns[0].w.wait_closed()
    # The server notices the close on its next turn: retry for a while.
    for i in range(50):
        c = Conn(port, ctx)
        await c.open()
        try:
            code, _, _ = await c.request("GET", "/")
            expect(code == 200, f"after a close: {code}")
            c.close()
            break
        except (ConnectionResetError, asyncio.IncompleteReadError):
            c.close()
            await asyncio.sleep(0.1)
    else:
        fail("no connection served after one of the limit closed")
    for c in conns[1:]:
        code, _, _ = await c.request("GET", "/")
        expect(code == 200, f"open connection after the limit: {code}")
    print(f"webclient: {n} connections served, one more refused")


async def garbage(port, ctx):
    if ctx is None:
        return await garbage_plain(port)
    good = Conn(port, ctx)
    await good.open()
    code, _, _ = await good.request("GET", "/")
    expect(code == 200, "good client, first request")
    # Not TLS at all: the connection is dropped.
    r, w = await asyncio.open_connection(HOST, port)
    w.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + os.urandom(2000))
    try:
        data = await asyncio.wait_for(r.read(), 15)
        expect(not data.startswith(b"HTTP"), "non-TLS client got HTTP")
    except (ConnectionResetError, BrokenPipeError):
        pass
    w.close()
    # TLS, but not HTTP: 400 and the connection ends.
    bad = Conn(port, ctx)
    await bad.open()
    bad.w.write(b"\x00\x01\x02garbage\xff\xfe" * 50 + b"\r\n\r\n")
    code, h, _ = await asyncio.wait_for(bad.response(), 15)
    expect(code == 400 and h.get("connection") == "close",
           f"garbage over TLS: {code}")
    eof = await asyncio.wait_for(bad.r.read(), 15)
    expect(eof == b"", "connection not closed after garbage")
    bad.close()
    await huge_head(port, ctx)
    # The good client was not disturbed.
    code, _, body = await good.request("GET", "/api/kv/none")
    expect(code == 404, f"good client after garbage: {code}")
    good.close()


async def status(port, ctx, path, want):
    c = Conn(port, ctx)
    await c.open()
    t0 = time.monotonic()
    code, _, body = await c.request("GET", path)
    expect(code == want, f"GET {path}: {code} {body!r}, wanted {want}")
    print(f"webclient: GET {path} -> {code} in "
          f"{time.monotonic() - t0:.2f} s")


async def writes(port, ctx, secs, path):
    out = open(path, "a", buffering=1)
    end = time.monotonic() + secs
    seq = 0

    async def worker(i):
        nonlocal seq
        c = Conn(port, ctx)
        try:
            await c.open()
            while time.monotonic() < end:
                seq += 1
                key = f"w/{i}/{seq}"
                code, _, _ = await c.request("PUT", "/api/kv/" + key,
                                             key.encode())
                if code == 200:
                    out.write(key + "\n")
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError,
                ssl.SSLError):
            return  # the servers are stopping

    await asyncio.gather(*(worker(i) for i in range(20)))


async def verify(port, ctx, path):
    keys = [k for k in open(path).read().split("\n") if k]
    expect(len(keys) > 0, "no acknowledged writes to verify")
    c = Conn(port, ctx)
    await c.open()
    for key in keys:
        code, _, body = await c.request("GET", "/api/kv/" + key)
        expect(code == 200 and json.loads(body)["value"] == key,
               f"acknowledged {key} lost: {code} {body!r}")
    print(f"webclient: {len(keys)} acknowledged writes all there")


def main():
    port, ctx, mode, args = int(sys.argv[1]), context(sys.argv[2]), \
        sys.argv[3], sys.argv[4:]
    if mode == "load":
        coro = load(port, ctx, int(args[0]), int(args[1]))
    elif mode == "garbage":
        coro = garbage(port, ctx)
    elif mode == "limit":
        coro = limit(port, ctx, int(args[0]))
    elif mode == "status":
        coro = status(port, ctx, args[0], int(args[1]))
    elif mode == "writes":
        coro = writes(port, ctx, float(args[0]), args[1])
    elif mode == "verify":
        coro = verify(port, ctx, args[0])
    else:
        fail("bad mode " + mode)
    try:
        asyncio.run(coro)
    except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError,
            ssl.SSLError) as e:
        fail(f"{mode}: {type(e).__name__}: {e}")


if __name__ == "__main__":
    main()
