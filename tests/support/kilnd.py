"""A real kilnd for tests and benchmarks, standard library only.

The one daemon class every suite uses (tests/api, tests/security, tests/cli
through tests/support/api_client.py; sdk/python/tests and bench/ directly):

- KilndProcess: start / stop / restart (same data folder, port, uid range
  and parent cgroup), read_log, admin subcommands, /metrics readings and
  wait_pool_full, leftovers (processes in the uid range, sandbox cgroup
  directories) and parent-cgroup removal with retry.
- Kilnd: a KilndProcess whose stop() also cleans up (the SDK suites' and the
  benchmarks' shape).

Each daemon gets a free port, its own temporary data folder, a uid range
from its suite's row of UID_RANGES (no two suites can collide: kilnd kills
every process in its range at start-up) and a parent cgroup named by
cgroup_parent_name(). The TypeScript suite has the same rule in
sdk/js/test/helpers.mjs (row "sdk-js").
"""
from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from typing import Any, BinaryIO, Dict, List, Optional, Tuple

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# KILN_KILND picks another build (make test-asan runs the suites on build-asan).
KILND = os.environ.get("KILN_KILND", os.path.join(ROOT, "build", "kilnd"))

# -- uid ranges ---------------------------------------------------------------
#
# One row per suite: [start, end) of the uids its daemons may use. A daemon
# with --uid-base B and --max-sandboxes M runs sandboxes as B .. B + 2*M (a
# pool member and its replacement may overlap), so each daemon gets a slot of
# UID_SPAN uids: max_sandboxes may be at most UID_SPAN // 2. Within a suite,
# slots are handed out per test process (pid) and per daemon (a counter), see
# uid_base(); a process wraps around inside its suite's row only after
# using every slot of it. Ranges never overlap: _check_uid_table() below
# refuses to import a table where two rows do.
UID_SPAN = 200
DAEMONS_PER_PROCESS = 10  # a test process's own block of slots
UID_RANGES: Dict[str, Tuple[int, int]] = {
    "api": (300_000, 900_000),            # tests/api
    "bench": (900_000, 1_000_000),        # bench/: bench.py 900 000, interference.py 940 000,
                                          # load.py 950 000, egress.py 960 000 (fixed bases,
                                          # one daemon at a time)
    "cli": (1_400_000, 1_500_000),        # tests/cli
    "api-auth": (1_500_000, 1_800_000),   # tests/api/test_auth.py's refused start-up
    "security": (1_800_000, 2_000_000),   # tests/security
    "sdk": (2_000_000, 2_500_000),        # sdk/python/tests
    "sdk-js": (2_500_000, 3_200_000),     # sdk/js/test/helpers.mjs (its own copy of the rule)
    # Reserved for work in progress on other branches (not used on main yet):
    "mcp": (3_200_000, 3_600_000),
    "e2b": (3_600_000, 4_000_000),
    "egress": (4_000_000, 4_400_000),
    "zygote": (4_400_000, 5_000_000),
    "console": (5_000_000, 5_400_000),
}
# Fixed bases inside the bench row (each benchmark runs one daemon at a time).
BENCH_UID_BASE = {"bench": 900_000, "interference": 940_000, "load": 950_000, "egress": 960_000}



def _check_uid_table() -> None:
    rows = sorted(UID_RANGES.items(), key=lambda kv: kv[1])
    for (a, (a0, a1)), (b, (b0, _)) in zip(rows, rows[1:]):
        if not (a0 < a1 <= b0 and (a1 - a0) >= UID_SPAN):
            raise AssertionError(f"uid ranges {a} {UID_RANGES[a]} and {b} {UID_RANGES[b]} collide")
    lo, hi = UID_RANGES["bench"]
    for name, base in BENCH_UID_BASE.items():
        if not lo <= base < hi:
            raise AssertionError(f"bench uid base {name}={base} is outside the bench row")


_check_uid_table()
_counter = itertools.count()
_CONTROLLERS = ("memory", "pids", "cpu", "cpuacct", "cpu,cpuacct", "unified")


