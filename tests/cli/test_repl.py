"""kiln repl driven through a pseudo-terminal, as a person types."""
import os
import re
import signal
import time

import pexpect

from conftest import KILN, live_ids

PROMPT = ">>> "
MORE = r"\.\.\. "


def spawn(kiln, *args, env=None):
    e = dict(kiln.env)
    e.update(env or {})
    p = pexpect.spawn(KILN, ["repl", *args], env=e, cwd=kiln.home, encoding="utf-8",
                      timeout=30, dimensions=(40, 200))
    p.expect(r"kiln repl: (\w+) in (sbx_\w+) at ")
    lang, sid = p.match.group(1), p.match.group(2)
    p.expect_exact(PROMPT)
    return p, lang, sid


def run_line(p, line, expect):
    p.sendline(line)
    p.expect(expect)
    p.expect_exact(PROMPT)


def test_repl_keeps_state_interrupts_and_exits(kiln, kilnd):
    p, lang, sid = spawn(kiln)
    assert lang == "python"
    assert sid in live_ids(kilnd)
    run_line(p, "x = 41", re.escape("x = 41"))
    run_line(p, "x + 1", r"\r\n42\r\n")
    # A block goes on until a blank line.
    p.sendline("for i in range(3):")
    p.expect(MORE)
    p.sendline("    print('item', i * x)")
    p.expect(MORE)
    p.sendline("")
    p.expect(r"item 0\r\nitem 41\r\nitem 82\r\n")
    p.expect_exact(PROMPT)
    # Ctrl-C during a long run: back at the prompt quickly, the REPL alive.
    p.sendline("import time; print('sleeping', flush=True); time.sleep(30)")
    p.expect("sleeping")
    time.sleep(0.5)
    t0 = time.monotonic()
    p.sendintr()
    p.expect("KeyboardInterrupt")
    p.expect_exact(PROMPT)
    assert time.monotonic() - t0 < 5
    # kilnd really stopped the run when kiln closed the stream: the context
    # takes code again within moments (a run still sleeping answers 409).
    deadline = time.monotonic() + 3
    while True:
        r = kilnd.post(f"/v1/sandboxes/{sid}/execute", {"code": "x"})
        if r.status_code != 409 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert r.status_code == 200, r.text
    assert r.json()["results"][0]["text"] == "41"
    # The sandbox still works, with its state.
    run_line(p, "print(x * 2)", r"\r\n82\r\n")
    # Ctrl-C at the prompt drops the line being typed.
    p.send("this is not code")
    p.sendintr()
    p.expect_exact(PROMPT)
    run_line(p, "print('after', x)", r"after 41")
    # An error is shown, the session goes on.
    run_line(p, "1/0", "ZeroDivisionError: division by zero")
    # Ctrl-D exits and deletes the sandbox the REPL made.
    p.sendeof()
    p.expect(pexpect.EOF)
    p.close()
    assert p.exitstatus == 0
    assert sid not in live_ids(kilnd)
    # History: the cells typed, the multi-line block as one entry.
    with open(os.path.join(kiln.home, ".local", "state", "kiln", "history")) as f:
        history = f.read()
    assert "x\\040+\\0401" in history
    assert "range(3):\\012" in history
    assert "this is not code" not in history


def test_repl_history_is_recalled_in_the_next_session(kiln):
    p, _, _ = spawn(kiln)
    run_line(p, "print('remember ' + 'me')", "remember me")
    p.sendeof()
    p.expect(pexpect.EOF)
    p.close()
    p, _, _ = spawn(kiln)
    p.send("\x1b[A")  # up arrow: the last cell of the previous session
    p.sendline("")
    p.expect(r"remember me\r\n")
    p.expect_exact(PROMPT)
    p.sendeof()
    p.expect(pexpect.EOF)
    p.close()
    assert p.exitstatus == 0


def test_repl_in_an_existing_sandbox_keeps_it(kiln, kilnd, sandbox):
    kilnd.execute(sandbox, "shared = 'from before'")
    p, _, sid = spawn(kiln, "--sandbox", sandbox)
    assert sid == sandbox
    run_line(p, "print(shared)", "from before")
    p.sendeof()
    p.expect(pexpect.EOF)
    p.close()
    assert p.exitstatus == 0
    assert sandbox in live_ids(kilnd)


def test_repl_javascript_multiline(kiln):
    p, lang, _ = spawn(kiln, "--lang", "js")
    assert lang == "javascript"
    p.sendline("function add(a, b) {")
    p.expect(MORE)
    p.sendline("  return a + b")
    p.expect(MORE)
    p.sendline("}")
    p.expect_exact(PROMPT)
    run_line(p, "add(40, 2)", r"\r\n42\r\n")
    p.sendeof()
    p.expect(pexpect.EOF)
    p.close()
    assert p.exitstatus == 0


def test_repl_saves_charts(kiln):
    p, _, _ = spawn(kiln, "--out-dir", "charts")
    p.sendline("import matplotlib.pyplot as plt; plt.plot([1, 3, 2]); plt.show()")
    p.expect(r"saved charts/result-1\.png \(\d+x\d+ PNG")
    p.expect_exact(PROMPT)
    p.sendeof()
    p.expect(pexpect.EOF)
    p.close()
    with open(os.path.join(kiln.home, "charts", "result-1.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_repl_from_a_pipe(kiln, kilnd):
    before = live_ids(kilnd)
    r = kiln("repl", input="a = 2\nfor i in range(2):\n    a *= 10\n\nprint(a)\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "200\n"
    assert ">>>" not in r.stdout
    r = kiln("repl", input="print('ok')\nraise ValueError('bad')\n")
    assert r.returncode == 2
    assert r.stdout == "ok\n"
    assert "ValueError: bad" in r.stderr
    assert live_ids(kilnd) <= before


def test_repl_bash_state_and_ctrl_c(kiln):
    p, lang, _ = spawn(kiln, "--lang", "bash")
    assert lang == "bash"
    # Output without a newline is ended before the next prompt.
    p.sendline("printf abc")
    p.expect("abc\r\n>>> ")
    run_line(p, "cd /tmp && X=5", re.escape("X=5"))
    p.sendline("for i in 1 2; do")
    p.expect(MORE)
    p.sendline('echo "$i $X $(pwd)"')
    p.expect(MORE)
    p.sendline("done")
    p.expect(r"1 5 /tmp\r\n2 5 /tmp\r\n")
    p.expect_exact(PROMPT)
    p.sendline("echo go; sleep 30")
    p.expect("go")
    time.sleep(0.3)
    t0 = time.monotonic()
    p.sendintr()
    p.expect("KeyboardInterrupt")
    p.expect_exact(PROMPT)
    assert time.monotonic() - t0 < 5
    run_line(p, "echo still $X", "still 5")
    p.sendeof()
    p.expect(pexpect.EOF)
    p.close()
    assert p.exitstatus == 0


def test_repl_hangup_deletes_its_sandbox(kiln, kilnd):
    p, _, sid = spawn(kiln)
    run_line(p, "y = 1", re.escape("y = 1"))
    assert sid in live_ids(kilnd)
    p.kill(signal.SIGHUP)  # the terminal went away
    p.expect(pexpect.EOF)
    p.close()
    assert sid not in live_ids(kilnd)
