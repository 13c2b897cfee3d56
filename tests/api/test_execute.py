"""Execute code and code contexts (API.md: Code contexts, Execute code)."""
import base64
import json
import io
import re
import threading
import time

import pytest
import requests

from helpers import assert_error, main_results, out

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def ex(kilnd, sid, code, **body):
    return kilnd.execute(sid, code, **body)


def new_context(kilnd, sid, **body):
    r = kilnd.post(f"/v1/sandboxes/{sid}/contexts", body)
    assert r.status_code == 201, r.text
    return r.json()


# -- basic results and logs ---------------------------------------------------

def test_last_expression_is_main_result(kilnd, sandbox):
    res = ex(kilnd, sandbox["id"], "x = 20\nx * 2 + 2")
    assert set(res) >= {"results", "logs", "error", "execution_count", "duration_ms"}
    assert res["error"] is None
    assert res["results"] == [{"is_main_result": True, "text": "42"}]
    assert isinstance(res["execution_count"], int) and res["execution_count"] >= 1
    assert isinstance(res["duration_ms"], int) and res["duration_ms"] >= 0
    assert res["logs"] == {"stdout": [], "stderr": []}


def test_statement_only_gives_no_result(kilnd, sandbox):
    res = ex(kilnd, sandbox["id"], "y = 5")
    assert res["results"] == []
    assert res["error"] is None
    res = ex(kilnd, sandbox["id"], "None")
    assert res["results"] == []


def test_string_result_is_repr(kilnd, sandbox):
    res = ex(kilnd, sandbox["id"], "'a' + 'b'")
    assert main_results(res)[0]["text"] == "'ab'"


def test_stdout_and_stderr_logs(kilnd, sandbox):
    res = ex(kilnd, sandbox["id"],
             "import sys\nprint('hello')\nprint('oops', file=sys.stderr)\nprint('world')")
    assert out(res) == "hello\nworld\n"
    assert out(res, "stderr") == "oops\n"
    assert res["results"] == []
    assert res["error"] is None


def test_execution_count_increments(kilnd, sandbox):
    a = ex(kilnd, sandbox["id"], "1")["execution_count"]
    b = ex(kilnd, sandbox["id"], "2")["execution_count"]
    c = ex(kilnd, sandbox["id"], "1/0")["execution_count"]
    assert b == a + 1
    assert c == b + 1


def test_duration_ms_measures_run(kilnd, sandbox):
    res = ex(kilnd, sandbox["id"], "import time\ntime.sleep(0.3)")
    assert 250 <= res["duration_ms"] < 5000, res


def test_state_persists_variables_imports_files(kilnd, sandbox):
    sid = sandbox["id"]
    ex(kilnd, sid, "import json as J\ncounter = 41\n"
                   "open('/home/user/state.txt', 'w').write('persisted')")
    res = ex(kilnd, sid, "counter += 1\nJ.dumps({'c': counter})")
    assert res["error"] is None, res
    assert main_results(res)[0]["text"] == "'{\"c\": 42}'"
    res = ex(kilnd, sid, "open('state.txt').read()")
    assert main_results(res)[0]["text"] == "'persisted'"
    res = ex(kilnd, sid, "def f(n):\n    return n * 3\n")
    assert main_results(ex(kilnd, sid, "f(counter)"))[0]["text"] == "126"


def test_default_cwd_is_home_user(kilnd, sandbox):
    res = ex(kilnd, sandbox["id"], "import os\nos.getcwd()")
    assert main_results(res)[0]["text"] == "'/home/user'"


# -- rich results -------------------------------------------------------------

def test_display_adds_results_in_order(kilnd, sandbox):
    res = ex(kilnd, sandbox["id"], "display('first')\ndisplay(2)\nprint('between')\n"
                                   "display({'k': 3})\n'last'")
    assert res["error"] is None, res
    results = res["results"]
    assert [r["text"] for r in results] == ["'first'", "2", "{'k': 3}", "'last'"]
    assert [r["is_main_result"] for r in results] == [False, False, False, True]
    assert out(res) == "between\n"


def test_display_protocol_user_class(kilnd, sandbox):
    code = ("class R:\n"
            "    def _repr_html_(self): return '<b>bold</b>'\n"
            "    def _repr_markdown_(self): return '**bold**'\n"
            "    def __repr__(self): return 'R()'\n"
            "R()")
    r = main_results(ex(kilnd, sandbox["id"], code))[0]
    assert r["text"] == "R()"
    assert r["html"] == "<b>bold</b>"
    assert r["markdown"] == "**bold**"


