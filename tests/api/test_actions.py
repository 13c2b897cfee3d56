"""Actions (API.md "Actions"): executeCode and processFile, their output
files as signed links that work without a key, and fileUrl fetching with
its SSRF rules. All fetches go to HTTP servers this test starts on loopback."""
import ast
import csv
import io
import math
import socket
import statistics
import time
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlencode, urlparse

import pytest

from helpers import assert_error, parse_time
from workflow_helpers import (PNG_MAGIC, XLSX_MAGIC, Client, CountingServer, b64, create_key,
                              download, start_daemon, stop_daemon, uniq)

ACTION_KEYS = {"success", "stdout", "stderr", "results", "error", "files"}


@pytest.fixture(scope="module")
def actd():
    """Auth on (a key for workspace "act"), and 127.0.0.2 allowed for fileUrl."""
    d = start_daemon("--fetch-allow", "127.0.0.2", pool_size=2)
    d.key, _ = create_key(d.data_dir, "act")
    d.other_key, _ = create_key(d.data_dir, "act-other")
    yield d
    stop_daemon(d)


@pytest.fixture(scope="module")
def act(actd):
    return Client(actd, actd.key)


@pytest.fixture(scope="module")
def loop1():
    """The loopback server no refused fetch may ever reach."""
    s = CountingServer("127.0.0.1", files={"/data.csv": b"a,b\n1,2\n3,4\n",
                                           "/report.csv": b"x,y\n1,10\n2,20\n3,30\n"})
    yield s
    s.close()


@pytest.fixture(scope="module")
def loop2(loop1):
    """An allowed server (127.0.0.2) that redirects to the 127.0.0.1 one."""
    s = CountingServer("127.0.0.2", files={"/fine.csv": b"col\n7\n"},
                       redirect={"/jump.csv": f"http://127.0.0.1:{loop1.port}/data.csv",
                                 "/jump-local.csv": f"http://localhost:{loop1.port}/data.csv",
                                 "/hop.csv": "/fine.csv"})
    yield s
    s.close()


# -- executeCode -----------------------------------------------------------------------------

SALES_CSV = (b"month,sales\n" + b"".join(f"m{i:02d},{i * i}\n".encode() for i in range(1, 13)))

CHART_CODE = """
import pandas as pd
import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt
df = pd.read_csv('sales.csv')
print('rows', len(df))
fig, ax = plt.subplots()
ax.bar(df['month'], df['sales'])
fig.savefig('chart.png')
plt.close(fig)
int(df['sales'].sum())
"""


def test_execute_code_csv_to_chart_link_downloads_a_png_without_key(act, actd):
    t0 = datetime.now(timezone.utc)
    r = act.action("executeCode", code=CHART_CODE, fileBase64=b64(SALES_CSV), fileName="sales.csv")
    assert r.status_code == 200, r.text
    res = r.json()
    assert ACTION_KEYS <= set(res), res
    assert res["success"] is True and res["error"] is None, res
    assert res["stdout"] == "rows 12\n"
    assert res["stderr"] == ""
    main = [x for x in res["results"] if x.get("is_main_result")]
    assert main and main[0]["text"] == str(sum(i * i for i in range(1, 13)))
    # Only the file the code created, not the input.
    assert [f["name"] for f in res["files"]] == ["chart.png"], res["files"]
    f = res["files"][0]
    exp = parse_time(f["expires_at"])
    assert 540 < (exp - t0).total_seconds() < 660, f
    got = download(f["url"])  # a bare GET: no key, no session headers
    assert got.status_code == 200, got.text
    assert got.content[:8] == PNG_MAGIC
    assert len(got.content) == f["size"]
    from PIL import Image
    img = Image.open(io.BytesIO(got.content))
    img.verify()
    assert img.format == "PNG" and img.size[0] > 100 and img.size[1] > 100
    # The same URL with the key also works; a plain API call without a key does not.
    assert actd.req("GET", "/v1/drive", params={"prefix": "/"}).status_code == 401
    # The fresh sandbox was ended after the action.
    assert_error(act.get(f"/v1/sandboxes/{res['sandbox_id']}"), 404, "not_found")


