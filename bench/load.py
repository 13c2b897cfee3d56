#!/usr/bin/python3
"""Kiln load benchmark: many keep-alive connections of mixed traffic against live sandboxes.

Run with Debian's /usr/bin/python3 (standard library only):
    /usr/bin/python3 bench/load.py [--quick] [--json out.json]

The script starts its own kilnd on a free loopback port with a temporary
--data-dir, --uid-base 950000 and --cgroup-parent kiln-load, creates the live
sandboxes, holds the connections open for the warm-up plus the measured
duration, samples the daemon's RSS and file descriptors every second, then
deletes everything, stops the daemon and checks that no process is left in the
daemon's uid range.  Every figure printed is measured during the run.  See
bench/README.md ("Load benchmark") for what each figure means.

The client is one asyncio event loop speaking raw HTTP/1.1 over
asyncio.open_connection (one keep-alive connection per simulated client, no
pipelining), so 200 connections cost one thread; the client's own CPU use is
reported so it can be told apart from the daemon's limits.
"""
import argparse
import asyncio
import datetime
import json
import os
import platform
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))

# The one daemon class and uid table of the test support package.
from kilnd import BENCH_UID_BASE, KilndProcess, remove_parent_cgroups  # noqa: E402
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Request kinds, in table order.  "op" mixes pick one of the four operations;
# each HTTP request is recorded under its own kind.
KINDS = [
    ("exec", "execute (own context)"),
    ("file_put", "PUT file 4 KiB"),
    ("file_get", "GET file 4 KiB"),
    ("command", "command echo hi"),
    ("create", "churn: POST sandbox"),
    ("churn_exec", "churn: first execute"),
    ("delete", "churn: DELETE sandbox"),
]
KIND_NAMES = dict(KINDS)
OPS = (("exec", 0.70), ("files", 0.15), ("command", 0.05), ("churn", 0.10))

CODE_COUNTER = "x = x + 1 if 'x' in dir() else 1\nx"
CODE_SUM = "sum(range(1000))"


