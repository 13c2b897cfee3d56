"""Tests for the Kiln in-sandbox JavaScript/TypeScript runner (runtimes/node/runner.js).

Run with:  /usr/bin/python3 -m pytest runtimes/node/test_runner.py
(needs `npm ci --prefix runtimes/node` first: acorn and typescript).

Each test starts the runner the way kiln-init does: fd 3 is one end of an
AF_UNIX socketpair (JSON lines), fd 0 is /dev/null, fds 1/2 are pipes, and the
runner is in its own process group.  Like kiln-init, the harness drains the
output pipes before it looks at each control message, so a test can check
that output written before a message is on the pipe when the message arrives.
"""

import json
import os
import shutil
import signal
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
RUNNER = os.path.join(HERE, "runner.js")
SNAPSHOT = os.path.join(HERE, "typescript.blob")
NODE = "/usr/bin/node" if os.path.exists("/usr/bin/node") else shutil.which("node")
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "support"))
import runner_harness  # noqa: E402
from runner_harness import check_ok, main_result, results, the_error  # noqa: E402,F401

pytestmark = pytest.mark.skipif(
    NODE is None or not os.path.isdir(os.path.join(HERE, "node_modules", "acorn")),
    reason="node or runtimes/node/node_modules missing (run: npm ci --prefix runtimes/node)",
)


class RunnerProc(runner_harness.RunnerProc):
    """The JavaScript/TypeScript runner under node, as kiln-init starts it."""

    cwd_prefix = "kiln-node-cwd-"
    drop_env = ("NODE_OPTIONS", "NODE_PATH")

    def __init__(self, language="javascript", cwd=None, env=None, snapshot=True):
        self.language = language
        # As kiln-init does: TypeScript from the startup snapshot when
        # make setup built it (snapshot.js).
        blob = ["--snapshot-blob", SNAPSHOT] if (
            snapshot and language == "typescript" and os.path.exists(SNAPSHOT)) else []
        self.snapshot = bool(blob)
        super().__init__([NODE, *blob, RUNNER, "--language", language], cwd=cwd, env=env)


def value(r, code):
    msgs = r.execute(code)
    check_ok(msgs)
    m = main_result(msgs)
    assert m is not None, msgs
    return m


@pytest.fixture
def js():
    r = RunnerProc("javascript")
    yield r
    r.close()


@pytest.fixture
def tsr():
    r = RunnerProc("typescript")
    yield r
    r.close()


@pytest.fixture(params=["javascript", "typescript"])
def runner(request):
    r = RunnerProc(request.param)
    yield r
    r.close()


# ------------------------------------------------------------------ protocol


def test_ready_message(runner):
    assert runner.ready == {"type": "ready", "language": runner.language, "pid": runner.proc.pid}
    assert runner.t_ready - runner.t_start < 3.0


def _startup(language):
    r = RunnerProc(language)
    try:
        t_ready = r.t_ready - r.t_start
        msgs = r.execute("1 + 1")
        t_first = time.monotonic() - r.t_start
        assert main_result(msgs)["text"] == "2"
        return t_ready, t_first
    finally:
        r.close()


@pytest.mark.parametrize("language,bound", [("javascript", 0.5), ("typescript", 1.5)])
def test_startup_time(language, bound):
    runs = [_startup(language) for _ in range(3)]
    ready = min(t for t, _ in runs)
    first = min(f for _, f in runs)
    print("%s: time to ready %.1f ms, to first result %.1f ms" % (language, ready * 1000, first * 1000))
    assert ready < bound
    assert first < bound * 2


