"""Tests of the built-in skills in skills/: every SKILL.md parses, and every
template runs for real with Debian's /usr/bin/python3 (the interpreter the
sandboxes use) in a temporary working folder, with its outputs checked
against figures computed independently here.

Run: /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/skills
"""

import base64
import csv
import datetime as dt
import io
import json
import math
import os
import re
import statistics
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from xls_writer import write_xls  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SKILLS = REPO / "skills"
PYTHON = "/usr/bin/python3"
EXPECTED_SKILLS = {"data-analysis", "excel-report", "charts", "pdf-report", "process-file"}
PROCESS_FILE = SKILLS / "process-file" / "process_file.py"


def run_py(args, cwd, timeout=180, stdin=None):
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1",
               MPLCONFIGDIR=str(Path(cwd) / ".mplconfig"))
    return subprocess.run([PYTHON] + [str(a) for a in args], cwd=cwd, env=env, input=stdin,
                          capture_output=True, text=True, timeout=timeout)


def run_code(code, cwd):
    """Runs a Python snippet (imports the templates the way SKILL.md says)."""
    return run_py(["-c", code], cwd)


def strict_json(text):
    def no_constants(name):
        raise AssertionError("non-standard JSON constant %s in output" % name)
    return json.loads(text, parse_constant=no_constants)


def process_file(op, input_path, options, out_dir, cwd):
    opts = options if isinstance(options, str) else json.dumps(options)
    p = run_py([PROCESS_FILE, op, input_path, opts, out_dir], cwd)
    lines = p.stdout.splitlines()
    assert len(lines) == 1, "stdout must be exactly one JSON line:\n%s\nstderr:\n%s" % (
        p.stdout, p.stderr)
    return p.returncode, strict_json(lines[0]), p


def write_csv(path, header, rows, delimiter=","):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter=delimiter)
        w.writerow(header)
        for r in rows:
            w.writerow(["" if v is None else v for v in r])
    return path


def read_csv_rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def pearson(xs, ys):
    pairs = [(x, y) for x, y in zip(xs, ys) if x is not None and y is not None]
    mx = sum(p[0] for p in pairs) / len(pairs)
    my = sum(p[1] for p in pairs) / len(pairs)
    sxy = sum((x - mx) * (y - my) for x, y in pairs)
    sxx = sum((x - mx) ** 2 for x, _ in pairs)
    syy = sum((y - my) ** 2 for _, y in pairs)
    return sxy / math.sqrt(sxx * syy)


def png_ok(path):
    from PIL import Image

    with Image.open(path) as im:
        im.load()
        assert im.format == "PNG"
        assert im.size[0] > 100 and im.size[1] > 100
        return im.size


@pytest.fixture
def work(tmp_path):
    d = tmp_path / "work"
    d.mkdir()
    return d


# --------------------------------------------------------------------------
# SKILL.md
# --------------------------------------------------------------------------

def parse_front_matter(text):
    lines = text.split("\n")
    assert lines[0].rstrip() == "---", "SKILL.md must start with ---"
    end = next(i for i in range(1, len(lines)) if lines[i].rstrip() in ("---", "..."))
    fm_text = "\n".join(lines[1:end])
    try:
        import yaml
    except ImportError:  # minimal check: flat "key: value" lines
        yaml = None
    if yaml is not None:
        fm = yaml.safe_load(fm_text)
    else:
        fm = dict(line.split(": ", 1) for line in fm_text.splitlines() if line.strip())
    return fm, "\n".join(lines[end + 1:])


def test_every_skill_md_has_valid_front_matter():
    folders = sorted(p for p in SKILLS.iterdir() if p.is_dir() and not p.name.startswith("."))
    names = {p.name for p in folders}
    assert EXPECTED_SKILLS <= names
    for folder in folders:
        md = folder / "SKILL.md"
        assert md.is_file(), "%s has no SKILL.md" % folder.name
        fm, body = parse_front_matter(md.read_text(encoding="utf-8"))
        assert isinstance(fm, dict), folder.name
        assert fm.get("name") == folder.name
        desc = fm.get("description")
        assert isinstance(desc, str) and desc.strip() and "\n" not in desc.strip(), folder.name
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", folder.name)
        assert len(body.strip()) > 200, "%s: instructions are too thin" % folder.name
        for section in ("When to use", "How to call it", "Example"):
            assert "## " + section in body, "%s: no '%s' section" % (folder.name, section)
        # every template the instructions point at exists
        for ref in re.findall(r"/skills/([\w.-]+)/([\w./-]+\.py)", body):
            assert (SKILLS / ref[0] / ref[1]).is_file(), "%s refers to missing %s" % (
                folder.name, "/".join(ref))


def test_templates_compile():
    templates = sorted(SKILLS.glob("*/*.py"))
    # Every expected skill ships at least one template (an empty or partial
    # glob fails here instead of passing), and each one compiles.
    assert {py.parent.name for py in templates} >= EXPECTED_SKILLS, templates
    compiled = 0
    for py in templates:
        code = compile(py.read_text(encoding="utf-8"), str(py), "exec")
        assert code.co_filename == str(py)
        compiled += 1
    assert compiled == len(templates) >= len(EXPECTED_SKILLS)


# --------------------------------------------------------------------------
# data-analysis
# --------------------------------------------------------------------------

ANALYSIS_ROWS = [  # x, y (= 2x + 1), z (with one missing), city
    (1, 3, 10.0, "Paris"),
    (2, 5, None, "Lyon"),
    (3, 7, 30.5, "Paris"),
    (4, 9, 12.25, "Nice"),
    (5, 11, 8.0, "Paris"),
    (6, 13, 20.0, "Lyon"),
]


