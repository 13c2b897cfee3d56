"""POST /v1/validate and /v1/test (API.md "Checking code before and after
running it")."""
import pytest

from helpers import assert_error
from workflow_helpers import raw_post, start_daemon, stop_daemon

MAX_CODE = 100


@pytest.fixture(scope="module")
def tiny():
    d = start_daemon("--max-code-bytes", str(MAX_CODE), pool_size=0)
    yield d
    stop_daemon(d)


def validate(d, code, language="python", status=200):
    r = d.post("/v1/validate", {"code": code, "language": language})
    assert r.status_code == status, r.text
    body = r.json()
    if status == 200:
        assert set(body) == {"valid", "errors", "warnings"}, body
        for e in body["errors"]:
            assert set(e) >= {"line", "column", "message"}, e
            assert isinstance(e["message"], str) and e["message"]
    return body


def python_syntax_error(code):
    """(line, column) as Python's own parser reports them (same interpreter
    family as the sandbox's /usr/bin/python3)."""
    try:
        compile(code, "<code>", "exec")
    except SyntaxError as e:
        return e.lineno, e.offset, e.msg
    raise AssertionError("expected a syntax error")


@pytest.mark.parametrize("code", [
    "x = 1\ny = 2\nif x == 1 print(y)\n",
    "def f():\n    return 1\n  return 2\n",
    "a = [1, 2,\nb = 3\n",
    "print('ok')\nfor i in range(3):\nprint(i)\n",
    "x = 5 +* 3\n",
])
def test_python_syntax_error_has_line_and_column(kilnd, code):
    body = validate(kilnd, code)
    assert body["valid"] is False
    assert len(body["errors"]) == 1, body
    err = body["errors"][0]
    line, col, msg = python_syntax_error(code)
    assert (err["line"], err["column"]) == (line, col), (err, line, col, msg)
    assert err["message"] == msg


def test_valid_python_is_valid(kilnd):
    body = validate(kilnd, "import math\n\ndef area(r):\n    return math.pi * r ** 2\n\narea(2)\n")
    assert body == {"valid": True, "errors": [], "warnings": []}
    # Validation only parses: code that would fail at run time is still valid.
    body = validate(kilnd, "1 / 0\nundefined_name()\n")
    assert body == {"valid": True, "errors": [], "warnings": []}


def test_validate_does_not_run_the_code(kilnd):
    import time
    for code, lang in (("import time\ntime.sleep(30)\n", "python"),
                       ("sleep 30\n", "bash"),
                       ("await new Promise(r => setTimeout(r, 30000));\n", "javascript")):
        t0 = time.monotonic()
        body = validate(kilnd, code, lang)
        assert body["valid"] is True, body
        assert time.monotonic() - t0 < 10, lang


def test_warnings_for_subprocess_and_eval(kilnd):
    code = ("import json\n"
            "import subprocess\n"
            "data = json.loads('{}')\n"
            "value = eval('1 + 1')\n"
            "os.system('ls')\n")
    body = validate(kilnd, code)
    assert body["valid"] is True and body["errors"] == []
    got = [(w["line"], w["rule"]) for w in body["warnings"]]
    assert (2, "subprocess") in got
    assert (4, "eval") in got
    assert (5, "subprocess") in got
    assert all(w["line"] not in (1, 3) for w in body["warnings"]), body["warnings"]
    for w in body["warnings"]:
        assert set(w) == {"line", "rule", "message"} and w["message"]
    # Warnings never make code invalid, and come with syntax errors too.
    body = validate(kilnd, "eval('1')\nx = (\n")
    assert body["valid"] is False and [(w["line"], w["rule"]) for w in body["warnings"]] == [
        (1, "eval")]