def test_signed_link_tampering_is_404(act, actd):
    r = act.action("executeCode", code="open('out.txt','w').write('signed content')")
    assert r.status_code == 200, r.text
    url = r.json()["files"][0]["url"]
    assert download(url).content == b"signed content"
    u = urlparse(url)
    q = {k: v[0] for k, v in parse_qs(u.query).items()}
    assert set(q) == {"w", "p", "e", "sig"}
    assert q["w"] == "act" and len(q["sig"]) >= 32

    def with_(**changes):
        qq = dict(q, **changes)
        return f"{u.scheme}://{u.netloc}{u.path}?{urlencode(qq)}"

    flipped = q["sig"][:-1] + ("0" if q["sig"][-1] != "0" else "1")
    bad_urls = [
        with_(sig=flipped),
        with_(sig=q["sig"].upper()) if q["sig"] != q["sig"].upper() else with_(sig="0" * 64),
        with_(sig=""),
        with_(e=str(int(q["e"]) + 3600)),  # extend the expiry
        with_(p=q["p"].replace("out.txt", "other.txt")),
        with_(w="act-other"),
        with_(e=str(int(time.time()) - 10)),  # expired (and unsigned)
        f"{u.scheme}://{u.netloc}{u.path}",
    ]
    for bad in bad_urls:
        got = download(bad)
        assert got.status_code == 404, (bad, got.status_code, got.text)
        assert b"signed content" not in got.content
    # With a valid key a forged link is still a forged link.
    got = actd.req("GET", with_(sig=flipped)[len(actd.url):],
                   headers={"Authorization": f"Bearer {actd.key}"})
    assert got.status_code == 404
    # The output is a temporary Drive file of the caller's workspace only.
    path = r.json()["files"][0]["path"]
    meta = [f for f in act.drive_list("/actions").json()["files"] if f["path"] == path]
    assert meta and meta[0]["scope"] == "temporary", meta
    assert act.drive_get(path).content == b"signed content"
    other = Client(actd, actd.other_key)
    assert_error(other.drive_get(path), 404, "not_found")


def test_execute_code_error_fields(act):
    r = act.action("executeCode", code="print('before')\nx = 1\n1 / 0\n")
    assert r.status_code == 200, r.text
    res = r.json()
    assert ACTION_KEYS <= set(res)
    assert res["success"] is False
    assert res["stdout"] == "before\n"
    assert res["error"]["name"] == "ZeroDivisionError"
    assert res["error"]["value"] == "division by zero"
    assert res["error"]["line"] == 3
    assert "Traceback" in res["error"]["traceback"]
    assert res["files"] == [] and res["results"] == []
    r = act.action("executeCode", code="import sys\nsys.stderr.write('warn\\n')\n'ok'")
    res = r.json()
    assert res["success"] is True and res["stderr"] == "warn\n"
    assert res["results"][0]["text"] == "'ok'" and res["results"][0]["is_main_result"] is True


def test_execute_code_session_keeps_the_sandbox(act):
    s = uniq("agent-turn")
    r1 = act.action("executeCode", code="turn_value = 41\nopen('notes.txt','w').write('n')",
                    session=s)
    assert r1.status_code == 200, r1.text
    sid = r1.json()["sandbox_id"]
    try:
        assert [f["name"] for f in r1.json()["files"]] == ["notes.txt"]
        r2 = act.action("executeCode", code="turn_value + 1", session=s)
        assert r2.status_code == 200, r2.text
        assert r2.json()["sandbox_id"] == sid
        assert r2.json()["results"][0]["text"] == "42"
        # notes.txt did not change in the second call: not an output again.
        assert r2.json()["files"] == []
        r = act.get(f"/v1/sandboxes/{sid}")
        assert r.status_code == 200 and r.json()["session"] == s
        # The same turn session as POST /v1/sandboxes {"session"} uses.
        r = act.post("/v1/sandboxes", {"session": s})
        assert r.status_code == 200 and r.json()["id"] == sid, r.text
        # Without the session: a fresh sandbox that never saw the variable.
        r3 = act.action("executeCode", code="turn_value")
        assert r3.json()["success"] is False and r3.json()["error"]["name"] == "NameError"
        assert r3.json()["sandbox_id"] != sid
    finally:
        act.delete(f"/v1/sandboxes/{sid}")