def test_mimebundle_protocol(kilnd, sandbox):
    code = ("class B:\n"
            "    def _repr_mimebundle_(self, include=None, exclude=None):\n"
            "        return {'text/plain': 'B!', 'application/json': {'a': 1},"
            " 'text/latex': '$x$'}\n"
            "B()")
    r = main_results(ex(kilnd, sandbox["id"], code))[0]
    assert r["text"] == "B!"
    assert r["json"] == {"a": 1}
    assert r["latex"] == "$x$"


def test_pandas_dataframe_text_and_html(kilnd, sandbox):
    res = ex(kilnd, sandbox["id"], "import pandas as pd\npd.DataFrame({'a': [1, 2]})")
    assert res["error"] is None, res
    r = main_results(res)[0]
    assert r["text"] == "   a\n0  1\n1  2"
    assert "<table" in r["html"]
    assert "</table>" in r["html"]


def test_matplotlib_png(kilnd, sandbox):
    from PIL import Image
    res = ex(kilnd, sandbox["id"],
             "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [1, 4, 9])\nplt.show()")
    assert res["error"] is None, res
    pngs = [r for r in res["results"] if "png" in r]
    assert len(pngs) == 1, res["results"]
    assert pngs[0]["is_main_result"] is False
    raw = base64.b64decode(pngs[0]["png"], validate=True)
    assert raw.startswith(PNG_SIGNATURE)
    img = Image.open(io.BytesIO(raw))
    img.load()
    assert img.format == "PNG"
    assert img.size[0] > 0 and img.size[1] > 0


def test_matplotlib_open_figure_at_end_of_cell_and_two_figures(kilnd, sandbox):
    res = ex(kilnd, sandbox["id"],
             "import matplotlib.pyplot as plt\n"
             "plt.figure(); plt.plot([1, 2]); plt.show()\n"
             "print('mid')\n"
             "plt.figure(); plt.bar([1, 2], [3, 4])\n"
             "x = 1")
    assert res["error"] is None, res
    pngs = [r for r in res["results"] if "png" in r]
    assert len(pngs) == 2, res["results"]
    for p in pngs:
        assert base64.b64decode(p["png"]).startswith(PNG_SIGNATURE)


# -- errors -------------------------------------------------------------------

def test_runtime_error_mapping(kilnd, sandbox):
    res = ex(kilnd, sandbox["id"], "a=1\nb=2\n1/0")
    err = res["error"]
    assert err["name"] == "ZeroDivisionError"
    assert err["value"] == "division by zero"
    assert err["line"] == 3
    assert "ZeroDivisionError" in err["traceback"]
    assert "Traceback" in err["traceback"]
    assert res["results"] == []


def test_error_keeps_output_before_it_and_state(kilnd, sandbox):
    sid = sandbox["id"]
    res = ex(kilnd, sid, "before = 'kept'\nprint('printed')\nraise ValueError('bad value')")
    assert out(res) == "printed\n"
    assert res["error"]["name"] == "ValueError"
    assert res["error"]["value"] == "bad value"
    assert res["error"]["line"] == 3
    assert main_results(ex(kilnd, sid, "before"))[0]["text"] == "'kept'"


def test_error_in_function_reports_cell_line(kilnd, sandbox):
    res = ex(kilnd, sandbox["id"], "def f():\n    return {}['k']\n\nx = 0\nf()")
    assert res["error"]["name"] == "KeyError"
    assert res["error"]["line"] in (2, 5)


def test_syntax_error_with_line(kilnd, sandbox):
    res = ex(kilnd, sandbox["id"], "x = 1\ny = 2\nif x ==:\n    pass")
    err = res["error"]
    assert err["name"] == "SyntaxError"
    assert err["line"] == 3
    assert isinstance(err["value"], str) and err["value"]
    assert "SyntaxError" in err["traceback"]
    # Nothing ran.
    res = ex(kilnd, sandbox["id"], "'y' in dir()")
    assert main_results(res)[0]["text"] == "False"


# -- contexts -----------------------------------------------------------------

def test_create_context_shape_and_list(kilnd, sandbox):
    sid = sandbox["id"]
    ctx = new_context(kilnd, sid, language="python", cwd="/home/user")
    assert ctx["id"].startswith("ctx_") and len(ctx["id"]) > 4
    assert ctx["language"] == "python"
    assert ctx["cwd"] == "/home/user"
    r = kilnd.get(f"/v1/sandboxes/{sid}/contexts")
    assert r.status_code == 200
    body = r.json()
    assert ctx["id"] in [c["id"] for c in body["contexts"]]


