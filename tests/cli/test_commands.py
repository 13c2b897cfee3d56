"""kiln sandboxes / files / drive / skills / usage / validate, as tables and --json."""
import hashlib
import json
import os
import re
import time

import pexpect

from conftest import FILE_CAP, KILN, assert_one_line_error, live_ids


def table(stdout):
    """Rows of a kiln table (header first), split on runs of 2+ spaces."""
    return [re.split(r"\s{2,}", line.strip()) for line in stdout.splitlines() if line.strip()]


def test_sandboxes_ls_inspect_create_rm(kiln, kilnd):
    r = kiln("sandboxes", "create", "--timeout", "120")
    assert r.returncode == 0, r.stderr
    sid = r.stdout.strip()
    assert re.fullmatch(r"sbx_[0-9a-f]+", sid)
    kilnd.execute(sid, "1 + 1")
    r = kiln("sandboxes", "ls")
    assert r.returncode == 0, r.stderr
    rows = table(r.stdout)
    assert rows[0] == ["ID", "STATUS", "TEMPLATE", "SESSION", "CREATED", "EXPIRES"]
    mine = [row for row in rows[1:] if row[0] == sid]
    assert len(mine) == 1 and mine[0][1] == "running"
    assert re.fullmatch(r"in (2m 00s|1m \d\ds)", mine[0][5]), mine[0]
    r = kiln("sandboxes", "ls", "--json")
    listed = json.loads(r.stdout)
    assert sid in {s["id"] for s in listed}
    r = kiln("sandboxes", "inspect", sid)
    assert r.returncode == 0, r.stderr
    fields = dict(re.split(r":\s+", line, maxsplit=1) for line in r.stdout.splitlines())
    assert fields["id"] == sid
    assert fields["executions"] == "1"
    assert "512 MB memory" in fields["limits"]
    r = kiln("--json", "sandboxes", "inspect", sid)
    doc = json.loads(r.stdout)
    assert doc["id"] == sid and doc["usage"]["executions"] == 1
    r = kiln("sandboxes", "rm", sid)
    assert (r.returncode, r.stdout) == (0, f"deleted {sid}\n")
    assert sid not in live_ids(kilnd)
    # Gone: one clear line, exit 1.
    r = kiln("sandboxes", "inspect", sid)
    assert r.returncode == 1
    assert_one_line_error(r.stderr, f"sandbox {sid} not found", "404")
    r = kiln("sandboxes", "rm", sid)
    assert r.returncode == 1
    assert_one_line_error(r.stderr, "not found")


def test_files_put_ls_get_rm(kiln, kilnd, sandbox, home):
    data = os.urandom(300_000)
    with open(os.path.join(home, "blob.bin"), "wb") as f:
        f.write(data)
    r = kiln("files", "put", sandbox, "blob.bin", "work/")
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"uploaded blob.bin -> {sandbox}:/home/user/work/blob.bin (293.0 KiB)\n"
    out = kilnd.run(sandbox, "sha256sum work/blob.bin")["stdout"]
    assert out.split()[0] == hashlib.sha256(data).hexdigest()
    r = kiln("files", "ls", sandbox, "work")
    rows = table(r.stdout)
    assert rows[0] == ["NAME", "TYPE", "SIZE", "MODIFIED"]
    assert rows[1][:3] == ["blob.bin", "file", "293.0 KiB"]
    r = kiln("files", "ls", sandbox, "--json")
    assert {"name": "work", "type": "dir"}.items() <= \
        [e for e in json.loads(r.stdout) if e["name"] == "work"][0].items()
    r = kiln("files", "get", sandbox, "work/blob.bin", "copy.bin")
    assert r.returncode == 0, r.stderr
    with open(os.path.join(home, "copy.bin"), "rb") as f:
        assert f.read() == data
    r = kiln("files", "get", sandbox, "work/blob.bin", "-", binary=True)
    assert (r.returncode, r.stdout) == (0, data)
    r = kiln("files", "rm", sandbox, "work")
    assert r.returncode == 0, r.stderr
    r = kiln("files", "get", sandbox, "work/blob.bin")
    assert r.returncode == 1
    assert_one_line_error(r.stderr)