def test_execute_code_bad_requests(act):
    cases = [
        {"action": "executeCode", "arguments": {}},
        {"action": "executeCode", "arguments": {"code": 5}},
        {"action": "executeCode", "arguments": {"code": "1", "fileBase64": "!!notbase64!!",
                                                "fileName": "a.csv"}},
        {"action": "executeCode", "arguments": {"code": "1", "fileBase64": b64(b"a"),
                                                "fileUrl": "http://127.0.0.2:1/a.csv"}},
        {"action": "executeCode", "arguments": {"code": "1", "session": 7}},
        {"action": "noSuchAction", "arguments": {}},
        {"action": "executeCode", "arguments": "code"},
    ]
    for body in cases:
        assert_error(act.post("/v1/actions", body), 400, "bad_request")


# -- processFile --------------------------------------------------------------------------

def _analysis_data():
    cities = ["Paris", "Lyon", "Paris", "Nice", None, "Paris", "Lyon", "Paris", "Nice", "Lyon",
              "Paris", "Lyon", "Paris", "Nice", "Paris", "Lyon", "Paris", "Nice", "Paris", "Lyon"]
    xs = list(range(1, 21))
    ys = [2.5, 3.1, None, 8.2, 9.9, 12.0, 13.7, None, 18.4, 20.1,
          22.0, 25.5, 26.1, 29.9, 30.0, 33.3, 35.8, 37.0, 40.2, 41.9]
    lines = ["x,y,city"]
    for x, y, c in zip(xs, ys, cities):
        lines.append(f"{x},{'' if y is None else y},{'' if c is None else c}")
    return ("\n".join(lines) + "\n").encode(), xs, ys, cities


def _pearson(a, b):
    ma, mb = statistics.mean(a), statistics.mean(b)
    cov = sum((x - ma) * (y - mb) for x, y in zip(a, b))
    return cov / math.sqrt(sum((x - ma) ** 2 for x in a) * sum((y - mb) ** 2 for y in b))


def test_process_file_analyze_statistics_match(act):
    data, xs, ys, cities = _analysis_data()
    r = act.action("processFile", operation="analyze", fileBase64=b64(data), fileName="m.csv")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True
    res = body["result"]
    assert res["shape"] == [20, 3]
    assert [c["name"] for c in res["columns"]] == ["x", "y", "city"]
    dtypes = {c["name"]: c["dtype"] for c in res["columns"]}
    assert dtypes["x"] == "int64" and dtypes["y"] == "float64" and dtypes["city"] == "object"
    assert res["missing"] == {"x": 0, "y": 2, "city": 1}
    assert {c["name"]: c["missing"] for c in res["columns"]} == res["missing"]
    y_ok = [y for y in ys if y is not None]
    sy, sx = res["summary"]["y"], res["summary"]["x"]
    assert sy["count"] == len(y_ok) == 18
    assert sy["mean"] == pytest.approx(statistics.mean(y_ok), rel=1e-9)
    assert sy["std"] == pytest.approx(statistics.stdev(y_ok), rel=1e-9)
    assert sy["min"] == min(y_ok) and sy["max"] == max(y_ok)
    assert sy["50%"] == pytest.approx(statistics.median(y_ok), rel=1e-9)
    assert sx["mean"] == pytest.approx(10.5) and sx["std"] == pytest.approx(statistics.stdev(xs))
    assert "city" not in res["summary"]
    # Pearson on pairwise-complete rows.
    pairs = [(x, y) for x, y in zip(xs, ys) if y is not None]
    want = _pearson([p[0] for p in pairs], [p[1] for p in pairs])
    assert res["correlations"]["x"]["y"] == pytest.approx(want, rel=1e-9)
    assert res["correlations"]["y"]["x"] == pytest.approx(want, rel=1e-9)
    assert res["correlations"]["x"]["x"] == pytest.approx(1.0)
    assert set(res["correlations"]) == {"x", "y"}
    counts = {}
    for c in cities:
        if c is not None:
            counts[c] = counts.get(c, 0) + 1
    top = {t["value"]: t["count"] for t in res["top_values"]["city"]}
    assert top == counts
    assert res["top_values"]["city"][0] == {"value": "Paris", "count": counts["Paris"]}
    assert body["files"] == []