def test_typescript_from_the_snapshot_and_without_it_behave_alike():
    if not os.path.exists(SNAPSHOT):
        pytest.fail("runtimes/node/typescript.blob is missing: make setup builds it")
    cells = ["enum E { A, B = 'b' }\nconst f = <T,>(x: T): T[] => [x]\nf(E.B)",
             "interface P { x: number }\nconst p: P = { x: 2 }\np.x * 21",
             "[1, 2].map((x: number): string => `${x * 2}`)",
             "typeof (globalThis as any).__kilnTypescript",
             "let bad: number = ;"]
    seen = []
    for snapshot in (True, False):
        r = RunnerProc("typescript", snapshot=snapshot)
        try:
            assert r.snapshot == snapshot
            out = []
            for c in cells:
                msgs = r.execute(c)
                m, errs = main_result(msgs), runner_harness.errors(msgs)
                out.append((m and m["text"], (errs[0]["name"], errs[0]["line"]) if errs else None))
            seen.append(out)
        finally:
            r.close()
    assert seen[0] == seen[1], seen
    assert seen[0][:4] == [("[ 'b' ]", None), ("42", None), ("[ '2', '4' ]", None),
                           ("'undefined'", None)], seen[0]
    assert seen[0][4][1][0] == "SyntaxError", seen[0]


def test_execution_count(runner):
    for i in range(1, 4):
        msgs = runner.execute("1" if i != 2 else "throw new Error('x')")
        assert msgs[-1] == {"type": "done", "execution_count": i}


def test_eof_exits(js):
    js.sock.close()
    assert js.proc.wait(timeout=5) == 0


def test_eof_exits_while_timers_pending(js):
    check_ok(js.execute("setInterval(() => {}, 1000); null"))
    js.sock.close()
    assert js.proc.wait(timeout=5) == 0


def test_empty_and_comment_cells(runner):
    for code in ["", "   \n", "// just a comment", "/* block */"]:
        msgs = runner.execute(code)
        check_ok(msgs)
        assert results(msgs) == []


# ------------------------------------------------------------------ state and results


def test_state_persists(runner):
    check_ok(runner.execute("const a = 1\nlet b = 2\nvar c = 3"))
    assert value(runner, "a + b + c")["text"] == "6"
    check_ok(runner.execute("function f(x) { return x * 10 }\nclass K { constructor() { this.v = 4 } }"))
    assert value(runner, "f(new K().v)")["json"] == 40
    # cells can be re-run: redeclaring is fine
    check_ok(runner.execute("const a = 100"))
    assert value(runner, "a")["json"] == 100
    # destructuring, nested var, for-var
    check_ok(runner.execute(
        "const {m, n: [o]} = {m: 1, n: [2]}\nif (true) { var p = 3 }\nfor (var i = 0; i < 4; i++) {}"))
    assert value(runner, "[m, o, p, i]")["json"] == [1, 2, 3, 4]


def test_main_result_text_and_json(js):
    m = value(js, "({a: 1, b: [1, 2], s: 'x'})")
    assert m == {"type": "result", "is_main_result": True, "text": "{ a: 1, b: [ 1, 2 ], s: 'x' }",
                 "json": {"a": 1, "b": [1, 2], "s": "x"}}
    assert value(js, "'hello'") == {"type": "result", "is_main_result": True, "text": "'hello'", "json": "hello"}
    assert value(js, "{a: 1}")["json"] == {"a": 1}  # an object, as in the node REPL
    m = value(js, "new Map([[1, 2]])")
    assert m["text"] == "Map(1) { 1 => 2 }" and "json" not in m
    m = value(js, "(x) => x")
    assert m["text"] == "[Function (anonymous)]" and "json" not in m
    m = value(js, "10n ** 20n")
    assert m["text"] == "100000000000000000000n" and "json" not in m
    assert value(js, "null")["json"] is None
    assert value(js, "[1, 2].map(x => x * 2)")["json"] == [2, 4]


def test_no_result_for_undefined_or_statements(runner):
    for code in ["undefined", "let z = 5", "if (true) { 5 }", "console.log('x')", "void 0",
                 "function g() {}", "class C {}"]:
        msgs = runner.execute(code)
        check_ok(msgs)
        assert main_result(msgs) is None, (code, msgs)


def test_promise_result_is_awaited(js):
    assert value(js, "Promise.resolve(7)")["json"] == 7
    assert value(js, "new Promise(r => setTimeout(() => r('late'), 50))")["json"] == "late"


def test_underscore_holds_last_result(js):
    value(js, "21")
    assert value(js, "_ * 2")["json"] == 42
    check_ok(js.execute("const _ = 'mine'"))
    value(js, "5")
    assert value(js, "_")["json"] == "mine"


