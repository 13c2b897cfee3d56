"""Tests for the Kiln in-sandbox Bash runner (runtimes/bash/runner.py).

Run with:  /usr/bin/python3 -m pytest runtimes/bash/test_runner.py

Each test starts the runner the way kiln-init does: fd 3 is one end of an
AF_UNIX socketpair (JSON lines), fd 0 is /dev/null, fds 1/2 are pipes, and the
runner is in its own process group.
"""

import json
import os
import signal
import socket
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
RUNNER = os.path.join(HERE, "runner.py")
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "support"))
import runner_harness  # noqa: E402
from runner_harness import done  # noqa: E402


class RunnerProc(runner_harness.RunnerProc):
    """The Bash runner (a Python program driving bash), as kiln-init starts it."""

    def __init__(self, cwd=None, env=None):
        super().__init__([PYTHON, "-u", RUNNER], cwd=cwd, env=env)

    def base_env(self):
        return {"PYTHONUNBUFFERED": "1"}


def check_ok(msgs):
    d = runner_harness.check_ok(msgs)
    assert d["exit_code"] == 0
    return d


def the_error(msgs):
    err = runner_harness.the_error(msgs)
    assert set(err) == {"type", "name", "value", "traceback", "line"}
    return err


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def group_alive(pgid):
    """Any non-zombie process in process group pgid."""
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


@pytest.fixture
def runner():
    r = RunnerProc()
    yield r
    r.close()


# ------------------------------------------------------------------ protocol


def test_ready_message(runner):
    assert runner.ready == {"type": "ready", "language": "bash", "pid": runner.proc.pid}
    # Generous bound (CI machines are slow); typically ~20-30 ms.
    assert runner.t_ready - runner.t_start < 2.0


def test_startup_time():
    times = []
    for _ in range(5):
        r = RunnerProc()
        times.append(r.t_ready - r.t_start)
        r.close()
    times.sort()
    sys.stderr.write("bash runner start-up to ready: median %.1f ms, min %.1f ms\n"
                     % (times[2] * 1000, times[0] * 1000))
    assert times[2] < 1.0


def test_no_noise_on_startup_and_simple_echo(runner):
    msgs, out, err = runner.run("echo hello")
    check_ok(msgs)
    assert out == "hello\n"
    assert err == ""
    assert runner.stderr.text() == ""  # no job-control notices, no prompts


def test_execution_count_increments(runner):
    counts = [done(runner.execute("true"))["execution_count"] for _ in range(3)]
    assert counts == [1, 2, 3]
    assert done(runner.execute("false"))["execution_count"] == 4


def test_cd_persists(runner):
    check_ok(runner.execute("cd /tmp"))
    msgs, out, _ = runner.run("pwd")
    check_ok(msgs)
    assert out == "/tmp\n"


def test_export_persists_and_reaches_children(runner):
    check_ok(runner.execute("export A=1"))
    msgs, out, _ = runner.run('echo $A; sh -c \'echo child=$A\'')
    check_ok(msgs)
    assert out == "1\nchild=1\n"


def test_plain_variable_function_alias_array_persist(runner):
    check_ok(runner.execute(
        "x=42\n"
        "greet() { echo \"hi $1\"; }\n"
        "alias ll='echo aliased'\n"
        "declare -A m=([k]=v)\n"
        "arr=(a b c)\n"
        "set -o pipefail"))
    msgs, out, _ = runner.run(
        "echo $x; greet bob; ll; echo ${m[k]} ${#arr[@]}; [[ -o pipefail ]] && echo pf\n"
        "sh -c 'echo child=${x:-unset}'")
    check_ok(msgs)
    assert out == "42\nhi bob\naliased\nv 3\npf\nchild=unset\n"


def test_failing_command_error(runner):
    msgs = runner.execute("false")
    err = the_error(msgs)
    assert err["name"] == "CommandError" and err["value"] == "exit status 1"
    assert err["line"] is None
    assert done(msgs)["exit_code"] == 1


def test_last_command_decides(runner):
    check_ok(runner.execute("false\ntrue"))
    msgs = runner.execute("true; (exit 7)")
    assert the_error(msgs)["value"] == "exit status 7"
    assert done(msgs)["exit_code"] == 7


def test_ls_nonexistent(runner):
    msgs, out, err = runner.run("ls /nonexistent")
    e = the_error(msgs)
    assert e["name"] == "CommandError" and e["value"] == "exit status 2"
    assert done(msgs)["exit_code"] == 2
    assert "/nonexistent" in err and "No such file" in err
    assert out == ""


def test_command_not_found(runner):
    msgs, _, err = runner.run("echo before\nno_such_command_xyz")
    assert the_error(msgs)["value"] == "exit status 127"
    # As in a terminal: an interactive shell's messages carry no line number.
    assert err == "bash: no_such_command_xyz: command not found\n"


