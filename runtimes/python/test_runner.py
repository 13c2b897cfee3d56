"""Tests for the Kiln in-sandbox Python runner (runtimes/python/runner.py).

Run with:  /usr/bin/python3 -m pytest runtimes/python/test_runner.py

Each test starts the runner the way kiln-init does: fd 3 is one end of an
AF_UNIX socketpair (JSON lines), fd 0 is /dev/null, fds 1/2 are pipes, and the
runner is in its own process group.
"""

import base64
import io
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
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "support"))
import runner_harness  # noqa: E402
from runner_harness import check_ok, errors, main_result, results  # noqa: E402


class RunnerProc(runner_harness.RunnerProc):
    """The Python runner under /usr/bin/python3, as kiln-init starts it."""

    drop_env = ("PYTHONPATH",)

    def __init__(self, cwd=None, env=None):
        super().__init__([PYTHON, "-u", RUNNER], cwd=cwd, env=env)

    def base_env(self):
        return {"MPLBACKEND": "Agg", "MPLCONFIGDIR": self._tmpdir("kiln-mpl-"),
                "PYTHONUNBUFFERED": "1"}


@pytest.fixture
def runner():
    r = RunnerProc()
    yield r
    r.close()


# ------------------------------------------------------------------ protocol


def test_ready_message(runner):
    assert runner.ready == {"type": "ready", "language": "python", "pid": runner.proc.pid}
    # Generous bound (CI machines are slow); typically ~20 ms.
    assert runner.t_ready - runner.t_start < 2.0


def test_startup_is_fast():
    best = min(_time_to_ready() for _ in range(3))
    print("time to ready: %.1f ms" % (best * 1000))
    assert best < 0.5


def _time_to_ready():
    r = RunnerProc()
    try:
        return r.t_ready - r.t_start
    finally:
        r.close()


def test_state_persists_and_main_result(runner):
    msgs = runner.execute("x = 41\nimport math")
    check_ok(msgs)
    assert results(msgs) == []
    msgs = runner.execute("y = x + 1\ny")
    check_ok(msgs)
    main = main_result(msgs)
    assert main == {"type": "result", "is_main_result": True, "text": "42"}
    # the main result is stored in _
    msgs = runner.execute("_ * 2")
    assert main_result(msgs)["text"] == "84"
    msgs = runner.execute("math.sqrt(16)")
    assert main_result(msgs)["text"] == "4.0"


def test_no_result_for_none_or_statements(runner):
    for code in ("None", "print('hi')", "z = 3", "", "# only a comment\n", "def f():\n    return 1"):
        msgs = runner.execute(code)
        check_ok(msgs)
        assert results(msgs) == [], code


def test_trailing_semicolon_suppresses_result(runner):
    msgs = runner.execute("v = [1]\nv.append(2); v")
    assert main_result(msgs)["text"] == "[1, 2]"
    msgs = runner.execute("len(v);")
    check_ok(msgs)
    assert results(msgs) == []
    msgs = runner.execute("'é' ;  # comment")
    assert results(msgs) == []


def test_string_literal_and_unicode(runner):
    msgs = runner.execute("s = 'héllo ☃\\n'\nprint(s, end='')\ns")
    check_ok(msgs)
    assert main_result(msgs)["text"] == repr("héllo ☃\n")
    assert runner.stdout.wait_for("héllo ☃\n")


def test_execution_count_increments(runner):
    counts = []
    for code in ("1", "1/0", "syntax error here", "import sys; sys.exit(1)", "2"):
        msgs = runner.execute(code)
        assert msgs[-1]["type"] == "done"
        counts.append(msgs[-1]["execution_count"])
    assert counts == [1, 2, 3, 4, 5]


def test_display_ordering(runner):
    msgs = runner.execute("display(1)\ndisplay('a', [2, 3])\nr = display(4)\nprint(r)\n5")
    check_ok(msgs)
    res = results(msgs)
    assert [(m["text"], m["is_main_result"]) for m in res] == [
        ("1", False), ("'a'", False), ("[2, 3]", False), ("4", False), ("5", True)]
    assert runner.stdout.wait_for("None\n")