def test_display(runner):
    msgs = runner.execute("display({a: 1}, 'two')\nconsole.log('between')\ndisplay([3])\n4")
    check_ok(msgs)
    rs = results(msgs)
    assert [r["is_main_result"] for r in rs] == [False, False, False, True]
    assert rs[0]["text"] == "{ a: 1 }" and rs[0]["json"] == {"a": 1}
    assert rs[1]["text"] == "'two'" and rs[1]["json"] == "two"
    assert rs[2]["json"] == [3]
    assert rs[3]["json"] == 4


def test_display_rich(js):
    msgs = js.execute(
        "class T { _repr_html_() { return '<b>t</b>' } }\n"
        "display(new T())\n"
        "display.html('<i>x</i>')\n"
        "display.png(Buffer.from([137, 80, 78, 71]))\n"
        "display.mime({'text/markdown': '# hi', 'text/plain': 'hi'})\n"
        "new T()")
    check_ok(msgs)
    rs = results(msgs)
    assert rs[0]["html"] == "<b>t</b>" and rs[0]["text"] == "T {}"
    assert rs[1]["html"] == "<i>x</i>"
    assert rs[2]["png"] == "iVBORw=="
    assert rs[3] == {"type": "result", "is_main_result": False, "markdown": "# hi", "text": "hi"}
    assert rs[4]["is_main_result"] and rs[4]["html"] == "<b>t</b>"


# ------------------------------------------------------------------ output


def test_stdout_stderr_ordering(runner):
    msgs = runner.execute(
        "console.log('out1'); console.error('err1'); process.stdout.write('raw\\n');\n"
        "display('d')\n"
        "console.log('out2')\n"
        "'v'")
    check_ok(msgs)
    assert runner.stdout.text() == "out1\nraw\nout2\n"
    assert runner.stderr.text() == "err1\n"


def _execute_with_snapshots(r, code):
    r.send({"type": "execute", "code": code})
    snaps = []
    while True:
        m = r.recv()
        snaps.append((m, r.last_stdout, r.last_stderr))
        if m["type"] == "done":
            return snaps


def test_output_precedes_control_messages(runner):
    snaps = _execute_with_snapshots(
        runner,
        "console.log('a'); console.error('e');\ndisplay(1)\nprocess.stdout.write('b');\n"
        "require('child_process').execSync('echo child', {stdio: 'inherit'});\n'end'")
    kinds = [m["type"] for m, _, _ in snaps]
    assert kinds == ["result", "result", "done"], snaps
    # (the harness reads the pipes after each message: it may see more)
    assert snaps[0][1].startswith("a\n") and snaps[0][2] == "e\n"
    assert snaps[1][1] == "a\nbchild\n"  # the child's output came first too
    assert snaps[2][1] == "a\nbchild\n"


def test_output_before_error_and_interrupt_is_flushed(js):
    snaps = _execute_with_snapshots(js, "console.log('before')\nthrow new Error('x')")
    assert snaps[0][0]["type"] == "error" and snaps[0][1] == "before\n"


def test_console_methods(js):
    check_ok(js.execute("console.info('i'); console.warn('w'); console.table([{a: 1}]); console.dir({d: {e: {f: {}}}})"))
    assert js.stdout.text().startswith("i\n")
    assert "w\n" in js.stderr.text()
    assert "┌" in js.stdout.text() and "{ d: { e: { f: {} } } }" in js.stdout.text()


def test_large_output(js):
    msgs = js.execute("for (let i = 0; i < 20000; i++) console.log('x'.repeat(99)); 1")
    check_ok(msgs)
    assert len(js.stdout.text()) == 20000 * 100


def test_large_result(js):
    m = value(js, "Array.from({length: 200000}, (_, i) => i)")
    assert len(m["json"]) == 200000 and m["json"][-1] == 199999
    assert "more items" in m["text"]


# ------------------------------------------------------------------ errors


def test_error_line_and_traceback(runner):
    e = the_error(runner.execute("const a = 1;\nconst b = 2;\nthrow new Error('boom')"))
    assert e["name"] == "Error" and e["value"] == "boom" and e["line"] == 3
    ext = "ts" if runner.language == "typescript" else "js"
    assert e["traceback"].startswith("Error: boom\n    at cell-1.%s:3:" % ext)
    assert "runner.js" not in e["traceback"] and "node:vm" not in e["traceback"]


