"""Sandbox lifecycle, run_code, results, streaming, contexts."""
import threading
import time
from datetime import datetime, timezone

import pytest

import kiln
from kiln import Sandbox

from conftest import invalid_request


def test_create_info_timeout_and_kill(daemon):
    s = Sandbox.create(metadata={"user": "u1"}, env={"GREETING": "hi"},
                       limits={"memory_mb": 256, "exec_timeout_s": 20}, timeout=120)
    try:
        assert s.id.startswith("sbx_") and s.sandbox_id == s.id
        assert s.info.status == "running" and s.info.metadata == {"user": "u1"}
        assert s.info.limits.memory_mb == 256 and s.info.limits.exec_timeout_s == 20
        left = (s.info.expires_at - datetime.now(timezone.utc)).total_seconds()
        assert 100 < left <= 121
        assert s.run_code("import os\nos.environ['GREETING']").text == "'hi'"
        info = s.get_info()
        assert info.usage is not None and info.usage.executions == 1
        assert s.id in [x.id for x in Sandbox.list()]
        s.set_timeout(600)
        assert (s.info.expires_at - datetime.now(timezone.utc)).total_seconds() > 590
        assert s.is_running()
        assert Sandbox.connect(s.id).info.id == s.id
    finally:
        s.kill()
    assert not s.is_running()
    with pytest.raises(kiln.NotFoundError) as e:
        s.get_info()
    assert e.value.status == 404 and e.value.code == "not_found" and s.id in e.value.message
    s.close()  # already gone: no error


def test_context_manager_deletes(daemon):
    with Sandbox.create() as s:
        sid = s.id
        assert s.run_code("1 + 1").text == "2"
    with pytest.raises(kiln.NotFoundError):
        Sandbox.connect(sid)


def test_session_get_or_create(daemon, client):
    a = client.create_sandbox(session="turn-1")
    try:
        b = Sandbox.create(session="turn-1")
        assert b.id == a.id and a.info.session == "turn-1"
    finally:
        a.kill()


def test_bad_create_is_bad_request(daemon):
    with pytest.raises(kiln.BadRequestError) as e:
        Sandbox.create(limits={"memory_mb": 10 ** 7})
    assert "memory_mb" in e.value.message


def test_results_text_html_png_json(sbx):
    ex = sbx.run_code("print('hello')\n6 * 7")
    assert ex.text == "42" and ex.logs.stdout == ["hello\n"] and ex.error is None
    assert ex.execution_count >= 1 and ex.results[0].is_main_result
    df = sbx.run_code("import pandas as pd\npd.DataFrame({'a': [1, 2]})")
    r = df.results[0]
    assert "<table" in r.html and r._repr_html_() == r.html and "a" in r.text
    assert set(r.formats()) >= {"text", "html"}
    fig = sbx.run_code("import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()")
    png = fig.results[0].png
    assert png is not None and png.startswith(b"\x89PNG\r\n\x1a\n")
    assert fig.results[0]._repr_png_() == png
    js = sbx.run_code("[1, 2, 3].map(x => x * 2)", language="javascript")
    assert js.results[0].json == [2, 4, 6] and js.text == "[ 2, 4, 6 ]"
    ts = sbx.run_code("const n: number = 5\nn * 2", language="typescript")
    assert ts.text == "10"
    sh = sbx.run_code("echo $((2 + 3))", language="bash")
    assert sh.stdout == "5\n"


def test_execution_error(sbx):
    ex = sbx.run_code("x = 1\n1 / 0")
    err = ex.error
    assert isinstance(err, kiln.ExecutionError)
    assert (err.name, err.value, err.line) == ("ZeroDivisionError", "division by zero", 2)
    assert "Traceback" in err.traceback
    with pytest.raises(kiln.ExecutionError) as raised:
        ex.raise_error()
    assert raised.value is err
    assert sbx.run_code("x").text == "1"  # state kept
    bash = sbx.run_code("ls /nonexistent", language="bash")
    assert bash.error.name == "CommandError" and "No such file" in bash.stderr


def test_execution_timeout_and_client_timeout(sbx):
    ex = sbx.run_code("import time\ntime.sleep(5)", timeout=0.5)
    assert isinstance(ex.error, kiln.ExecutionTimeoutError)
    assert isinstance(ex.error, kiln.TimeoutError) and ex.error.name == "TimeoutError"
    t0 = time.monotonic()
    with pytest.raises(kiln.TimeoutError):
        sbx.run_code("import time\ntime.sleep(5)", request_timeout=0.5)
    assert time.monotonic() - t0 < 3
    # The run was interrupted when the client went away: the context is free.
    deadline = time.monotonic() + 5
    while True:
        try:
            assert sbx.run_code("'free'").text == "'free'"
            break
        except kiln.ConflictError:
            assert time.monotonic() < deadline, "context still busy"
            time.sleep(0.1)


