#!/usr/bin/env python3
"""tests/examples/webclient.py - an HTTPS client for the web example's tests.

Usage: webclient.py PORT CAFILE MODE [ARGS]
  load CONNS REQUESTS   open CONNS keep-alive connections at once, then send
                        REQUESTS requests spread over them (PUT then GET of
                        unique keys, pages, lists); check every answer.
  garbage               clients sending garbage (not TLS; TLS but not HTTP)
                        are dropped while a keep-alive client carries on.
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
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = True  # the certificate names 127.0.0.1
    return ctx


class Conn:
    def __init__(self, port, ctx):
        self.port, self.ctx = port, ctx

    async def open(self):
        self.r, self.w = await asyncio.wait_for(
            asyncio.open_connection(HOST, self.port, ssl=self.ctx,
                                    server_hostname=HOST), 15)

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


async def garbage(port, ctx):
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
    # A head that never ends: 431, then closed.
    big = Conn(port, ctx)
    await big.open()
    big.w.write(b"GET / HTTP/1.1\r\n" + b"X: " + b"a" * 9000)
    code, _, _ = await asyncio.wait_for(big.response(), 15)
    expect(code == 431, f"huge head: {code}")
    big.close()
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
