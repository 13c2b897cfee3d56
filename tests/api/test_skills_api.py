"""Skills (API.md "Skills"): list/read/file endpoints, traversal refusal,
the read-only /skills mount, and every built-in skill's template run end to
end in a sandbox through the API."""
import io
import json
import os

import pytest

from conftest import ROOT
from helpers import assert_error
from workflow_helpers import PDF_MAGIC, PNG_MAGIC, XLSX_MAGIC, host_file, raw_get

SKILLS_DIR = os.path.join(ROOT, "skills")
BUILT_IN = {"charts", "data-analysis", "excel-report", "pdf-report", "process-file"}

SALES = ("month,region,revenue,cost,units\n"
         "Jan,north,120,80,10\nFeb,north,150,90,12\nMar,south,90,70,7\n"
         "Apr,south,200,120,15\nMay,east,170,100,13\nJun,east,60,50,5\n")


def test_list_has_the_built_in_skills(kilnd):
    r = kilnd.get("/v1/skills")
    assert r.status_code == 200, r.text
    skills = r.json()["skills"]
    assert len(skills) >= 4
    for s in skills:
        assert set(s) == {"name", "description"}, s
        assert isinstance(s["name"], str) and s["name"]
        assert isinstance(s["description"], str) and len(s["description"]) > 20
    names = {s["name"] for s in skills}
    assert BUILT_IN <= names
    # Each listed skill is a folder of the repo's skills/ with that SKILL.md name.
    for s in skills:
        with open(os.path.join(SKILLS_DIR, s["name"], "SKILL.md"), encoding="utf-8") as f:
            head = f.read()
        assert f"name: {s['name']}" in head
        assert s["description"] in head


def test_every_listed_skill_has_an_end_to_end_case(kilnd):
    names = {s["name"] for s in kilnd.get("/v1/skills").json()["skills"]}
    assert names <= set(E2E), f"skills without an end-to-end test: {names - set(E2E)}"


def test_get_skill_has_body_and_files(kilnd):
    for name in sorted(BUILT_IN):
        r = kilnd.get(f"/v1/skills/{name}")
        assert r.status_code == 200, r.text
        s = r.json()
        assert s["name"] == name
        assert set(s) >= {"name", "description", "body", "files"}
        assert s["body"].lstrip().startswith("#"), s["body"][:80]
        assert "---" not in s["body"].split("\n", 1)[0]  # front matter stripped
        with open(os.path.join(SKILLS_DIR, name, "SKILL.md"), encoding="utf-8") as f:
            assert s["body"].strip() in f.read()
        assert "SKILL.md" in s["files"]
        repo_files = sorted(
            os.path.relpath(os.path.join(dp, fn), os.path.join(SKILLS_DIR, name))
            for dp, _dn, fns in os.walk(os.path.join(SKILLS_DIR, name)) for fn in fns
            if "__pycache__" not in dp)
        assert sorted(s["files"]) == repo_files


def test_skill_files_download_equal_the_repo_files(kilnd):
    for name in sorted(BUILT_IN):
        for rel in kilnd.get(f"/v1/skills/{name}").json()["files"]:
            r = kilnd.get(f"/v1/skills/{name}/files/{rel}")
            assert r.status_code == 200, (name, rel, r.text)
            with open(os.path.join(SKILLS_DIR, name, rel), "rb") as f:
                assert r.content == f.read(), (name, rel)


def test_unknown_skill_and_file_are_404(kilnd):
    assert_error(kilnd.get("/v1/skills/no-such-skill"), 404, "not_found")
    assert_error(kilnd.get("/v1/skills/no-such-skill/files/SKILL.md"), 404, "not_found")
    assert_error(kilnd.get("/v1/skills/charts/files/nope.py"), 404, "not_found")


@pytest.mark.parametrize("path", [
    "/v1/skills/charts/files/..%2F..%2Fetc%2Fpasswd",
    "/v1/skills/charts/files/../../x",
    "/v1/skills/charts/files/../../../../../../etc/passwd",
    "/v1/skills/charts/files/%2E%2E/%2E%2E/%2E%2E/etc/passwd",
    "/v1/skills/charts/files/..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "/v1/skills/charts/files/%2Fetc%2Fpasswd",
    "/v1/skills/charts/files//etc/passwd",
    "/v1/skills/..%2F..%2F..%2Fetc/files/passwd",
    "/v1/skills/../../etc/files/passwd",
    "/v1/skills/charts/files/..",
    "/v1/skills/charts/files/.",
])
def test_skill_file_traversal_never_returns_host_data(kilnd, path):
    status, body = raw_get(kilnd.port, path)
    assert status in (400, 404), (path, status, body[:200])
    passwd = host_file("/etc/passwd")
    assert b"root:" not in body
    if passwd:
        assert passwd not in body
    assert json.loads(body)["error"]["code"] in ("bad_request", "not_found")


