"""Commands (API.md: Commands)."""
import time

import pytest

from helpers import assert_error


def cmd_path(sid, rest=""):
    return f"/v1/sandboxes/{sid}/commands{rest}"


def test_foreground_exit_code_stdout_stderr(kilnd, sandbox):
    res = kilnd.run(sandbox["id"], "echo hi; echo err >&2; exit 3")
    assert res["exit_code"] == 3
    assert res["stdout"] == "hi\n"
    assert res["stderr"] == "err\n"
    assert isinstance(res["duration_ms"], int) and res["duration_ms"] >= 0
    assert res.get("error") is None


def test_foreground_success_and_pipes(kilnd, sandbox):
    res = kilnd.run(sandbox["id"], "printf 'a\\nb\\nc\\n' | wc -l")
    assert res["exit_code"] == 0
    assert res["stdout"].strip() == "3"
    assert res["stderr"] == ""


def test_duration_ms(kilnd, sandbox):
    res = kilnd.run(sandbox["id"], "sleep 0.3")
    assert res["exit_code"] == 0
    assert 250 <= res["duration_ms"] < 5000


def test_default_cwd_is_home_user(kilnd, sandbox):
    assert kilnd.run(sandbox["id"], "pwd")["stdout"] == "/home/user\n"


def test_cwd_honoured(kilnd, sandbox):
    sid = sandbox["id"]
    kilnd.run(sid, "mkdir -p /home/user/work/dir")
    res = kilnd.run(sid, "pwd; touch made-here", cwd="/home/user/work/dir")
    assert res["exit_code"] == 0, res
    assert res["stdout"] == "/home/user/work/dir\n"
    assert kilnd.run(sid, "ls /home/user/work/dir")["stdout"] == "made-here\n"
    # A relative cwd resolves under /home/user.
    assert kilnd.run(sid, "pwd", cwd="work")["stdout"] == "/home/user/work\n"
    assert kilnd.run(sid, "pwd", cwd="/tmp")["stdout"] == "/tmp\n"


def test_env_honoured_per_command(kilnd, sandbox):
    sid = sandbox["id"]
    res = kilnd.run(sid, "echo \"$GREETING-$OTHER\"", env={"GREETING": "hello", "OTHER": "there"})
    assert res["exit_code"] == 0, res
    assert res["stdout"] == "hello-there\n"
    # env is per command.
    assert kilnd.run(sid, "echo \"[$GREETING]\"")["stdout"] == "[]\n"


def test_env_with_cwd(kilnd, sandbox):
    res = kilnd.run(sandbox["id"], "echo \"$PWD $ONE\"", cwd="/tmp", env={"ONE": "1"})
    assert res["stdout"] == "/tmp 1\n"


def test_missing_cwd(kilnd, sandbox):
    r = kilnd.post(cmd_path(sandbox["id"]), {"cmd": "pwd", "cwd": "/home/user/nope"})
    # Either refused up front or a failed command; never run in another folder.
    if r.status_code == 200:
        assert r.json()["exit_code"] != 0
        assert r.json()["stdout"] == ""
    else:
        assert_error(r, 400, "bad_request")


def test_stdin_fed(kilnd, sandbox):
    res = kilnd.run(sandbox["id"], "tr a-z A-Z; echo done", stdin="hello stdin\nline2\n")
    assert res["exit_code"] == 0
    assert res["stdout"] == "HELLO STDIN\nLINE2\ndone\n"


def test_no_stdin_gets_eof(kilnd, sandbox):
    t0 = time.monotonic()
    res = kilnd.run(sandbox["id"], "cat; echo after", timeout_s=10)
    assert res["stdout"] == "after\n"
    assert res["exit_code"] == 0
    assert time.monotonic() - t0 < 5


def test_timeout_kills_process_group(kilnd, sandbox):
    sid = sandbox["id"]
    t0 = time.monotonic()
    res = kilnd.run(sid, "echo start; (sleep 60; echo child) & sleep 60", timeout_s=1)
    elapsed = time.monotonic() - t0
    assert elapsed < 4, elapsed
    assert res["exit_code"] == 124
    assert res["error"] == "timeout"
    assert res["stdout"].startswith("start\n")
    # The whole group is gone: no sleep 60 left behind.
    ps = kilnd.run(sid, "ps -eo args 2>/dev/null || ls /proc")
    assert "sleep 60" not in ps["stdout"]


def test_streaming_ndjson(kilnd, sandbox):
    events = list(kilnd.stream(cmd_path(sandbox["id"]),
                               {"cmd": "echo one; sleep 0.5; echo two >&2; sleep 0.5; "
                                       "echo three; exit 7"}))
    types = [e["type"] for _, e in events]
    assert types[-1] == "end"
    assert types.count("end") == 1
    end = events[-1][1]
    assert end["exit_code"] == 7
    assert isinstance(end["duration_ms"], int) and end["duration_ms"] >= 900
    stdout = [(t, e) for t, e in events if e["type"] == "stdout"]
    stderr = [(t, e) for t, e in events if e["type"] == "stderr"]
    assert "".join(e["text"] for _, e in stdout) == "one\nthree\n"
    assert "".join(e["text"] for _, e in stderr) == "two\n"
    # Live: 'one' arrived well before 'three'.
    assert stdout[-1][0] - stdout[0][0] >= 0.6
    assert stderr[0][0] - stdout[0][0] >= 0.3


