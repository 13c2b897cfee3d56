#!/usr/bin/python3
"""PDF reports with reportlab: a title, paragraphs, a table from a pandas
DataFrame and an embedded matplotlib chart (PNG).

As a module:
    import sys; sys.path.insert(0, "/skills/pdf-report")
    from make_pdf import build_pdf, chart_png
    png = chart_png(df, x="month", y="sales", path="sales.png")
    build_pdf("report.pdf", "Monthly sales", ["Sales grew 12%."], table=df, image=png)

Command line (a CSV in, a PDF out):
    python3 /skills/pdf-report/make_pdf.py input.csv report.pdf --title "Sales" \
        [--x month --y sales] [--text "Intro paragraph"]
"""

import argparse
import math
import os
import sys
from xml.sax.saxutils import escape

os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from reportlab.lib import colors  # noqa: E402
from reportlab.lib.pagesizes import A4  # noqa: E402
from reportlab.lib.styles import getSampleStyleSheet  # noqa: E402
from reportlab.lib.units import cm  # noqa: E402
from reportlab.platypus import (Image, Paragraph, SimpleDocTemplate, Spacer, Table,  # noqa: E402
                                TableStyle)

MAX_TABLE_ROWS = 40
MAX_TABLE_COLUMNS = 8
MAX_CELL_CHARS = 40


def _fmt(v):
    if v is None:
        return ""
    try:
        if pd.isna(v):
            return ""
    except (TypeError, ValueError):
        pass
    if isinstance(v, float):
        if not math.isfinite(v):
            return ""
        return ("%.4g" % v) if abs(v) < 1e6 else ("%.3e" % v)
    s = str(v)
    return s if len(s) <= MAX_CELL_CHARS else s[:MAX_CELL_CHARS - 1] + "…"


def df_table(df, max_rows=MAX_TABLE_ROWS, max_cols=MAX_TABLE_COLUMNS, width=None):
    """A styled reportlab Table of the first rows/columns of df."""
    shown = df.iloc[:max_rows, :max_cols]
    styles = getSampleStyleSheet()
    cell_style = styles["BodyText"].clone("cell", fontSize=8, leading=10)
    head_style = cell_style.clone("head", textColor=colors.white, fontName="Helvetica-Bold")
    data = [[Paragraph(escape(_fmt(c)), head_style) for c in shown.columns]]
    for row in shown.itertuples(index=False, name=None):
        data.append([Paragraph(escape(_fmt(v)), cell_style) for v in row])
    col_widths = None
    if width and len(shown.columns):
        col_widths = [width / len(shown.columns)] * len(shown.columns)
    t = Table(data, colWidths=col_widths, repeatRows=1)
    t.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#305496")),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#B0B0B0")),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#EEF2F8")]),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]))
    return t


def chart_png(df, x=None, y=None, path="chart.png", kind="bar", title=""):
    """Draws y against x (or the numeric columns' means) with matplotlib; returns path."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    if x and y:
        if kind == "line":
            ax.plot(df[x].astype(str), df[y], marker="o", color="#4C72B0")
        else:
            ax.bar(df[x].astype(str), df[y], color="#4C72B0")
        ax.set_xlabel(str(x))
        ax.set_ylabel(str(y))
    else:
        num = df.select_dtypes(include="number")
        means = num.mean() if num.shape[1] else pd.Series({"rows": len(df)})
        ax.bar([str(c) for c in means.index], means.values, color="#4C72B0")
        ax.set_ylabel("mean")
    ax.set_title(title)
    ax.grid(True, axis="y", alpha=0.3)
    if x and len(df) > 8:
        plt.setp(ax.get_xticklabels(), rotation=45, ha="right")
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path


def build_pdf(path, title, paragraphs=(), table=None, image=None, author="Kiln",
              table_title="Data", image_width_cm=16):
    """Writes the PDF and returns its path. paragraphs are plain text (escaped);
    table is a DataFrame; image is a PNG path."""
    styles = getSampleStyleSheet()
    doc = SimpleDocTemplate(path, pagesize=A4, title=title, author=author,
                            leftMargin=2 * cm, rightMargin=2 * cm,
                            topMargin=2 * cm, bottomMargin=2 * cm)
    story = [Paragraph(escape(title), styles["Title"]), Spacer(1, 0.3 * cm)]
    for text in paragraphs:
        story += [Paragraph(escape(str(text)), styles["BodyText"]), Spacer(1, 0.2 * cm)]
    if image:
        from reportlab.lib.utils import ImageReader

        iw, ih = ImageReader(image).getSize()
        w = image_width_cm * cm
        story += [Spacer(1, 0.3 * cm), Image(image, width=w, height=w * ih / iw),
                  Spacer(1, 0.3 * cm)]
    if table is not None:
        story.append(Paragraph(escape(table_title), styles["Heading2"]))
        story.append(df_table(table, width=doc.width))
        if len(table) > MAX_TABLE_ROWS or len(table.columns) > MAX_TABLE_COLUMNS:
            story.append(Paragraph(
                "Showing %d of %d rows and %d of %d columns." % (
                    min(len(table), MAX_TABLE_ROWS), len(table),
                    min(len(table.columns), MAX_TABLE_COLUMNS), len(table.columns)),
                styles["Italic"]))

    def footer(canvas, doc_):
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.drawRightString(A4[0] - 2 * cm, 1.2 * cm, "Page %d" % doc_.page)
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return path


def main(argv=None):
    p = argparse.ArgumentParser(description="PDF report from a CSV file.")
    p.add_argument("input")
    p.add_argument("output", nargs="?", default="report.pdf")
    p.add_argument("--title", default="Report")
    p.add_argument("--text", action="append", default=[], help="a paragraph (repeatable)")
    p.add_argument("--x", default=None)
    p.add_argument("--y", default=None)
    p.add_argument("--chart", default="chart.png", help="where to save the chart PNG")
    args = p.parse_args(argv)
    df = pd.read_csv(args.input)
    for c in (args.x, args.y):
        if c and c not in df.columns:
            p.error("unknown column %r; columns are: %s" % (c, ", ".join(df.columns)))
    paragraphs = args.text or ["%d rows and %d columns from %s." % (
        len(df), len(df.columns), os.path.basename(args.input))]
    png = chart_png(df, args.x, args.y, args.chart, title=args.title)
    build_pdf(args.output, args.title, paragraphs, table=df, image=png)
    print("report saved: %s (chart: %s)" % (args.output, png))
    return 0


if __name__ == "__main__":
    sys.exit(main())