def test_output_on_pipes_when_done_arrives(runner):
    # Everything the cell wrote is already in the pipes when done is read:
    # kiln-init drains the pipes when a control message arrives.
    code = "for i in $(seq 1 200); do echo out$i; echo err$i >&2; done; printf tail; printf etail >&2"
    runner.send({"type": "execute", "code": code})
    msgs = runner.recv_until_done()
    check_ok(msgs)
    # The reader threads may lag a little, but nothing may be still unwritten.
    assert runner.stdout.wait_for("out200\ntail", timeout=2)
    assert runner.stderr.wait_for("err200\netail", timeout=2)
    out = runner.stdout.text()
    assert out.index("out1\n") < out.index("out100\n") < out.index("tail")


def test_output_streams_live(runner):
    runner.send({"type": "execute", "code": "echo first; sleep 2; echo second"})
    assert runner.stdout.wait_for("first\n", timeout=1.5)
    assert "second" not in runner.stdout.text()
    check_ok(runner.recv_until_done())
    assert runner.stdout.wait_for("second\n", timeout=2)


def test_child_process_output_captured(runner):
    msgs, out, err = runner.run("python3 -c 'import sys; print(1); print(2, file=sys.stderr)'; /bin/echo x")
    check_ok(msgs)
    assert out == "1\nx\n" and err == "2\n"


def test_env_per_execution(runner):
    check_ok(runner.execute("export KEEP=orig; unset ONLY"))
    msgs, out, _ = runner.run(
        "echo $ONLY $KEEP; sh -c 'echo \"child=$ONLY,$KEEP,$SP\"'",
        env={"ONLY": "one", "KEEP": "temp", "SP": "a 'b' $c\nd"})
    check_ok(msgs)
    assert out == "one temp\nchild=one,temp,a 'b' $c\nd\n"
    msgs, out, _ = runner.run("echo \"${ONLY-unset} $KEEP ${SP-unset}\"; sh -c 'echo child=${ONLY-unset}'")
    check_ok(msgs)
    assert out == "unset orig unset\nchild=unset\n"


def test_env_invalid_name_reported(runner):
    msgs, out, err = runner.run("echo ok", env={"BAD-NAME": "x", "GOOD": "1"})
    check_ok(msgs)
    assert out == "ok\n"
    assert "BAD-NAME" in err


def test_env_not_persisted_after_interrupt(runner):
    runner.send({"type": "execute", "code": "echo go; sleep 30", "env": {"TMPV": "x"}})
    assert runner.stdout.wait_for("go\n")
    time.sleep(0.2)
    os.kill(runner.proc.pid, signal.SIGINT)
    assert the_error(runner.recv_until_done(5))["name"] == "KeyboardInterrupt"
    msgs, out, _ = runner.run("echo ${TMPV-unset}")
    check_ok(msgs)
    assert out == "unset\n"


def test_exit_restarts_context(runner):
    check_ok(runner.execute("echo $$; X=1"))
    old_pid = int(runner.stdout.text().split()[0])
    msgs = runner.execute("echo bye; exit 3")
    err = the_error(msgs)
    assert err["name"] == "CommandError"
    assert err["value"] == "exit status 3 (the shell exited; the context was restarted)"
    assert done(msgs)["exit_code"] == 3
    assert not alive(old_pid)
    # The context works again (fresh state) and the count goes on.
    msgs, out, _ = runner.run("echo ${X-unset}; pwd")
    d = check_ok(msgs)
    assert d["execution_count"] == 3
    assert out == "unset\n%s\n" % os.readlink("/proc/%d/cwd" % runner.proc.pid)


def test_exit_zero_and_set_e_are_reported(runner):
    msgs = runner.execute("exit")
    assert "the context was restarted" in the_error(msgs)["value"]
    msgs = runner.execute("set -e; false; echo not-reached")
    assert the_error(msgs)["value"] == "exit status 1 (the shell exited; the context was restarted)"
    check_ok(runner.execute("true"))


def test_shell_killed_by_signal(runner):
    msgs = runner.execute("kill -9 $$")
    err = the_error(msgs)
    assert err["value"] == "killed by SIGKILL (the shell exited; the context was restarted)"
    assert done(msgs)["exit_code"] == 137
    check_ok(runner.execute("true"))


def test_syntax_error(runner):
    check_ok(runner.execute("Y=5"))
    msgs, out, err = runner.run("echo start\nif then fi (")
    e = the_error(msgs)
    assert e["name"] == "CommandError" and e["value"] == "exit status 2"
    assert "syntax error" in err
    # The shell survives.
    msgs, out, _ = runner.run("echo $Y")
    check_ok(msgs)
    assert out == "5\n"