def test_stdout_before_result_is_on_pipe(runner):
    # Output printed before display() must already be in the pipe when the
    # result message is sent.
    runner.send({"type": "execute",
                 "code": "import sys\nprint('marker-before-display')\n"
                         "sys.stderr.write('err-before-display\\n')\n"
                         "display('x')\nimport time; time.sleep(0.5)"})
    m = runner.recv()
    assert m["type"] == "result" and m["text"] == "'x'"
    # No waiting: read whatever is in the pipes right now.
    for reader, needle in ((runner.stdout, "marker-before-display\n"),
                           (runner.stderr, "err-before-display\n")):
        deadline = time.monotonic() + 0.05
        while needle not in reader.text() and time.monotonic() < deadline:
            time.sleep(0.001)
        assert needle in reader.text()
    assert runner.recv()["type"] == "done"


def test_stdout_before_done_is_on_pipe(runner):
    runner.send({"type": "execute", "code": "print('last words', end='')"})
    assert runner.recv()["type"] == "done"
    deadline = time.monotonic() + 0.05
    while "last words" not in runner.stdout.text() and time.monotonic() < deadline:
        time.sleep(0.001)
    assert "last words" in runner.stdout.text()


def test_output_streams_live(runner):
    runner.send({"type": "execute",
                 "code": "import time\nprint('first')\ntime.sleep(1.5)\nprint('second')"})
    assert runner.stdout.wait_for("first\n", timeout=1.0)
    assert "second" not in runner.stdout.text()
    assert runner.recv()["type"] == "done"
    assert runner.stdout.wait_for("second\n")


def test_stderr_goes_to_fd2(runner):
    msgs = runner.execute("import sys\nprint('to-err', file=sys.stderr)\nsys.stderr.write('raw\\n')")
    check_ok(msgs)
    assert runner.stderr.wait_for("to-err\nraw\n")
    assert "to-err" not in runner.stdout.text()


def test_subprocess_output_captured(runner):
    msgs = runner.execute("import subprocess, os\nsubprocess.run(['echo', 'hi-from-child'])\n"
                          "os.system('echo sys-child >&2')")
    check_ok(msgs)
    assert runner.stdout.wait_for("hi-from-child\n")
    assert runner.stderr.wait_for("sys-child\n")


def test_control_socket_not_inherited(runner):
    # os.system-style children (no close_fds) must not get fd 3; list the
    # shell's own fds (ls itself opens the directory it lists).
    msgs = runner.execute("import subprocess\n"
                          "subprocess.run('ls /proc/$$/fd', shell=True, capture_output=True,"
                          " close_fds=False).stdout.decode().split()")
    check_ok(msgs)
    fds = json.loads(main_result(msgs)["text"].replace("'", '"'))
    assert "0" in fds and "1" in fds
    assert "3" not in fds


def test_stdin_is_eof(runner):
    msgs = runner.execute("import sys\nsys.stdin.read()")
    check_ok(msgs)
    assert main_result(msgs)["text"] == "''"
    msgs = runner.execute("input('prompt? ')")
    assert errors(msgs)[0]["name"] == "EOFError"


def test_namespace_like_repl(runner, tmp_path):
    msgs = runner.execute("'__file__' in globals(), __name__, __builtins__.__name__")
    assert main_result(msgs)["text"] == "(False, '__main__', 'builtins')"
    msgs = runner.execute("import os\nos.getcwd()")
    assert main_result(msgs)["text"] == repr(os.path.realpath(runner.proc.args and _cwd_of(runner)))
    msgs = runner.execute("import sys\nsys.path[0]")
    assert main_result(msgs)["text"] == "''"


def _cwd_of(runner):
    return os.readlink("/proc/%d/cwd" % runner.proc.pid)