def test_env_per_run_and_bad_language(sbx):
    assert sbx.run_code("import os\nos.environ.get('ONLY')", env={"ONLY": "x"}).text == "'x'"
    assert sbx.run_code("import os\nos.environ.get('ONLY')").text is None or \
        sbx.run_code("import os\nos.environ.get('ONLY')").text == "None"
    with invalid_request(), pytest.raises(kiln.BadRequestError):
        sbx.run_code("1", language="cobol")
    with pytest.raises(ValueError):
        sbx.run_code("1", language="python", context="ctx_x")


def test_streaming_callbacks_arrive_live(sbx):
    t0 = time.monotonic()
    seen = []
    results, errors = [], []
    ex = sbx.run_code(
        "import time, sys\nfor i in range(3):\n    print(i, flush=True)\n    time.sleep(0.4)\n"
        "print('e', file=sys.stderr)\ndisplay({'k': 1})\n1/0",
        on_stdout=lambda m: seen.append((time.monotonic() - t0, m)),
        on_stderr=lambda m: seen.append((time.monotonic() - t0, m)),
        on_result=results.append, on_error=errors.append)
    end = time.monotonic() - t0
    assert [m.text for _, m in seen] == ["0\n", "1\n", "2\n", "e\n"]
    assert seen[0][1].stream == "stdout" and seen[3][1].stream == "stderr"
    assert isinstance(seen[0][1].timestamp, datetime)
    # The first line arrived long before the run ended (it sleeps 1.2 s after it).
    assert seen[0][0] < end - 0.8, (seen, end)
    assert seen[1][0] - seen[0][0] > 0.25
    assert len(results) == 1 and results[0].text == "{'k': 1}" and not results[0].is_main_result
    assert len(errors) == 1 and errors[0].name == "ZeroDivisionError"
    assert ex.error is errors[0] and ex.logs.stdout == ["0\n", "1\n", "2\n"] and ex.duration_ms >= 1000


def test_stream_code_iterator(sbx):
    stream = sbx.stream_code("print('a')\n7")
    items = list(stream)
    assert isinstance(items[0], kiln.OutputMessage) and items[0].text == "a\n"
    assert isinstance(items[1], kiln.Result) and items[1].text == "7"
    assert stream.execution.text == "7" and stream.execution.execution_count >= 1


def test_closing_a_stream_early_interrupts_the_run(sbx):
    with sbx.stream_code("import time\nprint('go', flush=True)\ntime.sleep(30)") as stream:
        first = next(iter(stream))
        assert isinstance(first, kiln.OutputMessage) and first.text == "go\n"
    t0 = time.monotonic()
    while True:
        try:
            assert sbx.run_code("'free'").text == "'free'"
            break
        except kiln.ConflictError:
            assert time.monotonic() - t0 < 5, "the run was not interrupted"
            time.sleep(0.05)


def test_callback_exception_interrupts_and_sandbox_stays_usable(sbx):
    def boom(m):
        raise RuntimeError("stop here")

    t0 = time.monotonic()
    with pytest.raises(RuntimeError):
        sbx.run_code("import time\nprint('go', flush=True)\ntime.sleep(30)\nprint('never')",
                     on_stdout=boom)
    assert time.monotonic() - t0 < 5
    deadline = time.monotonic() + 5
    while True:
        try:
            ex = sbx.run_code("'still here'")
            break
        except kiln.ConflictError:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    assert ex.text == "'still here'"


def test_busy_context_is_conflict(sbx):
    started = threading.Event()
    t = threading.Thread(target=lambda: sbx.run_code(
        "import time\ntime.sleep(1.5)", on_stdout=lambda m: None))
    t.start()
    time.sleep(0.4)
    started.set()
    with pytest.raises(kiln.ConflictError) as e:
        sbx.run_code("1")
    assert e.value.status == 409
    t.join()


def test_contexts(sbx):
    c = sbx.create_code_context("python", cwd="/tmp")
    assert c.language == "python" and c.cwd == "/tmp" and not c.default
    sbx.run_code("v = 5", context=c)
    assert sbx.run_code("v", context=c.id).text == "5"
    assert sbx.run_code("import os\nos.getcwd()", context=c).text == "'/tmp'"
    assert c.id in [x.id for x in sbx.list_code_contexts()]
    assert sbx.get_code_context(c).id == c.id
    again = sbx.restart_code_context(c)
    assert again.id == c.id
    err = sbx.run_code("v", context=c).error
    assert err is not None and err.name == "NameError"
    sbx.remove_code_context(c)
    with pytest.raises(kiln.NotFoundError):
        sbx.get_code_context(c)
    with pytest.raises(kiln.NotFoundError):
        sbx.run_code("1", context=c)
    with invalid_request(), pytest.raises(kiln.BadRequestError):
        sbx.create_code_context("cobol")