def test_files_get_to_stdout_is_byte_exact(kiln, kilnd, sandbox):
    kilnd.put(f"/v1/sandboxes/{sandbox}/files/content?path=x.txt", data=b"line1\nline2\n")
    r = kiln("files", "get", sandbox, "x.txt", "-")
    assert (r.returncode, r.stdout, r.stderr) == (0, "line1\nline2\n", "")


def test_drive_put_ls_get_rm(kiln, home):
    csv = "region,q4\nnorth,120\nsouth,95\n"
    with open(os.path.join(home, "sales.csv"), "w") as f:
        f.write(csv)
    r = kiln("drive", "put", "sales.csv", "/cli-test/sales.csv")
    assert r.returncode == 0, r.stderr
    assert r.stdout == \
        f"uploaded sales.csv -> drive:/cli-test/sales.csv ({len(csv)} B, persistent)\n"
    # An existing file: Drive's 409, as one line.
    r = kiln("drive", "put", "sales.csv", "/cli-test/sales.csv")
    assert r.returncode == 1
    assert_one_line_error(r.stderr, "File already exists in Drive", "409")
    r = kiln("drive", "put", "--replace", "--scope", "temporary", "sales.csv", "/cli-test/")
    assert r.returncode == 0, r.stderr
    r = kiln("drive", "ls", "/cli-test")
    rows = table(r.stdout)
    assert rows[0] == ["PATH", "SIZE", "SCOPE", "CREATED", "EXPIRES", "SHA256"]
    assert rows[1][:3] == ["/cli-test/sales.csv", f"{len(csv)} B", "temporary"]
    assert rows[1][4].startswith("in ")
    assert rows[1][5] == hashlib.sha256(csv.encode()).hexdigest()[:12]
    doc = json.loads(kiln("drive", "ls", "--json", "/cli-test").stdout)
    assert [f["path"] for f in doc] == ["/cli-test/sales.csv"]
    r = kiln("drive", "get", "/cli-test/sales.csv", "-")
    assert (r.returncode, r.stdout) == (0, csv)
    r = kiln("drive", "get", "/cli-test/sales.csv")
    assert r.returncode == 0
    with open(os.path.join(home, "sales.csv")) as f:
        assert f.read() == csv
    # Drive refuses scripts: 415, as one line.
    with open(os.path.join(home, "job.sh"), "w") as f:
        f.write("#!/bin/sh\necho hi\n")
    r = kiln("drive", "put", "job.sh", "/cli-test/job.sh")
    assert r.returncode == 1
    assert_one_line_error(r.stderr, "415")
    r = kiln("drive", "rm", "/cli-test/sales.csv")
    assert (r.returncode, r.stdout) == (0, "deleted drive:/cli-test/sales.csv\n")
    r = kiln("drive", "ls", "/cli-test")
    assert r.stdout == "no files in Drive under /cli-test\n"
    r = kiln("drive", "rm", "/cli-test/sales.csv")
    assert r.returncode == 1
    assert_one_line_error(r.stderr, "404")


def test_skills_ls_and_show(kiln):
    r = kiln("skills", "ls")
    assert r.returncode == 0, r.stderr
    names = [row[0] for row in table(r.stdout)[1:]]
    assert {"data-analysis", "charts", "excel-report", "pdf-report"} <= set(names)
    r = kiln("skills", "show", "charts")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("name:")
    assert "in a sandbox:  /skills/charts/" in r.stdout
    doc = json.loads(kiln("skills", "show", "charts", "--json").stdout)
    assert doc["name"] == "charts" and doc["body"]
    r = kiln("skills", "show", "no-such-skill")
    assert r.returncode == 1
    assert_one_line_error(r.stderr, "404")


