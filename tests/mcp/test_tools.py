"""Every tool over raw HTTP, good and bad calls, asserting what happened in
the sandbox: code ran, state persisted, the chart is a real PNG, files
round-trip, Drive and skills work, errors are named tool errors."""
import base64
import io
import subprocess
import threading
import time

import pytest
import requests
from PIL import Image

from conftest import KILND
from mcp_client import McpHttp, text_of


@pytest.fixture
def mcp(keyed):
    c = McpHttp(keyed, keyed.key)
    c.initialize()
    yield c
    c.delete()


def sandboxes(d):
    r = requests.get(d.url + "/v1/sandboxes", headers={"Authorization": f"Bearer {d.key}"},
                     timeout=30)
    return {s["id"] for s in r.json()["sandboxes"]}


def test_run_code_keeps_state_within_a_session_and_none_across(keyed, mcp):
    r = mcp.call("run_code", {"code": "x = 6\nprint('hi')\nx * 7"})
    assert r["isError"] is False, r
    assert "hi" in text_of(r) and "42" in text_of(r)
    assert r["structuredContent"]["stdout"] == "hi\n"
    sid = r["structuredContent"]["sandbox_id"]
    r = mcp.call("run_code", {"code": "x + 1"})
    assert "7" in text_of(r) and r["structuredContent"]["sandbox_id"] == sid
    other = McpHttp(keyed, keyed.key)
    other.initialize()
    r = other.call("run_code", {"code": "x"})
    assert r["isError"] is True and "NameError" in text_of(r)
    assert r["structuredContent"]["sandbox_id"] != sid
    # DELETE ends the session's sandbox.
    other_sid = r["structuredContent"]["sandbox_id"]
    assert other_sid in sandboxes(keyed)
    assert other.delete().status_code == 204
    assert other_sid not in sandboxes(keyed)


def test_run_code_languages_and_errors(mcp):
    r = mcp.call("run_code", {"code": "console.log(1 + 1)", "language": "javascript"})
    assert r["isError"] is False and "2" in text_of(r)
    r = mcp.call("run_code", {"code": "echo $((3*4))", "language": "bash"})
    assert "12" in text_of(r)
    r = mcp.call("run_code", {"code": "y = 5\n1/0"})
    assert r["isError"] is True
    t = text_of(r)
    assert "ZeroDivisionError: division by zero" in t and "traceback" in t
    assert r["structuredContent"]["error"]["name"] == "ZeroDivisionError"
    # The state survives the error.
    assert "5" in text_of(mcp.call("run_code", {"code": "y"}))
    r = mcp.call("run_code", {"code": "import time\ntime.sleep(5)", "timeout_s": 0.5})
    assert r["isError"] is True and "timed out" in text_of(r)


def test_run_code_chart_is_a_png_image_item(mcp):
    r = mcp.call("run_code", {"code": "import matplotlib.pyplot as plt\n"
                                      "plt.plot([1, 3, 2])\nplt.show()"})
    assert r["isError"] is False, r
    images = [c for c in r["content"] if c["type"] == "image"]
    assert len(images) == 1 and images[0]["mimeType"] == "image/png"
    img = Image.open(io.BytesIO(base64.b64decode(images[0]["data"])))
    assert img.format == "PNG" and img.size[0] > 100 and img.size[1] > 100


def test_run_code_rich_text_results(mcp):
    r = mcp.call("run_code", {"code": "import pandas as pd\npd.DataFrame({'a': [1, 2]})"})
    t = text_of(r)
    assert "(text/html)" in t and "<table" in t
    r = mcp.call("run_code", {"code": "[1, 2, 3]", "language": "javascript"})
    assert "(application/json)" in text_of(r)