TRANSFORM_ROWS = [
    ("north", "apple", 1.5, 4), ("south", "apple", 1.5, 1), ("north", "pear", 2.0, 3),
    ("east", "plum", 3.0, 5), ("south", "pear", 2.0, 6), ("north", "apple", 1.5, 4),
    ("east", "apple", 1.5, 2), ("west", "plum", 3.0, 1),
]


def test_process_file_transform_pipeline_output_link(act):
    text = "region,product,price,qty\n" + "".join(
        f"{r},{p},{pr},{q}\n" for r, p, pr, q in TRANSFORM_ROWS)
    steps = [
        {"dedupe": {}},
        {"derive": {"name": "total", "expr": "price * qty"}},
        {"filter": {"column": "qty", "op": ">", "value": 1}},
        {"group": {"by": ["region"], "agg": {"total": "sum", "qty": "sum"}}},
        {"sort": {"by": "total", "ascending": False}},
        {"rename": {"total": "revenue"}},
        {"select": ["region", "revenue", "qty"]},
    ]
    r = act.action("processFile", operation="transform", fileBase64=b64(text.encode()),
                   fileName="orders.csv", options={"steps": steps, "output": "csv"})
    assert r.status_code == 200, r.text
    body = r.json()
    # Independent computation of the same pipeline.
    seen, rows = set(), []
    for row in TRANSFORM_ROWS:
        if row not in seen:
            seen.add(row)
            rows.append(row)
    agg = {}
    for region, _p, price, qty in rows:
        if qty > 1:
            t, q = agg.get(region, (0.0, 0))
            agg[region] = (t + price * qty, q + qty)
    want = sorted(agg.items(), key=lambda kv: -kv[1][0])
    res = body["result"]
    assert res["rows"] == len(want) == 3
    assert res["columns"] == ["region", "revenue", "qty"]
    assert res["output_file"] == "transformed.csv"
    assert [f["name"] for f in body["files"]] == ["transformed.csv"]
    got = download(body["files"][0]["url"])
    assert got.status_code == 200, got.text
    out = list(csv.reader(io.StringIO(got.content.decode())))
    assert out[0] == ["region", "revenue", "qty"]
    assert [(a, float(b), int(c)) for a, b, c in out[1:]] == [
        (k, pytest.approx(v[0]), v[1]) for k, v in want]
    # A bad pipeline is the caller's fault: 422 naming the step.
    r = act.action("processFile", operation="transform", fileBase64=b64(text.encode()),
                   fileName="orders.csv", options={"steps": [{"explode": {}}]})
    err = assert_error(r, 422, "invalid")
    assert "explode" in err["message"]


def test_process_file_transform_to_xlsx_and_json(act):
    text = b"name,score\nann,3\nbob,9\ncid,5\n"
    r = act.action("processFile", operation="transform", fileBase64=b64(text), fileName="s.csv",
                   options={"steps": [{"sort": {"by": "score"}}], "output": "json"})
    assert r.status_code == 200, r.text
    got = download(r.json()["files"][0]["url"]).json()
    assert got == [{"name": "ann", "score": 3}, {"name": "cid", "score": 5},
                   {"name": "bob", "score": 9}]
    r = act.action("processFile", operation="transform", fileBase64=b64(text), fileName="s.csv",
                   options={"steps": [{"filter": {"column": "score", "op": ">=", "value": 5}}],
                            "output": "xlsx", "output_name": "top"})
    assert r.status_code == 200, r.text
    assert [f["name"] for f in r.json()["files"]] == ["top.xlsx"]
    blob = download(r.json()["files"][0]["url"]).content
    assert blob[:4] == XLSX_MAGIC
    import openpyxl
    ws = openpyxl.load_workbook(io.BytesIO(blob)).active
    assert [list(row) for row in ws.iter_rows(values_only=True)] == [
        ["name", "score"], ["bob", 9], ["cid", 5]]


