"""JavaScript, TypeScript and Bash contexts through the API (issue 5).

Each language runs the same contract as Python: state across executions,
separate contexts, the last expression's value, stdout/stderr, errors with
the submitted code's line numbers, timeouts with and without state loss,
env per execution, cwd per context, restart.
"""
import json
import time

import pytest

LANGS = ["javascript", "typescript", "bash"]

# Per language: code snippets for the shared checks.
SNIP = {
    "javascript": {
        "set": "var counter = 41;",
        "get": "counter + 1",
        "get_text": "42",
        "print": "console.log('out'); console.error('err'); 7",
        "error3": "const a = 1;\nconst b = 2;\nthrow new Error('boom')",
        "error_name": "Error",
        "sleep_interruptible": "var kept = 5;\nwhile (true) {}",
        "kept": "kept",
        "env": "process.env.KILN_T",
        "cwd": "process.cwd()",
        "unset": "typeof counter",
        "unset_text": "'undefined'",
    },
    "typescript": {
        "set": "let counter: number = 41;",
        "get": "counter + 1",
        "get_text": "42",
        "print": "console.log('out'); console.error('err'); const seven: number = 7; seven",
        "error3": "const a: number = 1;\nconst b: number = 2;\nthrow new Error('boom')",
        "error_name": "Error",
        "sleep_interruptible": "var kept: number = 5;\nwhile (true) {}",
        "kept": "kept",
        "env": "process.env.KILN_T",
        "cwd": "process.cwd()",
        "unset": "typeof counter",
        "unset_text": "'undefined'",
    },
    "bash": {
        "set": "counter=41",
        "get": "echo $((counter + 1))",
        "get_text": None,  # bash has no expression value: checked on stdout
        "print": "echo out; echo err >&2",
        "error3": "true\ntrue\nfalse",
        "error_name": "CommandError",
        "sleep_interruptible": "kept=5\nsleep 30",
        "kept": "echo $kept",
        "env": "echo $KILN_T",
        "cwd": "pwd",
        "unset": "echo \"[${counter:-}]\"",
        "unset_text": None,
    },
}


def ctx_new(kilnd, sid, language, **kw):
    r = kilnd.post(f"/v1/sandboxes/{sid}/contexts", {"language": language, **kw})
    assert r.status_code == 201, r.text
    return r.json()


def run(kilnd, sid, code, ctx=None, **kw):
    body = {"code": code, **kw}
    if ctx:
        body["context_id"] = ctx
    r = kilnd.post(f"/v1/sandboxes/{sid}/execute", body)
    assert r.status_code == 200, r.text
    return r.json()


def value(res):
    """The main result's text, or (bash) the joined stdout."""
    for r in res["results"]:
        if r.get("is_main_result"):
            return r["text"]
    return "".join(res["logs"]["stdout"]).strip()


@pytest.mark.parametrize("lang", LANGS)
def test_state_and_separate_contexts(kilnd, sandbox, lang):
    s = SNIP[lang]
    sid = sandbox["id"]
    c1 = ctx_new(kilnd, sid, lang)
    c2 = ctx_new(kilnd, sid, lang)
    assert c1["language"] == lang and c1["id"].startswith("ctx_")
    assert run(kilnd, sid, s["set"], c1["id"])["error"] is None
    assert value(run(kilnd, sid, s["get"], c1["id"])) == "42"
    other = run(kilnd, sid, s["unset"], c2["id"])
    assert other["error"] is None
    if s["unset_text"]:
        assert value(other) == s["unset_text"]
    else:
        assert value(other) == "[]"


@pytest.mark.parametrize("lang", LANGS)
def test_default_context_per_language(kilnd, sandbox, lang):
    s = SNIP[lang]
    sid = sandbox["id"]
    assert run(kilnd, sid, s["set"], language=lang)["error"] is None
    assert value(run(kilnd, sid, s["get"], language=lang)) == "42"


@pytest.mark.parametrize("lang", LANGS)
def test_stdout_stderr_and_order(kilnd, sandbox, lang):
    res = run(kilnd, sandbox["id"], SNIP[lang]["print"], language=lang)
    assert "".join(res["logs"]["stdout"]) == "out\n"
    assert "".join(res["logs"]["stderr"]) == "err\n"
    if lang != "bash":
        assert value(res) == "7"


