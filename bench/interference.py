#!/usr/bin/env python3
"""Does one client's blocking work stall everyone else's runs?

Measures the warm execute round trip (`x` in a live Python context) on one
sandbox, p99 over N calls, in three conditions on the same daemon in the
same run:
  quiet    nothing else happening
  uploads  another client PUTs 50 MiB files to Drive in a loop (hash, fsync,
           rename, SQLite commit)
  deletes  another client creates 8 busy sandboxes and deletes them all at
           once, in a loop (cgroup teardown waits)
  cpu      the peer for the loads above: one busy-looping host process per
           core and nothing else, i.e. what CPU contention alone costs the
           round trip on this machine, with no daemon work in the way
Each condition is repeated (--repeat) and min/median/max of the p99 are
printed, with each loaded p99 as a ratio of the quiet p99 measured in the
same round. Target: loaded p99 within 3x of quiet.

  /usr/bin/python3 bench/interference.py [--repeat 3] [--calls 1000] [--json out.json]
"""
import argparse
import http.client
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "support"))
from kilnd import BENCH_UID_BASE, Kilnd  # noqa: E402

MiB = 1 << 20
POOL = 8


class Conn:
    def __init__(self, url):
        host, port = url.split("//")[1].split(":")
        self.c = http.client.HTTPConnection(host, int(port), timeout=300)

    def call(self, method, path, body=None, raw=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        self.c.request(method, path, data)
        r = self.c.getresponse()
        out = r.read()
        if r.status >= 300:
            raise RuntimeError(f"{method} {path} -> {r.status}: {out[:200]!r}")
        return json.loads(out) if out else None


def p99_ms(samples):
    s = sorted(samples)
    return 1000 * s[min(len(s) - 1, int(round(0.99 * (len(s) - 1))))]


def wait_pool_full(url, size, timeout=60):
    """The warm pool refills after every create: wait for it, so 'quiet' is quiet."""
    host, port = url.split("//")[1].split(":")
    deadline = time.time() + timeout
    while time.time() < deadline:
        c = http.client.HTTPConnection(host, int(port), timeout=10)
        c.request("GET", "/metrics")
        text = c.getresponse().read().decode()
        for line in text.splitlines():
            if line.startswith("kiln_pool_ready ") and float(line.split()[1]) >= size:
                return
        time.sleep(0.1)
    raise RuntimeError("the warm pool did not refill")


def measure(url, sid, calls):
    c = Conn(url)
    path = f"/v1/sandboxes/{sid}/execute"
    for _ in range(20):
        c.call("POST", path, {"code": "x"})
    samples = []
    for _ in range(calls):
        t0 = time.perf_counter()
        r = c.call("POST", path, {"code": "x"})
        samples.append(time.perf_counter() - t0)
        assert r["results"][0]["text"] == "1", r
    return p99_ms(samples)


def uploads(url, stop, counter):
    c = Conn(url)
    blob = os.urandom(50 * MiB)
    i = 0
    while not stop.is_set():
        c.call("PUT", f"/v1/drive/content?path=/bench/f{i % 2}.csv&replace=true", raw=blob)
        counter[0] += 1
        i += 1


def deletes(url, stop, counter):
    c = Conn(url)
    while not stop.is_set():
        ids = []
        for _ in range(8):
            sid = c.call("POST", "/v1/sandboxes", {})["id"]
            c.call("POST", f"/v1/sandboxes/{sid}/commands", {"cmd": "sleep 600", "background": True})
            ids.append(sid)
        threads = [threading.Thread(target=lambda s=s: Conn(url).call("DELETE", f"/v1/sandboxes/{s}"))
                   for s in ids]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        counter[0] += len(ids)


def cpu(url, stop, counter):
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                for _ in range(os.cpu_count() or 1)]
    try:
        while not stop.is_set():
            time.sleep(0.05)
            counter[0] += 1
    finally:
        for p in spinners:
            p.kill()
            p.wait()


def run_load(load, url, stop, counter, errors):
    """Body of the load's own process."""
    try:
        load(url, stop, counter)
    except Exception as e:  # the load must really run, or the figure means nothing
        errors.put(repr(e))