def test_unterminated_quote(runner):
    msgs, _, err = runner.run("echo 'oops")
    assert the_error(msgs)["value"] == "exit status 2"
    assert "unexpected EOF" in err
    check_ok(runner.execute("true"))


def test_sigint_during_sleep_keeps_state(runner):
    check_ok(runner.execute("cd /tmp; V=keep; f() { echo fn; }"))
    runner.send({"type": "execute", "code": "echo sleeping\nsleep 30\necho not-reached\nV=changed"})
    assert runner.stdout.wait_for("sleeping\n")
    time.sleep(0.3)
    t0 = time.monotonic()
    os.kill(runner.proc.pid, signal.SIGINT)  # as kiln-init does: the runner only
    msgs = runner.recv_until_done(5)
    assert time.monotonic() - t0 < 1.0
    err = the_error(msgs)
    assert err["name"] == "KeyboardInterrupt"
    # Like a terminal's ^C, interactive bash ends the line: at most a newline.
    assert runner.stderr.text() in ("", "\n")
    assert done(msgs)["exit_code"] == 130
    msgs, out, _ = runner.run("pwd; echo $V; f")
    check_ok(msgs)
    assert out == "/tmp\nkeep\nfn\n"
    assert "not-reached" not in runner.stdout.text()


def test_sigint_busy_loop_in_function(runner):
    runner.send({"type": "execute", "code": "spin() { while :; do :; done; }\nspin\necho not-reached"})
    time.sleep(0.3)
    t0 = time.monotonic()
    os.kill(runner.proc.pid, signal.SIGINT)
    msgs = runner.recv_until_done(5)
    assert time.monotonic() - t0 < 1.0
    assert the_error(msgs)["name"] == "KeyboardInterrupt"
    check_ok(runner.execute("true"))
    assert "not-reached" not in runner.stdout.text()


def test_sigint_right_after_execute(runner):
    # SIGINT landing before bash has even parsed the command line.
    for _ in range(5):
        runner.send({"type": "execute", "code": "sleep 30"})
        os.kill(runner.proc.pid, signal.SIGINT)
        msgs = runner.recv_until_done(5)
        assert the_error(msgs)["name"] == "KeyboardInterrupt"
    msgs, out, _ = runner.run("echo fine")
    check_ok(msgs)
    assert out == "fine\n"


def test_sigint_while_idle_ignored(runner):
    check_ok(runner.execute("Z=1"))
    os.kill(runner.proc.pid, signal.SIGINT)
    time.sleep(0.2)
    assert runner.proc.poll() is None
    msgs, out, _ = runner.run("echo $Z")
    check_ok(msgs)
    assert out == "1\n"


def test_background_job_survives_interrupt(runner):
    check_ok(runner.execute("sleep 60 & echo $! > bgpid"))
    runner.send({"type": "execute", "code": "sleep 30"})
    time.sleep(0.3)
    os.kill(runner.proc.pid, signal.SIGINT)
    assert the_error(runner.recv_until_done(5))["name"] == "KeyboardInterrupt"
    msgs, out, _ = runner.run("kill -0 $(cat bgpid) && echo bg-alive; kill $(cat bgpid)")
    check_ok(msgs)
    assert out == "bg-alive\n"


def test_stdin_is_eof(runner):
    t0 = time.monotonic()
    msgs, out, _ = runner.run("cat; read -r line; echo rc=$?")
    check_ok(msgs)
    assert out == "rc=1\n"
    assert time.monotonic() - t0 < 2
    # The command pipe was not consumed: the context still works.
    check_ok(runner.execute("true"))


def test_report_fd_not_leaked_to_cell(runner):
    msgs, out, _ = runner.run("ls /proc/self/fd | sort -n | tr '\\n' ' '")
    check_ok(msgs)
    fds = out.split()
    assert fds[:3] == ["0", "1", "2"]
    assert "62" not in fds and "63" not in fds  # bash's start-up stderr, report pipe


def test_user_fd_usage_and_output_redirect(runner):
    check_ok(runner.execute("exec 4>out.txt; echo to-four >&4; exec 4>&-; cat out.txt"))
    assert runner.stdout.wait_for("to-four\n")


def test_prompt_command_protected(runner):
    msgs, _, err = runner.run("PROMPT_COMMAND=oops")
    assert the_error(msgs)["name"] == "CommandError"
    assert "readonly" in err
    check_ok(runner.execute("true"))