def test_import_module_from_cwd(tmp_path):
    (tmp_path / "helper_mod_kiln.py").write_text("VALUE = 'from-cwd'\n")
    r = RunnerProc(cwd=str(tmp_path))
    try:
        msgs = r.execute("import helper_mod_kiln\nhelper_mod_kiln.VALUE")
        check_ok(msgs)
        assert main_result(msgs)["text"] == "'from-cwd'"
        msgs = r.execute("import os\nos.getcwd()")
        assert main_result(msgs)["text"] == repr(str(tmp_path))
    finally:
        r.close()


def test_pickle_of_cell_defined_class(runner):
    msgs = runner.execute("import pickle\nclass P:\n    def __init__(self): self.v = 7\n"
                          "pickle.loads(pickle.dumps(P())).v")
    check_ok(msgs)
    assert main_result(msgs)["text"] == "7"


def test_env_applied_and_restored(runner):
    os_env_code = "import os\n(os.environ.get('KILN_NEW'), os.environ.get('HOME'))"
    msgs = runner.execute(os_env_code, env={"KILN_NEW": "v1", "HOME": "/elsewhere"})
    check_ok(msgs)
    assert main_result(msgs)["text"] == "('v1', '/elsewhere')"
    # child processes see it too
    msgs = runner.execute("import subprocess\nsubprocess.run(['sh', '-c', 'echo env=$KILN_NEW'])",
                          env={"KILN_NEW": "child"})
    check_ok(msgs)
    assert runner.stdout.wait_for("env=child\n")
    msgs = runner.execute(os_env_code)
    home = main_result(msgs)["text"]
    assert home == repr((None, os.environ.get("HOME", "/tmp")))
    # restored also when the cell fails
    msgs = runner.execute("1/0", env={"KILN_NEW": "x"})
    assert errors(msgs)
    msgs = runner.execute("import os\nos.environ.get('KILN_NEW')")
    assert results(msgs) == []


# ----------------------------------------------------------- rich results


def test_repr_protocol(runner):
    code = '''
class Rich:
    def __repr__(self): return "Rich()"
    def _repr_html_(self): return "<b>rich</b>"
    def _repr_markdown_(self): return "**rich**"
    def _repr_png_(self): return (b"\\x89PNG-fake", {"width": 1})
    def _repr_json_(self): return {"a": [1, 2.5, float("nan")]}
    def _repr_latex_(self): return None
Rich()
'''
    msgs = runner.execute(code)
    check_ok(msgs)
    m = main_result(msgs)
    assert m["text"] == "Rich()"
    assert m["html"] == "<b>rich</b>"
    assert m["markdown"] == "**rich**"
    assert base64.b64decode(m["png"]) == b"\x89PNG-fake"
    assert m["json"] == {"a": [1, 2.5, None]}
    assert "latex" not in m


def test_mimebundle_precedence_and_mapping(runner):
    code = '''
class B:
    def _repr_mimebundle_(self, include=None, exclude=None):
        return ({"text/html": "<i>b</i>", "image/svg+xml": "<svg/>",
                 "application/json": {"k": 1}, "text/latex": "$x$",
                 "application/javascript": "1;", "image/jpeg": b"JJ",
                 "application/pdf": b"%PDF", "application/x-unknown": "?"}, {})
    def _repr_html_(self): return "<i>not used</i>"
    def _repr_markdown_(self): return "md"
display(B())
'''
    msgs = runner.execute(code)
    check_ok(msgs)
    [m] = results(msgs)
    assert m["is_main_result"] is False
    assert m["html"] == "<i>b</i>"
    assert m["svg"] == "<svg/>"
    assert m["json"] == {"k": 1}
    assert m["latex"] == "$x$"
    assert m["javascript"] == "1;"
    assert base64.b64decode(m["jpeg"]) == b"JJ"
    assert base64.b64decode(m["pdf"]) == b"%PDF"
    assert m["markdown"] == "md"  # filled in by the _repr_*_ fallback
    assert m["text"].startswith("<__main__.B object at 0x")
    assert set(m) <= {"type", "is_main_result", "text", "html", "markdown", "svg", "png",
                      "jpeg", "pdf", "latex", "json", "javascript"}


