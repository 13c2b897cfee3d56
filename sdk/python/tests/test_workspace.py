"""Drive, actions, skills, validate/test, usage, health; auth, quota and
rate limits on a keyed daemon; retries only for idempotent calls."""
import base64
import http.server
import json
import threading

import pytest

import kiln
from kilnd import Kilnd

from conftest import invalid_request, not_kilnd


def test_health(client):
    assert client.health()["status"] == "ok"


def test_drive(client, sbx):
    f = client.drive.write("/data/q4.csv", "region,q4\nnorth,120\n")
    assert f.path == "/data/q4.csv" and f.size == 20 and f.scope == "persistent"
    assert f.expires_at is None and len(f.sha256) == 64
    with pytest.raises(kiln.ConflictError) as e:
        client.drive.write("/data/q4.csv", "x")
    assert "already exists" in e.value.message
    g = client.drive.write("/data/q4.csv", b"region,q4\n", replace=True, scope="session")
    assert g.scope == "session" and g.expires_at is not None
    assert client.drive.read("/data/q4.csv") == "region,q4\n"
    assert client.drive.read("/data/q4.csv", "bytes") == b"region,q4\n"
    assert [x.path for x in client.drive.list("/data")] == ["/data/q4.csv"]
    with pytest.raises(kiln.UnsupportedTypeError):
        client.drive.write("/data/run.sh", "echo hi")
    with pytest.raises(kiln.BadRequestError):
        client.drive.write("relative.csv", "x")
    # Drive <-> sandbox
    assert sbx.files.copy_from_drive("/data/q4.csv", "in.csv") == 10
    assert sbx.files.read("in.csv") == "region,q4\n"
    sbx.files.write("out.csv", "a\n1\n")
    out = sbx.files.copy_to_drive("out.csv", "/reports/out.csv", scope="temporary")
    assert out.path == "/reports/out.csv" and out.scope == "temporary"
    with pytest.raises(kiln.ConflictError):
        sbx.files.copy_to_drive("out.csv", "/reports/out.csv")
    assert sbx.files.copy_to_drive("out.csv", "/reports/out.csv", replace=True).size == 4
    with pytest.raises(kiln.NotFoundError):
        sbx.files.copy_from_drive("/nope.csv", "x.csv")
    for p in ("/data/q4.csv", "/reports/out.csv"):
        client.drive.remove(p)
    with pytest.raises(kiln.NotFoundError):
        client.drive.remove("/data/q4.csv")
    assert client.drive.list("/data") == []


def test_actions(client):
    ran = client.actions.execute_code(
        "import pandas as pd\ndf = pd.read_csv('sales.csv')\ndf.to_csv('twice.csv')\n"
        "print(int(df.q4.sum()))", file=b"region,q4\nn,1\ns,2\n", file_name="sales.csv")
    assert ran.success and ran.stdout == "3\n" and ran.error is None
    assert [f.name for f in ran.files] == ["twice.csv"]
    assert ran.sandbox_id.startswith("sbx_")
    assert b"region" in client.actions.fetch_file(ran.files[0])
    failed = client.actions.execute_code("1/0")
    assert not failed.success and failed.error.name == "ZeroDivisionError"
    analysed = client.actions.process_file("analyze", file="a,b\n1,2\n3,4\n", file_name="t.csv")
    assert analysed.success and analysed.result["shape"] == [2, 2]
    with pytest.raises(kiln.UnsupportedTypeError):
        client.actions.process_file("analyze", file=b"MZ", file_name="x.exe")
    with invalid_request(), pytest.raises(kiln.BadRequestError):
        client.actions.process_file("explode", file="a\n1\n", file_name="t.csv")


def test_skills(client):
    names = [s.name for s in client.skills.list()]
    assert "charts" in names and "data-analysis" in names
    sk = client.skills.get("charts")
    assert sk.body and "SKILL.md" in sk.files
    py = next(f for f in sk.files if f.endswith(".py"))
    assert client.skills.read_file("charts", py).strip()
    assert client.skills.read_file("charts", "SKILL.md").startswith(b"---")
    with pytest.raises(kiln.NotFoundError):
        client.skills.get("nope")
    with pytest.raises(kiln.NotFoundError):
        client.skills.read_file("charts", "nope.py")


def test_validate_and_test(client):
    v = client.validate("def f(:\n  pass\nimport subprocess")
    assert not v.valid and v.errors[0].line == 1 and v.errors[0].column is not None
    assert [w.rule for w in v.warnings] == ["subprocess"]
    assert client.validate("let x = 1", language="javascript").valid
    with invalid_request(), pytest.raises(kiln.BadRequestError):
        client.validate("x", language="cobol")
    rep = client.test("def add(a, b):\n    return a + b",
                      [kiln.TestCase("add(2, 3)", 5), {"call": "add(1, 1)", "expected": 3},
                       {"call": "nope()"}])
    assert (rep.total, rep.passed) == (3, 1)
    assert rep.results[0].passed and rep.results[1].actual == 2
    assert "NameError" in rep.results[2].error
    js = client.test("const sq = x => x * x", [{"call": "sq(4)", "expected": 16}],
                     language="javascript")
    assert js.passed == 1