def test_context_defaults(kilnd, sandbox):
    ctx = new_context(kilnd, sandbox["id"])
    assert ctx["language"] == "python"
    assert ctx["cwd"] == "/home/user"


def test_contexts_do_not_share_variables(kilnd, sandbox):
    sid = sandbox["id"]
    c1 = new_context(kilnd, sid, language="python")
    c2 = new_context(kilnd, sid, language="python")
    assert c1["id"] != c2["id"]
    ex(kilnd, sid, "shared = 'one'", context_id=c1["id"])
    ex(kilnd, sid, "shared = 'two'", context_id=c2["id"])
    assert main_results(ex(kilnd, sid, "shared", context_id=c1["id"]))[0]["text"] == "'one'"
    assert main_results(ex(kilnd, sid, "shared", context_id=c2["id"]))[0]["text"] == "'two'"
    # The default context sees neither.
    res = ex(kilnd, sid, "shared")
    assert res["error"]["name"] == "NameError"
    # language=python alone uses the default context as well.
    ex(kilnd, sid, "dflt = 7")
    res = ex(kilnd, sid, "dflt", language="python")
    assert main_results(res)[0]["text"] == "7"


def test_context_cwd_is_honoured(kilnd, sandbox):
    sid = sandbox["id"]
    kilnd.run(sid, "mkdir -p /home/user/proj/sub")
    ctx = new_context(kilnd, sid, language="python", cwd="/home/user/proj/sub")
    assert ctx["cwd"] == "/home/user/proj/sub"
    res = ex(kilnd, sid, "import os\nopen('here.txt','w').write('x')\nos.getcwd()",
             context_id=ctx["id"])
    assert main_results(res)[0]["text"] == "'/home/user/proj/sub'"
    assert kilnd.run(sid, "ls /home/user/proj/sub")["stdout"] == "here.txt\n"


def test_context_relative_cwd(kilnd, sandbox):
    sid = sandbox["id"]
    kilnd.run(sid, "mkdir -p /home/user/rel")
    ctx = new_context(kilnd, sid, cwd="rel")
    assert ctx["cwd"] == "/home/user/rel"


def test_delete_context(kilnd, sandbox):
    sid = sandbox["id"]
    ctx = new_context(kilnd, sid)
    ex(kilnd, sid, "v = 1", context_id=ctx["id"])
    r = kilnd.delete(f"/v1/sandboxes/{sid}/contexts/{ctx['id']}")
    assert r.status_code == 204
    assert r.content == b""
    assert_error(kilnd.post(f"/v1/sandboxes/{sid}/execute",
                            {"code": "v", "context_id": ctx["id"]}), 404, "not_found")
    assert_error(kilnd.delete(f"/v1/sandboxes/{sid}/contexts/{ctx['id']}"), 404, "not_found")
    ids = [c["id"] for c in kilnd.get(f"/v1/sandboxes/{sid}/contexts").json()["contexts"]]
    assert ctx["id"] not in ids


def test_unknown_context_is_404(kilnd, sandbox):
    sid = sandbox["id"]
    assert_error(kilnd.post(f"/v1/sandboxes/{sid}/execute",
                            {"code": "1", "context_id": "ctx_nope"}), 404, "not_found")
    assert_error(kilnd.post(f"/v1/sandboxes/{sid}/contexts/ctx_nope/restart"), 404, "not_found")


def test_restart_context_keeps_id_and_drops_state(kilnd, sandbox):
    sid = sandbox["id"]
    ctx = new_context(kilnd, sid, cwd="/tmp")
    ex(kilnd, sid, "gone_after_restart = 1", context_id=ctx["id"])
    r = kilnd.post(f"/v1/sandboxes/{sid}/contexts/{ctx['id']}/restart")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == ctx["id"]
    assert body["cwd"] == "/tmp"
    res = ex(kilnd, sid, "gone_after_restart", context_id=ctx["id"])
    assert res["error"]["name"] == "NameError"
    res = ex(kilnd, sid, "import os\nos.getcwd()", context_id=ctx["id"])
    assert main_results(res)[0]["text"] == "'/tmp'"