def test_error_in_function_from_earlier_cell(runner):
    check_ok(runner.execute("function g() {\n  return null.x\n}"))
    e = the_error(runner.execute("let k = 1\n\ng()"))
    assert e["name"] == "TypeError" and e["line"] == 3
    ext = "ts" if runner.language == "typescript" else "js"
    assert "at g (cell-1.%s:2:" % ext in e["traceback"]
    assert "cell-2.%s:3:1" % ext in e["traceback"]


def test_error_columns(js):
    e = the_error(js.execute("const a = 1; let b = 2; throw new Error('x')"))
    assert "cell-1.js:1:31" in e["traceback"]
    e = the_error(js.execute("let q = 1;\n  q.foo.bar"))
    assert "cell-2.js:2:9" in e["traceback"] and e["line"] == 2


def test_syntax_error(runner):
    e = the_error(runner.execute("let ok = 1;\nlet x = ;\n"))
    assert e["name"] == "SyntaxError" and e["line"] == 2
    assert "let x = ;" in e["traceback"]
    # the context is intact and the failed cell had no effect
    msgs = runner.execute("typeof ok")
    assert main_result(msgs)["json"] == "undefined"


def test_rejected_promise(runner):
    e = the_error(runner.execute("\nawait Promise.reject(new Error('x'))"))
    assert e["name"] == "Error" and e["value"] == "x" and e["line"] == 2
    e = the_error(runner.execute("async function h() {\n  await null\n  throw new RangeError('later')\n}\nawait h()"))
    assert e["name"] == "RangeError" and e["line"] == 3
    assert "task_queues" not in e["traceback"]


def test_returned_rejected_promise(js):
    e = the_error(js.execute("Promise.reject(new TypeError('nope'))"))
    assert e["name"] == "TypeError" and e["value"] == "nope"


def test_thrown_non_error(js):
    e = the_error(js.execute("throw 'str'"))
    assert e["name"] == "Error" and e["value"] == "str"
    e = the_error(js.execute("throw {code: 5}"))
    assert e["name"] == "Error" and e["value"] == "[object Object]"
    assert "code: 5" in e["traceback"]


def test_custom_error_class(js):
    e = the_error(js.execute("class MyErr extends Error { constructor(m) { super(m); this.name = 'MyErr' } }\n"
                             "throw new MyErr('custom')"))
    assert e["name"] == "MyErr" and e["value"] == "custom" and e["line"] == 2


def test_uncaught_in_timer_does_not_kill(js):
    check_ok(js.execute("setTimeout(() => { throw new Error('async boom') }, 10); Promise.reject(5).catch(() => {}); 1"))
    time.sleep(0.2)
    assert value(js, "2")["json"] == 2
    assert "Uncaught Error: async boom" in js.stderr.text()


def test_process_exit_does_not_kill(runner):
    check_ok(runner.execute("let keep = 'kept'"))
    e = the_error(runner.execute("console.log('bye')\nprocess.exit(3)"))
    assert e["name"] == "SystemExit" and e["value"] == "3" and e["line"] == 2
    assert value(runner, "keep")["json"] == "kept"
    e = the_error(runner.execute("process.exit()"))
    assert e["name"] == "SystemExit" and e["value"] == "0"
    assert runner.proc.poll() is None


# ------------------------------------------------------------------ await and imports


def test_top_level_await(runner):
    t = time.monotonic()
    assert value(runner, "await new Promise(r => setTimeout(r, 100)); 42")["json"] == 42
    assert time.monotonic() - t >= 0.09
    check_ok(runner.execute("const w = await Promise.resolve(5)\nfunction dbl(x) { return x * 2 }\nclass Q {}"))
    assert value(runner, "dbl(w) + (new Q() instanceof Q ? 1 : 0)")["json"] == 11
    assert value(runner, "for await (const x of [Promise.resolve(1)]) {}\n'done'")["json"] == "done"


