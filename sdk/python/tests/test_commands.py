"""Foreground, streamed and background commands."""
import time

import pytest

import kiln


def test_foreground(sbx):
    r = sbx.commands.run("echo out; echo err >&2; exit 3")
    assert (r.exit_code, r.stdout, r.stderr, r.error) == (3, "out\n", "err\n", None)
    with pytest.raises(kiln.CommandExitError) as e:
        r.check()
    assert e.value.exit_code == 3 and e.value.stderr == "err\n"
    ok = sbx.commands.run("pwd; echo $K; cat", cwd="/tmp", env={"K": "v"}, stdin="from stdin")
    assert ok.check().stdout == "/tmp\nv\nfrom stdin"


def test_timeout(sbx):
    r = sbx.commands.run("sleep 5", timeout=0.3)
    assert r.exit_code == 124 and r.error == "timeout"


def test_streamed_output_arrives_live(sbx):
    t0 = time.monotonic()
    seen = []
    r = sbx.commands.run("for i in 1 2 3; do echo $i; sleep 0.3; done; echo bad >&2",
                         on_stdout=lambda m: seen.append((time.monotonic() - t0, m.text)),
                         on_stderr=lambda m: seen.append((time.monotonic() - t0, m.text)))
    end = time.monotonic() - t0
    assert [t for _, t in seen] == ["1\n", "2\n", "3\n", "bad\n"]
    assert seen[0][0] < end - 0.5
    assert r.exit_code == 0 and r.stdout == "1\n2\n3\n" and r.stderr == "bad\n"
    timed = sbx.commands.run("sleep 3", timeout=0.3, on_stdout=lambda m: None)
    assert timed.exit_code == 124 and timed.error == "timeout"


def test_background_list_get_kill_wait(sbx):
    h = sbx.commands.run("echo started; sleep 60", background=True)
    assert isinstance(h, kiln.CommandHandle) and h.pid > 0
    listed = {c.pid: c for c in sbx.commands.list()}
    assert listed[h.pid].running and listed[h.pid].cmd == "echo started; sleep 60"
    deadline = time.monotonic() + 5
    while "started" not in (h.info().stdout or ""):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    with pytest.raises(kiln.TimeoutError):
        h.wait(timeout=0.2)
    h.kill()
    done = h.wait(timeout=5)
    assert not done.running and done.exit_code is not None and done.exit_code != 0
    quick = sbx.commands.run("exit 7", background=True)
    assert quick.wait(timeout=5).exit_code == 7
    with pytest.raises(kiln.NotFoundError):
        sbx.commands.get(999999)
    with pytest.raises(kiln.NotFoundError):
        sbx.commands.kill(999999)