def test_broken_reprs_and_classes(runner):
    code = '''
class Bad:
    def __repr__(self): raise ValueError("nope")
    def _repr_html_(self): raise RuntimeError("boom")
class WithHtml:
    def _repr_html_(self): return "<p/>"
display(Bad())
display(WithHtml)   # the class itself: its _repr_html_ is unbound
'''
    msgs = runner.execute(code)
    check_ok(msgs)
    bad, cls = results(msgs)
    assert "repr() failed" in bad["text"] and "Bad object" in bad["text"]
    assert "html" not in bad
    assert cls["text"] == "<class '__main__.WithHtml'>"
    assert "html" not in cls


def test_display_raw_bundle(runner):
    msgs = runner.execute("display({'text/plain': 'plain', 'text/html': '<p>x</p>'}, raw=True)")
    check_ok(msgs)
    [m] = results(msgs)
    assert m["text"] == "plain" and m["html"] == "<p>x</p>"


def test_pandas_dataframe(runner):
    msgs = runner.execute("import pandas as pd\ndf = pd.DataFrame({'a': [1, 2], 'b': ['x', 'y']})\ndf")
    check_ok(msgs)
    m = main_result(msgs)
    assert m["text"] == "   a  b\n0  1  x\n1  2  y"
    assert "<table" in m["html"]
    assert "<td>x</td>" in m["html"]
    msgs = runner.execute("display(df['a'])")
    [m] = results(msgs)
    assert m["text"].startswith("0    1\n1    2")


# ---------------------------------------------------------------- matplotlib


def _check_png(b64):
    raw = base64.b64decode(b64)
    assert raw.startswith(PNG_SIGNATURE)
    from PIL import Image

    img = Image.open(io.BytesIO(raw))
    img.load()
    assert img.format == "PNG"
    assert img.size[0] > 50 and img.size[1] > 50
    return img


def test_matplotlib_not_imported_by_runner(runner):
    msgs = runner.execute("import sys\n[m for m in ('matplotlib', 'numpy', 'pandas') if m in sys.modules]")
    assert main_result(msgs)["text"] == "[]"


def test_matplotlib_show(runner):
    code = ("import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [1, 4, 9])\n"
            "print('before show')\nplt.show()\nprint('after show')")
    msgs = runner.execute(code)
    check_ok(msgs)
    res = results(msgs)
    assert len(res) == 1, res
    fig = res[0]
    assert fig["is_main_result"] is False
    assert fig["text"] == "<Figure size 640x480 with 1 Axes>"
    _check_png(fig["png"])
    msgs = runner.execute("plt.get_fignums()")
    assert main_result(msgs)["text"] == "[]"


def test_matplotlib_show_in_same_cell_as_from_import(runner):
    msgs = runner.execute("from matplotlib.pyplot import show, figure\nfigure()\nfigure()\nshow()\n"
                          "print('n', len(__import__('matplotlib.pyplot').pyplot.get_fignums()))")
    check_ok(msgs)
    assert len(results(msgs)) == 2
    assert runner.stdout.wait_for("n 0\n")


def test_matplotlib_open_figure_emitted_once(runner):
    msgs = runner.execute("import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.bar([1, 2], [3, 4])\nx = 1")
    check_ok(msgs)
    [fig] = results(msgs)
    assert fig["is_main_result"] is False
    _check_png(fig["png"])
    msgs = runner.execute("x + 1")
    check_ok(msgs)
    assert [m["text"] for m in results(msgs)] == ["2"]