def test_special_characters_in_code(runner):
    msgs, out, _ = runner.run("echo 'h\u00e9llo w\u00f6rld!' \"$((6*7))\" '!!'\ncat <<'EOF'\n$HOME `x`\nEOF")
    check_ok(msgs)
    assert out == "h\u00e9llo w\u00f6rld! 42 !!\n$HOME `x`\n"


def test_empty_and_comment_cells(runner):
    check_ok(runner.execute(""))
    check_ok(runner.execute("# just a comment"))


def test_set_x_is_usable(runner):
    msgs, out, err = runner.run("set -x; echo traced; set +x")
    check_ok(msgs)
    assert out == "traced\n"
    assert "+ echo traced" in err


def test_cell_files_are_private_and_cleaned(runner):
    msgs, out, _ = runner.run('echo "$BASH_SOURCE"; stat -c %a "$BASH_SOURCE" "$(dirname "$BASH_SOURCE")"')
    check_ok(msgs)
    path, mode_file, mode_dir = out.split()
    assert mode_file == "600" and mode_dir == "700"
    assert not os.path.exists(path)  # removed once the cell is over


def test_workdir_recreated_if_removed(runner):
    check_ok(runner.execute('rm -rf "$(dirname "$BASH_SOURCE")"'))
    msgs, out, _ = runner.run("echo again")
    check_ok(msgs)
    assert out == "again\n"


def test_messages_are_valid_json_lines(runner):
    # The raw bytes on the control socket, up to the cell's done: every line
    # is one JSON object with a type, newline-terminated, and the last is done.
    runner.send({"type": "execute", "code": "echo x"})
    raw = runner.buf
    deadline = time.monotonic() + 10
    while b'"done"' not in raw or not raw.endswith(b"\n"):
        assert time.monotonic() < deadline, raw
        runner.sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = runner.sock.recv(65536)
        assert chunk, "runner closed the control socket"
        raw += chunk
    runner.sock.settimeout(None)
    lines = raw.decode("utf-8").split("\n")
    assert lines[-1] == ""  # newline-terminated
    msgs = [json.loads(line) for line in lines[:-1]]
    assert msgs and all(isinstance(m, dict) and isinstance(m.get("type"), str) for m in msgs), msgs
    assert check_ok(msgs)["exit_code"] == 0


def test_eof_on_control_socket_exits_and_kills_bash():
    r = RunnerProc()
    msgs, out, _ = r.run("echo $$; sleep 60 &")
    check_ok(msgs)
    bash_pid = int(out.split()[0])
    assert alive(bash_pid)
    r.sock.shutdown(socket.SHUT_WR)
    assert r.proc.wait(timeout=5) == 0
    deadline = time.monotonic() + 2
    while alive(bash_pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not alive(bash_pid)
    # The background sleep (same process group) is gone too.
    deadline = time.monotonic() + 2
    while group_alive(r.proc.pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not group_alive(r.proc.pid)
    r.close()


def test_eof_while_running_exits():
    r = RunnerProc()
    r.send({"type": "execute", "code": "echo $$; sleep 60"})
    assert r.stdout.wait_for("\n")
    bash_pid = int(r.stdout.text().split()[0])
    r.sock.close()
    assert r.proc.wait(timeout=5) == 0
    time.sleep(0.1)
    assert not alive(bash_pid)
    r.close()


def test_group_sigkill_takes_everything(runner):
    # kiln-init's hard timeout: SIGKILL to the runner's process group.
    msgs, out, _ = runner.run("echo $$")
    bash_pid = int(out)
    runner.send({"type": "execute", "code": "trap '' INT; sleep 60"})
    time.sleep(0.3)
    os.killpg(runner.proc.pid, signal.SIGKILL)
    runner.proc.wait(timeout=5)
    time.sleep(0.1)
    assert not alive(bash_pid)


def test_cwd_is_the_context_cwd(tmp_path):
    r = RunnerProc(cwd=str(tmp_path))
    try:
        msgs, out, _ = r.run("pwd")
        check_ok(msgs)
        assert out == "%s\n" % tmp_path
    finally:
        r.close()


def test_shell_death_while_idle_is_noticed(runner):
    msgs, out, _ = runner.run("echo $$; W=1")
    bash_pid = int(out)
    os.kill(bash_pid, signal.SIGKILL)
    time.sleep(0.3)
    msgs, out, err = runner.run("echo ${W-unset}")
    check_ok(msgs)
    assert out == "unset\n"
    assert "the context was restarted" in err and "SIGKILL" in err


def test_tmout_does_not_end_idle_shell():
    r = RunnerProc(env={"TMOUT": "1"})
    try:
        check_ok(r.execute("V=1"))
        time.sleep(1.5)
        msgs, out, err = r.run("echo $V")
        check_ok(msgs)
        assert out == "1\n" and err == ""
    finally:
        r.close()