def test_import_statements(runner):
    check_ok(runner.execute('import fs from "fs"\nimport { join } from "path"\nimport * as os from "node:os"'))
    assert value(runner, "join('a', typeof fs.readFileSync, typeof os.cpus)")["json"] == "a/function/function"
    # named import from a CommonJS module, and a renamed one
    assert value(runner, "import { readFileSync as rfs } from 'fs'; typeof rfs")["json"] == "function"
    # dynamic import works too
    assert value(runner, "(await import('util')).format('%d', 3)")["json"] == "3"


def test_packages_in_cwd(runner):
    nm = os.path.join(runner.cwd, "node_modules")
    os.makedirs(os.path.join(nm, "esmonly"))
    with open(os.path.join(nm, "esmonly", "package.json"), "w") as f:
        json.dump({"name": "esmonly", "type": "module", "exports": {"import": "./index.js"}}, f)
    with open(os.path.join(nm, "esmonly", "index.js"), "w") as f:
        f.write("export const hello = 'hi'; export default 7;\n")
    os.makedirs(os.path.join(nm, "cjspkg"))
    with open(os.path.join(nm, "cjspkg", "index.js"), "w") as f:
        f.write("module.exports = { twice: (x) => 2 * x };\n")
    with open(os.path.join(runner.cwd, "local.mjs"), "w") as f:
        f.write("export const rel = 5;\n")
    check_ok(runner.execute("import e, { hello } from 'esmonly'\nimport { twice } from 'cjspkg'\n"
                            "import cjs from 'cjspkg'\nimport { rel } from './local.mjs'"))
    assert value(runner, "[e, hello, twice(2), cjs.twice(3), rel]")["json"] == [7, "hi", 4, 6, 5]
    assert value(runner, "require('cjspkg').twice(5)")["json"] == 10
    e = the_error(runner.execute("\nimport nope from 'no-such-package'"))
    assert e["line"] == 2 and "no-such-package" in e["value"]
    # the runner's own dependencies are not visible to user code
    e = the_error(runner.execute("require('acorn')"))
    assert "Cannot find module" in e["value"]
    assert "ExperimentalWarning" not in runner.stderr.text()


def test_node_globals(js):
    m = value(js, "[typeof require, typeof Buffer, typeof setTimeout, typeof fetch, typeof structuredClone,"
                  " typeof URL, typeof TextEncoder, typeof process.env.HOME, typeof module, typeof display,"
                  " typeof path.join, typeof crypto.randomUUID]")
    assert m["json"] == ["function"] * 5 + ["function", "function", "string", "object", "function",
                                            "function", "function"]
    assert value(js, "process.cwd()")["json"] == os.path.realpath(js.cwd) or js.cwd


# ------------------------------------------------------------------ interrupt


def test_sigint_interrupts_busy_loop(runner):
    check_ok(runner.execute("let kept = 41"))
    runner.send({"type": "execute", "code": "console.log('start')\nwhile (true) {}"})
    time.sleep(0.3)
    t = time.monotonic()
    os.killpg(runner.proc.pid, signal.SIGINT)
    msgs = runner.collect(timeout=5)
    assert time.monotonic() - t < 1.0
    e = the_error(msgs)
    assert e["name"] == "KeyboardInterrupt"
    assert runner.stdout.text() == "start\n"
    assert value(runner, "kept + 1")["json"] == 42
    assert runner.proc.poll() is None


def test_sigint_interrupts_await(runner):
    check_ok(runner.execute("let kept = 'yes'"))
    runner.send({"type": "execute", "code": "await new Promise(() => {})"})
    time.sleep(0.3)
    t = time.monotonic()
    os.killpg(runner.proc.pid, signal.SIGINT)
    e = the_error(runner.collect(timeout=5))
    assert time.monotonic() - t < 1.0
    assert e["name"] == "KeyboardInterrupt"
    assert value(runner, "kept")["json"] == "yes"


def test_sigint_when_idle_is_ignored(js):
    check_ok(js.execute("let v = 1"))
    os.killpg(js.proc.pid, signal.SIGINT)
    time.sleep(0.2)
    assert js.proc.poll() is None
    assert value(js, "v")["json"] == 1