def test_usage(client, sbx):
    sbx.run_code("1")
    u = client.usage()
    assert u.workspace == "default" and u.executions >= 1 and u.by_day
    assert client.usage(from_="2000-01-01", to="2100-01-01").sandboxes == u.sandboxes
    from datetime import datetime, timezone
    assert client.usage(from_=datetime(2100, 1, 1, tzinfo=timezone.utc)).executions == 0
    with pytest.raises(kiln.BadRequestError):
        client.usage(from_="yesterday")


@pytest.fixture(scope="module")
def keyed():
    d = Kilnd(pool_size=1, max_sandboxes=3, name="sdkpy-keyed")
    d.key = d.admin("keys", "create", "--workspace", "acme")
    yield d
    d.stop()


def test_auth(keyed):
    with pytest.raises(kiln.AuthenticationError) as e:
        kiln.Sandbox.create(url=keyed.url)
    assert e.value.status == 401
    with pytest.raises(kiln.AuthenticationError):
        kiln.Client(keyed.url, "wrong-key").usage()
    with kiln.Sandbox.create(url=keyed.url, api_key=keyed.key) as s:
        assert s.run_code("2 + 2").text == "4"
    assert kiln.Client(keyed.url, keyed.key).usage().workspace == "acme"


def test_config_from_environment(keyed, monkeypatch):
    monkeypatch.setenv("KILN_URL", keyed.url + "/")
    monkeypatch.setenv("KILN_API_KEY", keyed.key)
    c = kiln.Client()
    assert c.config.url == keyed.url and c.usage().workspace == "acme"
    monkeypatch.delenv("KILN_API_KEY")
    with pytest.raises(kiln.AuthenticationError):
        kiln.Client().usage()


def test_quota_exceeded(keyed):
    c = kiln.Client(keyed.url, keyed.key)
    with c.create_sandbox() as s:
        keyed.admin("credits", "set", "--workspace", "acme", "--seconds", "0")
        try:
            with pytest.raises(kiln.QuotaExceededError) as e:
                s.run_code("1")
            assert e.value.status == 402 and e.value.code == "quota_exceeded"
            with pytest.raises(kiln.QuotaExceededError):
                s.commands.run("true")
        finally:
            keyed.admin("credits", "set", "--workspace", "acme", "--seconds", "100000")
        assert s.run_code("1").text == "1"


def test_rate_limited(keyed):
    c = kiln.Client(keyed.url, keyed.key)
    made = []
    try:
        with pytest.raises(kiln.RateLimitedError) as e:
            for _ in range(5):
                made.append(c.create_sandbox())
        assert e.value.status == 429 and len(made) == 3
    finally:
        for s in made:
            s.kill()


class Flaky:
    """A local server that answers 503 `fails` times, then 200."""

    def __init__(self, fails):
        self.hits = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def answer(self):
                n = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(n)
                outer.hits.append(self.command)
                if len(outer.hits) <= fails:
                    body, status = b'{"error":{"code":"unavailable","message":"busy"}}', 503
                else:
                    body, status = json.dumps({"status": "ok", "version": "x"}).encode(), 200
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = answer

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_retries_only_idempotent_calls():
    f = Flaky(fails=2)
    with not_kilnd():
        c = kiln.Client(f.url, max_retries=3)
        assert c.health()["status"] == "ok" and f.hits == ["GET", "GET", "GET"]
        f.hits.clear()
        g = Flaky(fails=1)
        c2 = kiln.Client(g.url, max_retries=3)
        with pytest.raises(kiln.UnavailableError):
            c2.actions.execute_code("1")  # a POST: never retried
        assert g.hits == ["POST"]
        g.close()
        h = Flaky(fails=10)
        with pytest.raises(kiln.UnavailableError):
            kiln.Client(h.url, max_retries=2).health()
        assert len(h.hits) == 3
        h.close()
    f.close()


def test_connection_error():
    with pytest.raises(kiln.ConnectionError):
        kiln.Client("http://127.0.0.1:9", max_retries=1).health()
    with pytest.raises(ValueError):
        kiln.Client("ftp://x")


def test_a_closed_pooled_connection_is_replaced():
    """A server that closes each connection after answering, without saying so:
    the next call finds its pooled connection dead and goes out on a new one."""
    hits = []

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            hits.append(self.path)
            body = b'{"status":"ok","version":"x"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with not_kilnd():
            c = kiln.Client(f"http://127.0.0.1:{server.server_address[1]}", max_retries=0)
            for _ in range(3):
                assert c.health()["status"] == "ok"
        assert len(hits) == 3
    finally:
        server.shutdown()
        server.server_close()
