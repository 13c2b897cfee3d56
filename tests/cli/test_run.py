"""kiln run: a file in a fresh sandbox, output streamed, results saved."""
import json
import os
import signal
import struct
import subprocess
import time

from PIL import Image

from conftest import KILN, assert_one_line_error, live_ids

CHART = """\
import matplotlib.pyplot as plt
print("drawing")
fig, ax = plt.subplots(figsize=(4, 3), dpi=100)
ax.bar(["north", "south", "east"], [120, 95, 143])
ax.set_title("Q4")
plt.show()
"""


def write(home, name, text):
    path = os.path.join(home, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def test_run_python_chart_saves_a_png_that_decodes(kiln, kilnd, home):
    write(home, "chart.py", CHART)
    before = live_ids(kilnd)
    r = kiln("run", "chart.py", "--out-dir", "out")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "drawing\n"
    png_path = os.path.join(home, "out", "result-1.png")
    with open(png_path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    # A 4x3 inch figure at 100 dpi, trimmed to its content by the runner.
    assert 300 <= width <= 400 and 225 <= height <= 300, (width, height)
    assert f"saved out/result-1.png ({width}x{height} PNG, " in r.stderr
    with Image.open(png_path) as im:
        im.load()
        assert im.size == (width, height)
        # A real chart, not a blank canvas: several colors.
        assert len(im.convert("RGB").getcolors(maxcolors=100000)) > 5
    # The sandbox it made is gone.
    assert live_ids(kilnd) <= before


def test_run_saves_html_and_prints_the_main_result(kiln, home):
    write(home, "table.py", "import pandas as pd\npd.DataFrame({'a': [1, 2], 'b': [3, 4]})\n")
    r = kiln("run", "table.py")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["a", "b", "0", "1", "3", "1", "2", "4"]
    assert "saved ./result-1.html" in r.stderr
    with open(os.path.join(home, "result-1.html")) as f:
        assert "<table" in f.read()


def test_run_error_exits_2_with_the_traceback(kiln, home):
    write(home, "boom.py", "print('before')\nx = 1\n1 / 0\n")
    r = kiln("run", "boom.py")
    assert r.returncode == 2
    assert r.stdout == "before\n"
    assert "ZeroDivisionError: division by zero" in r.stderr
    assert "line 3" in r.stderr


def test_run_streams_output_while_the_code_runs(kiln, home):
    write(home, "slow.py",
          "import time\nprint('first', flush=True)\ntime.sleep(2)\nprint('second')\n")
    p = kiln.popen("run", "slow.py")
    t0 = time.monotonic()
    first = p.stdout.readline()
    t_first = time.monotonic() - t0
    rest, err = p.communicate(timeout=60)
    t_all = time.monotonic() - t0
    assert p.returncode == 0, err
    assert first == b"first\n" and rest == b"second\n"
    # The first line arrived well before the run ended.
    assert t_all - t_first > 1.5, (t_first, t_all)


def test_run_json_output_for_scripts(kiln, kilnd, home):
    write(home, "j.py", "print('out')\nimport sys; print('err', file=sys.stderr)\n6 * 7\n")
    r = kiln("run", "--json", "j.py")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["stdout"] == "out\n"
    assert doc["stderr"] == "err\n"
    assert doc["error"] is None
    assert doc["language"] == "python"
    assert [x["text"] for x in doc["results"] if x["is_main_result"]] == ["42"]
    assert doc["sandbox_kept"] is False
    assert doc["files"] == []
    assert kilnd.get(f"/v1/sandboxes/{doc['sandbox_id']}").status_code == 404
    # A chart in JSON: the file's path, not its base64.
    r = kiln("run", "--json", "-", input="import matplotlib.pyplot as plt\nplt.plot([1])\n")
    doc = json.loads(r.stdout)
    assert [f["path"] for f in doc["files"]] == ["./result-1.png"]
    chart = [x for x in doc["results"] if x["files"]]
    assert len(chart) == 1 and chart[0]["files"] == ["./result-1.png"] and "png" not in chart[0]
    assert os.path.getsize(os.path.join(home, "result-1.png")) == doc["files"][0]["size"]
    # A failing run in JSON: the error object, exit 2.
    write(home, "k.py", "raise KeyError('nope')\n")
    r = kiln("run", "k.py", "--json")
    assert r.returncode == 2
    assert json.loads(r.stdout)["error"]["name"] == "KeyError"


def test_run_keep_and_reuse_a_sandbox(kiln, kilnd, home):
    write(home, "set.py", "counter = 10\n")
    r = kiln("run", "--keep", "--json", "set.py")
    assert r.returncode == 0, r.stderr
    sid = json.loads(r.stdout)["sandbox_id"]
    assert json.loads(r.stdout)["sandbox_kept"] is True
    try:
        write(home, "use.py", "counter += 1\nprint(counter)\n")
        r = kiln("run", "--sandbox", sid, "use.py")
        assert r.returncode == 0, r.stderr
        assert r.stdout == "11\n"
        # --sandbox never deletes the sandbox it was given.
        assert kilnd.get(f"/v1/sandboxes/{sid}").status_code == 200
    finally:
        r = kiln("sandboxes", "rm", sid)
        assert r.returncode == 0, r.stderr
        assert r.stdout == f"deleted {sid}\n"
    assert kilnd.get(f"/v1/sandboxes/{sid}").status_code == 404


def test_run_languages_by_extension_and_stdin(kiln, home):
    write(home, "a.js", "const xs = [1, 2, 3].map(x => x * 2)\nconsole.log(xs.join(','))\n")
    r = kiln("run", "a.js")
    assert (r.returncode, r.stdout) == (0, "2,4,6\n"), r.stderr
    write(home, "a.ts", "interface P { n: number }\nconst p: P = { n: 5 }\nconsole.log(p.n * 2)\n")
    r = kiln("run", "a.ts")
    assert (r.returncode, r.stdout) == (0, "10\n"), r.stderr
    write(home, "a.sh", "echo \"shell $((6 * 7))\"\n")
    r = kiln("run", "a.sh")
    assert (r.returncode, r.stdout) == (0, "shell 42\n"), r.stderr
    r = kiln("run", "--lang", "js", "-", input="console.log('from stdin')\n")
    assert (r.returncode, r.stdout) == (0, "from stdin\n"), r.stderr
    r = kiln("run", "-", input="print('py stdin')\n")
    assert (r.returncode, r.stdout) == (0, "py stdin\n"), r.stderr


def test_run_bash_failure_and_env(kiln, home):
    write(home, "fail.sh", "echo \"hi $WHO\"\nls /nope\n")
    r = kiln("run", "fail.sh", "--env", "WHO=kiln")
    assert r.returncode == 2
    assert r.stdout == "hi kiln\n"
    assert "No such file or directory" in r.stderr


def test_run_usage_errors_exit_1(kiln, home):
    write(home, "notes.txt", "hello\n")
    r = kiln("run", "notes.txt")
    assert r.returncode == 1
    assert_one_line_error(r.stderr, "--lang")
    r = kiln("run", "missing.py")
    assert r.returncode == 1
    assert_one_line_error(r.stderr, "missing.py", "No such file")
    r = kiln("run", "--lang", "cobol", "-", input="x")
    assert r.returncode == 1
    assert_one_line_error(r.stderr, "unknown language 'cobol'")
    r = kiln("run", "--sandbox", "sbx_doesnotexist", "-", input="1")
    assert r.returncode == 1
    assert_one_line_error(r.stderr, "sbx_doesnotexist", "404")


def test_run_timeout_is_a_code_error(kiln, home):
    write(home, "long.py", "import time\ntime.sleep(10)\n")
    r = kiln("run", "--timeout", "1", "long.py")
    assert r.returncode == 2
    assert "TimeoutError" in r.stderr


def test_ctrl_c_interrupts_the_run_and_deletes_the_sandbox(kiln, kilnd, home):
    write(home, "sleepy.py", "import time\nprint('started', flush=True)\ntime.sleep(30)\n")
    before = live_ids(kilnd)
    p = kiln.popen("run", "sleepy.py")
    assert p.stdout.readline() == b"started\n"
    new = live_ids(kilnd) - before
    assert len(new) == 1
    t0 = time.monotonic()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=20)
    assert time.monotonic() - t0 < 5
    assert p.returncode == 130, err
    assert b"kiln: interrupted" in err
    assert not (live_ids(kilnd) & new)


def test_run_into_a_closed_pipe_stops_and_cleans_up(kiln, kilnd, home):
    write(home, "forever.py", "i = 0\nwhile True:\n    print(i)\n    i += 1\n")
    before = live_ids(kilnd)
    t0 = time.monotonic()
    r = subprocess.run(f"{KILN} run forever.py | head -3", shell=True, cwd=home, env=kiln.env,
                       capture_output=True, text=True, timeout=30)
    assert r.stdout == "0\n1\n2\n"
    # Not the 60 s exec timeout: kiln noticed nobody reads and stopped.
    assert time.monotonic() - t0 < 10
    deadline = time.monotonic() + 5
    while live_ids(kilnd) - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not live_ids(kilnd) - before


def test_sigterm_during_a_run_deletes_the_sandbox(kiln, kilnd, home):
    write(home, "sleepy2.py", "import time\nprint('up', flush=True)\ntime.sleep(30)\n")
    before = live_ids(kilnd)
    p = kiln.popen("run", "sleepy2.py")
    assert p.stdout.readline() == b"up\n"
    new = live_ids(kilnd) - before
    p.send_signal(signal.SIGTERM)
    p.communicate(timeout=20)
    assert p.returncode == 128 + signal.SIGTERM
    assert new and not (live_ids(kilnd) & new)