@pytest.mark.parametrize("lang", LANGS)
def test_error_line_numbers(kilnd, sandbox, lang):
    res = run(kilnd, sandbox["id"], SNIP[lang]["error3"], language=lang)
    err = res["error"]
    assert err is not None and err["name"] == SNIP[lang]["error_name"], res
    if lang == "bash":
        assert err["value"] == "exit status 1"
    else:
        assert err["value"] == "boom"
        assert err["line"] == 3, err
        assert "boom" in err["traceback"]


@pytest.mark.parametrize("lang", LANGS)
def test_timeout_keeps_state_when_interruptible(kilnd, sandbox, lang):
    s = SNIP[lang]
    sid = sandbox["id"]
    ctx = ctx_new(kilnd, sid, lang)
    t0 = time.monotonic()
    res = run(kilnd, sid, s["sleep_interruptible"], ctx["id"], timeout_s=1)
    assert time.monotonic() - t0 < 6
    assert res["error"]["name"] == "TimeoutError", res
    assert "kept its state" in res["error"]["value"]
    assert value(run(kilnd, sid, s["kept"], ctx["id"])) == "5"


def test_timeout_that_cannot_be_interrupted_restarts_js(kilnd, sandbox):
    sid = sandbox["id"]
    ctx = ctx_new(kilnd, sid, "javascript")
    run(kilnd, sid, "var kept = 5;", ctx["id"])
    # SIGINT is ignored by the process itself: only the kill stops it.
    res = run(kilnd, sid, "process.on('SIGINT', () => {});\nconst e = Date.now() + 60000;\n"
              "while (Date.now() < e) { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50); }",
              ctx["id"], timeout_s=1)
    assert res["error"]["name"] == "TimeoutError", res
    after = run(kilnd, sid, "typeof kept", ctx["id"])
    if "restarted" in res["error"]["value"]:
        assert value(after) == "'undefined'"
    else:
        assert value(after) == "'number'"


def test_bash_timeout_ignoring_sigint_restarts(kilnd, sandbox):
    sid = sandbox["id"]
    ctx = ctx_new(kilnd, sid, "bash")
    run(kilnd, sid, "kept=5", ctx["id"])
    res = run(kilnd, sid, "trap '' INT\nsleep 30", ctx["id"], timeout_s=1)
    assert res["error"]["name"] == "TimeoutError", res
    assert "restarted" in res["error"]["value"]
    assert value(run(kilnd, sid, "echo \"[${kept:-}]\"", ctx["id"])) == "[]"


@pytest.mark.parametrize("lang", LANGS)
def test_env_per_execution_and_cwd_per_context(kilnd, sandbox, lang):
    s = SNIP[lang]
    sid = sandbox["id"]
    run(kilnd, sid, "", None, language="python")  # default context exists
    kilnd.run(sid, "mkdir -p /home/user/proj")
    ctx = ctx_new(kilnd, sid, lang, cwd="/home/user/proj")
    assert ctx["cwd"] == "/home/user/proj"
    assert value(run(kilnd, sid, s["cwd"], ctx["id"])).strip("'") == "/home/user/proj"
    assert value(run(kilnd, sid, s["env"], ctx["id"], env={"KILN_T": "yes"})).strip("'") == "yes"
    after = value(run(kilnd, sid, s["env"], ctx["id"]))
    assert after in ("", "undefined")


@pytest.mark.parametrize("lang", LANGS)
def test_restart_clears_state(kilnd, sandbox, lang):
    s = SNIP[lang]
    sid = sandbox["id"]
    ctx = ctx_new(kilnd, sid, lang)
    run(kilnd, sid, s["set"], ctx["id"])
    r = kilnd.post(f"/v1/sandboxes/{sid}/contexts/{ctx['id']}/restart")
    assert r.status_code == 200 and r.json()["id"] == ctx["id"]
    res = run(kilnd, sid, s["unset"], ctx["id"])
    if s["unset_text"]:
        assert value(res) == s["unset_text"]
    else:
        assert value(res) == "[]"


def test_js_top_level_await_imports_and_rejection(kilnd, sandbox):
    sid = sandbox["id"]
    ctx = ctx_new(kilnd, sid, "javascript")["id"]
    assert value(run(kilnd, sid, "await new Promise(r => setTimeout(r, 100)); 40 + 2", ctx)) == "42"
    res = run(kilnd, sid, 'import fs from "fs"\nimport { join } from "path"\n'
              'fs.writeFileSync(join("/tmp", "j.txt"), "hi")', ctx)
    assert res["error"] is None, res
    assert value(run(kilnd, sid, 'fs.readFileSync(join("/tmp", "j.txt"), "utf8")', ctx)) == "'hi'"
    res = run(kilnd, sid, "await Promise.reject(new TypeError('nope'))", ctx)
    assert res["error"]["name"] == "TypeError" and res["error"]["value"] == "nope"
    res = run(kilnd, sid, "({a: 1, b: [1, 2]})", ctx)
    main = [r for r in res["results"] if r["is_main_result"]][0]
    assert main["json"] == {"a": 1, "b": [1, 2]}