def test_matplotlib_figure_as_last_expression(runner):
    msgs = runner.execute("import matplotlib.pyplot as plt\nfig = plt.figure()\nplt.plot([0, 1])\nfig")
    check_ok(msgs)
    res = results(msgs)
    assert len(res) == 1, [r.get("text") for r in res]
    assert res[0]["is_main_result"] is True
    assert res[0]["text"] == "<Figure size 640x480 with 1 Axes>"
    _check_png(res[0]["png"])


def test_matplotlib_show_then_more_figures(runner):
    code = ("import matplotlib\nimport matplotlib.pyplot as plt\n"
            "plt.figure(); plt.plot([1]); plt.show()\n"
            "display('between')\n"
            "plt.figure(figsize=(3, 2)); plt.plot([2]);\n")
    msgs = runner.execute(code)
    check_ok(msgs)
    res = results(msgs)
    assert [r["text"] for r in res] == [
        "<Figure size 640x480 with 1 Axes>", "'between'", "<Figure size 300x200 with 1 Axes>"]
    img = _check_png(res[2]["png"])
    assert img.size[0] < 400


def test_pandas_plot_uses_hook(runner):
    msgs = runner.execute("import pandas as pd\npd.Series([1, 3, 2]).plot();")
    check_ok(msgs)
    res = results(msgs)
    assert len(res) == 1 and "png" in res[0]
    _check_png(res[0]["png"])


# -------------------------------------------------------------------- errors


def test_runtime_error_line_and_traceback(runner):
    msgs = runner.execute("a = 1\nb = 2\n1/0")
    assert msgs[-1]["type"] == "done"
    [err] = errors(msgs)
    assert err["name"] == "ZeroDivisionError"
    assert err["value"] == "division by zero"
    assert err["line"] == 3
    tb = err["traceback"]
    assert tb.startswith("Traceback (most recent call last):")
    assert '<cell-1>", line 3' in tb
    assert "1/0" in tb
    assert "runner.py" not in tb
    assert tb.rstrip().endswith("ZeroDivisionError: division by zero")
    assert results(msgs) == []


def test_statements_before_error_take_effect(runner):
    msgs = runner.execute("before = 'kept'\nraise KeyError('k')\nafter = 1")
    [err] = errors(msgs)
    assert (err["name"], err["value"], err["line"]) == ("KeyError", "'k'", 2)
    msgs = runner.execute("before, 'after' in globals()")
    assert main_result(msgs)["text"] == "('kept', False)"


def test_error_in_last_expression(runner):
    msgs = runner.execute("x = {}\n\nx['missing']")
    [err] = errors(msgs)
    assert err["name"] == "KeyError" and err["line"] == 3


def test_syntax_error(runner):
    msgs = runner.execute("x = 1\ny = 2\nif x\n    pass")
    assert msgs[-1]["type"] == "done"
    [err] = errors(msgs)
    assert err["name"] == "SyntaxError"
    assert err["line"] == 3
    assert err["value"] == "expected ':'"
    assert "runner.py" not in err["traceback"]
    assert "SyntaxError: expected ':'" in err["traceback"]
    msgs = runner.execute("foo(\n")
    [err] = errors(msgs)
    assert err["name"] == "SyntaxError" and err["line"] == 1
    msgs = runner.execute("x = 1\n  y = 2")
    [err] = errors(msgs)
    assert err["name"] == "IndentationError" and err["line"] == 2
    # compile-time (not parse-time) errors
    msgs = runner.execute("\n\nreturn 5")
    [err] = errors(msgs)
    assert err["name"] == "SyntaxError" and err["line"] == 3


def test_runtime_syntax_error_from_eval(runner):
    msgs = runner.execute("x = 1\neval('1 +')")
    [err] = errors(msgs)
    assert err["name"] == "SyntaxError" and err["line"] == 2


def test_error_in_function_from_earlier_cell(runner):
    check_ok(runner.execute("def f(d):\n    y = 1\n    return y / d"))
    msgs = runner.execute("z = 5\nf(0)")
    [err] = errors(msgs)
    assert err["name"] == "ZeroDivisionError"
    assert err["line"] == 2  # the line in the submitted code
    tb = err["traceback"]
    assert '<cell-2>", line 2' in tb
    assert '<cell-1>", line 3, in f' in tb
    assert "return y / d" in tb  # earlier cells' source is shown
    assert "runner.py" not in tb