def test_skills_are_mounted_read_only(kilnd, sandbox):
    sid = sandbox["id"]
    with open(os.path.join(SKILLS_DIR, "charts", "chart.py"), "rb") as f:
        repo_before = f.read()
    res = kilnd.run(sid, "ls /skills")
    assert res["exit_code"] == 0, res
    assert set(res["stdout"].split()) >= BUILT_IN
    res = kilnd.run(sid, "cat /skills/charts/SKILL.md")
    with open(os.path.join(SKILLS_DIR, "charts", "SKILL.md"), encoding="utf-8") as f:
        assert res["stdout"] == f.read()
    for cmd in ("touch /skills/new.txt", "touch /skills/charts/new.txt",
                "echo x >> /skills/charts/chart.py", "rm /skills/charts/SKILL.md",
                "mkdir /skills/evil", "mv /skills/charts /skills/c2",
                "chmod 777 /skills/charts/chart.py"):
        res = kilnd.run(sid, cmd)
        assert res["exit_code"] != 0, (cmd, res)
    res = kilnd.execute(sid, "import os\ntry:\n    open('/skills/charts/chart.py','a').write('#')\n"
                             "    r = 'written'\nexcept OSError as e:\n    r = e.errno\nr")
    assert res["results"][0]["text"] in ("30", "13"), res  # EROFS or EACCES
    # The host's skill folder is untouched.
    with open(os.path.join(SKILLS_DIR, "charts", "chart.py"), "rb") as f:
        assert f.read() == repo_before
    assert sorted(os.listdir(SKILLS_DIR)) == sorted(
        d for d in os.listdir(SKILLS_DIR) if d not in ("new.txt", "evil", "c2"))
    assert not os.path.exists(os.path.join(SKILLS_DIR, "charts", "new.txt"))


# -- each template, end to end ------------------------------------------------------------

def _run_py(kilnd, sid, code):
    res = kilnd.execute(sid, code, timeout_s=120)
    assert res["error"] is None, res["error"]
    return "".join(res["logs"]["stdout"])


def _file(kilnd, sid, path):
    r = kilnd.get(f"/v1/sandboxes/{sid}/files/content", params={"path": path})
    assert r.status_code == 200, (path, r.text)
    return r.content


def _png_ok(blob):
    from PIL import Image
    assert blob[:8] == PNG_MAGIC
    img = Image.open(io.BytesIO(blob))
    img.verify()
    return img.size


def _setup(kilnd, sid):
    r = kilnd.req("PUT", f"/v1/sandboxes/{sid}/files/content",
                  params={"path": "/home/user/sales.csv"}, data=SALES.encode())
    assert r.status_code == 201, r.text


SUBPROCESS = ("import subprocess\n"
              "p = subprocess.run({argv!r}, capture_output=True, text=True, cwd='/home/user')\n"
              "print(p.stdout, end='')\n"
              "assert p.returncode == 0, p.stderr\n")


def e2e_charts(kilnd, sid):
    # The command-line template ...
    out = _run_py(kilnd, sid, SUBPROCESS.format(argv=[
        "/usr/bin/python3", "/skills/charts/chart.py", "bar", "sales.csv", "--x", "month",
        "--y", "revenue", "--out", "bar.png"]))
    assert "chart saved" in out
    w, h = _png_ok(_file(kilnd, sid, "/home/user/bar.png"))
    assert w >= 300 and h >= 200
    # ... and every chart kind imported.
    out = _run_py(kilnd, sid, "import sys, pandas as pd\nsys.path.insert(0, '/skills/charts')\n"
                              "from chart import bar_chart, line_chart, scatter_chart, histogram\n"
                              "df = pd.read_csv('sales.csv')\n"
                              "print(bar_chart(['a', 'b'], {'x': [1, 2], 'y': [3, 1]}, "
                              "'grouped.png', title='t'))\n"
                              "print(line_chart(df['month'], {'r': df['revenue'], 'c': df['cost']},"
                              " 'line.png'))\n"
                              "print(scatter_chart(df['units'], df['revenue'], 'sc.png', "
                              "trend=True))\n"
                              "print(histogram(df['revenue'], 'hist.png', bins=5))\n")
    assert [os.path.basename(x) for x in out.split()] == [
        "grouped.png", "line.png", "sc.png", "hist.png"], out
    for name in ("grouped.png", "line.png", "sc.png", "hist.png"):
        _png_ok(_file(kilnd, sid, "/home/user/" + name))


