#!/usr/bin/python3
"""Kiln benchmark: latency, throughput and memory of kilnd against its peers.

Run with Debian's /usr/bin/python3 (stdlib only, plus jupyter_client for the
IPython peer):  /usr/bin/python3 bench/bench.py [--quick] [--only METRIC]

The script starts its own kilnd daemons on free loopback ports, each with a
temporary --data-dir, --uid-base 900000 and --cgroup-parent kiln-bench, and
stops them at the end.  Nothing here is hard-coded: every figure printed is
measured during the run.  See bench/README.md for what each figure means.
"""
import argparse
import datetime
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
METRICS = ("rtt", "create", "throughput", "memory", "create_rate", "languages", "pause", "pandas")
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))

# The one daemon class and uid table of the test support package; UID_SPAN:
# a daemon's sandboxes run as uid_base .. uid_base+199.
from kilnd import BENCH_UID_BASE, UID_SPAN, KilndProcess, remove_parent_cgroups  # noqa: E402

BWRAP = ["bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", "/usr", "/usr",
         "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
         "--symlink", "usr/bin", "/bin", "--proc", "/proc", "--dev", "/dev",
         "--tmpfs", "/tmp", "/usr/bin/python3", "-c", "print(1)"]
PLAIN_PY = ["/usr/bin/python3", "-c", "print(1)"]
# The first cell of almost every agent session, and the DataFrame it shows.
PANDAS_CELL = "import pandas as pd\npd.DataFrame({'a': [1, 2, 3], 'b': [4.0, 5.5, 6.1]})"
PLAIN_PANDAS = ["/usr/bin/python3", "-c",
                "import pandas as pd; print(pd.DataFrame({'a': [1, 2, 3]}).to_html())"]


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- statistics

def pct(samples, p):
    """p-th percentile (0..100), linear interpolation between closest ranks."""
    s = sorted(samples)
    if not s:
        return float("nan")
    k = (len(s) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summary_ms(samples_s):
    ms = [x * 1000.0 for x in samples_s]
    return {"p50": pct(ms, 50), "p99": pct(ms, 99), "min": min(ms), "max": max(ms),
            "mean": sum(ms) / len(ms), "n": len(ms)}


# ---------------------------------------------------------------- HTTP client

class Client:
    """One persistent keep-alive HTTP/1.1 connection (http.client, TCP_NODELAY)."""

    def __init__(self, port):
        self.port = port
        self.conn = None
        self._connect()

    def _connect(self):
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        self.conn.connect()
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def raw(self, method, path, body=None):
        """Sends one request; returns (status, body bytes). No JSON work."""
        headers = {}
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body=body, headers=headers)
            r = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionError, BrokenPipeError):
            self.conn.close()
            self._connect()
            self.conn.request(method, path, body=body, headers=headers)
            r = self.conn.getresponse()
        data = r.read()
        if r.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self._connect()
        return r.status, data

    def call(self, method, path, obj=None, expect=(200,)):
        body = json.dumps(obj).encode() if obj is not None else None
        status, data = self.raw(method, path, body)
        if status not in expect:
            raise RuntimeError(f"{method} {path} -> {status}: {data[:500]!r}")
        return json.loads(data) if data else None

    def close(self):
        self.conn.close()


# ---------------------------------------------------------------- daemon

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
    out = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            u = uid_of(d)
            if u is not None and lo <= u < hi:
                out.setdefault(u, []).append(int(d))
    return out


def pss_kib(pid):
    """Pss of one process in KiB, from smaps_rollup (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class Daemon(KilndProcess):
    """The support package's kilnd process (tests/support/kilnd.py) with the
    bench's keep-alive client for its calls and /metrics readings."""

    def __init__(self, kilnd, pool_size, uid_base, cgroup_parent, name, max_sandboxes=100):
        # python_preload=None: kilnd's default preload list, as a user gets it.
        super().__init__(suite="bench", kilnd=kilnd, pool_size=pool_size, uid_base=uid_base,
                         cgroup_parent=cgroup_parent, max_sandboxes=max_sandboxes,
                         log_level="warn", start=False, python_preload=None)
        self.name = name
        self.client = None

    def start(self):
        super().start()
        self.client = Client(self.port)
        self.wait_pool_full(timeout=60)
        log(f"kilnd '{self.name}' up on port {self.port} (pool {self.pool_size}, pid {self.proc.pid})")
        return self

    def read_log(self):
        return super().read_log()[-4000:]

    def metric(self, name, client=None):
        _, data = (client or self.client).raw("GET", "/metrics")
        return super().metric(name, data.decode())

    def wait_pool_full(self, timeout=30, client=None):
        if client is None:
            return super().wait_pool_full(timeout)
        if self.pool_size == 0:
            return 0.0
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if (self.metric("kiln_pool_ready", client) or 0) >= self.pool_size:
                return time.monotonic() - t0
            time.sleep(0.01)
        raise RuntimeError(f"pool did not refill to {self.pool_size} in {timeout}s")

    def create(self, client=None, **body):
        return (client or self.client).call("POST", "/v1/sandboxes", body, expect=(200, 201))

    def delete(self, sid, client=None):
        (client or self.client).call("DELETE", f"/v1/sandboxes/{sid}", expect=(204,))

    def execute(self, sid, code, client=None):
        return (client or self.client).call("POST", f"/v1/sandboxes/{sid}/execute", {"code": code})

    def stop(self):
        if self.client and self.proc and self.proc.poll() is None:
            try:
                self.client.close()
            except Exception:
                pass
        super().stop()
        # The parent cgroup is shared by the bench's daemons: Bench.cleanup removes it.
        shutil.rmtree(self.data_dir, ignore_errors=True)