def test_error_inside_library(runner):
    msgs = runner.execute("import json\n\njson.loads('{bad')")
    [err] = errors(msgs)
    assert err["name"] == "JSONDecodeError"
    assert err["line"] == 3
    assert "json/decoder.py" in err["traceback"] or "json/__init__.py" in err["traceback"]


def test_chained_exception_traceback(runner):
    msgs = runner.execute("try:\n    1/0\nexcept Exception as e:\n    raise ValueError('wrapped') from e")
    [err] = errors(msgs)
    assert err["name"] == "ValueError" and err["line"] == 4
    assert "ZeroDivisionError" in err["traceback"]
    assert "direct cause" in err["traceback"]
    assert "runner.py" not in err["traceback"]


def test_memory_error_maps_to_oom(runner):
    msgs = runner.execute("raise MemoryError()")
    [err] = errors(msgs)
    assert err["name"] == "OutOfMemoryError"
    assert err["line"] == 1
    check_ok(runner.execute("1"))


def test_system_exit_survives(runner):
    check_ok(runner.execute("keep = 'me'"))
    msgs = runner.execute("import sys\nsys.exit(3)")
    [err] = errors(msgs)
    assert (err["name"], err["value"], err["line"]) == ("SystemExit", "3", 2)
    msgs = runner.execute("exit()")
    [err] = errors(msgs)
    assert (err["name"], err["value"]) == ("SystemExit", "None")
    msgs = runner.execute("quit('bye')")
    assert errors(msgs)[0]["value"] == "bye"
    msgs = runner.execute("import sys\nkeep, sys.stdin.closed, sys.stdin.read()")
    check_ok(msgs)
    assert main_result(msgs)["text"] == "('me', False, '')"
    assert runner.proc.poll() is None


def test_keyboard_interrupt_keeps_state(runner):
    check_ok(runner.execute("state = [1, 2, 3]"))
    runner.send({"type": "execute", "code": "import time\nprint('sleeping')\ntime.sleep(10)\nstate.append(4)"})
    assert runner.stdout.wait_for("sleeping\n")
    time.sleep(0.3)  # be inside time.sleep, not just after print returned
    t0 = time.monotonic()
    os.killpg(runner.proc.pid, signal.SIGINT)
    msgs = []
    while not msgs or msgs[-1]["type"] != "done":
        msgs.append(runner.recv(timeout=5))
    assert time.monotonic() - t0 < 2
    [err] = errors(msgs)
    assert err["name"] == "KeyboardInterrupt"
    assert err["line"] == 3
    assert "runner.py" not in err["traceback"]
    msgs = runner.execute("state")
    check_ok(msgs)
    assert main_result(msgs)["text"] == "[1, 2, 3]"


def test_keyboard_interrupt_busy_loop_and_idle(runner):
    # SIGINT while idle is ignored
    os.kill(runner.proc.pid, signal.SIGINT)
    time.sleep(0.2)
    assert runner.proc.poll() is None
    check_ok(runner.execute("n = 0"))
    runner.send({"type": "execute", "code": "while True:\n    n += 1"})
    time.sleep(0.3)
    os.kill(runner.proc.pid, signal.SIGINT)
    msgs = []
    while not msgs or msgs[-1]["type"] != "done":
        msgs.append(runner.recv(timeout=5))
    [err] = errors(msgs)
    assert err["name"] == "KeyboardInterrupt" and err["line"] in (1, 2)
    msgs = runner.execute("n > 0")
    assert main_result(msgs)["text"] == "True"