def test_streaming_sse(kilnd, sandbox):
    events = [e for _, e in kilnd.stream(cmd_path(sandbox["id"]), {"cmd": "echo sse; exit 2"},
                                         accept="text/event-stream")]
    assert events[-1]["type"] == "end"
    assert events[-1]["exit_code"] == 2
    assert "".join(e["text"] for e in events if e["type"] == "stdout") == "sse\n"


def test_streaming_timeout(kilnd, sandbox):
    t0 = time.monotonic()
    events = [e for _, e in kilnd.stream(cmd_path(sandbox["id"]),
                                         {"cmd": "sleep 60", "timeout_s": 1})]
    assert time.monotonic() - t0 < 4
    assert events[-1]["type"] == "end"
    assert events[-1]["exit_code"] == 124


# -- background ---------------------------------------------------------------

def test_background_lifecycle(kilnd, sandbox):
    sid = sandbox["id"]
    r = kilnd.post(cmd_path(sid), {"cmd": "for i in 1 2 3 4 5 6 7 8 9 10; do echo tick$i; "
                                          "sleep 0.1; done; sleep 60",
                                   "background": True})
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"pid"}
    pid = body["pid"]
    assert isinstance(pid, int) and pid > 0

    r = kilnd.get(cmd_path(sid))
    assert r.status_code == 200
    cmds = r.json()["commands"]
    mine = [c for c in cmds if c["pid"] == pid]
    assert len(mine) == 1
    assert set(mine[0]) >= {"pid", "cmd", "running", "exit_code"}
    assert mine[0]["running"] is True
    assert mine[0]["exit_code"] is None
    assert mine[0]["cmd"].startswith("for i in 1 2 3")

    deadline = time.monotonic() + 5
    while True:
        r = kilnd.get(cmd_path(sid, f"/{pid}"))
        assert r.status_code == 200, r.text
        one = r.json()
        if "tick10" in one["stdout"] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert one["pid"] == pid
    assert one["running"] is True
    assert "tick1\n" in one["stdout"] and "tick10\n" in one["stdout"]
    assert "stderr" in one

    r = kilnd.post(cmd_path(sid, f"/{pid}/kill"))
    assert r.status_code == 204, r.text
    deadline = time.monotonic() + 5
    while True:
        one = kilnd.get(cmd_path(sid, f"/{pid}")).json()
        if not one["running"] or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert one["running"] is False
    assert one["exit_code"] is not None and one["exit_code"] != 0
    listed = [c for c in kilnd.get(cmd_path(sid)).json()["commands"] if c["pid"] == pid]
    assert listed and listed[0]["running"] is False


def test_background_exits_on_its_own(kilnd, sandbox):
    sid = sandbox["id"]
    r = kilnd.post(cmd_path(sid), {"cmd": "echo bg-done; exit 5", "background": True})
    assert r.status_code == 201
    pid = r.json()["pid"]
    deadline = time.monotonic() + 5
    while True:
        one = kilnd.get(cmd_path(sid, f"/{pid}")).json()
        if not one["running"] or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert one["running"] is False
    assert one["exit_code"] == 5
    assert one["stdout"] == "bg-done\n"


def test_background_does_not_block_foreground(kilnd, sandbox):
    sid = sandbox["id"]
    r = kilnd.post(cmd_path(sid), {"cmd": "sleep 30", "background": True})
    assert r.status_code == 201
    pid = r.json()["pid"]
    t0 = time.monotonic()
    assert kilnd.run(sid, "echo fg")["stdout"] == "fg\n"
    assert time.monotonic() - t0 < 2
    assert kilnd.post(cmd_path(sid, f"/{pid}/kill")).status_code == 204


def test_unknown_pid_is_404(kilnd, sandbox):
    sid = sandbox["id"]
    assert_error(kilnd.get(cmd_path(sid, "/999999")), 404, "not_found")
    assert_error(kilnd.post(cmd_path(sid, "/999999/kill")), 404, "not_found")


@pytest.mark.parametrize("body", [
    {},
    {"cmd": 5},
    {"cmd": ["echo", "x"]},
    {"cmd": "true", "timeout_s": -1},
    {"cmd": "true", "env": {"A": 1}},
    {"cmd": "true", "stdin": 5},
    {"cmd": "true", "background": "yes"},
], ids=lambda b: repr(b))
def test_bad_input_is_400(kilnd, sandbox, body):
    assert_error(kilnd.post(cmd_path(sandbox["id"]), body), 400, "bad_request")


def test_commands_on_unknown_sandbox_404(kilnd):
    assert_error(kilnd.post(cmd_path("sbx_nope"), {"cmd": "true"}), 404, "not_found")
    assert_error(kilnd.get(cmd_path("sbx_nope")), 404, "not_found")


def test_commands_share_files_with_code(kilnd, sandbox):
    sid = sandbox["id"]
    kilnd.run(sid, "echo from-shell > /home/user/shared.txt")
    res = kilnd.execute(sid, "open('/home/user/shared.txt').read()")
    assert res["results"][0]["text"] == "'from-shell\\n'"