def start_ipykernel():
    from jupyter_client.manager import KernelManager
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # quiet debugpy banner
    km = KernelManager(kernel_name="python3")
    km.start_kernel(extra_arguments=[])
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    return km, kc


def ipykernel_exec_blocking(kc, code):
    """Sends one execute_request; returns once iopub is idle and the shell reply came."""
    msg_id = kc.execute(code, store_history=False)
    result = None
    while True:
        m = kc.get_iopub_msg(timeout=30)
        if m["parent_header"].get("msg_id") != msg_id:
            continue
        if m["msg_type"] == "execute_result":
            result = m["content"]["data"].get("text/plain")
        elif m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
            break
    while True:
        m = kc.get_shell_msg(timeout=30)
        if m["parent_header"].get("msg_id") == msg_id:
            break
    return result


def time_cmd(cmd, n):
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out.append(time.perf_counter() - t0)
        if r.returncode != 0 or r.stdout != b"1\n":
            raise RuntimeError(f"{cmd[0]} failed: {r.returncode} {r.stderr[:300]!r}")
    return out


def cmd_rate(cmd, workers, duration):
    count = [0] * workers
    stop_at = time.monotonic() + duration

    def work(i):
        while time.monotonic() < stop_at:
            r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if r.returncode != 0:
                raise RuntimeError(f"{cmd[0]} failed: {r.returncode}")
            count[i] += 1

    t0 = time.monotonic()
    ts = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(count) / (time.monotonic() - t0)


# ---------------------------------------------------------------- benchmarks

