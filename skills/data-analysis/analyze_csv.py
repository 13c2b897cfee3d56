#!/usr/bin/python3
"""Quick exploratory analysis of a CSV file.

Command line:
    python3 /skills/data-analysis/analyze_csv.py input.csv [--chart overview.png]
        [--sep ","] [--json summary.json]

Prints shape, column types, describe(), missing values, correlations and top
values of text columns, then saves an overview chart (histograms of numeric
columns, or bar charts of the most common values when there are none).

As a module:
    import sys; sys.path.insert(0, "/skills/data-analysis")
    from analyze_csv import load_csv, summarize, print_report, save_overview_chart
"""

import argparse
import json
import math
import os
import sys

os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

MAX_CHART_COLUMNS = 12


def load_csv(path, sep=","):
    """Reads a CSV (UTF-8 with or without BOM, falling back to Latin-1)."""
    try:
        return pd.read_csv(path, sep=sep, encoding="utf-8-sig")
    except UnicodeDecodeError:
        return pd.read_csv(path, sep=sep, encoding="latin-1")


def _num(v):
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    return f if math.isfinite(f) else None


def numeric_columns(df):
    return [c for c in df.select_dtypes(include="number").columns
            if not pd.api.types.is_bool_dtype(df[c])]


def summarize(df, top=5):
    """Returns a JSON-safe dict with the same figures print_report shows."""
    num = numeric_columns(df)
    desc = df[num].describe() if num else pd.DataFrame()
    corr = df[num].astype("float64").corr() if num else pd.DataFrame()
    text_cols = [c for c in df.columns if c not in num and not pd.api.types.is_bool_dtype(df[c])
                 and not pd.api.types.is_datetime64_any_dtype(df[c])]
    return {
        "rows": int(df.shape[0]),
        "columns": int(df.shape[1]),
        "dtypes": {str(c): str(t) for c, t in df.dtypes.items()},
        "describe": {str(c): {str(k): _num(v) for k, v in desc[c].items()} for c in desc.columns},
        "missing": {str(c): int(n) for c, n in df.isna().sum().items()},
        "correlations": {str(a): {str(b): _num(corr.loc[a, b]) for b in corr.columns}
                         for a in corr.index},
        "top_values": {str(c): [[str(v), int(n)] for v, n in
                                df[c].dropna().astype(str).value_counts().head(top).items()]
                       for c in text_cols},
    }


def print_report(df, out=sys.stdout):
    pd.set_option("display.width", 120)
    pd.set_option("display.max_columns", 50)
    num = numeric_columns(df)

    def section(title):
        print("\n== %s ==" % title, file=out)

    section("Shape")
    print("rows: %d, columns: %d" % df.shape, file=out)
    section("Column types")
    print(df.dtypes.to_string(), file=out)
    section("Summary statistics (numeric columns)")
    print(df[num].describe().to_string() if num else "(no numeric columns)", file=out)
    section("Missing values")
    missing = df.isna().sum()
    print(missing.to_string() if len(missing) else "(no columns)", file=out)
    print("total missing: %d" % int(missing.sum()), file=out)
    section("Correlations (pearson)")
    if len(num) >= 2:
        print(df[num].corr().round(4).to_string(), file=out)
    else:
        print("(need at least two numeric columns)", file=out)
    section("Top values (text columns)")
    text_cols = [c for c in df.columns if c not in num]
    for c in text_cols:
        counts = df[c].dropna().astype(str).value_counts().head(5)
        print("%s: %s" % (c, ", ".join("%s (%d)" % (v, n) for v, n in counts.items())), file=out)
    if not text_cols:
        print("(no text columns)", file=out)


def save_overview_chart(df, path="overview.png"):
    """Histograms of numeric columns (or top-value bars of text columns)."""
    num = numeric_columns(df)[:MAX_CHART_COLUMNS]
    cols = num or [c for c in df.columns][:MAX_CHART_COLUMNS]
    n = max(len(cols), 1)
    ncols = min(n, 3)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.5 * ncols, 3.2 * nrows), squeeze=False)
    for ax, c in zip(axes.flat, cols):
        if num:
            data = df[c].dropna()
            ax.hist(data, bins=min(30, max(5, int(np.sqrt(max(len(data), 1))))),
                    color="#4C72B0", edgecolor="white")
            ax.set_ylabel("count")
        else:
            counts = df[c].dropna().astype(str).value_counts().head(10)
            ax.barh(counts.index[::-1], counts.values[::-1], color="#55A868")
        ax.set_title(str(c))
    for ax in list(axes.flat)[len(cols):]:
        ax.axis("off")
    if not cols:
        axes.flat[0].text(0.5, 0.5, "no data", ha="center", va="center")
    fig.suptitle("Overview (%d rows)" % len(df))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv=None):
    p = argparse.ArgumentParser(description="Exploratory analysis of a CSV file.")
    p.add_argument("input")
    p.add_argument("--sep", default=",")
    p.add_argument("--chart", default="overview.png", help="PNG to write ('' for none)")
    p.add_argument("--json", default="", help="also write the summary as JSON here")
    args = p.parse_args(argv)
    df = load_csv(args.input, args.sep)
    print_report(df)
    if args.chart:
        save_overview_chart(df, args.chart)
        print("\nchart saved: %s" % args.chart)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(summarize(df), f, indent=1, allow_nan=False)
        print("summary saved: %s" % args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