def log(msg):
    print(f"[load {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def pct(samples, p):
    """p-th percentile (0..100), linear interpolation between closest ranks."""
    s = sorted(samples)
    if not s:
        return None
    k = (len(s) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


# ---------------------------------------------------------------- /proc helpers

def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def machine_busy_ticks():
    """(busy, total) jiffies over all CPUs from /proc/stat."""
    with open("/proc/stat") as f:
        parts = [int(x) for x in f.readline().split()[1:]]
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0)
    return sum(parts) - idle, sum(parts)


def cgroup_cpu_ns(parent):
    """CPU time (ns) used by every sandbox under the parent cgroup, or None."""
    root = "/sys/fs/cgroup"
    for path in (f"{root}/cpuacct/{parent}/cpuacct.usage",
                 f"{root}/cpu,cpuacct/{parent}/cpuacct.usage"):
        try:
            with open(path) as f:
                return int(f.read())
        except (OSError, ValueError):
            pass
    for path in (f"{root}/{parent}/cpu.stat", f"{root}/unified/{parent}/cpu.stat"):
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith("usage_usec "):
                        return int(line.split()[1]) * 1000
        except (OSError, ValueError):
            pass
    return None


def uid_of(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Uid:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return None


def pids_in_uid_range(lo, hi):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            u = uid_of(d)
            if u is not None and lo <= u < hi:
                out.append((int(d), u))
    return out


# ---------------------------------------------------------------- daemon

class Daemon(KilndProcess):
    """The support package's kilnd process (tests/support/kilnd.py), optionally
    running private copies of kilnd and kiln-init."""

    def __init__(self, a):
        self.a = a
        kilnd = a.kilnd
        extra = []
        if not a.no_snapshot:
            # Run private copies of kilnd and kiln-init: other jobs that rebuild build/
            # mid-run would otherwise swap the kiln-init that every new sandbox execs.
            self.bin_dir = tempfile.mkdtemp(prefix="kiln-load-bin-")
            src_dir = os.path.dirname(os.path.abspath(a.kilnd))
            for name in ("kilnd", "kiln-init"):
                shutil.copy2(os.path.join(src_dir, name), os.path.join(self.bin_dir, name))
            os.chmod(self.bin_dir, 0o755)
            kilnd = os.path.join(self.bin_dir, "kilnd")
            extra = ["--init-path", os.path.join(self.bin_dir, "kiln-init"),
                     "--runtimes-dir", os.path.join(ROOT, "runtimes")]
            if os.path.isdir(os.path.join(ROOT, "skills")):
                extra += ["--skills-dir", os.path.join(ROOT, "skills")]
        else:
            self.bin_dir = None
        super().__init__(*extra, suite="bench", kilnd=kilnd, pool_size=a.pool_size,
                         uid_base=a.uid_base, cgroup_parent=a.cgroup_parent,
                         max_sandboxes=a.max_sandboxes, log_level="warn", start=False)

    def start(self):
        super().start()
        log(f"kilnd up on port {self.port} (pid {self.proc.pid}, pool {self.a.pool_size}, "
            f"max {self.a.max_sandboxes}, uid-base {self.a.uid_base})")
        return self

    def read_log(self, n=4000):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self):
        """SIGTERM (SIGKILL after 30 s); returns kilnd's exit code."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                log("kilnd did not stop within 30 s of SIGTERM; killing it")
                self.proc.kill()
                self.proc.wait()
        super().stop()  # closes the log
        return self.proc.returncode if self.proc else None

    def remove_data(self):
        shutil.rmtree(self.data_dir, ignore_errors=True)
        if self.bin_dir:
            shutil.rmtree(self.bin_dir, ignore_errors=True)


# ---------------------------------------------------------------- HTTP client

class Lost(Exception):
    """The connection died (or timed out) before a whole response arrived."""


class Conn:
    """One keep-alive HTTP/1.1 connection over asyncio streams; one request at a time."""

    def __init__(self, port):
        self.port = port
        self.r = self.w = None
        self.inflight_since = None  # perf_counter of the request being waited for
        self.timed_out = False

    async def open(self):
        self.r, self.w = await asyncio.open_connection("127.0.0.1", self.port, limit=1 << 20)
        self.w.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def abort(self):
        if self.w is not None:
            self.w.transport.abort()
        self.r = self.w = None

    async def request(self, method, path, body=b"", ctype="application/json"):
        """Returns (status, body).  Raises Lost when no whole response came back."""
        if self.w is None:
            await self.open()
        head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Content-Length: {len(body)}\r\n")
        if body:
            head += f"Content-Type: {ctype}\r\n"
        self.timed_out = False
        self.inflight_since = time.perf_counter()
        try:
            self.w.write(head.encode() + b"\r\n" + body)
            if len(body) > 16384:
                await self.w.drain()
            hdr = await self.r.readuntil(b"\r\n\r\n")
            lines = hdr.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            length = None
            chunked = close = False
            for ln in lines[1:]:
                k, _, v = ln.partition(":")
                k = k.strip().lower()
                if k == "content-length":
                    length = int(v)
                elif k == "transfer-encoding" and "chunked" in v.lower():
                    chunked = True
                elif k == "connection" and v.strip().lower() == "close":
                    close = True
            if chunked:
                parts = []
                while True:
                    size = int((await self.r.readuntil(b"\r\n")).split(b";")[0], 16)
                    if size == 0:
                        await self.r.readuntil(b"\r\n")
                        break
                    parts.append(await self.r.readexactly(size + 2))
                data = b"".join(p[:-2] for p in parts)
            elif length is not None:
                data = await self.r.readexactly(length) if length else b""
            else:
                data = await self.r.read()  # body until close
                close = True
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError,
                OSError, ValueError, IndexError, AttributeError) as e:
            self.abort()
            why = "timeout" if self.timed_out else f"{type(e).__name__}: {e}"
            raise Lost(why) from None
        finally:
            self.inflight_since = None
        if close:
            self.abort()
        return status, data


# ---------------------------------------------------------------- the run

class Stats:
    def __init__(self):
        self.lat = {k: [] for k, _ in KINDS}       # seconds, measured window only
        self.status = {k: {} for k, _ in KINDS}    # status -> count (measured window)
        self.lost = {k: 0 for k, _ in KINDS}
        self.bad = {k: 0 for k, _ in KINDS}        # 2xx with the wrong content
        self.all_status = {k: {} for k, _ in KINDS}  # whole run incl. warm-up
        self.all_lost = {k: 0 for k, _ in KINDS}
        self.all_bad = {k: 0 for k, _ in KINDS}
        self.exec_ok_total = 0                     # execute 200s (whole traffic phase)
        self.details = []                          # first failures, for the report
        self.ops = {name: 0 for name, _ in OPS}
        self.churn_wait = []


class Load:
    def __init__(self, a, d):
        self.a = a
        self.d = d
        self.st = Stats()
        self.measuring = False
        self.stop = False
        self.t_measure0 = None
        self.sandboxes = []            # the long-lived sandboxes
        self.churn_live = set()        # churn sandboxes created and not yet deleted
        self.churn_sem = asyncio.Semaphore(a.churn_max)
        self.conns = []
        self.samples = []
        self.loop_lag = []
        self.payloads = [os.urandom(4096) for _ in range(16)]
        self.rng = random.Random(a.seed)

    # ------------------------------------------------------------ recording
    def record(self, kind, t0, status, ok, info=""):
        dt = time.perf_counter() - t0
        s = self.st
        s.all_status[kind][status] = s.all_status[kind].get(status, 0) + 1
        if not ok:
            s.all_bad[kind] += 1 if status // 100 == 2 else 0
        if self.measuring:
            s.lat[kind].append(dt)
            s.status[kind][status] = s.status[kind].get(status, 0) + 1
            if not ok and status // 100 == 2:
                s.bad[kind] += 1
        if not ok:
            self.detail(kind, f"status {status}", info, dt)

    def record_lost(self, kind, t0, why, info):
        dt = time.perf_counter() - t0
        self.st.all_lost[kind] += 1
        if self.measuring:
            self.st.lost[kind] += 1
        self.detail(kind, f"lost ({why})", info, dt)

    def detail(self, kind, what, info, dt):
        if len(self.st.details) < 40:
            t = time.perf_counter() - self.t_measure0 if self.t_measure0 else None
            self.st.details.append({"kind": kind, "what": what, "request": info[:300],
                                    "elapsed_ms": round(dt * 1000, 2),
                                    "t_s": None if t is None else round(t, 2)})

    async def call(self, conn, kind, method, path, body=b"", check=None, ctype="application/json"):
        """One recorded request.  check(status, data) -> bool says whether it is right."""
        t0 = time.perf_counter()
        try:
            status, data = await conn.request(method, path, body, ctype)
        except Lost as e:
            self.record_lost(kind, t0, str(e), f"{method} {path}")
            return None, None
        ok = check(status, data) if check else status // 100 == 2
        info = "" if ok else f"{method} {path} {body[:120]!r} -> {status} {data[:200]!r}"
        self.record(kind, t0, status, ok, info)
        if kind in ("exec", "churn_exec") and status == 200:
            self.st.exec_ok_total += 1
        return status, data

    # ------------------------------------------------------------ setup (not timed)
    async def setup_call(self, conn, method, path, obj=None, expect=(200, 201)):
        body = json.dumps(obj).encode() if obj is not None else b""
        status, data = await conn.request(method, path, body)
        if status not in expect:
            raise RuntimeError(f"setup {method} {path} -> {status}: {data[:300]!r}")
        return json.loads(data) if data else None

    async def setup(self):
        a = self.a
        conns = [Conn(self.d.port) for _ in range(a.connections)]
        # Open every connection first so the fd baseline already includes them.
        await asyncio.gather(*(c.open() for c in conns))
        self.conns = conns
        t0 = time.monotonic()

        async def make(i):
            c = conns[i]
            sb = await self.setup_call(c, "POST", "/v1/sandboxes", {"timeout_s": 3600})
            r = await self.setup_call(c, "POST", f"/v1/sandboxes/{sb['id']}/execute",
                                      {"code": "1"}, expect=(200,))
            if r.get("error") or r["results"][0]["text"] != "1":
                raise RuntimeError(f"setup execute in {sb['id']}: {r}")
            return sb["id"]

        sem = asyncio.Semaphore(8)

        async def limited(coro_fn, *args):
            async with sem:
                return await coro_fn(*args)

        self.sandboxes = list(await asyncio.gather(
            *(limited(make, i) for i in range(a.sandboxes))))
        log(f"{a.sandboxes} sandboxes created in {time.monotonic() - t0:.1f} s")

        # Connection i works in sandbox i % S.  The first S connections use that
        # sandbox's default context; every other connection gets its own context,
        # so no two connections ever execute in the same context (no 409).
        self.assign = []
        t0 = time.monotonic()

        async def ctx_for(i):
            sid = self.sandboxes[i % a.sandboxes]
            if i < a.sandboxes:
                return sid, None
            ctx = await self.setup_call(conns[i], "POST", f"/v1/sandboxes/{sid}/contexts",
                                        {"language": "python", "cwd": "/home/user"},
                                        expect=(201,))
            r = await self.setup_call(conns[i], "POST", f"/v1/sandboxes/{sid}/execute",
                                      {"code": "1", "context_id": ctx["id"]}, expect=(200,))
            if r.get("error"):
                raise RuntimeError(f"setup context execute: {r}")
            return sid, ctx["id"]

        self.assign = list(await asyncio.gather(
            *(limited(ctx_for, i) for i in range(a.connections))))
        extra = sum(1 for _, c in self.assign if c)
        log(f"{extra} extra contexts created in {time.monotonic() - t0:.1f} s "
            f"({a.connections} connections, each with its own context)")

    async def wait_pool(self, conn, timeout=60):
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            v = await self.metric(conn, "kiln_pool_ready")
            if (v or 0) >= self.a.pool_size:
                return
            await asyncio.sleep(0.05)
        log(f"warning: pool not back at {self.a.pool_size} after {timeout} s")

    async def metric(self, conn, name):
        status, data = await conn.request("GET", "/metrics")
        for line in data.decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        return None

    # ------------------------------------------------------------ traffic
    async def worker(self, i):
        conn = self.conns[i]
        sid, ctx = self.assign[i]
        rng = random.Random(self.a.seed * 100003 + i)
        counter = 0  # value of x in this connection's context
        exec_path = f"/v1/sandboxes/{sid}/execute"
        fpath = f"/v1/sandboxes/{sid}/files/content?path=/home/user/load/c{i}.bin"
        cmd_path = f"/v1/sandboxes/{sid}/commands"
        cmd_body = json.dumps({"cmd": "echo hi"}).encode()
        body_counter = json.dumps({"code": CODE_COUNTER, **({"context_id": ctx} if ctx else {})}
                                  ).encode()
        body_sum = json.dumps({"code": CODE_SUM, **({"context_id": ctx} if ctx else {})}).encode()
        cum = []
        acc = 0.0
        for name, w in OPS:
            acc += w
            cum.append((acc, name))
        while not self.stop:
            x = rng.random() * acc
            op = next(name for edge, name in cum if x < edge)
            if self.measuring:
                self.st.ops[op] += 1
            if op == "exec":
                if rng.random() < 0.5:
                    want = str(counter + 1)

                    def chk(st, data, want=want):
                        return st == 200 and _exec_text(data) == want

                    status, _ = await self.call(conn, "exec", "POST", exec_path, body_counter, chk)
                    if status == 200:
                        counter += 1
                else:
                    await self.call(conn, "exec", "POST", exec_path, body_sum,
                                    lambda st, data: st == 200 and _exec_text(data) == "499500")
            elif op == "files":
                payload = rng.choice(self.payloads)
                status, _ = await self.call(conn, "file_put", "PUT", fpath, payload,
                                            lambda st, data: st == 201,
                                            ctype="application/octet-stream")
                if status == 201:
                    await self.call(conn, "file_get", "GET", fpath, b"",
                                    lambda st, data, p=payload: st == 200 and data == p)
            elif op == "command":
                await self.call(conn, "command", "POST", cmd_path, cmd_body,
                                lambda st, data: st == 200 and _cmd_ok(data))
            else:
                await self.churn(conn)

    async def churn(self, conn):
        tw = time.perf_counter()
        async with self.churn_sem:
            if self.measuring:
                self.st.churn_wait.append(time.perf_counter() - tw)
            status, data = await self.call(conn, "create", "POST", "/v1/sandboxes",
                                           b'{"timeout_s": 300}', lambda st, d: st == 201)
            if status != 201:
                return
            sid = json.loads(data)["id"]
            self.churn_live.add(sid)
            await self.call(conn, "churn_exec", "POST", f"/v1/sandboxes/{sid}/execute",
                            json.dumps({"code": CODE_SUM}).encode(),
                            lambda st, d: st == 200 and _exec_text(d) == "499500")
            status, _ = await self.call(conn, "delete", "DELETE", f"/v1/sandboxes/{sid}", b"",
                                        lambda st, d: st == 204)
            if status == 204:
                self.churn_live.discard(sid)

    async def watchdog(self):
        """Aborts connections whose request has waited longer than --timeout (counted lost)."""
        while True:
            await asyncio.sleep(0.5)
            now = time.perf_counter()
            for c in self.conns:
                if c.inflight_since is not None and now - c.inflight_since > self.a.timeout:
                    c.timed_out = True
                    if c.w is not None:
                        c.w.transport.abort()

    async def sampler(self, t_start):
        pid = self.d.proc.pid
        prev = time.perf_counter()
        while True:
            await asyncio.sleep(1.0)
            now = time.perf_counter()
            self.loop_lag.append(now - prev - 1.0)
            prev = now
            try:
                busy, total = machine_busy_ticks()
                self.samples.append({
                    "t_s": round(now - t_start, 3),
                    "phase": "measure" if self.measuring else ("warmup" if not self.stop else "end"),
                    "rss_kib": rss_kib(pid), "fds": fd_count(pid),
                    "kilnd_cpu_ticks": cpu_ticks(pid),
                    "machine_busy_ticks": busy, "machine_total_ticks": total,
                    "live_sandboxes": len(self.sandboxes) + len(self.churn_live)})
            except (FileNotFoundError, ProcessLookupError):
                return

    async def run(self):
        a = self.a
        ctl = Conn(self.d.port)
        await ctl.open()
        await self.wait_pool(ctl)
        pid = self.d.proc.pid
        res = {"empty_start": {"rss_kib": rss_kib(pid), "fds": fd_count(pid)}}
        await self.setup()
        await self.wait_pool(ctl)
        await asyncio.sleep(0.5)
        res["idle_before"] = {"rss_kib": rss_kib(pid), "fds": fd_count(pid),
                              "live_sandboxes": len(self.sandboxes)}
        execs0 = await self.metric(ctl, "kiln_executions_total")

        t_start = time.perf_counter()
        self.t_measure0 = t_start + a.warmup
        dog = asyncio.ensure_future(self.watchdog())
        samp = asyncio.ensure_future(self.sampler(t_start))
        workers = [asyncio.ensure_future(self.worker(i)) for i in range(a.connections)]
        log(f"traffic: {a.connections} connections, warm-up {a.warmup:g} s, "
            f"measuring {a.duration:g} s")
        await asyncio.sleep(a.warmup)
        self.measuring = True
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        k0 = cpu_ticks(pid)
        m0 = machine_busy_ticks()
        c0 = cgroup_cpu_ns(a.cgroup_parent)
        w0 = time.perf_counter()
        n_samples0 = len(self.samples)
        for s in range(int(a.duration)):
            await asyncio.sleep(1.0)
            if (s + 1) % 10 == 0:
                done = sum(len(v) for v in self.st.lat.values())
                log(f"  {s + 1} s: {done} requests, {len(self.churn_live)} churn sandboxes live")
        await asyncio.sleep(a.duration - int(a.duration))
        self.measuring = False
        wall = time.perf_counter() - w0
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        k1 = cpu_ticks(pid)
        m1 = machine_busy_ticks()
        c1 = cgroup_cpu_ns(a.cgroup_parent)
        measure_samples = self.samples[n_samples0:]
        self.stop = True
        t_drain = time.perf_counter()
        await asyncio.gather(*workers)
        drain_s = time.perf_counter() - t_drain
        dog.cancel()
        samp.cancel()
        log(f"traffic stopped; in-flight requests finished in {drain_s:.2f} s")

        res["wall_s"] = wall
        res["client_cpu_cores"] = ((ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)) / wall
        res["kilnd_cpu_cores"] = (k1 - k0) / CLK_TCK / wall
        res["machine_busy_cores"] = (m1[0] - m0[0]) / max(1, m1[1] - m0[1]) * (os.cpu_count() or 1)
        res["sandboxes_cpu_cores"] = None if c0 is None or c1 is None else (c1 - c0) / 1e9 / wall
        res["other_cpu_cores"] = None if res["sandboxes_cpu_cores"] is None else max(
            0.0, res["machine_busy_cores"] - res["client_cpu_cores"] - res["kilnd_cpu_cores"]
            - res["sandboxes_cpu_cores"])
        res["loadavg_end"] = os.getloadavg()
        res["loop_lag_ms_max"] = max(self.loop_lag) * 1000 if self.loop_lag else None
        res["samples_measure"] = measure_samples

        # Idle again, same sandboxes, same connections open: the fd/RSS comparison point.
        await self.wait_pool(ctl)
        await asyncio.sleep(0.5)
        execs1 = await self.metric(ctl, "kiln_executions_total")
        res["idle_after"] = {"rss_kib": rss_kib(pid), "fds": fd_count(pid),
                             "live_sandboxes": len(self.sandboxes) + len(self.churn_live)}
        res["executions_daemon"] = None if execs0 is None else execs1 - execs0
        res["executions_client_ok"] = self.st.exec_ok_total

        # Tear down: connections, every sandbox the daemon still lists.
        for c in self.conns:
            c.abort()
        lst = await self.setup_call(ctl, "GET", "/v1/sandboxes", expect=(200,))
        ids = [s["id"] for s in lst["sandboxes"]]
        for sid in ids:
            await self.setup_call(ctl, "DELETE", f"/v1/sandboxes/{sid}", expect=(204, 404))
        res["deleted_at_end"] = len(ids)
        res["churn_left_at_end"] = len(self.churn_live)
        await self.wait_pool(ctl)
        await asyncio.sleep(0.5)
        live = await self.metric(ctl, "kiln_sandboxes_live")
        res["empty_end"] = {"rss_kib": rss_kib(pid), "fds": fd_count(pid),
                            "sandboxes_live_metric": live}
        ctl.abort()
        return res


def _exec_text(data):
    try:
        r = json.loads(data)
        if r.get("error"):
            return None
        return r["results"][0]["text"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def _cmd_ok(data):
    try:
        r = json.loads(data)
        return r.get("exit_code") == 0 and r.get("stdout") == "hi\n"
    except ValueError:
        return False


# ---------------------------------------------------------------- report

def summarize(a, st, res):
    dur = res["wall_s"]
    kinds = {}
    for k, _ in KINDS:
        lat = st.lat[k]
        s5 = sum(v for code, v in st.status[k].items() if code >= 500)
        kinds[k] = {
            "count": len(lat), "per_s": len(lat) / dur,
            "p50_ms": None if not lat else pct(lat, 50) * 1000,
            "p99_ms": None if not lat else pct(lat, 99) * 1000,
            "max_ms": None if not lat else max(lat) * 1000,
            "status": {str(c): n for c, n in sorted(st.status[k].items())},
            "status_5xx": s5, "lost": st.lost[k], "wrong_content": st.bad[k],
            "non_2xx": sum(v for code, v in st.status[k].items() if code // 100 != 2),
        }
    allat = [x for k, _ in KINDS for x in st.lat[k]]
    total = {
        "count": len(allat), "per_s": len(allat) / dur,
        "p50_ms": pct(allat, 50) * 1000 if allat else None,
        "p99_ms": pct(allat, 99) * 1000 if allat else None,
        "max_ms": max(allat) * 1000 if allat else None,
        "status_5xx": sum(v["status_5xx"] for v in kinds.values()),
        "lost": sum(v["lost"] for v in kinds.values()),
        "wrong_content": sum(v["wrong_content"] for v in kinds.values()),
        "non_2xx": sum(v["non_2xx"] for v in kinds.values()),
        "status_409": sum(st.status[k].get(409, 0) for k, _ in KINDS),
    }
    samples = res["samples_measure"]
    rss0 = samples[0]["rss_kib"] if samples else None
    rss1 = samples[-1]["rss_kib"] if samples else None
    rss_max = max(s["rss_kib"] for s in samples) if samples else None
    fd0 = samples[0]["fds"] if samples else None
    fd1 = samples[-1]["fds"] if samples else None
    mem = {
        "rss_start_kib": rss0, "rss_end_kib": rss1, "rss_max_kib": rss_max,
        "rss_growth_pct": (rss1 - rss0) / rss0 * 100 if rss0 else None,
        "fds_start": fd0, "fds_end": fd1,
        "fds_min": min(s["fds"] for s in samples) if samples else None,
        "fds_max": max(s["fds"] for s in samples) if samples else None,
        "live_start": samples[0]["live_sandboxes"] if samples else None,
        "live_end": samples[-1]["live_sandboxes"] if samples else None,
        "live_max": max(s["live_sandboxes"] for s in samples) if samples else None,
        "live_min": min(s["live_sandboxes"] for s in samples) if samples else None,
        "live_mean": (sum(s["live_sandboxes"] for s in samples) / len(samples)) if samples else None,
    }
    if len(samples) >= 4:
        # Least-squares slope of RSS over the window, and the first vs last 10 s means:
        # a leak shows as a steady slope, a higher plateau (more live sandboxes) does not.
        xs = [s["t_s"] for s in samples]
        ys = [s["rss_kib"] / 1024.0 for s in samples]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        den = sum((x - mx) ** 2 for x in xs) or 1.0
        mem["rss_slope_mib_per_min"] = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den * 60
        k = max(1, min(10, len(samples) // 4))
        first, last = samples[:k], samples[-k:]
        mem["rss_first10s_mean_kib"] = sum(s["rss_kib"] for s in first) / k
        mem["rss_last10s_mean_kib"] = sum(s["rss_kib"] for s in last) / k
        mem["live_first10s_mean"] = sum(s["live_sandboxes"] for s in first) / k
        mem["live_last10s_mean"] = sum(s["live_sandboxes"] for s in last) / k
    ops_total = sum(st.ops.values()) or 1
    return {"kinds": kinds, "total": total, "daemon": mem,
            "op_mix": {k: v / ops_total for k, v in st.ops.items()},
            "ops": st.ops,
            "churn_wait_p50_ms": pct(st.churn_wait, 50) * 1000 if st.churn_wait else None,
            "churn_wait_p99_ms": pct(st.churn_wait, 99) * 1000 if st.churn_wait else None}


def fmt(x, f="{:.2f}"):
    return "-" if x is None else f.format(x)


def table(a, summ, res, extra):
    rows = [("request", "count", "req/s", "p50 ms", "p99 ms", "max ms", "statuses", "lost")]
    for k, name in KINDS:
        v = summ["kinds"][k]
        sts = " ".join(f"{c}:{n}" for c, n in v["status"].items()) or "-"
        if v["wrong_content"]:
            sts += f" (wrong {v['wrong_content']})"
        rows.append((name, str(v["count"]), fmt(v["per_s"], "{:.1f}"), fmt(v["p50_ms"]),
                     fmt(v["p99_ms"]), fmt(v["max_ms"], "{:.1f}"), sts, str(v["lost"])))
    t = summ["total"]
    rows.append(("all requests", str(t["count"]), fmt(t["per_s"], "{:.1f}"), fmt(t["p50_ms"]),
                 fmt(t["p99_ms"]), fmt(t["max_ms"], "{:.1f}"),
                 f"non-2xx:{t['non_2xx']}", str(t["lost"])))
    w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for j, r in enumerate(rows):
        out.append("  ".join(c.ljust(w[i]) if i in (0, 6) else c.rjust(w[i])
                             for i, c in enumerate(r)).rstrip())
        if j == 0 or j == len(rows) - 2:
            out.append("  ".join("-" * x for x in w))

    m = summ["daemon"]
    ib, ia = res["idle_before"], res["idle_after"]
    es, ee = res["empty_start"], res["empty_end"]

    def ok(b):
        return "ok" if b else "MISS"

    mib = lambda k: None if k is None else k / 1024.0  # noqa: E731
    checks = [
        ("5xx responses", str(t["status_5xx"]), "0", ok(t["status_5xx"] == 0)),
        ("lost responses (connection died / no answer in "
         f"{a.timeout:g} s)", str(t["lost"]), "0", ok(t["lost"] == 0)),
        ("other non-2xx (409 busy context: "
         f"{t['status_409']})", str(t["non_2xx"] - t["status_5xx"]), "0",
         ok(t["non_2xx"] - t["status_5xx"] == 0)),
        ("2xx with wrong content", str(t["wrong_content"]), "0", ok(t["wrong_content"] == 0)),
        ("kilnd RSS after warm-up -> end (MiB)",
         f"{fmt(mib(m['rss_start_kib']))} -> {fmt(mib(m['rss_end_kib']))} "
         f"(max {fmt(mib(m['rss_max_kib']))})", "", ""),
        ("  RSS growth", fmt(m["rss_growth_pct"], "{:+.1f}%"), "<= 10%",
         ok(m["rss_growth_pct"] is not None and m["rss_growth_pct"] <= 10)),
        ("  RSS mean first 10 s -> last 10 s (live sandboxes)",
         f"{fmt(mib(m.get('rss_first10s_mean_kib')))} -> {fmt(mib(m.get('rss_last10s_mean_kib')))}"
         f" ({fmt(m.get('live_first10s_mean'), '{:.0f}')} -> "
         f"{fmt(m.get('live_last10s_mean'), '{:.0f}')}); slope "
         f"{fmt(m.get('rss_slope_mib_per_min'), '{:+.2f}')} MiB/min", "", ""),
        ("kilnd fds after warm-up -> end (live sandboxes)",
         f"{m['fds_start']} -> {m['fds_end']} ({m['live_start']} -> {m['live_end']}); "
         f"range {m['fds_min']}..{m['fds_max']}", "", ""),
        ("kilnd fds idle before -> after load", f"{ib['fds']} -> {ia['fds']} "
         f"({ib['live_sandboxes']} -> {ia['live_sandboxes']} sandboxes, "
         f"{a.connections} conns open)", "no growth", ok(ia["fds"] <= ib["fds"])),
        ("kilnd RSS idle before -> after load (MiB)",
         f"{fmt(mib(ib['rss_kib']))} -> {fmt(mib(ia['rss_kib']))}", "", ""),
        ("kilnd fds / RSS empty at start -> end",
         f"{es['fds']} -> {ee['fds']} / {fmt(mib(es['rss_kib']))} -> "
         f"{fmt(mib(ee['rss_kib']))} MiB", "no fd growth", ok(ee["fds"] <= es["fds"])),
        ("executions: daemon counter vs client 200s",
         f"{fmt(res['executions_daemon'], '{:.0f}')} vs {res['executions_client_ok']}",
         "equal", ok(res["executions_daemon"] == res["executions_client_ok"])),
        ("processes left in uid range after stop", str(extra["uid_leftovers"]), "0",
         ok(extra["uid_leftovers"] == 0)),
    ]
    w2 = [max(len(r[i]) for r in checks) for i in range(4)]
    out.append("")
    for r in checks:
        out.append("  ".join(c.ljust(w2[i]) if i == 0 else c.rjust(w2[i]) if i == 1 else c
                             for i, c in enumerate(r)).rstrip())
    out.append("")
    mix = summ["op_mix"]
    out.append("op mix: " + ", ".join(f"{k} {v * 100:.1f}%" for k, v in mix.items())
               + f"; churn slot wait p50/p99 {fmt(summ['churn_wait_p50_ms'])}/"
               f"{fmt(summ['churn_wait_p99_ms'])} ms (max {a.churn_max} churn sandboxes at once)")
    out.append(f"CPU (cores, measured window): client {res['client_cpu_cores']:.2f}, "
               f"kilnd {res['kilnd_cpu_cores']:.2f}, sandboxes {fmt(res['sandboxes_cpu_cores'])}, "
               f"other processes {fmt(res['other_cpu_cores'])}; whole machine "
               f"{res['machine_busy_cores']:.2f} of {os.cpu_count()}; "
               f"client loop lag max {fmt(res['loop_lag_ms_max'], '{:.1f}')} ms")
    out.append(f"live sandboxes during the window: {m['live_min']}..{m['live_max']} "
               f"(mean {fmt(m['live_mean'], '{:.1f}')}); load average at start/end "
               f"{extra['loadavg_start']:.2f}/{res['loadavg_end'][0]:.2f}")
    return "\n".join(out)


def machine():
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "kernel": platform.release(), "cpu": cpu,
            "python": platform.python_version()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kilnd", default=os.path.join(ROOT, "build", "kilnd"))
    ap.add_argument("--duration", type=float, help="measured seconds (default 60; quick 10)")
    ap.add_argument("--warmup", type=float, help="seconds of traffic before measuring (default 10; quick 3)")
    ap.add_argument("--connections", type=int, help="concurrent connections (default 200; quick 50)")
    ap.add_argument("--sandboxes", type=int, help="long-lived sandboxes (default 64; quick 16)")
    ap.add_argument("--quick", action="store_true", help="10 s, 50 connections, 16 sandboxes")
    ap.add_argument("--churn-max", type=int,
                    help="churn sandboxes alive at once (default: what --max-sandboxes leaves "
                         "after the sandboxes, the pool and 4 spare)")
    ap.add_argument("--pool-size", type=int, default=4)
    ap.add_argument("--max-sandboxes", type=int, default=128)
    ap.add_argument("--uid-base", type=int, default=BENCH_UID_BASE["load"])
    ap.add_argument("--cgroup-parent", default="kiln-load")
    ap.add_argument("--timeout", type=float, default=30.0,
                    help="a request unanswered this long is aborted and counted lost")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-snapshot", action="store_true",
                    help="run --kilnd in place instead of private copies of kilnd + kiln-init")
    ap.add_argument("--json", help="also write the results as JSON here")
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    a = ap.parse_args()
    q = a.quick
    a.duration = a.duration if a.duration is not None else (10.0 if q else 60.0)
    a.warmup = a.warmup if a.warmup is not None else (3.0 if q else 10.0)
    a.connections = a.connections or (50 if q else 200)
    a.sandboxes = a.sandboxes or (16 if q else 64)
    a.churn_max = a.churn_max or max(1, a.max_sandboxes - a.sandboxes - a.pool_size - 4)
    if a.sandboxes + a.churn_max + a.pool_size > a.max_sandboxes:
        ap.error("sandboxes + churn-max + pool-size is over --max-sandboxes")
    if a.connections < a.sandboxes:
        ap.error("need at least one connection per sandbox")
    if not os.access(a.kilnd, os.X_OK):
        ap.error(f"kilnd not found at {a.kilnd} (run 'make build')")
    if os.geteuid() != 0:
        ap.error("kilnd needs root")
    lim = resource.getrlimit(resource.RLIMIT_NOFILE)
    if lim[0] < a.connections + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(lim[1], a.connections + 1000), lim[1]))

    uid_lo, uid_hi = a.uid_base, a.uid_base + a.max_sandboxes + a.pool_size + 2
    pre = pids_in_uid_range(uid_lo, uid_hi)
    if pre:
        sys.exit(f"processes already run in uid range [{uid_lo}, {uid_hi}): {pre[:10]}")

    started = time.monotonic()
    loadavg_start = os.getloadavg()[0]
    d = Daemon(a)
    load = None
    res = None
    failure = None

    def on_signal(signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        d.start()
        load = Load(a, d)
        res = asyncio.run(load.run())
    except BaseException as e:  # noqa: BLE001 - the daemon must be stopped whatever happened
        failure = e
    finally:
        rc = d.stop()
        daemon_log = d.read_log(20000)
        deadline = time.monotonic() + 10
        left = pids_in_uid_range(uid_lo, uid_hi)
        while left and time.monotonic() < deadline:
            time.sleep(0.2)
            left = pids_in_uid_range(uid_lo, uid_hi)
        cg_left = remove_parent_cgroups(a.cgroup_parent)
        d.remove_data()
    log(f"kilnd stopped (exit {rc}); {len(left)} process(es) left in uid range "
        f"[{uid_lo}, {uid_hi}); parent cgroups left: {cg_left or 'none'}")
    if left:
        log(f"left over: {left[:20]}")
    if failure is not None:
        if daemon_log:
            log("daemon log tail:\n" + daemon_log[-3000:])
        raise failure

    extra = {"uid_leftovers": len(left), "loadavg_start": loadavg_start,
             "cgroups_left": cg_left, "kilnd_exit": rc,
             "daemon_log_errors": [ln for ln in daemon_log.splitlines()
                                   if "error" in ln.lower()][:20]}
    summ = summarize(a, load.st, res)
    elapsed = time.monotonic() - started
    m = machine()
    print(f"Kiln load benchmark  {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}"
          f"  nproc={m['nproc']}  kernel={m['kernel']}  loadavg at start={loadavg_start:.2f}")
    print(f"{a.connections} connections, {a.sandboxes} sandboxes, warm-up {a.warmup:g} s, "
          f"measured {res['wall_s']:.1f} s, pool {a.pool_size}, run {elapsed:.0f} s")
    print(table(a, summ, res, extra), flush=True)
    if load.st.details:
        print("\nfirst failures:")
        for x in load.st.details[:15]:
            print(f"  t={x['t_s']}s {x['kind']}: {x['what']} after {x['elapsed_ms']} ms: "
                  f"{x['request']}")
    if extra["daemon_log_errors"]:
        print("\nkilnd log lines with 'error':")
        for ln in extra["daemon_log_errors"][:10]:
            print("  " + ln[:300])
    t = summ["total"]
    missed = (t["status_5xx"] or t["lost"] or t["wrong_content"] or extra["uid_leftovers"]
              or (summ["daemon"]["rss_growth_pct"] or 0) > 10
              or res["idle_after"]["fds"] > res["idle_before"]["fds"]
              or res["empty_end"]["fds"] > res["empty_start"]["fds"])
    if a.json:
        samples = res.pop("samples_measure")
        doc = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "machine": m, "loadavg_start": loadavg_start, "quick": a.quick,
               "config": {"duration_s": a.duration, "warmup_s": a.warmup,
                          "connections": a.connections, "sandboxes": a.sandboxes,
                          "churn_max": a.churn_max, "pool_size": a.pool_size,
                          "max_sandboxes": a.max_sandboxes, "timeout_s": a.timeout,
                          "seed": a.seed, "op_weights": dict(OPS),
                          "code": {"counter": CODE_COUNTER, "sum": CODE_SUM}},
               "run_seconds": round(elapsed, 1), "requests": summ["kinds"], "total": summ["total"],
               "op_mix": summ["op_mix"], "ops": summ["ops"],
               "churn_wait_p50_ms": summ["churn_wait_p50_ms"],
               "churn_wait_p99_ms": summ["churn_wait_p99_ms"],
               "daemon": {**summ["daemon"], **{k: res[k] for k in
                          ("empty_start", "idle_before", "idle_after", "empty_end")}},
               "cpu_cores": {"client": res["client_cpu_cores"], "kilnd": res["kilnd_cpu_cores"],
                             "sandboxes": res["sandboxes_cpu_cores"],
                             "other": res["other_cpu_cores"],
                             "machine": res["machine_busy_cores"]},
               "loadavg_end": res["loadavg_end"],
               "client_loop_lag_ms_max": res["loop_lag_ms_max"],
               "executions": {"daemon_counter": res["executions_daemon"],
                              "client_200": res["executions_client_ok"]},
               "teardown": {"deleted": res["deleted_at_end"],
                            "churn_left": res["churn_left_at_end"], **extra},
               "failures": load.st.details,
               "samples": [{k: s[k] for k in ("t_s", "rss_kib", "fds", "live_sandboxes")}
                           for s in samples]}
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=1, sort_keys=True)
            f.write("\n")
        log(f"wrote {a.json}")
    if a.check and missed:
        sys.exit(1)


if __name__ == "__main__":
    main()
