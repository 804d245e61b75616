#!/usr/bin/env python3
"""tests/bench/check_rows.py - check the rpc and e2e rows of vchan-bench's
JSON Lines output.

Usage: check_rows.py OUT.json WANT_RPC WANT_E2E
WANT_RPC / WANT_E2E are 1 when the build has rpc/ (and, for e2e, the web
example): then those rows must have been measured, with checked replies;
0: they must say "unavailable" and why. Timings are never asserted beyond
being positive and ordered (p50 <= p99)."""
import json
import sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
want = {"rpc": sys.argv[2] == "1", "e2e": sys.argv[3] == "1"}
expect = {
    "rpc": (["vchan", "unix", "grpc-unix"], "calls_per_s", "calls"),
    "e2e": (["https-3dom", "http-tcp"], "requests_per_s", "requests"),
}
seen = {m: set() for m in expect}
for r in rows:
    if r.get("mode") not in expect:
        continue
    mode = r["mode"]
    names, rate, count = expect[mode]
    for k in ("transport", "status", "verified", "msg_size", "ring_size"):
        assert k in r, f"row without {k}: {r}"
    assert r["transport"] in names, f"unknown transport: {r}"
    assert r["transport"] not in seen[mode], f"row twice: {r}"
    seen[mode].add(r["transport"])
    # gRPC: measured when the build has its helper (gRPC C++), else it
    # must say why, not pretend.
    if not want[mode] or (r["transport"] == "grpc-unix" and
                          r["status"] != "ok"):
        assert r["status"] == "unavailable" and r.get("reason"), r
        assert rate not in r, r
        continue
    assert r["status"] == "ok", f"not measured: {r}"
    assert r["verified"] is True, f"replies not checked: {r}"
    assert isinstance(r[rate], (int, float)) and r[rate] > 0, r
    assert 0 < r["p50_us"] <= r["p99_us"], r
    assert r[count] > 0 and r["in_flight"] > 1, r
    if mode == "rpc":
        assert r["msg_size"] > 0, r
for mode, (names, _, _) in expect.items():
    assert seen[mode] == set(names) or (not want[mode] and seen[mode]), \
        f"{mode}: rows {sorted(seen[mode])}, want {names}"
# The ratios name the row they are against, and it was measured.
by = {(r["mode"], r["transport"]): r for r in rows if "mode" in r}
for (mode, tr), r in by.items():
    if "base" in r:
        b = by[(mode, r["base"])]
        assert b["status"] == "ok", r
        assert abs(r["rate_vs_base"] - r[expect[mode][1]] /
                   b[expect[mode][1]]) < 0.01 * r["rate_vs_base"] + 0.002, r
    # The call's p50 against the run's raw vchan ping-pong, when it ran.
    if "p50_vs_pingpong" in r:
        assert mode == "rpc" and tr == "vchan", r
        assert r["pingpong_p50_us"] > 0, r
        assert abs(r["p50_vs_pingpong"] - r["p50_us"] / r["pingpong_p50_us"]) \
            < 0.01 * r["p50_vs_pingpong"] + 0.002, r
if want["rpc"]:
    assert "base" in by[("rpc", "vchan")], "rpc vchan row without its ratio"
    # A 64-byte vchan ping-pong measured at the rpc row's load: the row
    # is compared with it.
    rv = by[("rpc", "vchan")]
    if any(r.get("mode") == "latency" and r.get("transport") == "vchan" and
           r.get("msg_size") == 64 and r.get("load") == rv["load"] and
           r.get("status") == "ok" for r in rows):
        assert "p50_vs_pingpong" in rv, "rpc vchan row without ping-pong"
if want["e2e"]:
    assert "base" in by[("e2e", "https-3dom")], "e2e row without its ratio"
print("rows ok:", {m: sorted(s) for m, s in seen.items()})