def test_data_analysis_cli_prints_statistics_and_saves_chart(work):
    write_csv(work / "data.csv", ["x", "y", "z", "city"], ANALYSIS_ROWS)
    p = run_py([SKILLS / "data-analysis" / "analyze_csv.py", "data.csv",
                "--json", "summary.json"], work)
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "rows: 6, columns: 4" in out
    assert "total missing: 1" in out
    for section in ("Column types", "Summary statistics", "Missing values", "Correlations",
                    "Top values"):
        assert "== %s" % section in out
    assert re.search(r"^z\s+1$", out, re.M), "missing count of z not printed"
    assert re.search(r"^x\s+int64$", out, re.M) and re.search(r"^city\s+object$", out, re.M)
    assert "city: Paris (3), Lyon (2), Nice (1)" in out
    zs = [r[2] for r in ANALYSIS_ROWS if r[2] is not None]
    # describe() row "mean": x 3.5, y 8.0, z mean
    mean_line = next(line for line in out.splitlines() if line.startswith("mean"))
    assert [float(v) for v in mean_line.split()[1:]] == pytest.approx(
        [3.5, 8.0, statistics.mean(zs)], rel=1e-3)
    png_ok(work / "overview.png")

    s = json.loads((work / "summary.json").read_text())
    assert s["rows"] == 6 and s["columns"] == 4
    assert s["missing"] == {"x": 0, "y": 0, "z": 1, "city": 0}
    assert s["describe"]["z"]["mean"] == pytest.approx(statistics.mean(zs))
    assert s["describe"]["z"]["std"] == pytest.approx(statistics.stdev(zs))
    assert s["describe"]["x"]["50%"] == pytest.approx(3.5)
    assert s["correlations"]["x"]["y"] == pytest.approx(1.0)
    xs = [r[0] for r in ANALYSIS_ROWS]
    assert s["correlations"]["x"]["z"] == pytest.approx(
        pearson(xs, [r[2] for r in ANALYSIS_ROWS]))
    assert s["top_values"]["city"][0] == ["Paris", 3]


def test_data_analysis_importable(work):
    write_csv(work / "data.csv", ["x", "y", "z", "city"], ANALYSIS_ROWS)
    p = run_code(
        "import sys, json; sys.path.insert(0, %r)\n"
        "from analyze_csv import load_csv, summarize, save_overview_chart\n"
        "df = load_csv('data.csv'); save_overview_chart(df, 'mine.png')\n"
        "print(json.dumps(summarize(df)['describe']['y']))" % str(SKILLS / "data-analysis"), work)
    assert p.returncode == 0, p.stderr
    y = json.loads(p.stdout)
    assert y["mean"] == pytest.approx(8.0) and y["max"] == 13
    png_ok(work / "mine.png")


def test_data_analysis_text_only_csv(work):
    write_csv(work / "t.csv", ["name", "colour"], [("a", "red"), ("b", "blue"), ("c", "red")])
    p = run_py([SKILLS / "data-analysis" / "analyze_csv.py", "t.csv", "--chart", "t.png"], work)
    assert p.returncode == 0, p.stderr
    assert "(no numeric columns)" in p.stdout
    png_ok(work / "t.png")


# --------------------------------------------------------------------------
# excel-report
# --------------------------------------------------------------------------

SALES = [("North", "2024-01", 100.0, 40.0), ("South", "2024-01", 80.5, 30.0),
         ("North", "2024-02", 120.0, 50.0), ("South", "2024-02", 60.0, None),
         ("East", "2024-02", 10.0, 5.0)]


def test_excel_report_cli_with_category_bar_chart(work):
    import openpyxl
    from openpyxl.chart import BarChart

    write_csv(work / "sales.csv", ["region", "month", "revenue", "cost"], SALES)
    p = run_py([SKILLS / "excel-report" / "make_report.py", "sales.csv", "report.xlsx",
                "--category", "region", "--values", "revenue,cost", "--title", "Sales"], work)
    assert p.returncode == 0, p.stderr
    wb = openpyxl.load_workbook(work / "report.xlsx")
    assert wb.sheetnames == ["Summary", "Data"]
    summary, data = wb["Summary"], wb["Data"]
    assert summary["A1"].value == "Sales"
    charts = summary._charts
    assert len(charts) == 1 and isinstance(charts[0], BarChart)
    assert len(charts[0].series) == 2
    # summary table: header at row 4, regions sorted
    table = {r[0]: r[1:] for r in summary.iter_rows(min_row=5, max_row=7, values_only=True)}
    for region in ("North", "South", "East"):
        rev = sum(r[2] for r in SALES if r[0] == region)
        cost = sum(r[3] or 0 for r in SALES if r[0] == region)
        assert table[region][0] == pytest.approx(rev)
        assert table[region][1] == pytest.approx(cost)
    rows = list(data.iter_rows(values_only=True))
    assert rows[0] == ("region", "month", "revenue", "cost")
    assert len(rows) == 1 + len(SALES)
    assert rows[4] == ("South", "2024-02", 60, None)  # NaN -> empty cell
    assert data.freeze_panes == "A2"