def test_language_and_context_id_together_is_400(kilnd, sandbox):
    sid = sandbox["id"]
    ctx = new_context(kilnd, sid)
    assert_error(kilnd.post(f"/v1/sandboxes/{sid}/execute",
                            {"code": "1", "language": "python", "context_id": ctx["id"]}),
                 400, "bad_request")


def test_unsupported_language_is_400(kilnd, sandbox):
    sid = sandbox["id"]
    assert_error(kilnd.post(f"/v1/sandboxes/{sid}/execute", {"code": "1", "language": "cobol"}),
                 400, "bad_request")
    assert_error(kilnd.post(f"/v1/sandboxes/{sid}/contexts", {"language": "cobol"}),
                 400, "bad_request")


@pytest.mark.parametrize("body", [
    {},
    {"code": 5},
    {"code": None},
    {"code": "1", "timeout_s": -1},
    {"code": "1", "timeout_s": "x"},
    {"code": "1", "env": {"A": 1}},
    {"code": "1", "env": "A=1"},
], ids=lambda b: repr(b))
def test_execute_bad_input_is_400(kilnd, sandbox, body):
    assert_error(kilnd.post(f"/v1/sandboxes/{sandbox['id']}/execute", body), 400, "bad_request")


def test_execute_non_json_is_400(kilnd, sandbox):
    r = kilnd.req("POST", f"/v1/sandboxes/{sandbox['id']}/execute", data=b"print(1)",
                  headers={"Content-Type": "application/json"})
    assert_error(r, 400, "bad_request")


# -- env ----------------------------------------------------------------------

def test_env_per_execution_not_persisted(kilnd, sandbox):
    sid = sandbox["id"]
    res = ex(kilnd, sid, "import os\nos.environ.get('PER_RUN')", env={"PER_RUN": "yes"})
    assert main_results(res)[0]["text"] == "'yes'"
    res = ex(kilnd, sid, "import os\nrepr(os.environ.get('PER_RUN'))")
    assert main_results(res)[0]["text"] == "'None'"


def test_env_per_execution_visible_to_child_processes(kilnd, sandbox):
    res = ex(kilnd, sandbox["id"],
             "import subprocess\nsubprocess.run(['sh', '-c', 'echo $CHILD_ENV'])",
             env={"CHILD_ENV": "inherited"})
    assert "inherited\n" in out(res)


# -- streaming ----------------------------------------------------------------

STREAM_CODE = ("import time\nprint('one', flush=True)\ntime.sleep(0.5)\n"
               "print('two', flush=True)\ntime.sleep(0.5)\nprint('three', flush=True)\n")


def _check_live_stream(events):
    stdout = [(t, e) for t, e in events if e["type"] == "stdout"]
    text = "".join(e["text"] for _, e in stdout)
    assert text == "one\ntwo\nthree\n"
    # Find arrival of each line.
    arrivals, acc = [], ""
    for t, e in stdout:
        acc += e["text"]
        while len(arrivals) < acc.count("\n"):
            arrivals.append(t)
    assert len(arrivals) == 3
    assert arrivals[1] - arrivals[0] >= 0.3, arrivals
    assert arrivals[2] - arrivals[1] >= 0.3, arrivals
    for _, e in stdout:
        assert isinstance(e["timestamp"], str) and e["timestamp"]
    last = events[-1][1]
    assert last["type"] == "end"
    assert isinstance(last["execution_count"], int)
    assert isinstance(last["duration_ms"], int) and last["duration_ms"] >= 900
    assert [e["type"] for _, e in events].count("end") == 1


def test_stream_ndjson_is_live(kilnd, sandbox):
    events = list(kilnd.stream(f"/v1/sandboxes/{sandbox['id']}/execute", {"code": STREAM_CODE}))
    _check_live_stream(events)


def test_stream_sse_is_live(kilnd, sandbox):
    r = kilnd.http.post(kilnd.url + f"/v1/sandboxes/{sandbox['id']}/execute",
                        json={"code": STREAM_CODE}, headers={"Accept": "text/event-stream"},
                        stream=True, timeout=60)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/event-stream")
    events = []
    for line in r.iter_lines():
        if not line:
            continue  # blank line ends an SSE event
        line = line.decode()
        assert line.startswith("data: "), line
        events.append((time.monotonic(), json.loads(line[len("data: "):])))
    _check_live_stream(events)


def test_stream_ndjson_content_type(kilnd, sandbox):
    r = kilnd.http.post(kilnd.url + f"/v1/sandboxes/{sandbox['id']}/execute",
                        json={"code": "1"}, headers={"Accept": "application/x-ndjson"},
                        stream=True, timeout=60)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/x-ndjson")
    r.close()