def test_javascript_syntax_error(kilnd):
    body = validate(kilnd, "const a = 1;\nlet b = ;\nconsole.log(a);\n", "javascript")
    assert body["valid"] is False
    assert body["errors"][0]["line"] == 2
    assert body["errors"][0]["column"] == 9
    body = validate(kilnd, "const a = 1;\nconsole.log(a + 1);\n", "javascript")
    assert body == {"valid": True, "errors": [], "warnings": []}
    body = validate(kilnd, "const r = eval('1');\n", "javascript")
    assert body["valid"] is True and [w["rule"] for w in body["warnings"]] == ["eval"]
    # Top-level await is fine in the JS runner.
    assert validate(kilnd, "await Promise.resolve(1);\n", "javascript")["valid"] is True


def test_typescript_syntax_error(kilnd):
    body = validate(kilnd, "let n: number = 1;\nfunction f(x: number {\n", "typescript")
    assert body["valid"] is False
    assert body["errors"][0]["line"] == 2
    assert validate(kilnd, "let n: number = 1;\nn + 1;\n", "typescript")["valid"] is True


def test_bash_syntax_error(kilnd):
    body = validate(kilnd, "echo start\nls /tmp\nif then fi\n", "bash")
    assert body["valid"] is False
    assert body["errors"][0]["line"] == 3
    assert "then" in body["errors"][0]["message"]
    body = validate(kilnd, "for i in 1 2; do\n  echo $i\ndone\n", "bash")
    assert body == {"valid": True, "errors": [], "warnings": []}


def test_unknown_language_is_400(kilnd):
    assert_error(kilnd.post("/v1/validate", {"code": "x", "language": "cobol"}), 400,
                 "bad_request")
    assert_error(kilnd.post("/v1/validate", {"language": "python"}), 400, "bad_request")
    assert_error(kilnd.post("/v1/validate", {"code": 5}), 400, "bad_request")


def test_code_over_the_cap_is_413_as_for_execute(tiny):
    ok = "x = 1\n" + "#" * (MAX_CODE - 6)
    assert len(ok.encode()) == MAX_CODE
    r = tiny.post("/v1/validate", {"code": ok, "language": "python"})
    assert r.status_code == 200, r.text
    assert r.json()["valid"] is True
    over = ok + "#"
    assert_error(tiny.post("/v1/validate", {"code": over, "language": "python"}), 413,
                 "too_large")
    # The cap is in bytes, not characters.
    multi = "s = '" + "é" * 48 + "'\n"
    assert len(multi) < MAX_CODE < len(multi.encode())
    assert_error(tiny.post("/v1/validate", {"code": multi}), 413, "too_large")
    assert_error(tiny.post("/v1/test", {"code": over, "tests": [{"call": "x", "expected": 1}]}),
                 413, "too_large")
    # The same answer as /execute gives for the same code.
    sid = tiny.create_sandbox()["id"]
    assert_error(tiny.post(f"/v1/sandboxes/{sid}/execute", {"code": over}), 413, "too_large")


def test_nul_byte_is_400(kilnd):
    for path in ("/v1/validate", "/v1/test"):
        r = kilnd.post(path, {"code": "x = 1\u0000\n", "language": "python",
                              "tests": [{"call": "x", "expected": 1}]})
        assert_error(r, 400, "bad_request")
    # Also as a raw JSON escape.
    status, body = raw_post(kilnd.port, "/v1/validate", b'{"code": "a\\u0000b"}')
    assert status == 400, body


def test_invalid_utf8_is_400(kilnd):
    for body in (b'{"code":"\xff"}', b'{"code":"x = \'\xc3\x28\'"}',
                 b'{"code":"\xed\xa0\x80"}', b'{"code":"ok", "language":"\xfe"}'):
        status, out = raw_post(kilnd.port, "/v1/validate", body)
        assert status == 400, (body, status, out)
        assert b"bad_request" in out
    status, out = raw_post(kilnd.port, "/v1/test",
                           b'{"code":"\xff","tests":[{"call":"1","expected":1}]}')
    assert status == 400, out
    # Malformed JSON as well.
    status, out = raw_post(kilnd.port, "/v1/validate", b'{"code": ')
    assert status == 400, out


# -- /v1/test -------------------------------------------------------------------------------