def test_excel_report_module_line_chart_without_category(work):
    import openpyxl
    from openpyxl.chart import LineChart

    code = (
        "import sys, datetime, pandas as pd, numpy as np; sys.path.insert(0, %r)\n"
        "from make_report import build_report\n"
        "df = pd.DataFrame({'day': pd.date_range('2024-01-01', periods=4),\n"
        "                   'a': [1.5, 2.5, np.nan, 4.0], 'b': [10, 20, 30, 40],\n"
        "                   'label': ['w', 'x', 'y', None]})\n"
        "print(build_report(df, 'out.xlsx', title='Stats', chart='line'))\n"
        % str(SKILLS / "excel-report"))
    p = run_code(code, work)
    assert p.returncode == 0, p.stderr
    wb = openpyxl.load_workbook(work / "out.xlsx")
    assert wb.sheetnames == ["Summary", "Data"]
    assert isinstance(wb["Summary"]._charts[0], LineChart)
    stats = {r[0]: r for r in wb["Summary"].iter_rows(min_row=5, values_only=True) if r[0]}
    assert stats["a"][2] == pytest.approx(statistics.mean([1.5, 2.5, 4.0]))  # mean column
    assert stats["b"][1] == 4  # count
    data = list(wb["Data"].iter_rows(values_only=True))
    assert data[1][0] == dt.datetime(2024, 1, 1)
    assert data[3][1] is None and data[4][3] is None


# --------------------------------------------------------------------------
# charts
# --------------------------------------------------------------------------

def test_charts_module_functions_write_pngs(work):
    code = (
        "import sys; sys.path.insert(0, %r)\n"
        "import numpy as np, pandas as pd\n"
        "from chart import bar_chart, line_chart, scatter_chart, histogram\n"
        "print(bar_chart(['a', 'b', 'c'], [3, 5, 2], 'bar.png', title='Bars'))\n"
        "print(bar_chart(['q1', 'q2'], {'2023': [1, 2], '2024': [2, 3]}, 'grouped.png'))\n"
        "print(bar_chart(['long category name', 'other'], [1, 2], 'hbar.png', horizontal=True))\n"
        "print(line_chart(pd.date_range('2024-01-01', periods=5), {'s': [1, 3, 2, 5, 4],\n"
        "                 't': [2, 2, 3, 3, 4]}, 'line.png', ylabel='v'))\n"
        "print(scatter_chart(np.arange(20), np.arange(20) * 2.0 + 1, 'scatter.png', trend=True))\n"
        "print(histogram(np.random.default_rng(1).normal(size=500), 'hist.png', bins=25))\n"
        % str(SKILLS / "charts"))
    p = run_code(code, work)
    assert p.returncode == 0, p.stderr
    names = p.stdout.split()
    assert names == ["bar.png", "grouped.png", "hbar.png", "line.png", "scatter.png", "hist.png"]
    for n in names:
        assert png_ok(work / n) == (800, 500)


def test_charts_cli(work):
    write_csv(work / "d.csv", ["month", "sales", "costs"],
              [("Jan", 10, 4), ("Feb", 12, 5), ("Mar", 9, 6)])
    script = SKILLS / "charts" / "chart.py"
    for args in (["bar", "d.csv", "--x", "month", "--y", "sales", "--out", "b.png"],
                 ["line", "d.csv", "--x", "month", "--y", "sales,costs", "--out", "l.png"],
                 ["scatter", "d.csv", "--x", "sales", "--y", "costs", "--out", "s.png"],
                 ["hist", "d.csv", "--y", "sales", "--out", "h.png"]):
        p = run_py([script] + args, work)
        assert p.returncode == 0, p.stderr
        png_ok(work / args[-1])
    p = run_py([script, "bar", "d.csv", "--x", "month", "--y", "nope"], work)
    assert p.returncode != 0 and "unknown column 'nope'" in p.stderr


# --------------------------------------------------------------------------
# pdf-report
# --------------------------------------------------------------------------

def pdf_text_streams(data):
    """Decoded content of every stream in the PDF (reportlab writes page
    streams as /Filter [/ASCII85Decode /FlateDecode])."""
    out = []
    for m in re.finditer(rb"stream\r?\n", data):
        start = m.end()
        chunk = data[start:data.find(b"endstream", start)].strip()
        if chunk.endswith(b"~>"):
            try:
                chunk = base64.a85decode(chunk[:-2].replace(b"\n", b"").replace(b"\r", b""))
            except ValueError:
                pass
        try:
            chunk = zlib.decompress(chunk)
        except zlib.error:
            pass
        out.append(chunk)
    return b"\n".join(out)


def check_pdf(path, title):
    data = Path(path).read_bytes()
    assert data.startswith(b"%PDF-")
    assert data.rstrip().endswith(b"%%EOF")
    assert len(data) > 1024
    assert b"/Image" in data or b"/XObject" in data  # the embedded chart
    assert ("(%s)" % title).encode() in data  # /Title in the document info
    assert title.encode() in pdf_text_streams(data)  # drawn on the page
    return data


def test_pdf_report_cli(work):
    write_csv(work / "scores.csv", ["student", "score"], [("Ann", 81), ("Bob", 67), ("Cy", 90)])
    p = run_py([SKILLS / "pdf-report" / "make_pdf.py", "scores.csv", "scores.pdf",
                "--title", "Exam Scores", "--x", "student", "--y", "score",
                "--text", "Average score is 79.3."], work)
    assert p.returncode == 0, p.stderr
    data = check_pdf(work / "scores.pdf", "Exam Scores")
    streams = pdf_text_streams(data)
    assert b"Average score is 79.3." in streams
    assert b"Bob" in streams and b"67" in streams  # table cells
    png_ok(work / "chart.png")