def uid_base(suite: str, n: int, pid: Optional[int] = None) -> int:
    """The --uid-base of daemon number n of this process in `suite`: the
    process's block of DAEMONS_PER_PROCESS slots (chosen by pid), then the
    following slots (a process with many daemons runs into its neighbours'
    blocks, never into another suite's range)."""
    start, end = UID_RANGES[suite]
    slots = (end - start) // UID_SPAN
    per_proc = min(DAEMONS_PER_PROCESS, slots)
    procs = max(1, slots // per_proc)
    pid = os.getpid() if pid is None else pid
    slot = ((pid % procs) * per_proc + n) % slots
    return start + slot * UID_SPAN


_uid_base = uid_base  # the constructors below have a parameter of that name


def cgroup_parent_name(suite: str, n: int, pid: Optional[int] = None) -> str:
    """The one naming rule for a test daemon's parent cgroup."""
    return f"kiln-{suite}-test-{os.getpid() if pid is None else pid}-{n}"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- leftovers ------------------------------------------------------------------

def processes_in_uid_range(lo: int, hi: int) -> List[int]:
    """Pids of the processes whose uid is in [lo, hi)."""
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                uid = os.stat(f"/proc/{d}").st_uid
            except FileNotFoundError:
                continue
            if lo <= uid < hi:
                pids.append(int(d))
    return pids


def _hierarchies(root: str = "/sys/fs/cgroup") -> List[str]:
    """Every hierarchy a parent cgroup may be in: the v1 mounts and the unified
    one under root (a hybrid host), and root itself (a pure v2 host)."""
    try:
        subs = sorted(os.path.join(root, h) for h in os.listdir(root))
    except OSError:
        subs = []
    out, seen = [], set()
    for h in [os.path.join(root, c) for c in _CONTROLLERS] + subs + [root]:
        real = os.path.realpath(h)
        if real not in seen and os.path.isdir(h):
            seen.add(real)
            out.append(h)
    return out


def _parent_dirs(cgroup_parent: str) -> List[str]:
    out, seen = [], set()
    for h in _hierarchies():
        p = os.path.join(h, cgroup_parent)
        if os.path.realpath(p) not in seen and os.path.isdir(p):
            seen.add(os.path.realpath(p))
            out.append(p)
    return out


def sandbox_cgroup_dirs(cgroup_parent: str) -> List[str]:
    """Every per-sandbox cgroup dir under this daemon's parent, all hierarchies."""
    out = []
    for parent in _parent_dirs(cgroup_parent):
        out += [os.path.join(parent, d) for d in os.listdir(parent)
                if os.path.isdir(os.path.join(parent, d))]
    return out


def daemon_leftovers(d: "KilndProcess") -> Tuple[List[int], List[str]]:
    """(processes, cgroups) the daemon's sandboxes left behind."""
    return (processes_in_uid_range(d.uid_base, d.uid_base + UID_SPAN),
            sandbox_cgroup_dirs(d.cgroup_parent))


def remove_parent_cgroups(parent: str, timeout: float = 5.0) -> List[str]:
    """Removes a daemon's (empty) parent cgroups, with their empty children, in
    every hierarchy. After a kill -9 the sandboxes' processes die
    asynchronously, so empty cgroups may need a moment: retried until
    `timeout`. Returns the directories that are still there."""
    deadline = time.monotonic() + timeout
    while True:
        for p in _parent_dirs(parent):
            for d in os.listdir(p):
                if os.path.isdir(os.path.join(p, d)):
                    try:
                        os.rmdir(os.path.join(p, d))
                    except OSError:
                        pass
            try:
                os.rmdir(p)
            except OSError:
                pass
        left = _parent_dirs(parent)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


# -- the daemon -------------------------------------------------------------------

class KilndProcess:
    """One kilnd process. `url` is its base URL.

    stop() ends the process only (a test may then start another daemon on the
    same data folder, uid range and parent cgroup, or call restart());
    cleanup() removes the parent cgroups and, when this object made it, the
    data folder; close() is both."""

    def __init__(self, *extra_args: str, suite: str = "api", pool_size: int = 1,
                 max_sandboxes: int = 32, data_dir: Optional[str] = None,
                 uid_base: Optional[int] = None, cgroup_parent: Optional[str] = None,
                 port: Optional[int] = None, log_level: Optional[str] = None,
                 kilnd: Optional[str] = None, start: bool = True,
                 start_timeout: float = 20.0, python_preload: Optional[str] = "") -> None:
        if uid_base is None and 2 * max_sandboxes > UID_SPAN:
            raise ValueError(f"max_sandboxes {max_sandboxes} needs more than one slot "
                             f"of {UID_SPAN} uids: pass a uid_base from UID_RANGES")
        n = next(_counter)
        self.suite = suite
        self.kilnd = kilnd or KILND
        self.pool_size = pool_size
        self.max_sandboxes = max_sandboxes
        self.port = port or free_port()
        self.owns_data_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix=f"kiln-{suite}-data-")
        self.uid_base = uid_base or _uid_base(suite, n)
        self.cgroup_parent = cgroup_parent or cgroup_parent_name(suite, n)
        self.url = f"http://127.0.0.1:{self.port}"
        self.args: List[str] = [
            self.kilnd, "--listen", f"127.0.0.1:{self.port}", "--data-dir", self.data_dir,
            "--pool-size", str(pool_size), "--uid-base", str(self.uid_base),
            "--max-sandboxes", str(max_sandboxes), "--cgroup-parent", self.cgroup_parent]
        if log_level:
            self.args += ["--log-level", log_level]
        # Off unless asked for (None: kilnd's default list): a preloading
        # pool costs each refill a second of CPU, and the suites create
        # hundreds of sandboxes; test_preload.py tests it.
        if python_preload is not None:
            self.args += ["--python-preload", python_preload]
        self.args += list(extra_args)
        self.log_path = os.path.join(self.data_dir, "kilnd.log")
        self.start_timeout = start_timeout
        self.proc: Optional["subprocess.Popen[bytes]"] = None
        self.log: Optional[BinaryIO] = None
        if start:
            self.start()

    # -- process --
    def start(self) -> "KilndProcess":
        """Starts the process and waits for /healthz."""
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kilnd exited with {self.proc.returncode}: {self.read_log()}")
            if self.healthy():
                return self
            time.sleep(0.05)
        raise RuntimeError("kilnd did not start: " + self.read_log())

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=1) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> None:
        """Sends `sig` and waits (SIGKILL after `timeout`)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.log:
            self.log.close()
            self.log = None

    def restart(self, sig: int = signal.SIGTERM) -> "KilndProcess":
        """Stops and starts again with the same arguments (data folder, port,
        uid range, parent cgroup)."""
        KilndProcess.stop(self, sig)  # never Kilnd.stop: the data folder stays
        return self.start()

    def cleanup(self) -> List[str]:
        """Removes the parent cgroups (with retry) and the data folder if this
        object made it. Returns the cgroup directories still left."""
        left = remove_parent_cgroups(self.cgroup_parent)
        if self.owns_data_dir and not os.environ.get("KILN_KEEP_DATA"):
            shutil.rmtree(self.data_dir, ignore_errors=True)
        return left

    def close(self) -> None:
        self.stop()
        self.cleanup()

    def read_log(self) -> str:
        """The daemon's log so far."""
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def admin(self, *args: str) -> str:
        """Runs `kilnd <args> --data-dir DIR` (keys, credits) and returns its stdout."""
        out = subprocess.run([self.kilnd, *args, "--data-dir", self.data_dir], check=True,
                             capture_output=True, text=True, timeout=30)
        return out.stdout.strip()

    # -- readings --
    def metrics_text(self) -> str:
        with urllib.request.urlopen(self.url + "/metrics", timeout=10) as r:
            return str(r.read().decode())

    def metric(self, name: str, text: Optional[str] = None) -> Optional[float]:
        """The first sample of metric `name` in /metrics, or None."""
        for line in (text if text is not None else self.metrics_text()).splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        return None

    def wait_pool_full(self, timeout: float = 30.0) -> float:
        """Waits until kiln_pool_ready reaches the pool size; returns the seconds waited."""
        if self.pool_size == 0:
            return 0.0
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if (self.metric("kiln_pool_ready") or 0) >= self.pool_size:
                return time.monotonic() - t0
            time.sleep(0.01)
        raise RuntimeError(f"pool did not refill to {self.pool_size} in {timeout}s")

    def uid_range(self) -> Tuple[int, int]:
        return self.uid_base, self.uid_base + UID_SPAN

    def leftovers(self) -> Tuple[List[int], List[str]]:
        """(processes in the uid range, sandbox cgroup dirs)."""
        return daemon_leftovers(self)


class Kilnd(KilndProcess):
    """A KilndProcess whose stop() also removes the parent cgroups and the data
    folder (the SDK suites and bench/interference.py use it this way)."""

    def __init__(self, *extra_args: str, name: str = "sdk", suite: Optional[str] = None,
                 **kw: Any) -> None:
        super().__init__(*extra_args, suite=suite or "sdk", **kw)
        self.name = name

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> None:
        super().stop(sig, timeout)
        self.cleanup()