def test_bad_arguments_are_tool_errors(mcp):
    cases = [
        ("run_code", {}, "'code'"),
        ("run_code", {"code": 5}, "'code' must be a string"),
        ("run_code", {"code": "1", "language": "cobol"}, "unknown language"),
        ("run_code", {"code": "1", "bogus": 1}, "unknown argument 'bogus'"),
        ("run_code", {"code": "1", "timeout_s": -1}, "positive"),
        ("run_code", {"code": "1", "sandbox_id": "sbx_nope"}, "not_found"),
        ("run_command", {"cmd": "true", "background": "yes"}, "boolean"),
        ("write_file", {"path": "a.txt"}, "'content'"),
        ("write_file", {"path": "a", "content": "!!", "encoding": "base64"}, "base64"),
        ("read_file", {"path": "/home/user/missing.txt"}, "not_found"),
        ("read_file", {"path": "a", "encoding": "latin1"}, "encoding"),
        ("close_sandbox", {"sandbox_id": "sbx_0000"}, "not_found"),
        ("upload_from_drive", {"drive_path": "/nope/none.csv"}, "not_found"),
        ("read_skill", {"name": "no-such-skill"}, "not_found"),
        ("create_sandbox", {"network": "full"}, "none"),
    ]
    for tool, args, needle in cases:
        r = mcp.call(tool, args)
        assert r["isError"] is True, (tool, args, r)
        assert needle in text_of(r), (tool, args, text_of(r))
    # Protocol errors: an unknown tool, a non-object arguments, no name.
    m = mcp.request("tools/call", {"name": "no_such_tool", "arguments": {}})
    assert m["error"]["code"] == -32602 and "Unknown tool" in m["error"]["message"]
    m = mcp.request("tools/call", {"name": "run_code", "arguments": [1]})
    assert m["error"]["code"] == -32602
    m = mcp.request("tools/call", {"arguments": {}})
    assert m["error"]["code"] == -32602
    # And the session still works.
    assert "2" in text_of(mcp.call("run_code", {"code": "1 + 1"}))


def test_run_command(mcp):
    r = mcp.call("run_command", {"cmd": "echo out; echo err >&2; pwd"})
    assert r["isError"] is False
    sc = r["structuredContent"]
    assert sc["exit_code"] == 0 and sc["stdout"] == "out\n/home/user\n" and sc["stderr"] == "err\n"
    r = mcp.call("run_command", {"cmd": "exit 3"})
    assert r["isError"] is True and r["structuredContent"]["exit_code"] == 3
    r = mcp.call("run_command", {"cmd": "pwd", "cwd": "/tmp"})
    assert r["structuredContent"]["stdout"] == "/tmp\n"
    r = mcp.call("run_command", {"cmd": "sleep 30", "background": True})
    assert r["isError"] is False and r["structuredContent"]["pid"] > 0
    r = mcp.call("run_command", {"cmd": "sleep 5", "timeout_s": 0.5})
    assert r["isError"] is True and r["structuredContent"]["timed_out"] is True


def test_write_read_list_round_trip(mcp):
    r = mcp.call("write_file", {"path": "notes/a.txt", "content": "héllo\n"})
    assert r["isError"] is False and r["structuredContent"]["path"] == "/home/user/notes/a.txt"
    r = mcp.call("read_file", {"path": "/home/user/notes/a.txt"})
    assert r["content"][0]["text"] == "héllo\n" and r["structuredContent"]["encoding"] == "utf-8"
    blob = bytes(range(256))
    mcp.call("write_file", {"path": "b.bin", "content": base64.b64encode(blob).decode(),
                            "encoding": "base64"})
    r = mcp.call("read_file", {"path": "b.bin"})
    assert r["structuredContent"]["encoding"] == "base64"
    assert base64.b64decode(r["structuredContent"]["content"]) == blob
    r = mcp.call("list_files", {})
    names = {e["name"]: e for e in r["structuredContent"]["entries"]}
    assert names["notes"]["type"] == "dir" and names["b.bin"]["size"] == 256
    r = mcp.call("list_files", {"path": "notes"})
    assert [e["name"] for e in r["structuredContent"]["entries"]] == ["a.txt"]
    # The code sees the same files.
    assert "héllo" in text_of(mcp.call("run_code", {"code": "open('notes/a.txt').read()"}))
    # A PNG the code saved reads back as an image too.
    mcp.call("run_code", {"code": "import matplotlib.pyplot as plt\nplt.plot([1,2])\n"
                                  "plt.savefig('c.png')\nplt.close()"})
    r = mcp.call("read_file", {"path": "c.png"})
    assert [c["type"] for c in r["content"]] == ["text", "image"]