def test_pdf_report_module_escapes_markup_and_paginates(work):
    code = (
        "import sys, pandas as pd; sys.path.insert(0, %r)\n"
        "from make_pdf import build_pdf, chart_png\n"
        "df = pd.DataFrame({'k': range(100), 'v': [i * 1.5 for i in range(100)]})\n"
        "png = chart_png(df.head(10), x='k', y='v', path='c.png', kind='line')\n"
        "build_pdf('long.pdf', 'Long Report', ['a < b & c > d', 'second'], table=df, image=png)\n"
        % str(SKILLS / "pdf-report"))
    p = run_code(code, work)
    assert p.returncode == 0, p.stderr
    data = check_pdf(work / "long.pdf", "Long Report")
    streams = pdf_text_streams(data)
    assert b"a < b & c > d" in streams  # escaped for reportlab's markup, drawn as typed
    assert b"Showing 40 of 100 rows" in streams


# --------------------------------------------------------------------------
# process-file: analyze
# --------------------------------------------------------------------------

def make_analysis_data():
    """Deterministic data: a, b (= -3a + noise), c (with missing), k (constant), t (text)."""
    import random

    rnd = random.Random(42)
    rows = []
    for i in range(60):
        a = round(rnd.uniform(0, 100), 3)
        b = round(-3 * a + rnd.gauss(0, 10), 3)
        c = None if i % 7 == 0 else round(rnd.uniform(-5, 5), 3)
        t = ["red", "green", "blue", "red", None][i % 5]
        rows.append((a, b, c, 1, t))
    return ["a", "b", "c", "k", "t"], rows


def check_analysis(res, header, rows):
    n = len(rows)
    assert res["shape"] == [n, len(header)]
    cols = {c["name"]: c for c in res["columns"]}
    assert list(cols) == header
    for j, name in enumerate(header):
        vals = [r[j] for r in rows]
        present = [v for v in vals if v is not None]
        assert res["missing"][name] == n - len(present)
        assert cols[name]["missing"] == n - len(present)
        assert cols[name]["unique"] == len(set(present))
    assert cols["a"]["dtype"] == "float64" and cols["k"]["dtype"] == "int64"
    assert cols["t"]["dtype"] == "object"
    for j, name in enumerate(header[:3]):
        present = sorted(r[j] for r in rows if r[j] is not None)
        s = res["summary"][name]
        assert s["count"] == len(present)
        assert s["mean"] == pytest.approx(statistics.mean(present))
        assert s["std"] == pytest.approx(statistics.stdev(present))
        assert s["min"] == pytest.approx(present[0]) and s["max"] == pytest.approx(present[-1])
        assert s["50%"] == pytest.approx(statistics.median(present))
        assert set(s) == {"count", "mean", "std", "min", "25%", "50%", "75%", "max"}
    assert "t" not in res["summary"]
    col = {name: [r[j] for r in rows] for j, name in enumerate(header)}
    corr = res["correlations"]
    assert set(corr) == {"a", "b", "c", "k"}
    assert corr["a"]["b"] == pytest.approx(pearson(col["a"], col["b"]))
    assert corr["a"]["b"] < -0.9
    assert corr["b"]["c"] == pytest.approx(pearson(col["b"], col["c"]))
    assert corr["a"]["a"] == pytest.approx(1.0)
    assert corr["k"]["a"] is None and corr["k"]["k"] is None  # constant: undefined -> null
    counts = {}
    for v in col["t"]:
        if v is not None:
            counts[v] = counts.get(v, 0) + 1
    top = res["top_values"]["t"]
    assert top[0] == {"value": "red", "count": counts["red"]}
    assert {d["value"]: d["count"] for d in top} == counts
    assert set(res["top_values"]) == {"t"}


def test_analyze_csv_matches_independent_statistics(work):
    header, rows = make_analysis_data()
    write_csv(work / "in.csv", header, rows)
    rc, res, _ = process_file("analyze", "in.csv", {}, "out", work)
    assert rc == 0, res
    check_analysis(res, header, rows)


def test_analyze_tsv_and_empty_options(work):
    header, rows = make_analysis_data()
    write_csv(work / "in.tsv", header, rows, delimiter="\t")
    rc, res, _ = process_file("analyze", "in.tsv", "", "out", work)
    assert rc == 0, res
    check_analysis(res, header, rows)


def test_analyze_xlsx_first_sheet_or_named_sheet(work):
    import openpyxl

    header, rows = make_analysis_data()
    wb = openpyxl.Workbook()
    wb.active.title = "Other"
    wb.active.append(["only"])
    wb.active.append([1])
    ws = wb.create_sheet("Data")
    ws.append(header)
    for r in rows:
        ws.append(list(r))
    wb.save(work / "in.xlsx")
    rc, res, _ = process_file("analyze", "in.xlsx", {"sheet": "Data"}, "out", work)
    assert rc == 0, res
    check_analysis(res, header, rows)
    rc, res, _ = process_file("analyze", "in.xlsx", {}, "out", work)
    assert rc == 0 and res["shape"] == [1, 1]
    rc, res, _ = process_file("analyze", "in.xlsx", {"sheet": 5}, "out", work)
    assert rc == 1 and "out of range" in res["error"]