def test_ts_interface_generic_enum(kilnd, sandbox):
    sid = sandbox["id"]
    code = ("interface Point { x: number; y: number }\n"
            "enum Color { Red = 'red', Green = 'green' }\n"
            "function first<T>(items: T[]): T { return items[0]; }\n"
            "const p: Point = first<Point>([{ x: 1, y: 2 }]);\n"
            "[p.x + p.y, Color.Green]")
    res = run(kilnd, sid, code, language="typescript")
    assert res["error"] is None, res
    main = [r for r in res["results"] if r["is_main_result"]][0]
    assert main["json"] == [3, "green"]
    res = run(kilnd, sid, "const q: number = 1;\n\nthrow new RangeError('ts line')", language="typescript")
    assert res["error"]["name"] == "RangeError" and res["error"]["line"] == 3


def test_bash_cd_export_and_failing_command(kilnd, sandbox):
    sid = sandbox["id"]
    assert run(kilnd, sid, "cd /tmp", language="bash")["error"] is None
    assert value(run(kilnd, sid, "pwd", language="bash")) == "/tmp"
    run(kilnd, sid, "export A=1", language="bash")
    assert value(run(kilnd, sid, "echo $A", language="bash")) == "1"
    res = run(kilnd, sid, "ls /nonexistent", language="bash")
    assert res["error"]["name"] == "CommandError" and res["error"]["value"] == "exit status 2"
    assert "No such file" in "".join(res["logs"]["stderr"])


def test_streaming_from_javascript(kilnd, sandbox):
    events = list(kilnd.stream(f"/v1/sandboxes/{sandbox['id']}/execute",
                               {"code": "for (let i = 0; i < 3; i++) { console.log(i);"
                                        " await new Promise(r => setTimeout(r, 300)); }",
                                "language": "javascript"}))
    outs = [(t, e) for t, e in events if e["type"] == "stdout"]
    assert [e["text"] for _, e in outs] == ["0\n", "1\n", "2\n"]
    assert outs[2][0] - outs[0][0] >= 0.4, "events arrived together, not live"
    assert events[-1][1]["type"] == "end"


def test_network_and_filesystem_probes_from_javascript(kilnd, sandbox):
    """The escape suite's network and filesystem checks, once from JS."""
    sid = sandbox["id"]
    code = r"""
const fs = require('fs'); const net = require('net');
const out = {};
out.ifaces = fs.readFileSync('/proc/net/dev', 'utf8').split('\n').slice(2)
  .map(l => l.split(':')[0].trim()).filter(Boolean);
out.routes = fs.readFileSync('/proc/net/route', 'utf8').trim().split('\n').length - 1;
for (const p of ['/usr/kiln-x', '/etc/kiln-x', '/kiln-x']) {
  try { fs.writeFileSync(p, 'x'); out[p] = 'written'; } catch (e) { out[p] = e.code; }
}
out.shadow = fs.existsSync('/etc/shadow');
out.connect = await new Promise(res => {
  const s = net.connect(%PORT%, '127.0.0.1');
  s.on('connect', () => { s.destroy(); res('connected'); });
  s.on('error', e => res(e.code));
});
out.dns = await new Promise(res => require('dns').lookup('example.com', e => res(e ? e.code : 'resolved')));
out
""".replace("%PORT%", str(kilnd.port))
    res = run(kilnd, sid, code, language="javascript")
    assert res["error"] is None, res
    got = [r for r in res["results"] if r["is_main_result"]][0]["json"]
    assert got["ifaces"] == ["lo"]
    assert got["routes"] == 0
    for p in ("/usr/kiln-x", "/etc/kiln-x", "/kiln-x"):
        assert got[p] in ("EROFS", "EACCES"), got
    assert got["shadow"] is False
    assert got["connect"] in ("ECONNREFUSED", "ENETUNREACH", "EACCES")
    assert got["dns"] != "resolved"
    # The host was not touched and the daemon still answers.
    import os
    assert not os.path.exists("/usr/kiln-x") and not os.path.exists("/kiln-x")
    assert kilnd.get("/healthz").status_code == 200