def test_process_file_parse_excel_multi_sheet(act):
    import openpyxl
    wb = openpyxl.Workbook()
    sheets = {
        "Sales": [["region", "q1", "q2"], ["north", 10, 12.5], ["south", 7, 8], ["east", 1, 0]],
        "Notes": [["id", "text"], [1, "hello"], [2, "wörld"]],
        "Costs 2024": [["item", "eur"], ["rent", 1200], ["power", 99.9], ["net", 30],
                       ["misc", 5]],
    }
    first = True
    for name, rows in sheets.items():
        ws = wb.active if first else wb.create_sheet()
        first = False
        ws.title = name
        for row in rows:
            ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    r = act.action("processFile", operation="parse_excel", fileBase64=b64(buf.getvalue()),
                   fileName="book.xlsx")
    assert r.status_code == 200, r.text
    body = r.json()
    got = body["result"]["sheets"]
    assert [s["name"] for s in got] == list(sheets)
    for s in got:
        rows = sheets[s["name"]]
        assert s["header"] == rows[0]
        assert s["rows"] == [list(x) for x in rows[1:]]
        assert s["shape"] == [len(rows) - 1, len(rows[0])]
    files = {f["name"]: f for f in body["files"]}
    assert set(files) == {s["csv_file"] for s in got}
    assert len(files) == 3
    sales = download(files[got[0]["csv_file"]]["url"])
    assert sales.status_code == 200
    assert list(csv.reader(io.StringIO(sales.content.decode()))) == [
        ["region", "q1", "q2"], ["north", "10", "12.5"], ["south", "7", "8"], ["east", "1", "0"]]
    notes = download(files[got[1]["csv_file"]]["url"]).content.decode()
    assert "wörld" in notes


def test_process_file_unsupported_types_are_415(act):
    for name in ("report.pdf", "archive.zip", "noext", "image.png"):
        r = act.action("processFile", operation="analyze", fileBase64=b64(b"%PDF-1.4\n"),
                       fileName=name)
        err = assert_error(r, 415, "unsupported_type")
        assert "csv, tsv, xlsx, xls, json, txt" in err["message"], err
    r = act.action("processFile", operation="parse_excel", fileBase64=b64(b"a,b\n1,2\n"),
                   fileName="a.csv")
    err = assert_error(r, 415, "unsupported_type")
    assert "xlsx" in err["message"]
    assert_error(act.action("processFile", operation="summarize", fileBase64=b64(b"a\n"),
                            fileName="a.csv"), 400, "bad_request")
    assert_error(act.action("processFile", operation="analyze"), 400, "bad_request")


def test_process_file_json_and_text_inputs(act):
    r = act.action("processFile", operation="analyze",
                   fileBase64=b64(b'[{"a": 1, "b": {"c": 2}}, {"a": 3, "b": {"c": 4}}]'),
                   fileName="d.json")
    assert r.status_code == 200, r.text
    res = r.json()["result"]
    assert res["shape"] == [2, 2]
    assert [c["name"] for c in res["columns"]] == ["a", "b.c"]
    r = act.action("processFile", operation="analyze", fileBase64=b64(b"one two\nthree\n"),
                   fileName="n.txt")
    assert r.status_code == 200, r.text
    assert r.json()["result"]["text"] == {"lines": 2, "words": 3, "chars": 14}


# -- fileUrl and SSRF ---------------------------------------------------------------------

READ_INPUT = "import os\nprint(sorted(os.listdir('.')))\nprint(open({name!r}).read(), end='')"


def _refused(act, url, server, code="1"):
    before = len(server.hits)
    r = act.action("executeCode", code=code, fileUrl=url)
    err = assert_error(r, 400, "bad_request")
    assert len(server.hits) == before, (url, server.hits)
    return err


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "127.1", "0x7f000001", "2130706433",
                                  "0177.0.0.1", "127.000.000.001", "[::ffff:127.0.0.1]",
                                  "0.0.0.0", "LOCALHOST"])
def test_file_url_to_loopback_is_refused_with_zero_hits(act, loop1, host):
    err = _refused(act, f"http://{host}:{loop1.port}/data.csv", loop1)
    assert "refusing" in err["message"] or "not allowed" in err["message"], err
    # processFile takes the same path.
    before = len(loop1.hits)
    r = act.action("processFile", operation="analyze",
                   fileUrl=f"http://{host}:{loop1.port}/data.csv")
    assert_error(r, 400, "bad_request")
    assert len(loop1.hits) == before
    assert loop1.hits == []


def test_file_url_to_ipv6_loopback_is_refused(act):
    try:
        s6 = CountingServer("::1", files={"/data.csv": b"a\n1\n"}, family=socket.AF_INET6)
    except OSError as e:
        pytest.skip(f"no IPv6 loopback here: {e}")
    try:
        for host in ("[::1]", "[0:0:0:0:0:0:0:1]", "[::ffff:7f00:1]"):
            _refused(act, f"http://{host}:{s6.port}/data.csv", s6)
        assert s6.hits == []
    finally:
        s6.close()