def test_interrupt_while_displaying_keeps_protocol_intact(runner):
    # Many display() calls while SIGINTs arrive: every message must stay a
    # whole JSON line and the cell must still end with one error + done.
    runner.send({"type": "execute",
                 "code": "import time\nfor i in range(100000):\n    display('x' * 5000)\n"})
    time.sleep(0.3)
    for _ in range(5):
        os.kill(runner.proc.pid, signal.SIGINT)
        time.sleep(0.01)
    msgs = []
    while not msgs or msgs[-1]["type"] != "done":
        msgs.append(runner.recv(timeout=10))  # json.loads fails on torn lines
    errs = errors(msgs)
    assert len(errs) == 1 and errs[0]["name"] == "KeyboardInterrupt"
    assert all(m["text"] == repr("x" * 5000) for m in results(msgs))
    check_ok(runner.execute("1"))


def test_interrupt_during_blocked_control_write(runner):
    # A result far larger than the socket buffer: the runner blocks in the
    # write while we do not read; a SIGINT then must not tear the message.
    runner.send({"type": "execute",
                 "code": "display('y' * 20_000_000)\nimport time\ntime.sleep(10)"})
    time.sleep(1.0)
    os.kill(runner.proc.pid, signal.SIGINT)
    time.sleep(0.2)
    t0 = time.monotonic()
    msgs = []
    while not msgs or msgs[-1]["type"] != "done":
        msgs.append(runner.recv(timeout=10))  # json.loads fails on torn lines
    assert time.monotonic() - t0 < 5
    [res] = results(msgs)
    assert len(res["text"]) == 20_000_002
    [err] = errors(msgs)
    assert err["name"] == "KeyboardInterrupt" and err["line"] == 1
    check_ok(runner.execute("1"))


def test_user_sigint_handler_does_not_break_runner(runner):
    msgs = runner.execute("import signal\nsignal.signal(signal.SIGINT, signal.default_int_handler)")
    check_ok(msgs)
    runner.send({"type": "execute", "code": "import time\ntime.sleep(10)"})
    time.sleep(0.3)
    os.kill(runner.proc.pid, signal.SIGINT)
    msgs = []
    while not msgs or msgs[-1]["type"] != "done":
        msgs.append(runner.recv(timeout=5))
    assert errors(msgs)[0]["name"] == "KeyboardInterrupt"
    os.kill(runner.proc.pid, signal.SIGINT)  # idle again
    time.sleep(0.2)
    check_ok(runner.execute("2"))


# ---------------------------------------------------------------- misc


def test_top_level_await(runner):
    msgs = runner.execute("import asyncio\nasync def g():\n    await asyncio.sleep(0.01)\n    return 'awaited'\n"
                          "r = await g()\nawait g()")
    check_ok(msgs)
    assert main_result(msgs)["text"] == "'awaited'"


def test_future_import_persists(runner):
    check_ok(runner.execute("from __future__ import annotations"))
    msgs = runner.execute("def h(x: Undefined) -> int: return 1\nh.__annotations__['x']")
    check_ok(msgs)
    assert main_result(msgs)["text"] == "'Undefined'"


def test_messages_are_valid_json_lines(runner):
    # NaN in json, lone surrogates, newlines: all must yield parseable lines.
    code = ("class J:\n    def _repr_json_(self): return {'x': float('inf')}\n"
            "display(J())\n'\\udcff\\n\\u2028'")
    msgs = runner.execute(code)
    check_ok(msgs)
    j, main = results(msgs)
    assert j["json"] == {"x": None}
    assert "\n" in main["text"] or "\\n" in main["text"]


def test_eof_on_control_socket_exits():
    r = RunnerProc()
    check_ok(r.execute("x = 1"))
    r.sock.shutdown(socket.SHUT_WR)
    assert r.proc.wait(timeout=5) == 0
    r.close()


def test_eof_while_running_thread_exits():
    r = RunnerProc()
    check_ok(r.execute("import threading, time\nthreading.Thread(target=time.sleep, args=(60,)).start()"))
    r.sock.close()
    assert r.proc.wait(timeout=5) == 0
    r.close()