def test_create_and_close_sandbox(keyed, mcp):
    r = mcp.call("create_sandbox", {"metadata": {"purpose": "test"}, "timeout_s": 120})
    sid = r["structuredContent"]["sandbox_id"]
    assert sid.startswith("sbx_") and sid in text_of(r) and sid in sandboxes(keyed)
    mcp.call("run_code", {"code": "z = 'in other'", "sandbox_id": sid})
    assert "in other" in text_of(mcp.call("run_code", {"code": "z", "sandbox_id": sid}))
    # The session's own sandbox is a different one.
    assert mcp.call("run_code", {"code": "z"})["isError"] is True
    r = mcp.call("create_sandbox", {"language": "javascript"})
    js = r["structuredContent"]["sandbox_id"]
    assert mcp.call("close_sandbox", {"sandbox_id": js})["isError"] is False
    r = mcp.call("close_sandbox", {"sandbox_id": sid})
    assert r["isError"] is False and sid not in sandboxes(keyed)
    r = mcp.call("run_code", {"code": "1", "sandbox_id": sid})
    assert r["isError"] is True and "not_found" in text_of(r)


def test_create_sandbox_with_a_network_policy(keyed, mcp):
    """create_sandbox takes the API's network policies, under the workspace's
    ceiling (kilnd network-ceiling)."""
    h = {"Authorization": f"Bearer {keyed.key}"}
    policy = {"allow": ["pypi.org", "*.pythonhosted.org"], "deny": []}
    r = mcp.call("create_sandbox", {"network": policy})
    assert r["isError"] is False, r
    sid = r["structuredContent"]["sandbox_id"]
    got = requests.get(f"{keyed.url}/v1/sandboxes/{sid}", headers=h, timeout=30).json()
    assert got["network"] == policy, got
    # The code sees the proxy the policy is enforced by.
    r = mcp.call("run_command", {"cmd": "echo $HTTPS_PROXY", "sandbox_id": sid})
    assert r["structuredContent"]["stdout"].strip() == "http://127.0.0.1:3128", r
    mcp.call("close_sandbox", {"sandbox_id": sid})
    subprocess.run([KILND, "network-ceiling", "set", "--workspace", "acme", "--policy",
                    '{"allow": ["pypi.org"]}', "--data-dir", keyed.data_dir],
                   check=True, capture_output=True, timeout=30)
    try:
        r = mcp.call("create_sandbox", {"network": "internet"})
        assert r["isError"] is True and "ceiling" in text_of(r), r
        assert mcp.call("create_sandbox", {"network": {"allow": ["pypi.org"]}})["isError"] is False
    finally:
        subprocess.run([KILND, "network-ceiling", "clear", "--workspace", "acme", "--data-dir",
                        keyed.data_dir], check=True, capture_output=True, timeout=30)