def test_file_url_redirect_to_loopback_is_refused(act, loop1, loop2):
    # The allowed server answers (so the fetch was attempted) ...
    before2 = len(loop2.hits)
    for path in ("/jump.csv", "/jump-local.csv"):
        err = _refused(act, f"http://127.0.0.2:{loop2.port}{path}", loop1)
        assert "redirect" in err["message"], err
    assert len(loop2.hits) == before2 + 2
    # ... but the 127.0.0.1 server was never reached.
    assert loop1.hits == []


def test_file_url_allowed_host_and_redirect_within_it_work(act, loop2):
    r = act.action("executeCode", code=READ_INPUT.format(name="fine.csv"),
                   fileUrl=f"http://127.0.0.2:{loop2.port}/fine.csv")
    assert r.status_code == 200, r.text
    assert r.json()["stdout"] == "['fine.csv']\ncol\n7\n"
    r = act.action("executeCode", code=READ_INPUT.format(name="given.csv"),
                   fileUrl=f"http://127.0.0.2:{loop2.port}/hop.csv", fileName="given.csv")
    assert r.status_code == 200, r.text
    assert r.json()["stdout"] == "['given.csv']\ncol\n7\n"


def test_file_url_bad_schemes_are_400(act, loop1):
    for url in ("file:///etc/passwd", f"ftp://127.0.0.2:{loop1.port}/data.csv",
                "gopher://127.0.0.2/x", f"http://user:pw@127.0.0.2:{loop1.port}/data.csv",
                "not a url", ""):
        _refused(act, url, loop1)
    assert loop1.hits == []


def test_file_url_with_allowlist_fetches_into_the_sandbox():
    # Its own server, so the refusal tests' server stays at zero hits.
    srv = CountingServer("127.0.0.1", files={"/report.csv": b"x,y\n1,10\n2,20\n3,30\n"})
    d = start_daemon("--fetch-allow", "127.0.0.1", pool_size=1)
    loop1 = srv
    try:
        c = Client(d)
        before = len(loop1.hits)
        r = c.action("executeCode", code=READ_INPUT.format(name="report.csv"),
                     fileUrl=f"http://127.0.0.1:{loop1.port}/report.csv")
        assert r.status_code == 200, r.text
        assert r.json()["stdout"] == "['report.csv']\nx,y\n1,10\n2,20\n3,30\n"
        assert loop1.hits[before:] == ["/report.csv"]
        r = c.action("processFile", operation="analyze",
                     fileUrl=f"http://127.0.0.1:{loop1.port}/report.csv")
        assert r.status_code == 200, r.text
        assert r.json()["result"]["shape"] == [3, 2]
        assert r.json()["result"]["correlations"]["x"]["y"] == pytest.approx(1.0)
        # A 404 from the origin is not a server error of ours.
        r = c.action("executeCode", code="1", fileUrl=f"http://127.0.0.1:{loop1.port}/gone.csv")
        assert_error(r, 422, "invalid")
        # The allowlist names 127.0.0.1 only: 127.0.0.2 is still refused.
        r = c.action("executeCode", code="1", fileUrl=f"http://127.0.0.2:{loop1.port}/x.csv")
        assert_error(r, 400, "bad_request")
    finally:
        stop_daemon(d)
        srv.close()


def test_input_file_name_cannot_leave_the_working_folder(act):
    code = ("import os\nprint(sorted(os.listdir('/home/user')))\n"
            "print(os.path.exists('/tmp/evil.csv'), os.path.exists('/home/evil.csv'))")
    for name, landed in (("../../tmp/evil.csv", "evil.csv"), ("/etc/evil.csv", "evil.csv"),
                         ("..", "input"), ("sub/dir/x.csv", "x.csv")):
        r = act.action("executeCode", code=code, fileBase64=b64(b"a\n1\n"), fileName=name)
        assert r.status_code == 200, r.text
        lines = r.json()["stdout"].splitlines()
        assert landed in ast.literal_eval(lines[0]), (name, lines)
        assert lines[1] == "False False", (name, lines)