def e2e_data_analysis(kilnd, sid):
    out = _run_py(kilnd, sid, SUBPROCESS.format(argv=[
        "/usr/bin/python3", "/skills/data-analysis/analyze_csv.py", "sales.csv",
        "--chart", "overview.png", "--json", "summary.json"]))
    for section in ("== Shape ==", "rows: 6, columns: 5", "== Missing values ==",
                    "== Correlations (pearson) ==", "== Top values (text columns) =="):
        assert section in out, out
    _png_ok(_file(kilnd, sid, "/home/user/overview.png"))
    summary = json.loads(_file(kilnd, sid, "/home/user/summary.json"))
    assert summary["rows"] == 6
    assert summary["describe"]["revenue"]["mean"] == pytest.approx(790 / 6)


def e2e_excel_report(kilnd, sid):
    out = _run_py(kilnd, sid, SUBPROCESS.format(argv=[
        "/usr/bin/python3", "/skills/excel-report/make_report.py", "sales.csv", "report.xlsx",
        "--category", "region", "--values", "revenue,cost", "--chart", "bar",
        "--title", "Sales 2024"]))
    assert "report saved" in out
    blob = _file(kilnd, sid, "/home/user/report.xlsx")
    assert blob[:4] == XLSX_MAGIC
    import openpyxl
    wb = openpyxl.load_workbook(io.BytesIO(blob))
    assert wb.sheetnames == ["Summary", "Data"]
    assert wb["Summary"]["A1"].value == "Sales 2024"
    assert len(wb["Summary"]._charts) >= 1 or b"xl/charts/chart1.xml" in blob
    data = list(wb["Data"].iter_rows(values_only=True))
    assert list(data[0]) == ["month", "region", "revenue", "cost", "units"]
    assert len(data) == 7
    # The Summary table holds the revenue sum per region somewhere.
    cells = [c for row in wb["Summary"].iter_rows(values_only=True) for c in row]
    assert 270 in cells and 290 in cells and 230 in cells, cells


def e2e_pdf_report(kilnd, sid):
    out = _run_py(kilnd, sid, SUBPROCESS.format(argv=[
        "/usr/bin/python3", "/skills/pdf-report/make_pdf.py", "sales.csv", "report.pdf",
        "--title", "Sales", "--x", "month", "--y", "revenue", "--text", "Intro paragraph.",
        "--chart", "chart.png"]))
    assert "report saved" in out
    blob = _file(kilnd, sid, "/home/user/report.pdf")
    assert blob[:5] == PDF_MAGIC
    assert b"%%EOF" in blob[-1024:]
    assert b"/Image" in blob or b"/XObject" in blob  # the chart is embedded
    _png_ok(_file(kilnd, sid, "/home/user/chart.png"))
    # Imported form, with a table.
    _run_py(kilnd, sid, "import sys, pandas as pd\nsys.path.insert(0, '/skills/pdf-report')\n"
                        "from make_pdf import build_pdf, chart_png\n"
                        "df = pd.read_csv('sales.csv')\n"
                        "build_pdf('t.pdf', 'T', ['p <b>&'], table=df, "
                        "image=chart_png(df, x='month', y='units', path='u.png'))")
    assert _file(kilnd, sid, "/home/user/t.pdf")[:5] == PDF_MAGIC


def e2e_process_file(kilnd, sid):
    out = _run_py(kilnd, sid, SUBPROCESS.format(argv=[
        "/usr/bin/python3", "/skills/process-file/process_file.py", "analyze", "sales.csv",
        "{}", "out"]))
    res = json.loads(out)
    assert res["shape"] == [6, 5]
    assert res["summary"]["units"]["max"] == 15
    out = _run_py(kilnd, sid, SUBPROCESS.format(argv=[
        "/usr/bin/python3", "/skills/process-file/process_file.py", "transform", "sales.csv",
        json.dumps({"steps": [{"group": {"by": ["region"], "agg": {"revenue": "sum"}}}]}),
        "out"]))
    assert json.loads(out)["rows"] == 3
    assert _file(kilnd, sid, "/home/user/out/transformed.csv").decode().splitlines() == [
        "region,revenue", "east,230", "north,270", "south,290"]


E2E = {"charts": e2e_charts, "data-analysis": e2e_data_analysis,
       "excel-report": e2e_excel_report, "pdf-report": e2e_pdf_report,
       "process-file": e2e_process_file}


@pytest.mark.parametrize("name", sorted(E2E))
def test_skill_template_end_to_end(kilnd, sandbox, name):
    _setup(kilnd, sandbox["id"])
    E2E[name](kilnd, sandbox["id"])