def test_analyze_json_records_and_columns(work):
    records = [{"name": "a", "price": 1.5, "qty": 2, "meta": {"tag": "x"}},
               {"name": "b", "price": 2.5, "qty": None, "meta": {"tag": "y"}},
               {"name": "a", "price": None, "qty": 6, "meta": {"tag": "x"}}]
    (work / "records.json").write_text(json.dumps(records))
    rc, res, _ = process_file("analyze", "records.json", {}, "out", work)
    assert rc == 0, res
    assert res["shape"] == [3, 4]
    assert [c["name"] for c in res["columns"]] == ["name", "price", "qty", "meta.tag"]
    assert res["missing"] == {"name": 0, "price": 1, "qty": 1, "meta.tag": 0}
    assert res["summary"]["price"]["mean"] == pytest.approx(2.0)
    assert res["summary"]["qty"]["mean"] == pytest.approx(4.0)
    assert res["correlations"]["price"]["qty"] is None  # only one complete pair
    assert res["top_values"]["name"][0] == {"value": "a", "count": 2}

    (work / "cols.json").write_text(json.dumps({"x": [1, 2, 3, 4], "y": [2, 4, 6, 9]}))
    rc, res, _ = process_file("analyze", "cols.json", {}, "out", work)
    assert rc == 0, res
    assert res["shape"] == [4, 2]
    assert res["correlations"]["x"]["y"] == pytest.approx(pearson([1, 2, 3, 4], [2, 4, 6, 9]))

    (work / "lines.json").write_text('{"v": 1}\n{"v": 3}\n')
    rc, res, _ = process_file("analyze", "lines.json", {}, "out", work)
    assert rc == 0 and res["summary"]["v"]["mean"] == 2

    (work / "bad.json").write_text("{not json")
    rc, res, _ = process_file("analyze", "bad.json", {}, "out", work)
    assert rc == 1 and "invalid JSON" in res["error"]


def test_analyze_text_file(work):
    text = "the quick brown fox\njumps over\n\nthe lazy dog\n"
    (work / "notes.txt").write_text(text)
    rc, res, _ = process_file("analyze", "notes.txt", {}, "out", work)
    assert rc == 0, res
    assert res["text"] == {"lines": 4, "words": len(text.split()), "chars": len(text)}
    assert res["shape"] == [4, 1]
    assert res["columns"][0]["name"] == "line"
    assert res["top_values"]["line"][0]["count"] == 1


def test_analyze_empty_csv(work):
    (work / "empty.csv").write_text("")
    rc, res, _ = process_file("analyze", "empty.csv", {}, "out", work)
    assert rc == 0, res
    assert res["shape"] == [0, 0] and res["correlations"] == {}


# --------------------------------------------------------------------------
# process-file: transform
# --------------------------------------------------------------------------

ORDERS_HEADER = ["order_id", "country", "status", "price", "qty", "note"]
ORDERS = [
    (1, "FR", "paid", 10.0, 2, "first"),
    (2, "DE", "paid", 5.5, 4, None),
    (3, "FR", "refunded", 20.0, 1, "oops"),
    (4, "IT", "paid", 7.25, 8, "bulk order"),
    (5, "FR", "paid", 3.0, 10, None),
    (5, "FR", "paid", 3.0, 10, None),  # exact duplicate
    (6, "DE", "pending", 12.0, 3, "Bulk"),
    (7, "DE", "paid", 1.0, 1, "x"),
]

PIPELINE = [
    {"dedupe": {}},
    {"filter": {"column": "status", "op": "in", "value": ["paid", "pending"]}},
    {"filter": {"column": "qty", "op": ">=", "value": 2}},
    {"derive": {"name": "total", "expr": "price * qty"}},
    {"rename": {"country": "cc"}},
    {"select": ["cc", "total", "qty"]},
    {"group": {"by": ["cc"], "agg": {"total": ["sum", "mean"], "qty": "max"}}},
    {"sort": {"by": "total_sum", "ascending": False}},
]


def expected_pipeline():
    rows = []
    for r in ORDERS:
        if r not in rows:
            rows.append(r)
    rows = [r for r in rows if r[2] in ("paid", "pending") and r[4] >= 2]
    groups = {}
    for r in rows:
        groups.setdefault(r[1], []).append((r[3] * r[4], r[4]))
    out = [(cc, sum(t for t, _ in v), sum(t for t, _ in v) / len(v), max(q for _, q in v))
           for cc, v in groups.items()]
    return sorted(out, key=lambda x: -x[1])


@pytest.mark.parametrize("fmt", ["csv", "json", "xlsx"])
def test_transform_pipeline_every_step(work, fmt):
    write_csv(work / "orders.csv", ORDERS_HEADER, ORDERS)
    rc, res, _ = process_file("transform", "orders.csv",
                              {"steps": PIPELINE, "output": fmt, "output_name": "agg"},
                              "out", work)
    assert rc == 0, res
    want = expected_pipeline()
    assert res["rows"] == len(want)
    assert res["columns"] == ["cc", "total_sum", "total_mean", "qty"]
    assert res["output_file"] == "agg." + fmt
    path = work / "out" / res["output_file"]
    if fmt == "csv":
        got = read_csv_rows(path)
        assert got[0] == res["columns"]
        got = [(r[0], float(r[1]), float(r[2]), int(r[3])) for r in got[1:]]
    elif fmt == "json":
        got = [(d["cc"], d["total_sum"], d["total_mean"], d["qty"])
               for d in strict_json(path.read_text())]
    else:
        import openpyxl

        wb = openpyxl.load_workbook(path)
        assert wb.sheetnames == ["data"]
        vals = list(wb["data"].iter_rows(values_only=True))
        assert list(vals[0]) == res["columns"]
        got = [tuple(v) for v in vals[1:]]
    assert [g[0] for g in got] == [w[0] for w in want]
    for g, w in zip(got, want):
        assert g[1:] == pytest.approx(w[1:])
    assert res["preview"][0]["cc"] == want[0][0]