def test_usage_summary_and_by_day(kiln, kilnd, sandbox):
    kilnd.execute(sandbox, "sum(range(1000))")
    r = kiln("usage")
    assert r.returncode == 0, r.stderr
    fields = dict(re.split(r":\s+", line, maxsplit=1) for line in r.stdout.splitlines())
    assert fields["workspace"] == "default"
    assert int(fields["executions"]) >= 1
    assert fields["active time"].endswith(" s (billed)")
    doc = json.loads(kiln("usage", "--json").stdout)
    assert doc["executions"] >= 1 and "by_day" not in doc
    r = kiln("usage", "--by-day")
    rows = table(r.stdout)
    assert rows[0] == ["DATE", "SANDBOXES", "SESSION", "ACTIVE", "CPU", "EXECUTIONS"]
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert today in [row[0] for row in rows[1:]]
    doc = json.loads(kiln("usage", "--by-day", "--json").stdout)
    assert doc["by_day"] and doc["by_day"][-1]["date"] == today
    r = kiln("usage", "--from", "not-a-date")
    assert r.returncode == 1
    assert_one_line_error(r.stderr, "400")


def test_validate(kiln, home):
    with open(os.path.join(home, "ok.py"), "w") as f:
        f.write("import subprocess\nprint(1)\n")
    r = kiln("validate", "ok.py")
    assert r.returncode == 0, r.stderr
    assert r.stdout == ("ok.py:1: warning [subprocess]: " + r.stdout.split("]: ")[1].split("\n")[0]
                        + "\nok.py: valid python\n")
    with open(os.path.join(home, "bad.js"), "w") as f:
        f.write("const x = ;\n")
    r = kiln("validate", "bad.js")
    assert r.returncode == 2
    assert re.match(r"bad\.js:1:\d+: error: ", r.stdout), r.stdout
    doc = json.loads(kiln("validate", "--json", "bad.js").stdout)
    assert doc["valid"] is False and doc["errors"][0]["line"] == 1
    r = kiln("validate", "--lang", "bash", "-", input="if then fi\n")
    assert r.returncode == 2
    assert r.stdout.startswith("<stdin>:")


def test_progress_bar_only_on_a_terminal(kiln, sandbox, home):
    with open(os.path.join(home, "big.bin"), "wb") as f:
        f.write(os.urandom(4 << 20))
    env = dict(kiln.env, KILN_PROGRESS_DELAY_MS="0")
    # On a terminal: the bar, redrawn in place, up to 100%.
    p = pexpect.spawn(KILN, ["files", "put", sandbox, "big.bin"], env=env, cwd=home,
                      encoding="utf-8", timeout=60)
    p.expect(pexpect.EOF)
    p.close()
    assert p.exitstatus == 0, p.before
    assert re.search(r"\r\x1b\[Kuploading big\.bin  \[[#.]+\]  \d+%", p.before), p.before
    assert "100%  4.0 MiB / 4.0 MiB" in p.before
    p = pexpect.spawn(KILN, ["files", "get", sandbox, "big.bin", "back.bin"], env=env, cwd=home,
                      encoding="utf-8", timeout=60)
    p.expect(pexpect.EOF)
    p.close()
    assert "downloading big.bin" in p.before and "100%" in p.before
    # A run's spinner, once it has lasted a while.
    with open(os.path.join(home, "wait.py"), "w") as f:
        f.write("import time\ntime.sleep(1.5)\n")
    p = pexpect.spawn(KILN, ["run", "wait.py"], env=dict(kiln.env), cwd=home,
                      encoding="utf-8", timeout=60)
    p.expect(pexpect.EOF)
    p.close()
    assert re.search(r"[|/\\-] running wait\.py 1\.\d s", p.before), p.before
    # Not a terminal: nothing but the result line.
    r = kiln("files", "put", sandbox, "big.bin", "again.bin", env={"KILN_PROGRESS_DELAY_MS": "0"})
    assert r.returncode == 0
    assert r.stderr == "" and "\r" not in r.stdout


def test_uploads_over_the_file_cap_are_one_line(kiln, sandbox, home):
    with open(os.path.join(home, "huge.bin"), "wb") as f:
        f.write(b"\0" * (FILE_CAP + 1))
    r = kiln("files", "put", sandbox, "huge.bin")
    assert r.returncode == 1
    assert_one_line_error(r.stderr, "413")
    r = kiln("drive", "put", "huge.bin", "/huge.csv")
    assert r.returncode == 1
    assert_one_line_error(r.stderr, "413")