def test_stream_result_and_stderr_events(kilnd, sandbox):
    code = ("import sys\nprint('err', file=sys.stderr)\n"
            "class H:\n    def _repr_html_(self): return '<i>h</i>'\n"
            "    def __repr__(self): return 'H'\n"
            "display(H())\n6 * 7")
    events = [e for _, e in kilnd.stream(f"/v1/sandboxes/{sandbox['id']}/execute",
                                         {"code": code})]
    types = [e["type"] for e in events]
    assert types[-1] == "end"
    stderr = "".join(e["text"] for e in events if e["type"] == "stderr")
    assert stderr == "err\n"
    results = [e for e in events if e["type"] == "result"]
    assert len(results) == 2
    assert results[0]["text"] == "H" and results[0]["html"] == "<i>h</i>"
    assert results[0]["is_main_result"] is False
    assert results[1]["text"] == "42" and results[1]["is_main_result"] is True
    assert "error" not in types


def test_stream_error_event(kilnd, sandbox):
    events = [e for _, e in kilnd.stream(f"/v1/sandboxes/{sandbox['id']}/execute",
                                         {"code": "print('x')\nraise KeyError('nokey')"})]
    errors = [e for e in events if e["type"] == "error"]
    assert len(errors) == 1
    assert errors[0]["name"] == "KeyError"
    assert "nokey" in errors[0]["value"]
    assert "KeyError" in errors[0]["traceback"]
    assert events[-1]["type"] == "end"
    assert [e["type"] for e in events].index("error") < len(events) - 1


def test_stream_sse_result_event(kilnd, sandbox):
    events = [e for _, e in kilnd.stream(f"/v1/sandboxes/{sandbox['id']}/execute",
                                         {"code": "'sse'"}, accept="text/event-stream")]
    assert events[0] == dict(events[0], type="result", text="'sse'", is_main_result=True)
    assert events[-1]["type"] == "end"


# -- timeouts -------------------------------------------------------------------

def test_timeout_interrupts_and_keeps_state(kilnd, sandbox):
    sid = sandbox["id"]
    t0 = time.monotonic()
    res = ex(kilnd, sid, "import time\nx=5\ntime.sleep(30)", timeout_s=1)
    elapsed = time.monotonic() - t0
    assert res["error"]["name"] == "TimeoutError", res
    assert elapsed < 4, elapsed
    res = ex(kilnd, sid, "x")
    assert res["error"] is None, res
    assert main_results(res)[0]["text"] == "5"


def test_timeout_in_stream(kilnd, sandbox):
    t0 = time.monotonic()
    events = [e for _, e in kilnd.stream(f"/v1/sandboxes/{sandbox['id']}/execute",
                                         {"code": "import time\ntime.sleep(30)", "timeout_s": 1})]
    assert time.monotonic() - t0 < 4
    assert [e["name"] for e in events if e["type"] == "error"] == ["TimeoutError"]
    assert events[-1]["type"] == "end"