def test_transform_each_filter_op_and_default_output(work):
    write_csv(work / "orders.csv", ORDERS_HEADER, ORDERS)
    cases = [
        ({"column": "price", "op": "==", "value": 3.0}, lambda r: r[3] == 3.0),
        ({"column": "country", "op": "!=", "value": "FR"}, lambda r: r[1] != "FR"),
        ({"column": "price", "op": ">", "value": "7.25"}, lambda r: r[3] > 7.25),
        ({"column": "price", "op": "<", "value": 5.5}, lambda r: r[3] < 5.5),
        ({"column": "price", "op": "<=", "value": 5.5}, lambda r: r[3] <= 5.5),
        ({"column": "note", "op": "contains", "value": "bulk"},
         lambda r: r[5] is not None and "bulk" in r[5]),
        ({"column": "note", "op": "contains", "value": "bulk", "case": False},
         lambda r: r[5] is not None and "bulk" in r[5].lower()),
        ({"column": "note", "op": "isnull"}, lambda r: r[5] is None),
        ({"column": "note", "op": "notnull"}, lambda r: r[5] is not None),
        ({"column": "order_id", "op": "in", "value": [1, 7, 99]}, lambda r: r[0] in (1, 7)),
    ]
    for flt, pred in cases:
        rc, res, _ = process_file("transform", "orders.csv", {"steps": [{"filter": flt}]},
                                  "out", work)
        assert rc == 0, (flt, res)
        assert res["output_file"] == "transformed.csv"
        got = [int(r[0]) for r in read_csv_rows(work / "out" / "transformed.csv")[1:]]
        assert got == [r[0] for r in ORDERS if pred(r)], flt


def test_transform_sort_dedupe_group_variants(work):
    write_csv(work / "orders.csv", ORDERS_HEADER, ORDERS)
    steps = [{"dedupe": {"subset": ["country"], "keep": "last"}},
             {"sort": {"by": ["country"], "ascending": [True]}}]
    rc, res, _ = process_file("transform", "orders.csv", {"steps": steps, "output": "json"},
                              "out", work)
    assert rc == 0, res
    got = strict_json((work / "out" / "transformed.json").read_text())
    last = {}
    for r in ORDERS:
        last[r[1]] = r[0]
    assert [(d["country"], d["order_id"]) for d in got] == sorted(last.items())
    assert got[0]["note"] is None or isinstance(got[0]["note"], str)  # NaN -> null

    steps = [{"group": {"by": "status"}}]  # no agg: row counts
    rc, res, _ = process_file("transform", "orders.csv", {"steps": steps, "output": "json"},
                              "out", work)
    assert rc == 0, res
    got = {d["status"]: d["count"] for d in strict_json((work / "out/transformed.json").read_text())}
    assert got == {"paid": 6, "pending": 1, "refunded": 1}

    steps = [{"group": {"by": ["country"], "agg": {"price": "median", "order_id": "nunique",
                                                  "note": "count", "qty": "min"}}}]
    rc, res, _ = process_file("transform", "orders.csv", {"steps": steps, "output": "json"},
                              "out", work)
    assert rc == 0, res
    got = {d["country"]: d for d in strict_json((work / "out/transformed.json").read_text())}
    fr = [r for r in ORDERS if r[1] == "FR"]
    assert got["FR"]["price"] == pytest.approx(statistics.median(r[3] for r in fr))
    assert got["FR"]["order_id"] == len({r[0] for r in fr})
    assert got["FR"]["note"] == sum(1 for r in fr if r[5] is not None)
    assert got["FR"]["qty"] == min(r[4] for r in fr)


def test_transform_derive_expressions(work):
    write_csv(work / "orders.csv", ORDERS_HEADER, ORDERS)
    steps = [{"derive": {"name": "big", "expr": "price * qty > 20 and status == 'paid'"}},
             {"derive": {"name": "root", "expr": "sqrt(qty) + abs(price - 10)"}},
             {"rename": {"note": "the note"}},
             {"derive": {"name": "has", "expr": "`the note` == 'x'"}}]
    rc, res, _ = process_file("transform", "orders.csv", {"steps": steps, "output": "json"},
                              "out", work)
    assert rc == 0, res
    got = strict_json((work / "out/transformed.json").read_text())
    for d, r in zip(got, ORDERS):
        assert d["big"] == (r[3] * r[4] > 20 and r[2] == "paid")
        assert d["root"] == pytest.approx(math.sqrt(r[4]) + abs(r[3] - 10))
        assert d["has"] == (r[5] == "x")


@pytest.mark.parametrize("steps,needle", [
    ([{"explode": "x"}], "unknown step 'explode'"),
    ([{"select": ["price", "nope"]}], "unknown column 'nope'"),
    ([{"filter": {"column": "nope", "op": "==", "value": 1}}], "unknown column 'nope'"),
    ([{"filter": {"column": "price", "op": "~", "value": 1}}], "unknown filter op"),
    ([{"filter": {"column": "price", "op": ">", "value": "abc"}}], "is not a number"),
    ([{"rename": {"nope": "x"}}], "unknown column 'nope'"),
    ([{"sort": {"by": "nope"}}], "unknown column 'nope'"),
    ([{"group": {"by": ["country"], "agg": {"price": "variance"}}}], "unknown aggregate"),
    ([{"group": {"by": ["nope"], "agg": {}}}], "unknown column 'nope'"),
    ([{"dedupe": {"subset": ["nope"]}}], "unknown column 'nope'"),
    ([{"derive": {"name": "x", "expr": "nope * 2"}}], "unknown column"),
    ([{"derive": {"name": "x", "expr": "price.to_csv('pwned.csv')"}}], "may only call"),
    ([{"derive": {"name": "x", "expr": "price.__class__"}}], "may not use"),
    ([{"derive": {"name": "x", "expr": "@os"}}], "may not use"),
    ([{"derive": {"name": "x", "expr": "__import__('os')"}}], "may not use"),
    ([{"derive": {"name": "x", "expr": "price[0]"}}], "may not contain Subscript"),
    ([{"derive": {"name": "x", "expr": "lambda: 1"}}], "may not contain Lambda"),
    ([{"derive": {"name": "x", "expr": "open('/etc/passwd')"}}], "may only call"),
    ([{"select": ["price"], "sort": {"by": "price"}}], "exactly one key"),
])
def test_transform_errors(work, steps, needle):
    write_csv(work / "orders.csv", ORDERS_HEADER, ORDERS)
    rc, res, _ = process_file("transform", "orders.csv", {"steps": steps}, "out", work)
    assert rc == 1, res
    assert needle in res["error"], res["error"]
    assert not (work / "pwned.csv").exists()
    assert not (work / "out" / "transformed.csv").exists()


