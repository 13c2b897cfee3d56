"""The one harness for the in-sandbox runner tests (runtimes/*/test_runner.py).

A RunnerProc starts a runner the way kiln-init does: fd 3 is one end of an
AF_UNIX socketpair (JSON lines), fd 0 is /dev/null, fds 1/2 are pipes, and the
runner is in its own process group (pgid == pid). Like kiln-init, the harness
drains the output pipes whenever it reads a control message, so the text of
a cell is exactly what was in the pipes when its message arrived (and a test
can check that output written before a message is on the pipe when the
message arrives). Standard library only.

Each runtime's test file subclasses RunnerProc with its argv and environment:

    class RunnerProc(runner_harness.RunnerProc):
        def __init__(self, cwd=None, env=None):
            super().__init__([PYTHON, "-u", RUNNER], cwd=cwd, env=env)
"""
from __future__ import annotations

import json
import os
import select
import shutil
import socket
import subprocess
import tempfile
import time


class PipeReader:
    """Collects what the runner writes to one of its output pipes.

    Non-blocking: drained by RunnerProc.recv (before each control message is
    handed out), by text() and by wait_for()."""

    def __init__(self, f):
        self.f = f
        self.fd = f.fileno()
        os.set_blocking(self.fd, False)
        self.data = b""
        self.eof = False

    def drain(self):
        """Reads whatever the pipe holds right now."""
        while not self.eof:
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:
                self.eof = True
                return
            self.data += chunk

    def text(self):
        self.drain()
        return self.data.decode("utf-8", "replace")

    def mark(self):
        """A position to pass to since()."""
        return len(self.data)

    def since(self, mark):
        return self.data[mark:].decode("utf-8", "replace")

    def wait_for(self, needle, timeout=10):
        """True once `needle` was written (False at timeout or end of file)."""
        deadline = time.monotonic() + timeout
        while True:
            self.drain()
            if needle.encode() in self.data:
                return True
            left = deadline - time.monotonic()
            if left <= 0 or self.eof:
                return False
            select.select([self.fd], [], [], left)


class RunnerProc:
    """One runner process. `ready` is its first message; `stdout`/`stderr`
    are PipeReaders; `last_stdout`/`last_stderr` are the texts as of the last
    message received (what kiln-init would have relayed before it)."""

    cwd_prefix = "kiln-cwd-"
    drop_env = ()  # variables removed from the inherited environment

    def __init__(self, argv, cwd=None, env=None, ready_timeout=10):
        self.tmpdirs = []
        self.sock, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        child_fd = child.fileno()
        full_env = dict(os.environ)
        full_env["HOME"] = os.environ.get("HOME", "/tmp")
        for k in self.drop_env:
            full_env.pop(k, None)
        full_env.update(self.base_env())
        if env:
            full_env.update(env)
        self.cwd = cwd or self._tmpdir(self.cwd_prefix)

        def preexec():
            os.dup2(child_fd, 3)  # dup2 clears FD_CLOEXEC: fd 3 survives exec
            os.setpgid(0, 0)

        self.t_start = time.monotonic()
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=self.cwd,
            env=full_env,
            close_fds=False,  # only inheritable fds leak: fd 3 and the pipes
            preexec_fn=preexec,
        )
        child.close()
        self.pgid = self.proc.pid
        self.stdout = PipeReader(self.proc.stdout)
        self.stderr = PipeReader(self.proc.stderr)
        self.last_stdout = self.last_stderr = ""
        self.buf = b""
        self.ready = self.recv(timeout=ready_timeout)
        self.t_ready = time.monotonic()

    def base_env(self):
        """Variables a runtime sets for every runner (override)."""
        return {}

    def _tmpdir(self, prefix):
        d = tempfile.mkdtemp(prefix=prefix)
        self.tmpdirs.append(d)
        return d

    def send(self, msg):
        self.sock.sendall((json.dumps(msg) + "\n").encode())

    def recv(self, timeout=20):
        """The next control message (the pipes are drained first)."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no message from runner; stderr=%r" % self.stderr.text())
            pipes = [p.fd for p in (self.stdout, self.stderr) if not p.eof]
            r, _, _ = select.select([self.sock] + pipes, [], [], left)
            self.stdout.drain()  # keep the pipes flowing
            self.stderr.drain()
            if self.sock not in r:
                continue
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("runner closed the control socket; stderr=%r" % self.stderr.text())
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        self.stdout.drain()  # what the cell wrote before this message
        self.stderr.drain()
        self.last_stdout = self.stdout.text()
        self.last_stderr = self.stderr.text()
        return json.loads(line.decode("utf-8"))

    def recv_until_done(self, timeout=20):
        """Messages up to and including the next done."""
        msgs = []
        while not msgs or msgs[-1]["type"] != "done":
            msgs.append(self.recv(timeout))
        return msgs

    def collect(self, timeout=30):
        return self.recv_until_done(timeout)

    def execute(self, code, env=None, timeout=30):
        """Send an execute; return all messages up to and including done."""
        msg = {"type": "execute", "code": code}
        if env is not None:
            msg["env"] = env
        self.send(msg)
        return self.recv_until_done(timeout)

    def run(self, code, env=None, timeout=30):
        """Execute; return (messages, stdout text, stderr text) of this cell."""
        o, e = self.stdout.mark(), self.stderr.mark()
        msgs = self.execute(code, env, timeout)
        return msgs, self.stdout.since(o), self.stderr.since(e)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()
        for d in self.tmpdirs:
            shutil.rmtree(d, ignore_errors=True)


# -- message helpers ---------------------------------------------------------------

def results(msgs):
    return [m for m in msgs if m["type"] == "result"]


def errors(msgs):
    return [m for m in msgs if m["type"] == "error"]


def main_result(msgs):
    mains = [m for m in results(msgs) if m["is_main_result"]]
    assert len(mains) <= 1
    return mains[0] if mains else None


def done(msgs):
    """The one done message, which must be the last."""
    assert msgs[-1]["type"] == "done"
    assert [m for m in msgs if m["type"] == "done"] == [msgs[-1]]
    return msgs[-1]


def check_ok(msgs):
    """One done, last; no error. Returns the done message."""
    d = done(msgs)
    assert not errors(msgs), errors(msgs)
    return d


def the_error(msgs):
    """The one error of a finished cell."""
    assert msgs[-1]["type"] == "done"
    errs = errors(msgs)
    assert len(errs) == 1, msgs
    return errs[0]