def run_tests(d, code, tests, language="python"):
    r = d.post("/v1/test", {"code": code, "language": language, "tests": tests})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"total", "passed", "results"}
    assert body["total"] == len(tests) == len(body["results"])
    for t, res in zip(tests, body["results"]):
        assert set(res) == {"call", "expected", "actual", "passed", "error"}, res
        assert res["call"] == t["call"] and res["expected"] == t["expected"]
    assert body["passed"] == sum(1 for x in body["results"] if x["passed"])
    return body


ADD = "def add(a, b):\n    return a + b\n\ndef div(a, b):\n    return a / b\n"


def test_passing_and_failing_calls(kilnd):
    body = run_tests(kilnd, ADD, [
        {"call": "add(2, 3)", "expected": 5},
        {"call": "add(2, 2)", "expected": 5},
        {"call": "add('a', 'b')", "expected": "ab"},
        {"call": "add([1], [2])", "expected": [1, 2]},
        {"call": "div(1, 4)", "expected": 0.25},
        {"call": "{'k': add(1, 1)}", "expected": {"k": 2}},
        {"call": "add(1, 1) == 2", "expected": True},
        {"call": "None", "expected": None},
    ])
    assert [r["passed"] for r in body["results"]] == [True, False, True, True, True, True, True,
                                                      True]
    assert body["passed"] == 7
    assert body["results"][1]["actual"] == 4 and body["results"][1]["error"] is None
    assert body["results"][0]["actual"] == 5


def test_exception_in_a_call(kilnd):
    body = run_tests(kilnd, ADD, [
        {"call": "div(1, 0)", "expected": 0},
        {"call": "add(1, 2)", "expected": 3},
        {"call": "undefined_fn()", "expected": 1},
    ])
    r0, r1, r2 = body["results"]
    assert r0["passed"] is False and r0["actual"] is None
    assert r0["error"].startswith("ZeroDivisionError")
    assert r1["passed"] is True  # a failing call does not break the next one
    assert r2["error"].startswith("NameError")
    assert body["passed"] == 1


def test_code_that_fails_to_run(kilnd):
    for code, name in (("def add(a, b):\n    return a + b\nraise ValueError('boom')\n",
                        "ValueError"),
                       ("def add(a, b)\n    return a + b\n", "SyntaxError"),
                       ("import no_such_module_kiln\n", "ModuleNotFoundError")):
        body = run_tests(kilnd, code, [{"call": "add(1, 2)", "expected": 3},
                                       {"call": "1", "expected": 1}])
        assert body["passed"] == 0
        for r in body["results"]:
            assert r["passed"] is False and r["actual"] is None
            assert name in r["error"], r


def test_each_request_runs_in_a_fresh_context(kilnd):
    run_tests(kilnd, "leak_from_earlier = 1\n", [{"call": "leak_from_earlier", "expected": 1}])
    body = run_tests(kilnd, "x = 2\n", [{"call": "'leak_from_earlier' in globals()",
                                         "expected": False}])
    assert body["passed"] == 1


def test_javascript_tests(kilnd):
    body = run_tests(kilnd, "function add(a, b) { return a + b; }\n"
                            "async function later(x) { return x * 2; }\n", [
        {"call": "add(2, 3)", "expected": 5},
        {"call": "add(2, 3)", "expected": 6},
        {"call": "later(21)", "expected": 42},
        {"call": "nope()", "expected": 1},
    ], language="javascript")
    assert [r["passed"] for r in body["results"]] == [True, False, True, False]
    assert body["results"][3]["error"] and "ReferenceError" in body["results"][3]["error"]


def test_test_request_validation(kilnd):
    for body in ({"code": ADD}, {"code": ADD, "tests": []}, {"code": ADD, "tests": "add(1,2)"},
                 {"code": ADD, "tests": [{"expected": 1}]},
                 {"code": ADD, "tests": [{"call": 5, "expected": 1}]},
                 {"code": "echo", "language": "bash", "tests": [{"call": "x", "expected": 1}]},
                 {"code": ADD, "tests": [{"call": "1", "expected": 1}] * 101}):
        assert_error(kilnd.post("/v1/test", body), 400, "bad_request")