def test_transform_bad_options_and_output_name(work):
    write_csv(work / "orders.csv", ORDERS_HEADER, ORDERS)
    rc, res, _ = process_file("transform", "orders.csv", {"output": "parquet"}, "out", work)
    assert rc == 1 and "options.output" in res["error"]
    rc, res, _ = process_file("transform", "orders.csv", "[1, 2]", "out", work)
    assert rc == 1 and "JSON object" in res["error"]
    rc, res, _ = process_file("transform", "orders.csv", "{bad", "out", work)
    assert rc == 1 and "not valid JSON" in res["error"]
    rc, res, _ = process_file("transform", "orders.csv",
                              {"steps": [], "output_name": "../../escape"}, "out", work)
    assert rc == 0 and res["output_file"] == "escape.csv"
    assert (work / "out" / "escape.csv").is_file()
    assert not (work / "escape.csv").exists() and not (work.parent / "escape.csv").exists()
    (work / "opts.json").write_text(json.dumps({"steps": [{"select": ["price"]}]}))
    rc, res, _ = process_file("transform", "orders.csv", "@opts.json", "out", work)
    assert rc == 0 and res["columns"] == ["price"]


# --------------------------------------------------------------------------
# process-file: parse_excel
# --------------------------------------------------------------------------

def test_parse_excel_multi_sheet_xlsx(work):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Sales 2024"
    ws.append(["region", "amount", "date", "ok", "ratio"])
    ws.append(["North", 10, dt.datetime(2024, 1, 31), True, 0.25])
    ws.append(["Süd", 2.5, dt.datetime(2024, 2, 1, 10, 30), False, None])
    ws.append([None, -3, None, None, 1e-3])
    ws2 = wb.create_sheet("Notes Q1")
    ws2.append(["id", None, "text"])
    for i in range(1, 26):
        ws2.append([i, None, "line %d" % i])
    wb.create_sheet("Empty")
    ws4 = wb.create_sheet("..")
    ws4.append(["x"])
    ws4.append([1])
    wb.save(work / "book.xlsx")

    rc, res, _ = process_file("parse_excel", "book.xlsx", {}, "out", work)
    assert rc == 0, res
    sheets = res["sheets"]
    assert [s["name"] for s in sheets] == ["Sales 2024", "Notes Q1", "Empty", ".."]
    s0 = sheets[0]
    assert s0["shape"] == [3, 5]
    assert s0["header"] == ["region", "amount", "date", "ok", "ratio"]
    assert s0["rows"] == [["North", 10, "2024-01-31T00:00:00", True, 0.25],
                          ["Süd", 2.5, "2024-02-01T10:30:00", False, None],
                          [None, -3, None, None, 0.001]]
    assert s0["csv_file"] == "Sales 2024.csv"
    csv0 = read_csv_rows(work / "out" / s0["csv_file"])
    assert csv0[0] == s0["header"] and csv0[1][:2] == ["North", "10"] and len(csv0) == 4
    s1 = sheets[1]
    assert s1["shape"] == [25, 3] and s1["header"] == ["id", "column_2", "text"]
    assert s1["rows"][24] == [25, None, "line 25"]
    assert len(read_csv_rows(work / "out" / s1["csv_file"])) == 26
    assert sheets[2] == {"name": "Empty", "shape": [0, 0], "header": [], "rows": [],
                         "csv_file": "Empty.csv"}
    assert sheets[3]["csv_file"] == "sheet4.csv"  # '..' is no file name
    assert sorted(os.listdir(work / "out")) == sorted(s["csv_file"] for s in sheets)

    rc, res, _ = process_file("parse_excel", "book.xlsx", {"max_rows": 5}, "out2", work)
    assert rc == 0
    assert len(res["sheets"][1]["rows"]) == 5 and res["sheets"][1]["truncated"] is True
    assert res["sheets"][1]["shape"] == [25, 3]
    assert len(read_csv_rows(work / "out2" / res["sheets"][1]["csv_file"])) == 26


def xls_source():
    """How this environment produces .xls files: xlwt when installed, else the
    test's own BIFF8 writer (tests/skills/xls_writer.py) - pandas and openpyxl
    cannot write .xls and there is no PyPI access to install xlwt."""
    probe = subprocess.run([PYTHON, "-c", "import xlwt"], capture_output=True)
    return "xlwt" if probe.returncode == 0 else "xls_writer"