def test_drive_upload_and_download(keyed, mcp):
    h = {"Authorization": f"Bearer {keyed.key}"}
    csv = b"region,q4\nnorth,120\nsouth,95\n"
    r = requests.put(keyed.url + "/v1/drive/content?path=/data/sales.csv", data=csv, headers=h,
                     timeout=30)
    assert r.status_code in (200, 201), r.text
    r = mcp.call("upload_from_drive", {"drive_path": "/data/sales.csv"})
    assert r["isError"] is False and r["structuredContent"]["sandbox_path"] == "/home/user/sales.csv"
    r = mcp.call("run_code", {"code": "import pandas as pd, matplotlib.pyplot as plt\n"
                                      "df = pd.read_csv('sales.csv')\n"
                                      "df.plot.bar(x='region', y='q4')\nplt.savefig('q4.png')\n"
                                      "int(df.q4.sum())"})
    assert "215" in text_of(r), r
    r = mcp.call("download_to_drive", {"sandbox_path": "q4.png", "drive_path": "/reports/q4.png"})
    assert r["isError"] is False, r
    got = requests.get(keyed.url + "/v1/drive/content?path=/reports/q4.png", headers=h, timeout=30)
    assert got.content.startswith(b"\x89PNG")
    r = mcp.call("download_to_drive", {"sandbox_path": "q4.png", "drive_path": "/reports/q4.png"})
    assert r["isError"] is True and "exists" in text_of(r)
    r = mcp.call("download_to_drive", {"sandbox_path": "q4.png", "drive_path": "/reports/q4.png",
                                       "replace": True})
    assert r["isError"] is False


def test_skills(mcp):
    r = mcp.call("list_skills", {})
    names = [s["name"] for s in r["structuredContent"]["skills"]]
    assert "charts" in names and "data-analysis" in names
    r = mcp.call("list_skills", {"query": "CHART"})
    found = r["structuredContent"]["skills"]
    assert "charts" in [s["name"] for s in found] and len(found) < len(names)
    assert all("chart" in (s["name"] + s["description"]).lower() for s in found)
    assert mcp.call("list_skills", {"query": "zzz-none"})["structuredContent"]["skills"] == []
    r = mcp.call("read_skill", {"name": "charts"})
    assert r["isError"] is False and "chart.py" in r["structuredContent"]["files"]
    r = mcp.call("read_skill", {"name": "charts", "file": "chart.py"})
    assert r["isError"] is False and "import" in text_of(r)
    r = mcp.call("read_skill", {"name": "charts", "file": "../../etc/passwd"})
    assert r["isError"] is True


def test_progress_over_sse(mcp):
    seen = []
    r = mcp.request("tools/call", {"name": "run_code", "_meta": {"progressToken": "p1"},
                                   "arguments": {"code": "import time\nfor i in range(6):\n"
                                                         "    print(i, flush=True)\n"
                                                         "    time.sleep(0.3)\n'done'"}},
                    on_message=seen.append)
    assert "done" in text_of(r["result"])
    prog = [m["params"] for m in seen if m["method"] == "notifications/progress"]
    assert len(prog) >= 2, seen
    assert all(p["progressToken"] == "p1" for p in prog)
    values = [p["progress"] for p in prog]
    assert values == sorted(values) and len(set(values)) == len(values)


def test_cancellation_interrupts_and_the_session_stays_usable(mcp):
    mcp.call("run_code", {"code": "kept = 'yes'"})
    out = {}

    def long_call():
        t0 = time.monotonic()
        out["msg"] = mcp.request("tools/call", {"name": "run_code", "arguments": {
            "code": "import time\ntime.sleep(30)"}}, id_="long-1")
        out["secs"] = time.monotonic() - t0

    th = threading.Thread(target=long_call)
    th.start()
    time.sleep(1.5)
    r = mcp.notify("notifications/cancelled", {"requestId": "long-1", "reason": "test"})
    assert r.status_code == 202
    th.join(20)
    assert not th.is_alive()
    assert out["msg"] is None  # no response to a cancelled request
    assert out["secs"] < 10
    # Unknown ids are ignored; the session and its state are intact.
    assert mcp.notify("notifications/cancelled", {"requestId": 12345}).status_code == 202
    assert "yes" in text_of(mcp.call("run_code", {"code": "kept"}))


def test_json_only_client_gets_json_tool_results(mcp):
    r = mcp.request("tools/call", {"name": "run_code", "arguments": {"code": "40 + 2"}},
                    accept="application/json")
    assert "42" in text_of(r["result"])