class Bench:
    def __init__(self, args):
        self.a = args
        self.res = {}      # metric key -> dict(value, unit, ...)
        self.daemons = []
        self.n_rtt = 200 if args.quick else 2000
        self.n_rtt_peer = 100 if args.quick else 500
        self.n_create = 8 if args.quick else 30
        self.tp_secs = 2.0 if args.quick else 10.0
        self.tp_peer_secs = 1.5 if args.quick else 5.0
        self.n_mem = 5 if args.quick else 20
        self.n_rate = 8 if args.quick else 20

    def put(self, key, value, unit, **extra):
        self.res[key] = {"value": value, "unit": unit, **extra}

    def daemon(self, pool_size, name):
        d = Daemon(self.a.kilnd, pool_size, self.a.uid_base, self.a.cgroup_parent, name)
        self.daemons.append(d)
        return d.start()

    def stop_daemon(self, d):
        d.stop()
        self.daemons.remove(d)

    def cleanup(self):
        for d in list(self.daemons):
            try:
                d.stop()
            except Exception as e:  # pragma: no cover
                log(f"stopping kilnd failed: {e}")
        self.daemons.clear()
        remove_parent_cgroups(self.a.cgroup_parent)

    # 1. warm execution round trip
    def rtt_kiln(self, d):
        c = d.client
        sid = d.create()["id"]
        r = d.execute(sid, "x = 1")
        assert r["error"] is None, r
        r = d.execute(sid, "x")
        assert r["results"][0]["text"] == "1", r
        path = f"/v1/sandboxes/{sid}/execute"
        body = json.dumps({"code": "x"}).encode()
        for _ in range(50):  # warm-up
            c.raw("POST", path, body)
        samples = []
        for _ in range(self.n_rtt):
            t0 = time.perf_counter()
            status, data = c.raw("POST", path, body)
            samples.append(time.perf_counter() - t0)
            if status != 200:
                raise RuntimeError(f"execute -> {status}: {data[:300]!r}")
        last = json.loads(data)
        assert last["results"][0]["text"] == "1", last
        # HTTP floor on the same connection: the daemon's cheapest route.
        floor = []
        for _ in range(min(self.n_rtt, 500)):
            t0 = time.perf_counter()
            c.raw("GET", "/healthz")
            floor.append(time.perf_counter() - t0)
        # Server-reported duration_ms of the same kind of call (integer ms).
        dur = [d.execute(sid, "x")["duration_ms"] for _ in range(50)]
        d.delete(sid)
        s = summary_ms(samples)
        f = summary_ms(floor)
        self.put("warm_rtt_p50_ms", s["p50"], "ms", p99=s["p99"], n=s["n"])
        self.put("warm_rtt_p99_ms", s["p99"], "ms")
        self.put("http_floor_p50_ms", f["p50"], "ms", p99=f["p99"], n=f["n"])
        self.put("server_duration_ms_p50", pct(dur, 50), "ms",
                 note="execute response duration_ms (integer ms)")
        log(f"warm rtt kiln: p50 {s['p50']:.3f} ms p99 {s['p99']:.3f} ms "
            f"(GET /healthz p50 {f['p50']:.3f} ms)")

    def rtt_peer(self):
        km, kc = start_ipykernel()
        try:
            res = ipykernel_exec_blocking(kc, "x = 1")
            assert ipykernel_exec_blocking(kc, "x") == "1"
            for _ in range(20):
                ipykernel_exec_blocking(kc, "x")
            samples = []
            for _ in range(self.n_rtt_peer):
                t0 = time.perf_counter()
                res = ipykernel_exec_blocking(kc, "x")
                samples.append(time.perf_counter() - t0)
            assert res == "1", res
            s = summary_ms(samples)
            self.put("ipykernel_rtt_p50_ms", s["p50"], "ms", p99=s["p99"], n=s["n"])
            self.put("ipykernel_rtt_p99_ms", s["p99"], "ms")
            log(f"warm rtt ipykernel: p50 {s['p50']:.3f} ms p99 {s['p99']:.3f} ms")
            # Idle ipykernel memory (the peer for metric 4): the kernel and its children.
            pid = km.provisioner.pid if getattr(km, "provisioner", None) else km.kernel.pid
            pids = [pid] + child_pids(pid)
            time.sleep(0.5)
            kib = sum(pss_kib(p) for p in pids)
            self.put("ipykernel_pss_mib", kib / 1024.0, "MiB", processes=len(pids))
            log(f"idle ipykernel PSS {kib / 1024:.1f} MiB over {len(pids)} process(es)")
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)

    # 2. create -> first result
    def create_first_result(self, d, key):
        samples, waits, creates = [], [], []
        for i in range(self.n_create):
            waits.append(d.wait_pool_full())
            t0 = time.perf_counter()
            sid = d.create()["id"]
            t1 = time.perf_counter()
            r = d.execute(sid, "print(1)")
            samples.append(time.perf_counter() - t0)
            creates.append(t1 - t0)
            if r["logs"]["stdout"] != ["1\n"] or r["error"] is not None:
                raise RuntimeError(f"print(1) gave {r}")
            d.delete(sid)
        s = summary_ms(samples)
        self.put(f"{key}_p50_ms", s["p50"], "ms", p99=s["p99"], n=s["n"],
                 samples_ms=[round(x * 1000.0, 3) for x in samples])
        self.put(f"{key}_p99_ms", s["p99"], "ms")
        self.put(f"{key}_post_sandboxes_p50_ms", pct(creates, 50) * 1000.0, "ms",
                 note="the POST /v1/sandboxes part of the create->first result time")
        if d.pool_size:
            self.put("pool_refill_p50_ms", pct(waits, 50) * 1000.0, "ms",
                     note="time waited for kiln_pool_ready to be back at pool size")
        log(f"{key}: p50 {s['p50']:.2f} ms p99 {s['p99']:.2f} ms "
            f"(POST /v1/sandboxes p50 {pct(creates, 50) * 1000:.2f} ms)")

    # 8. create -> first pandas DataFrame result (issue 14): from the warm
    #    pool (whose Python contexts preloaded pandas) and cold, against the
    #    same cell in a plain python3 and in a fresh Jupyter kernel.
    def pandas_first_result(self, d, key):
        n = 5 if self.a.quick else 15
        samples = []
        for _ in range(n):
            d.wait_pool_full(timeout=120)
            t0 = time.perf_counter()
            sid = d.create()["id"]
            r = d.execute(sid, PANDAS_CELL)
            samples.append(time.perf_counter() - t0)
            html = (r["results"] or [{}])[-1].get("html") or ""
            if r["error"] is not None or "<table" not in html:
                raise RuntimeError(f"the pandas cell gave {str(r)[:300]}")
            d.delete(sid)
        s = summary_ms(samples)
        self.put(f"{key}_p50_ms", s["p50"], "ms", min=s["min"], max=s["max"], n=s["n"])
        log(f"{key}: min {s['min']:.1f} / median {s['p50']:.1f} / max {s['max']:.1f} ms")

    def pandas_peers(self):
        n = 3 if self.a.quick else 7
        plain = []
        for _ in range(n):
            t0 = time.perf_counter()
            r = subprocess.run(PLAIN_PANDAS, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            plain.append(time.perf_counter() - t0)
            if r.returncode != 0 or b"<table" not in r.stdout:
                raise RuntimeError(f"python3 pandas failed: {r.stderr[:300]!r}")
        s = summary_ms(plain)
        self.put("pandas_python3_p50_ms", s["p50"], "ms", min=s["min"], max=s["max"], n=s["n"])
        log(f"python3 -c pandas: min {s['min']:.1f} / median {s['p50']:.1f} / "
            f"max {s['max']:.1f} ms")
        try:
            import jupyter_client  # noqa: F401
        except ImportError:
            log("no jupyter_client: the Jupyter peer is left out")
            return
        kernel = []
        for _ in range(n):
            t0 = time.perf_counter()
            km, kc = start_ipykernel()
            try:
                ipykernel_exec_blocking(kc, PANDAS_CELL)
                kernel.append(time.perf_counter() - t0)
            finally:
                kc.stop_channels()
                km.shutdown_kernel(now=True)
        s = summary_ms(kernel)
        self.put("pandas_ipykernel_p50_ms", s["p50"], "ms", min=s["min"], max=s["max"],
                 n=s["n"])
        log(f"ipykernel start + pandas cell: min {s['min']:.1f} / median {s['p50']:.1f} / "
            f"max {s['max']:.1f} ms")

    def create_peers(self):
        for name, cmd in (("bwrap_run", BWRAP), ("python_floor", PLAIN_PY)):
            time_cmd(cmd, 3)
            s = summary_ms(time_cmd(cmd, self.n_create))
            self.put(f"{name}_p50_ms", s["p50"], "ms", p99=s["p99"], n=s["n"])
            self.put(f"{name}_p99_ms", s["p99"], "ms")
            log(f"{name}: p50 {s['p50']:.2f} ms p99 {s['p99']:.2f} ms")

    def refill_stall(self, d, samples=5, window=0.25):
        """Diagnostic: how long the daemon stops answering while the pool refills.

        Takes a sandbox from the full pool, then hammers GET /healthz for
        `window` seconds while the daemon spawns the replacement; reports the
        longest single /healthz round trip (the event loop's longest stall).
        """
        worst = []
        for _ in range(samples):
            d.wait_pool_full()
            time.sleep(0.1)
            sid = d.create()["id"]
            t0 = time.perf_counter()
            m = 0.0
            while time.perf_counter() - t0 < window:
                a = time.perf_counter()
                d.client.raw("GET", "/healthz")
                m = max(m, time.perf_counter() - a)
            worst.append(m * 1000.0)
            d.delete(sid)
        self.put("refill_healthz_max_ms", pct(worst, 50), "ms", samples=worst,
                 note="median over samples of the longest GET /healthz while the pool refills")
        log(f"longest /healthz during a pool refill: median {pct(worst, 50):.2f} ms "
            f"(samples {', '.join(f'{x:.1f}' for x in worst)})")

    # 3. throughput
    def throughput(self, d, n=16):
        sids = [d.create()["id"] for _ in range(n)]
        for sid in sids:
            d.execute(sid, "1")
        counts = [0] * n
        errors = []
        execs0 = d.metric("kiln_executions_total")
        start = threading.Barrier(n + 1)
        stop = threading.Event()
        body = json.dumps({"code": "1"}).encode()

        def work(i):
            c = Client(d.port)
            path = f"/v1/sandboxes/{sids[i]}/execute"
            start.wait()
            k = 0
            try:
                while not stop.is_set():
                    status, data = c.raw("POST", path, body)
                    if status != 200:
                        errors.append((status, data[:200]))
                        return
                    k += 1
                if b'"text":"1"' not in data.replace(b" ", b""):
                    errors.append(("unexpected result", data[:200]))
            except Exception as e:
                errors.append(repr(e))
            finally:
                counts[i] = k
                c.close()

        ts = [threading.Thread(target=work, args=(i,)) for i in range(n)]
        for t in ts:
            t.start()
        cpu0 = os.times()
        start.wait()
        t0 = time.monotonic()
        time.sleep(self.tp_secs)
        stop.set()
        for t in ts:
            t.join()
        wall = time.monotonic() - t0
        cpu1 = os.times()
        if errors:
            raise RuntimeError(f"throughput errors: {errors[:3]}")
        client_cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
        rate = sum(counts) / wall
        execs = d.metric("kiln_executions_total") - execs0
        if execs < sum(counts):
            raise RuntimeError(f"daemon counted {execs} executions, clients {sum(counts)}")
        for sid in sids:
            d.delete(sid)
        self.put("throughput_exec_per_s", rate, "exec/s", sandboxes=n, threads=n,
                 seconds=wall, executions=sum(counts),
                 client_cpu_cores=client_cpu / wall,
                 min_per_sandbox=min(counts), max_per_sandbox=max(counts))
        log(f"throughput kiln: {rate:.0f} exec/s over {n} sandboxes "
            f"(client used {client_cpu / wall:.2f} cores)")

    def throughput_peer(self):
        rate = cmd_rate(BWRAP, 2, self.tp_peer_secs)
        self.put("bwrap_runs_per_s", rate, "runs/s", workers=2, seconds=self.tp_peer_secs)
        log(f"throughput bwrap: {rate:.1f} runs/s (2 workers)")

    # 4. memory
    def memory(self, d):
        lo, hi = d.uid_base, d.uid_base + UID_SPAN
        before = set(pids_in_uid_range(lo, hi))  # pool sandboxes, if any
        sids = [d.create()["id"] for _ in range(self.n_mem)]
        for sid in sids:
            assert d.execute(sid, "1")["results"][0]["text"] == "1"
        time.sleep(1.0)  # let them settle to idle
        by_uid = {u: p for u, p in pids_in_uid_range(lo, hi).items() if u not in before}
        per_sbx = [sum(pss_kib(p) for p in pids) / 1024.0 for pids in by_uid.values()]
        nproc = sum(len(p) for p in by_uid.values())
        cg = [cgroup_memory_bytes(self.a.cgroup_parent, sid) for sid in sids]
        cg = [x for x in cg if x is not None]
        kilnd_rss = status_kib(d.proc.pid, "VmRSS") / 1024.0
        kilnd_pss = pss_kib(d.proc.pid) / 1024.0
        for sid in sids:
            d.delete(sid)
        if len(per_sbx) != self.n_mem:
            log(f"warning: found {len(per_sbx)} sandbox uids for {self.n_mem} sandboxes")
        mean = sum(per_sbx) / len(per_sbx)
        self.put("idle_sandbox_pss_mib", mean, "MiB", sandboxes=len(per_sbx),
                 processes_per_sandbox=nproc / max(1, len(per_sbx)),
                 min=min(per_sbx), max=max(per_sbx))
        if cg:
            self.put("idle_sandbox_cgroup_mib", sum(cg) / len(cg) / 1048576.0, "MiB",
                     sandboxes=len(cg), note="memory cgroup usage (incl. page cache, tmpfs, "
                     "kernel memory) per sandbox")
        self.put("kilnd_rss_mib", kilnd_rss, "MiB", pss_mib=kilnd_pss,
                 live_sandboxes=self.n_mem)
        log(f"memory: {mean:.2f} MiB PSS per idle sandbox ({nproc} processes in "
            f"{len(per_sbx)} sandboxes), kilnd RSS {kilnd_rss:.1f} MiB")

    # 5. creates per second
    def create_rate(self, d):
        n = self.n_rate
        t0 = time.perf_counter()
        sids = [d.create()["id"] for _ in range(n)]
        seq = n / (time.perf_counter() - t0)
        for sid in sids:
            d.delete(sid)

        workers = 4
        made, errors = [], []
        lock = threading.Lock()
        barrier = threading.Barrier(workers + 1)

        def work(k):
            c = Client(d.port)
            barrier.wait()
            try:
                for _ in range(k):
                    sid = d.create(client=c)["id"]
                    with lock:
                        made.append(sid)
            except Exception as e:
                errors.append(repr(e))
            finally:
                c.close()

        share = [n // workers + (1 if i < n % workers else 0) for i in range(workers)]
        ts = [threading.Thread(target=work, args=(share[i],)) for i in range(workers)]
        for t in ts:
            t.start()
        barrier.wait()
        t0 = time.perf_counter()
        for t in ts:
            t.join()
        conc = len(made) / (time.perf_counter() - t0)
        for sid in made:
            d.delete(sid)
        if errors:
            raise RuntimeError(f"concurrent create errors: {errors[:3]}")
        self.put("creates_per_s_seq", seq, "creates/s", sandboxes=n)
        self.put("creates_per_s_4conc", conc, "creates/s", sandboxes=n, workers=workers)
        log(f"creates/s (cold): sequential {seq:.1f}, 4 concurrent {conc:.1f}")

    # 6. per language: context start-up (create context -> first result)
    #    and warm round trip of a trivial expression in that context.
    LANG_CODE = {"python": ("x = 1", "x"), "javascript": ("var x = 1", "x"),
                 "typescript": ("var x: number = 1", "x"), "bash": ("x=1", "echo $x")}

    def languages(self, d):
        sid = d.create()["id"]
        c = d.client
        n_start = 3 if self.a.quick else 10
        n_rtt = 100 if self.a.quick else 500
        for lang, (setup, probe) in self.LANG_CODE.items():
            starts = []
            for _ in range(n_start):
                t0 = time.perf_counter()
                ctx = c.call("POST", f"/v1/sandboxes/{sid}/contexts", {"language": lang},
                             expect=(201,))
                r = c.call("POST", f"/v1/sandboxes/{sid}/execute",
                           {"code": setup, "context_id": ctx["id"]})
                starts.append(time.perf_counter() - t0)
                if r["error"] is not None:
                    raise RuntimeError(f"{lang}: {r['error']}")
                c.call("DELETE", f"/v1/sandboxes/{sid}/contexts/{ctx['id']}", expect=(204,))
            ctx = c.call("POST", f"/v1/sandboxes/{sid}/contexts", {"language": lang}, expect=(201,))
            c.call("POST", f"/v1/sandboxes/{sid}/execute", {"code": setup, "context_id": ctx["id"]})
            body = json.dumps({"code": probe, "context_id": ctx["id"]}).encode()
            path = f"/v1/sandboxes/{sid}/execute"
            for _ in range(20):
                c.raw("POST", path, body)
            rtts = []
            for _ in range(n_rtt):
                t0 = time.perf_counter()
                status, data = c.raw("POST", path, body)
                rtts.append(time.perf_counter() - t0)
                if status != 200:
                    raise RuntimeError(f"{lang} execute -> {status}")
            st, rt = summary_ms(starts), summary_ms(rtts)
            self.put(f"lang_{lang}_start_p50_ms", st["p50"], "ms", p99=st["p99"], n=st["n"])
            self.put(f"lang_{lang}_rtt_p50_ms", rt["p50"], "ms", p99=rt["p99"], n=rt["n"])
            log(f"{lang}: context start p50 {st['p50']:.1f} ms, warm rtt p50 {rt['p50']:.3f} ms")
        d.delete(sid)

    # 7. pause / resume in memory (cgroup freezer): each call timed from the
    #    request send to the last byte of the answer, on a sandbox whose
    #    Python context is started and which runs a background sleep.
    def pause_resume(self, d):
        c = d.client
        sid = d.create()["id"]
        d.execute(sid, "x = 1")
        c.call("POST", f"/v1/sandboxes/{sid}/commands", {"cmd": "sleep 1000", "background": True},
               expect=(201,))
        n = 20 if self.a.quick else 200
        pauses, resumes = [], []
        for _ in range(n):
            t0 = time.perf_counter()
            if c.call("POST", f"/v1/sandboxes/{sid}/pause", {})["status"] != "paused":
                raise RuntimeError("pause did not pause")
            t1 = time.perf_counter()
            if c.call("POST", f"/v1/sandboxes/{sid}/resume", {})["status"] != "running":
                raise RuntimeError("resume did not resume")
            resumes.append(time.perf_counter() - t1)
            pauses.append(t1 - t0)
        if d.execute(sid, "x")["results"][0]["text"] != "1":
            raise RuntimeError("state lost across pause/resume")
        for key, samples in (("pause", pauses), ("resume", resumes)):
            sm = summary_ms(samples)
            self.put(f"{key}_p50_ms", sm["p50"], "ms", p99=sm["p99"], min=sm["min"],
                     max=sm["max"], n=sm["n"])
            log(f"{key} in memory: min {sm['min']:.2f} / median {sm['p50']:.2f} / "
                f"max {sm['max']:.2f} ms over {sm['n']}")
        d.delete(sid)

    # ------------------------------------------------------------ driver
    def run(self, only):
        want = set(only)
        try:
            if want & {"rtt", "create", "throughput"}:
                d = self.daemon(self.a.pool_size, "pool")
                if "rtt" in want:
                    self.rtt_kiln(d)
                if "create" in want:
                    self.create_first_result(d, "create_pool")
                    self.refill_stall(d, samples=3 if self.a.quick else 5)
                if "throughput" in want:
                    self.throughput(d)
                self.stop_daemon(d)
            if "languages" in want:
                d = self.daemon(1, "languages")
                self.languages(d)
                self.stop_daemon(d)
            if "pause" in want:
                d = self.daemon(1, "pause")
                self.pause_resume(d)
                self.stop_daemon(d)
            if "pandas" in want:
                d = self.daemon(self.a.pool_size, "pandas-pool")
                self.pandas_first_result(d, "pandas_pool")
                self.stop_daemon(d)
                d = self.daemon(0, "pandas-cold")
                self.pandas_first_result(d, "pandas_cold")
                self.stop_daemon(d)
            if want & {"create", "memory", "create_rate"}:
                d = self.daemon(0, "cold")
                if "create" in want:
                    self.create_first_result(d, "create_cold")
                if "create_rate" in want:
                    self.create_rate(d)
                if "memory" in want:
                    self.memory(d)
                self.stop_daemon(d)
        finally:
            self.cleanup()
        if want & {"rtt", "memory"}:
            self.rtt_peer()
        if "create" in want:
            self.create_peers()
        if "throughput" in want:
            self.throughput_peer()
        if "pandas" in want:
            self.pandas_peers()


def cgroup_memory_bytes(parent, sid):
    """A sandbox's memory cgroup usage (v1 memory.usage_in_bytes or v2 memory.current)."""
    for path in (f"/sys/fs/cgroup/memory/{parent}/{sid}/memory.usage_in_bytes",
                 f"/sys/fs/cgroup/{parent}/{sid}/memory.current",
                 f"/sys/fs/cgroup/unified/{parent}/{sid}/memory.current"):
        try:
            with open(path) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            continue
    return None


def child_pids(pid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
        if ppid == pid:
            out.append(int(d))
            out += child_pids(int(d))
    return out


# ---------------------------------------------------------------- report

def table(res, nproc):
    def v(key):
        return res[key]["value"] if key in res else None

    def ratio(a, b):
        return a / b if a is not None and b else None

    rows = []  # metric, kiln, peer, ratio, target, verdict

    def row(name, kiln, peer=None, target=None, ok=None, fmt="{:.3f}", peer_name=""):
        rows.append((name, kiln, peer, ratio(kiln, peer), target, ok, fmt, peer_name))

    def le(x, lim):
        return None if x is None else x <= lim

    if "warm_rtt_p50_ms" in res:
        row("warm exec round trip p50 (ms)", v("warm_rtt_p50_ms"), v("ipykernel_rtt_p50_ms"),
            "<= 1 ms", le(v("warm_rtt_p50_ms"), 1.0), peer_name="ipykernel")
        row("warm exec round trip p99 (ms)", v("warm_rtt_p99_ms"), v("ipykernel_rtt_p99_ms"),
            peer_name="ipykernel")
        row("  HTTP floor GET /healthz p50 (ms)", v("http_floor_p50_ms"))
    if "create_pool_p50_ms" in res:
        row("create->print(1) pool p50 (ms)", v("create_pool_p50_ms"), v("bwrap_run_p50_ms"),
            "<= 10 ms", le(v("create_pool_p50_ms"), 10.0), fmt="{:.2f}", peer_name="bwrap")
        row("create->print(1) pool p99 (ms)", v("create_pool_p99_ms"), v("bwrap_run_p99_ms"),
            fmt="{:.2f}", peer_name="bwrap")
        row("  of which POST /v1/sandboxes p50 (ms)", v("create_pool_post_sandboxes_p50_ms"),
            fmt="{:.2f}")
        row("  longest GET /healthz during refill (ms)", v("refill_healthz_max_ms"),
            fmt="{:.2f}")
    if "create_cold_p50_ms" in res:
        row("create->print(1) cold p50 (ms)", v("create_cold_p50_ms"), v("bwrap_run_p50_ms"),
            "<= 60 ms", le(v("create_cold_p50_ms"), 60.0), fmt="{:.2f}", peer_name="bwrap")
        row("create->print(1) cold p99 (ms)", v("create_cold_p99_ms"), v("bwrap_run_p99_ms"),
            fmt="{:.2f}", peer_name="bwrap")
        row("  of which POST /v1/sandboxes p50 (ms)", v("create_cold_post_sandboxes_p50_ms"),
            fmt="{:.2f}")
    if "python_floor_p50_ms" in res:
        row("  floor: python3 -c print(1) p50 (ms)", None, v("python_floor_p50_ms"),
            fmt="{:.2f}", peer_name="python3")
        if "create_pool_p50_ms" in res:
            row("  pool p50 / python3 floor", ratio(v("create_pool_p50_ms"),
                v("python_floor_p50_ms")), fmt="{:.2f}x")
        if "create_cold_p50_ms" in res:
            row("  cold p50 / python3 floor", ratio(v("create_cold_p50_ms"),
                v("python_floor_p50_ms")), fmt="{:.2f}x")
    if "throughput_exec_per_s" in res:
        row(f"throughput, 16 sandboxes (exec/s, {nproc} cores)", v("throughput_exec_per_s"),
            v("bwrap_runs_per_s"), ">= 1000/s on 2 cores",
            None if v("throughput_exec_per_s") is None else v("throughput_exec_per_s") >= 1000,
            fmt="{:.0f}", peer_name="bwrap x2")
    if "idle_sandbox_pss_mib" in res:
        row("idle sandbox PSS (MiB)", v("idle_sandbox_pss_mib"), v("ipykernel_pss_mib"),
            fmt="{:.2f}", peer_name="ipykernel")
        row("  idle sandbox memory cgroup usage (MiB)", v("idle_sandbox_cgroup_mib"),
            fmt="{:.2f}")
        row(f"kilnd RSS with {res['kilnd_rss_mib']['live_sandboxes']} sandboxes (MiB)",
            v("kilnd_rss_mib"), fmt="{:.2f}")
    if "creates_per_s_seq" in res:
        row("sandbox creates/s, cold, sequential", v("creates_per_s_seq"), fmt="{:.1f}")
        row("sandbox creates/s, cold, 4 concurrent", v("creates_per_s_4conc"), fmt="{:.1f}")

    if "pandas_pool_p50_ms" in res:
        for key, what in (("pandas_pool", "pool"), ("pandas_cold", "cold")):
            r = res[f"{key}_p50_ms"]
            row(f"create->first pandas DataFrame, {what} p50 (ms; min {r['min']:.0f}, "
                f"max {r['max']:.0f})", r["value"], v("pandas_ipykernel_p50_ms"),
                "<= 20 ms" if what == "pool" else None,
                le(r["value"], 20.0) if what == "pool" else None, fmt="{:.1f}",
                peer_name="ipykernel")
        row("  peer: python3 -c import pandas + to_html p50 (ms)", None,
            v("pandas_python3_p50_ms"), fmt="{:.1f}", peer_name="python3")
        row("  pool p50 / python3", ratio(v("pandas_pool_p50_ms"), v("pandas_python3_p50_ms")),
            fmt="{:.3f}x")
    if "pause_p50_ms" in res:
        for key in ("pause", "resume"):
            r = res[f"{key}_p50_ms"]
            row(f"{key} in memory p50 (ms; min {r['min']:.2f}, max {r['max']:.2f})", r["value"],
                target="<= 5 ms", ok=le(r["value"], 5.0), fmt="{:.2f}")

    for lang in ("python", "javascript", "typescript", "bash"):
        if f"lang_{lang}_start_p50_ms" in res:
            row(f"{lang}: context start -> first result p50 (ms)", v(f"lang_{lang}_start_p50_ms"),
                fmt="{:.1f}")
            row(f"{lang}: warm round trip p50 (ms)", v(f"lang_{lang}_rtt_p50_ms"), fmt="{:.3f}")

    def f(x, fmt):
        return "-" if x is None else fmt.format(x)

    hdr = ("metric", "kiln", "peer", "ratio", "target")
    body = []
    for name, kiln, peer, rat, target, ok, fmt, peer_name in rows:
        t = "-" if target is None else f"{target} {'ok' if ok else 'MISS'}"
        p = f(peer, fmt.replace("x", "")) + (f" ({peer_name})" if peer is not None else "")
        body.append((name, f(kiln, fmt), p, f(rat, "{:.2f}x"), t))
    w = [max(len(r[i]) for r in [hdr] + body) for i in range(5)]
    lines = ["  ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i]) if i < 4 else c
                       for i, c in enumerate(r)).rstrip() for r in [hdr] + body]
    lines.insert(1, "  ".join("-" * x for x in w))
    return "\n".join(lines)


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
    ap.add_argument("--pool-size", type=int, default=4, help="pool of the warm daemon")
    ap.add_argument("--uid-base", type=int, default=BENCH_UID_BASE["bench"])
    ap.add_argument("--cgroup-parent", default="kiln-bench")
    ap.add_argument("--quick", action="store_true", help="few iterations (smoke test)")
    ap.add_argument("--only", action="append", default=[],
                    help=f"run only this metric (repeatable or comma list): {', '.join(METRICS)}")
    ap.add_argument("--json", help="also write the results as JSON here")
    a = ap.parse_args()
    only = [m.strip() for o in a.only for m in o.split(",") if m.strip()] or list(METRICS)
    bad = [m for m in only if m not in METRICS]
    if bad:
        ap.error(f"unknown metric {bad}; choose from {', '.join(METRICS)}")
    if not os.access(a.kilnd, os.X_OK):
        ap.error(f"kilnd not found at {a.kilnd} (run 'make build')")

    started = time.monotonic()
    b = Bench(a)

    def on_signal(signum, _frame):
        b.cleanup()
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    try:
        b.run(only)
    except KeyboardInterrupt:
        b.cleanup()
        raise
    elapsed = time.monotonic() - started
    m = machine()
    out = table(b.res, m["nproc"])
    print(f"Kiln benchmark  {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}"
          f"  nproc={m['nproc']}  kernel={m['kernel']}  quick={a.quick}  "
          f"run={elapsed:.0f}s")
    print(out, flush=True)
    if a.json:
        doc = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "machine": m, "quick": a.quick, "pool_size": a.pool_size,
               "run_seconds": round(elapsed, 1), "metrics": b.res}
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=2, sort_keys=True)
            f.write("\n")
        log(f"wrote {a.json}")


if __name__ == "__main__":
    main()