XLS_SHEETS = [
    ("Sales", [["region", "amount", "when", "ok"],
               ["North", 10, dt.date(2024, 1, 31), True],
               ["Süd", 2.5, dt.datetime(2024, 2, 1, 10, 30), False],
               ["East", None, None, None]]),
    ("Notes", [["text"], ["hello"], ["world"]]),
    ("Empty", []),
]


def write_xls_any(path):
    if xls_source() == "xlwt":
        import xlwt

        book = xlwt.Workbook()
        date_style = xlwt.easyxf(num_format_str="YYYY-MM-DD")
        dt_style = xlwt.easyxf(num_format_str="YYYY-MM-DD HH:MM")
        for name, rows in XLS_SHEETS:
            sh = book.add_sheet(name)
            for r, row in enumerate(rows):
                for c, v in enumerate(row):
                    if isinstance(v, dt.datetime):
                        sh.write(r, c, v, dt_style)
                    elif isinstance(v, dt.date):
                        sh.write(r, c, dt.datetime(v.year, v.month, v.day), date_style)
                    elif v is not None:
                        sh.write(r, c, v)
        book.save(str(path))
    else:
        write_xls(path, XLS_SHEETS)


def test_xls_writer_output_is_read_by_xlrd(tmp_path):
    import xlrd

    write_xls(tmp_path / "w.xls", XLS_SHEETS)
    book = xlrd.open_workbook(str(tmp_path / "w.xls"))
    assert book.sheet_names() == ["Sales", "Notes", "Empty"]
    sh = book.sheet_by_name("Sales")
    assert sh.nrows == 4 and sh.cell_value(1, 0) == "North"
    assert sh.cell_type(1, 2) == xlrd.XL_CELL_DATE
    assert xlrd.xldate_as_datetime(sh.cell_value(1, 2), book.datemode) == dt.datetime(2024, 1, 31)


def test_parse_excel_xls(work):
    write_xls_any(work / "legacy.xls")
    assert (work / "legacy.xls").read_bytes()[:8] == b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"
    rc, res, _ = process_file("parse_excel", "legacy.xls", {}, "out", work)
    assert rc == 0, res
    sheets = res["sheets"]
    assert [s["name"] for s in sheets] == ["Sales", "Notes", "Empty"]
    assert sheets[0]["header"] == ["region", "amount", "when", "ok"]
    assert sheets[0]["shape"] == [3, 4]
    assert sheets[0]["rows"] == [["North", 10, "2024-01-31T00:00:00", True],
                                 ["Süd", 2.5, "2024-02-01T10:30:00", False],
                                 ["East", None, None, None]]
    assert sheets[1]["rows"] == [["hello"], ["world"]]
    assert sheets[2]["shape"] == [0, 0]
    assert read_csv_rows(work / "out" / "Sales.csv")[2] == ["Süd", "2.5", "2024-02-01T10:30:00",
                                                           "False"]
    # analyze and transform read .xls too
    rc, res, _ = process_file("analyze", "legacy.xls", {}, "out", work)
    assert rc == 0, res
    assert res["shape"] == [3, 4] and res["summary"]["amount"]["mean"] == pytest.approx(6.25)
    rc, res, _ = process_file("transform", "legacy.xls",
                              {"sheet": "Notes", "steps": [{"sort": {"by": "text",
                                                                     "ascending": False}}]},
                              "out", work)
    assert rc == 0 and res["preview"] == [{"text": "world"}, {"text": "hello"}]


def test_parse_excel_rejects_non_excel_and_corrupt(work):
    write_csv(work / "a.csv", ["x"], [(1,)])
    rc, res, _ = process_file("parse_excel", "a.csv", {}, "out", work)
    assert rc == 2 and "supported: xlsx, xls" in res["error"]
    (work / "fake.xlsx").write_bytes(b"this is not a zip")
    rc, res, _ = process_file("parse_excel", "fake.xlsx", {}, "out", work)
    assert rc == 1 and "Excel" in res["error"]


# --------------------------------------------------------------------------
# process-file: unsupported input and usage
# --------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["doc.pdf", "image.png", "archive.zip", "noext"])
def test_unsupported_type_exit_2(work, name):
    (work / name).write_bytes(b"%PDF-1.4 whatever")
    for op in ("analyze", "transform"):
        rc, res, _ = process_file(op, name, {}, "out", work)
        assert rc == 2, res
        assert res["error"].startswith("unsupported file type")
        assert res["error"].endswith("supported: csv, tsv, xlsx, xls, json, txt")


def test_usage_errors_are_json(work):
    p = run_py([PROCESS_FILE, "analyze"], work)
    assert p.returncode == 1 and "usage" in strict_json(p.stdout)["error"]
    rc, res, _ = process_file("explode", "x.csv", {}, "out", work)
    assert rc == 1 and "unknown operation" in res["error"]
    rc, res, _ = process_file("analyze", "missing.csv", {}, "out", work)
    assert rc == 1 and "not found" in res["error"]


def test_process_file_importable(work):
    code = (
        "import sys, json; sys.path.insert(0, %r)\n"
        "import pandas as pd\n"
        "from process_file import analyze, transform\n"
        "df = pd.DataFrame({'a': [1, 2, 2], 'b': ['x', 'y', 'y']})\n"
        "out = transform(df, [{'dedupe': {}}, {'derive': {'name': 'c', 'expr': 'a * 10'}}])\n"
        "print(json.dumps({'rows': len(out), 'c': out['c'].tolist(),\n"
        "                  'shape': analyze(df)['shape']}))\n" % str(SKILLS / "process-file"))
    p = run_code(code, work)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == {"rows": 2, "c": [10, 20], "shape": [3, 2]}
