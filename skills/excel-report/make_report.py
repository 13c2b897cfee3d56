#!/usr/bin/python3
"""Builds an Excel report (.xlsx) from a pandas DataFrame with openpyxl:
a "Data" sheet (the table, styled, filterable), a "Summary" sheet (totals
per category, or describe() of the numeric columns) and a native Excel
chart (BarChart or LineChart) on the Summary sheet.

As a module:
    import sys; sys.path.insert(0, "/skills/excel-report")
    from make_report import build_report
    build_report(df, "report.xlsx", title="Sales", category="region",
                 values=["revenue", "cost"], chart="bar")

Command line:
    python3 /skills/excel-report/make_report.py input.csv report.xlsx \
        [--category region] [--values revenue,cost] [--chart bar|line] [--title "Sales"]
"""

import argparse
import datetime as _dt
import math
import sys

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

HEADER_FILL = PatternFill("solid", fgColor="305496")
HEADER_FONT = Font(bold=True, color="FFFFFF")
TITLE_FONT = Font(bold=True, size=14)
MAX_CHART_ROWS = 50


def _cell(v):
    """A value openpyxl can store (NaN/NaT -> empty, numpy -> Python, tz dropped)."""
    try:
        if v is None or pd.isna(v):
            return None
    except (TypeError, ValueError):  # list-like values
        return str(v)
    if isinstance(v, (pd.Timestamp, np.datetime64)):
        v = pd.Timestamp(v).to_pydatetime()
    elif isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, _dt.datetime) and v.tzinfo is not None:
        v = v.replace(tzinfo=None)
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, (int, float, str, bool, _dt.date, _dt.time, _dt.datetime)):
        return v
    return str(v)


def _write_table(ws, df, start_row=1, number_format="#,##0.00"):
    """Writes df with a styled header at start_row; returns the last row."""
    for j, name in enumerate(df.columns, start=1):
        c = ws.cell(row=start_row, column=j, value=str(name))
        c.fill, c.font = HEADER_FILL, HEADER_FONT
        c.alignment = Alignment(horizontal="center")
    for i, row in enumerate(df.itertuples(index=False, name=None), start=start_row + 1):
        for j, v in enumerate(row, start=1):
            c = ws.cell(row=i, column=j, value=_cell(v))
            if isinstance(c.value, float):
                c.number_format = number_format
            elif isinstance(c.value, _dt.datetime):
                c.number_format = "yyyy-mm-dd hh:mm" if (
                    c.value.hour or c.value.minute) else "yyyy-mm-dd"
    for j, name in enumerate(df.columns, start=1):
        sample = [str(name)] + [str(v) for v in df.iloc[:200, j - 1].tolist()]
        width = min(max(len(s) for s in sample) + 2, 50)
        ws.column_dimensions[get_column_letter(j)].width = max(width, 8)
    return start_row + len(df)


def summary_frame(df, category=None, values=None, agg="sum"):
    """Totals of `values` per `category`, or describe() of the numeric columns."""
    numeric = [c for c in df.select_dtypes(include="number").columns
               if not pd.api.types.is_bool_dtype(df[c])]
    values = list(values or numeric)
    for c in values + ([category] if category else []):
        if c not in df.columns:
            raise KeyError("unknown column %r; columns are: %s" % (c, ", ".join(map(str, df.columns))))
    if category:
        out = df.groupby(category, dropna=False)[values].agg(agg).reset_index()
        out[category] = out[category].astype(str)
        return out
    if not values:
        return pd.DataFrame({"statistic": ["rows"], "value": [len(df)]})
    desc = df[values].describe().T.reset_index().rename(columns={"index": "column"})
    return desc


def build_report(df, path="report.xlsx", title="Report", category=None, values=None,
                 chart="bar", agg="sum"):
    """Writes the workbook and returns its path. chart: "bar", "line" or None."""
    if chart not in ("bar", "line", None):
        raise ValueError("chart must be 'bar', 'line' or None")
    wb = Workbook()
    data_ws = wb.active
    data_ws.title = "Data"
    last = _write_table(data_ws, df)
    data_ws.freeze_panes = "A2"
    if len(df.columns):
        data_ws.auto_filter.ref = "A1:%s%d" % (get_column_letter(len(df.columns)), max(last, 1))

    summary = summary_frame(df, category, values, agg)
    ws = wb.create_sheet("Summary")
    ws["A1"] = title
    ws["A1"].font = TITLE_FONT
    ws["A2"] = "%d rows, %d columns. %s" % (
        len(df), len(df.columns),
        ("%s of %s by %s." % (agg, ", ".join(map(str, summary.columns[1:])), category))
        if category else "Statistics of the numeric columns.")
    header_row = 4
    last = _write_table(ws, summary, start_row=header_row)

    if chart and len(summary) and len(summary.columns) >= 2:
        if category:
            series_cols = list(range(2, len(summary.columns) + 1))
            label_col = 1
        else:  # describe(): chart the mean of each column
            series_cols = [list(summary.columns).index("mean") + 1]
            label_col = 1
        rows = min(len(summary), MAX_CHART_ROWS)
        ch = BarChart() if chart == "bar" else LineChart()
        if chart == "bar":
            ch.type = "col"
        ch.title = title if category else "Mean of numeric columns"
        ch.y_axis.title = agg if category else "mean"
        ch.x_axis.title = category or "column"
        ch.height, ch.width = 8, 16
        for col in series_cols:
            ref = Reference(ws, min_col=col, min_row=header_row, max_row=header_row + rows)
            ch.add_data(ref, titles_from_data=True)
        ch.set_categories(Reference(ws, min_col=label_col, min_row=header_row + 1,
                                    max_row=header_row + rows))
        ws.add_chart(ch, "%s%d" % (get_column_letter(len(summary.columns) + 2), header_row))
    wb.move_sheet("Summary", offset=-1)  # Summary first, Data second
    wb.active = 0
    wb.save(path)
    return path


def main(argv=None):
    p = argparse.ArgumentParser(description="Excel report with a native chart from a CSV.")
    p.add_argument("input")
    p.add_argument("output", nargs="?", default="report.xlsx")
    p.add_argument("--category", default=None)
    p.add_argument("--values", default="", help="comma separated numeric columns")
    p.add_argument("--chart", default="bar", choices=["bar", "line", "none"])
    p.add_argument("--agg", default="sum", choices=["sum", "mean", "min", "max", "count", "median"])
    p.add_argument("--title", default="Report")
    args = p.parse_args(argv)
    df = pd.read_csv(args.input)
    values = [v for v in args.values.split(",") if v] or None
    try:
        build_report(df, args.output, title=args.title, category=args.category, values=values,
                     chart=None if args.chart == "none" else args.chart, agg=args.agg)
    except KeyError as e:
        p.error(str(e.args[0]))
    print("report saved: %s" % args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