def test_sigint_while_printing_keeps_protocol_intact(js):
    js.send({"type": "execute", "code": "let i = 0\nwhile (true) { display('x'.repeat(1000)); i++ }"})
    time.sleep(0.5)
    os.killpg(js.proc.pid, signal.SIGINT)
    msgs = js.collect(timeout=10)
    assert the_error(msgs)["name"] == "KeyboardInterrupt"
    assert all(m["text"] == "'" + "x" * 1000 + "'" for m in results(msgs))
    assert value(js, "i > 0")["json"] is True


# ------------------------------------------------------------------ env and cwd


def test_env_applied_and_restored(runner):
    check_ok(runner.execute("process.env.KEEP = 'k'"))
    m = value_env(runner, "[process.env.KILN_A, process.env.KEEP, process.env.HOME]",
                  {"KILN_A": "1", "KEEP": "override", "HOME": "/h"})
    assert m["json"] == ["1", "override", "/h"]
    m = value(runner, "[process.env.KILN_A ?? null, process.env.KEEP, process.env.HOME]")
    assert m["json"] == [None, "k", os.environ.get("HOME", "/tmp")]
    # a child process sees the execution's env
    m = value_env(runner, "require('child_process').execSync('echo $KILN_B').toString()", {"KILN_B": "zz"})
    assert m["json"] == "zz\n"


def value_env(r, code, env):
    msgs = r.execute(code, env=env)
    check_ok(msgs)
    return main_result(msgs)


def test_cwd(js):
    with open(os.path.join(js.cwd, "data.txt"), "w") as f:
        f.write("payload")
    assert value(js, "fs.readFileSync('data.txt', 'utf8')")["json"] == "payload"


# ------------------------------------------------------------------ TypeScript


def test_ts_interface_generic_enum(tsr):
    check_ok(tsr.execute(
        "interface Point { x: number; y: number }\n"
        "function first<T>(xs: T[]): T {\n"
        "  return xs[0];\n"
        "}\n"
        "enum Color { Red, Green = 5 }\n"
        "const p: Point = { x: 1, y: 2 };"))
    assert value(tsr, "first<number>([Color.Green, 2]) + p.x")["json"] == 6
    assert value(tsr, "Color[5]")["json"] == "Green"
    assert value(tsr, "const q = p as Point satisfies Point; q.y")["json"] == 2


def test_ts_decorators_and_classes(tsr):
    check_ok(tsr.execute(
        "function tag(target: any) { target.tagged = true; return target; }\n"
        "@tag\n"
        "class Foo {\n"
        "  private secret: string = 's';\n"
        "  constructor(public a: number) {}\n"
        "}"))
    assert value(tsr, "(Foo as any).tagged")["json"] is True
    assert value(tsr, "new Foo(3).a")["json"] == 3
    assert value(tsr, "namespace NS { export const v = 9 }\nNS.v")["json"] == 9


def test_ts_error_line_numbers(tsr):
    e = the_error(tsr.execute(
        "type X = { a: string }\n"
        "interface Y {\n"
        "  b: number;\n"
        "}\n"
        "function boom(): never {\n"
        "  throw new Error('ts boom');\n"
        "}\n"
        "const v: X = { a: 'q' };\n"
        "boom();"))
    assert e["value"] == "ts boom" and e["line"] == 6
    assert "at boom (cell-1.ts:6:9)" in e["traceback"]
    assert "cell-1.ts:9:1" in e["traceback"]
    # a decorator helper at the top of the emitted code must not shift lines
    e = the_error(tsr.execute("function d(t: any) { return t }\n@d\nclass Z {}\nconst n: number = 1;\nthrow new Error('z')"))
    assert e["line"] == 5


def test_ts_syntax_error(tsr):
    e = the_error(tsr.execute("const ok: number = 1;\nconst x: = 5"))
    assert e["name"] == "SyntaxError" and e["line"] == 2


def test_ts_imports_and_await(tsr):
    check_ok(tsr.execute('import fs from "fs";\nimport { join } from "path";\nimport type { Stats } from "fs";'))
    assert value(tsr, "join('a', typeof fs.readFileSync) as string")["json"] == "a/function"
    assert value(tsr, "await new Promise<number>(r => setTimeout(() => r(3), 20))")["json"] == 3