def test_timeout_ignoring_sigint_restarts_context(kilnd, sandbox):
    sid = sandbox["id"]
    ex(kilnd, sid, "defined_before = 1")
    t0 = time.monotonic()
    res = ex(kilnd, sid, "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                         "time.sleep(30)", timeout_s=1)
    elapsed = time.monotonic() - t0
    assert elapsed < 8, elapsed
    err = res["error"]
    assert err["name"] == "TimeoutError", res
    assert "restart" in err["value"].lower(), err
    t1 = time.monotonic()
    res = ex(kilnd, sid, "1 + 1")
    assert time.monotonic() - t1 < 5
    assert res["error"] is None, res
    assert main_results(res)[0]["text"] == "2"
    res = ex(kilnd, sid, "defined_before")
    assert res["error"]["name"] == "NameError"


def test_sandbox_exec_timeout_limit_is_default(kilnd):
    sb = kilnd.create_sandbox(limits={"exec_timeout_s": 1})
    try:
        t0 = time.monotonic()
        res = ex(kilnd, sb["id"], "import time\ntime.sleep(20)")
        assert res["error"]["name"] == "TimeoutError"
        assert time.monotonic() - t0 < 4
    finally:
        kilnd.delete(f"/v1/sandboxes/{sb['id']}")


# -- output cap ---------------------------------------------------------------

def test_output_cap(kilnd, sandbox):
    res = ex(kilnd, sandbox["id"], "import sys\nsys.stdout.write('x' * (3 * 1024 * 1024))\n"
                                   "sys.stdout.flush()\nprint('tail')")
    assert res["error"] is None, res
    items = res["logs"]["stdout"]
    total = sum(len(s) for s in items)
    assert total <= 1024 * 1024 + 200, total
    assert total >= 1024 * 1024 - 100, total   # keeps up to the cap
    last = items[-1]
    assert "x" * 100 not in last
    m = re.search(r"(\d+) bytes dropped", last)
    assert m, last
    dropped = int(m.group(1))
    # 3 MiB + 'tail\n' written, about 1 MiB kept.
    assert 2 * 1024 * 1024 - 200 <= dropped <= 2 * 1024 * 1024 + 200, last


def test_output_cap_stderr(kilnd, sandbox):
    res = ex(kilnd, sandbox["id"], "import sys\nsys.stderr.write('e' * (2 * 1024 * 1024))")
    items = res["logs"]["stderr"]
    assert sum(len(s) for s in items) <= 1024 * 1024 + 200
    assert "drop" in items[-1].lower()
    assert out(res) == "" or "drop" not in out(res)


def test_output_cap_on_custom_daemon(fresh_daemon):
    d = fresh_daemon("--output-cap-bytes", "1000", pool_size=0)
    sb = d.create_sandbox()
    res = d.execute(sb["id"], "print('y' * 5000)")
    items = res["logs"]["stdout"]
    kept = "".join(items[:-1])
    assert kept == "y" * 1000, (len(kept), items[-1])
    assert "4001" in items[-1] and "drop" in items[-1].lower(), items[-1]


# -- child processes -------------------------------------------------------------

def test_child_process_output_in_stdout(kilnd, sandbox):
    res = ex(kilnd, sandbox["id"],
             "import subprocess\nsubprocess.run(['echo', 'from-child'])\n"
             "subprocess.run('echo child-err >&2', shell=True)\nprint('parent')")
    assert res["error"] is None, res
    assert out(res) == "from-child\nparent\n"
    assert out(res, "stderr") == "child-err\n"


# -- disconnect and concurrency ----------------------------------------------------

def test_client_disconnect_interrupts_run(kilnd, sandbox):
    sid = sandbox["id"]
    ctx = new_context(kilnd, sid)
    ex(kilnd, sid, "keep = 'still here'", context_id=ctx["id"])
    r = kilnd.http.post(kilnd.url + f"/v1/sandboxes/{sid}/execute",
                        json={"code": "print('started', flush=True)\nwhile True:\n    pass",
                              "context_id": ctx["id"], "timeout_s": 120},
                        headers={"Accept": "application/x-ndjson"}, stream=True, timeout=30)
    assert r.status_code == 200
    lines = r.iter_lines()
    first = next(l for l in lines if l)
    assert b"started" in first
    r.close()  # disconnect
    deadline = time.monotonic() + 4
    while True:
        resp = kilnd.post(f"/v1/sandboxes/{sid}/execute",
                          {"code": "keep", "context_id": ctx["id"], "timeout_s": 5})
        if resp.status_code != 409 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert resp.status_code == 200, resp.text
    res = resp.json()
    assert res["error"] is None, res
    assert main_results(res)[0]["text"] == "'still here'"


def test_busy_context_is_409(kilnd, sandbox):
    sid = sandbox["id"]
    ctx = new_context(kilnd, sid)
    holder = {}

    def long_run():
        holder["res"] = kilnd.req("POST", f"/v1/sandboxes/{sid}/execute",
                                  json={"code": "import time\ntime.sleep(1.5)\n'done'",
                                        "context_id": ctx["id"]})

    t = threading.Thread(target=long_run)
    t.start()
    try:
        time.sleep(0.5)
        r = requests.post(kilnd.url + f"/v1/sandboxes/{sid}/execute",
                          json={"code": "1", "context_id": ctx["id"]}, timeout=30)
        assert_error(r, 409, "conflict")
        # Another context of the same sandbox is not blocked.
        other = new_context(kilnd, sid)
        r2 = requests.post(kilnd.url + f"/v1/sandboxes/{sid}/execute",
                           json={"code": "'free'", "context_id": other["id"]}, timeout=30)
        assert r2.status_code == 200, r2.text
    finally:
        t.join(30)
    assert holder["res"].status_code == 200
    assert main_results(holder["res"].json())[0]["text"] == "'done'"