def loaded(url, sid, calls, load):
    # The load runs in a process of its own: as a thread of this one it would
    # hold the GIL while the measuring thread waits for it (up to the 5 ms
    # switch interval per wake-up), and the figure would be the client's.
    ctx = multiprocessing.get_context("fork")
    stop = ctx.Event()
    shared = ctx.Value("q", 0)
    errors = ctx.Queue()

    class Counter:  # counter[0] += n on the shared value, as the loads write it
        def __getitem__(self, i):
            return shared.value

        def __setitem__(self, i, v):
            shared.value = v

    wait_pool_full(url, POOL)  # the load starts from the same state as quiet
    p = ctx.Process(target=run_load, args=(load, url, stop, Counter(), errors), daemon=True)
    p.start()
    time.sleep(1.0)  # let the load get going
    try:
        p99 = measure(url, sid, calls)
    finally:
        stop.set()
        p.join(120)
    if not errors.empty():
        raise RuntimeError(f"the load failed: {errors.get()}")
    counter = [shared.value]
    if counter[0] == 0:
        raise RuntimeError("the load did no work during the measurement")
    return p99, counter


def spread(xs):
    return {"min": min(xs), "median": statistics.median(xs), "max": max(xs)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--json")
    a = ap.parse_args()
    d = Kilnd("--file-cap-bytes", str(64 * MiB), pool_size=POOL,
              max_sandboxes=40, name="bench-interf", suite="bench",
              uid_base=BENCH_UID_BASE["interference"])
    try:
        c = Conn(d.url)
        sid = c.call("POST", "/v1/sandboxes", {"timeout_s": 3600})["id"]
        c.call("POST", f"/v1/sandboxes/{sid}/execute", {"code": "x = 1"})
        rounds = {"quiet": [], "uploads": [], "deletes": [], "cpu": []}
        ratios = {"uploads": [], "deletes": [], "cpu": []}
        work = {"uploads": 0, "deletes": 0, "cpu": 0}
        for r in range(a.repeat):
            wait_pool_full(d.url, POOL)
            q = measure(d.url, sid, a.calls)
            u, uc = loaded(d.url, sid, a.calls, uploads)
            x, xc = loaded(d.url, sid, a.calls, deletes)
            p, pc = loaded(d.url, sid, a.calls, cpu)
            rounds["cpu"].append(p)
            ratios["cpu"].append(p / q)
            work["cpu"] += pc[0]
            rounds["quiet"].append(q)
            rounds["uploads"].append(u)
            rounds["deletes"].append(x)
            ratios["uploads"].append(u / q)
            ratios["deletes"].append(x / q)
            work["uploads"] += uc[0]
            work["deletes"] += xc[0]
            print(f"round {r + 1}: quiet p99 {q:.3f} ms; uploads {u:.3f} ms ({u / q:.1f}x, "
                  f"{uc[0]} x 50 MiB); deletes {x:.3f} ms ({x / q:.1f}x, {xc[0]} sandboxes); "
                  f"cpu {p:.3f} ms ({p / q:.1f}x)",
                  flush=True)
        out = {k: spread(v) for k, v in rounds.items()}
        out["ratio"] = {k: spread(v) for k, v in ratios.items()}
        out["work"] = work
        out["calls_per_condition"] = a.calls
        print("\nwarm exec p99 (ms), min / median / max over %d rounds:" % a.repeat)
        for k in ("quiet", "uploads", "deletes", "cpu"):
            s = out[k]
            print(f"  {k:8s} {s['min']:8.3f} {s['median']:8.3f} {s['max']:8.3f}")
        for k in ("uploads", "deletes", "cpu"):
            s = out["ratio"][k]
            print(f"  {k} / quiet: {s['min']:.1f}x / {s['median']:.1f}x / {s['max']:.1f}x "
                  f"(target <= 3x)")
        if a.json:
            with open(a.json, "w") as f:
                json.dump(out, f, indent=2)
    finally:
        d.stop()


if __name__ == "__main__":
    main()
