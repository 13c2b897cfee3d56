#!/usr/bin/python3
"""Chart helpers on matplotlib (Agg backend): each function saves a PNG and
returns its path.

As a module:
    import sys; sys.path.insert(0, "/skills/charts")
    from chart import bar_chart, line_chart, scatter_chart, histogram
    bar_chart(["a", "b"], [3, 5], "bar.png", title="Sales")

Command line (columns of a CSV):
    python3 /skills/charts/chart.py bar data.csv --x region --y sales --out bar.png
    python3 /skills/charts/chart.py line data.csv --x month --y sales,costs --out line.png
    python3 /skills/charts/chart.py scatter data.csv --x price --y units --out s.png
    python3 /skills/charts/chart.py hist data.csv --y price --bins 20 --out h.png
"""

import argparse
import os
import sys
from collections.abc import Mapping

os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

DEFAULT_SIZE = (8, 5)
DPI = 100
PALETTE = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3",
           "#8C8C8C", "#CCB974", "#64B5CD"]


def _finish(fig, ax, path, title, xlabel, ylabel, legend=False):
    if title:
        ax.set_title(title)
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if legend:
        ax.legend()
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def _series(ys):
    """ys: one sequence (list, array, Series), {label: values} or a DataFrame
    (one series per column); returns [(label, values)]."""
    if isinstance(ys, Mapping):
        return [(str(k), list(v)) for k, v in ys.items()]
    if hasattr(ys, "columns"):  # a DataFrame
        return [(str(c), list(ys[c])) for c in ys.columns]
    return [(None, list(ys))]


def bar_chart(categories, values, path="bar.png", title="", xlabel="", ylabel="",
              horizontal=False, size=DEFAULT_SIZE):
    """Bars for one series (values: list) or grouped bars (values: {label: list})."""
    cats = [str(c) for c in categories]
    series = _series(values)
    fig, ax = plt.subplots(figsize=size)
    x = np.arange(len(cats))
    width = 0.8 / len(series)
    for i, (label, vals) in enumerate(series):
        offset = (i - (len(series) - 1) / 2) * width
        draw = ax.barh if horizontal else ax.bar
        draw(x + offset, vals, width, label=label, color=PALETTE[i % len(PALETTE)])
    if horizontal:
        ax.set_yticks(x)
        ax.set_yticklabels(cats)
    else:
        ax.set_xticks(x)
        ax.set_xticklabels(cats, rotation=30 if max((len(c) for c in cats), default=0) > 6 else 0,
                           ha="right" if max((len(c) for c in cats), default=0) > 6 else "center")
    return _finish(fig, ax, path, title, xlabel, ylabel, legend=len(series) > 1)


def line_chart(x, ys, path="line.png", title="", xlabel="", ylabel="", markers=True,
               size=DEFAULT_SIZE):
    """One line (ys: list) or several (ys: {label: list}) over x."""
    series = _series(ys)
    fig, ax = plt.subplots(figsize=size)
    for i, (label, vals) in enumerate(series):
        ax.plot(list(x), vals, marker="o" if markers else None, label=label,
                color=PALETTE[i % len(PALETTE)])
    if _looks_like_dates(x):
        fig.autofmt_xdate()
    return _finish(fig, ax, path, title, xlabel, ylabel, legend=len(series) > 1)


def scatter_chart(x, y, path="scatter.png", title="", xlabel="", ylabel="", trend=False,
                  size=DEFAULT_SIZE):
    """Scatter of y against x; trend=True adds a least-squares line."""
    xs = np.asarray(list(x), dtype=float)
    ys = np.asarray(list(y), dtype=float)
    fig, ax = plt.subplots(figsize=size)
    ax.scatter(xs, ys, color=PALETTE[0], alpha=0.7)
    ok = np.isfinite(xs) & np.isfinite(ys)
    if trend and ok.sum() >= 2:
        slope, intercept = np.polyfit(xs[ok], ys[ok], 1)
        grid = np.linspace(xs[ok].min(), xs[ok].max(), 50)
        ax.plot(grid, slope * grid + intercept, color=PALETTE[3],
                label="y = %.3g x + %.3g" % (slope, intercept))
        ax.legend()
    return _finish(fig, ax, path, title, xlabel, ylabel)


def histogram(values, path="hist.png", bins=20, title="", xlabel="", ylabel="count",
              size=DEFAULT_SIZE):
    """Histogram of the finite values."""
    data = np.asarray(list(values), dtype=float)
    data = data[np.isfinite(data)]
    fig, ax = plt.subplots(figsize=size)
    ax.hist(data, bins=bins, color=PALETTE[0], edgecolor="white")
    return _finish(fig, ax, path, title, xlabel, ylabel)


def _looks_like_dates(x):
    try:
        first = next(iter(x))
    except (StopIteration, TypeError):
        return False
    return hasattr(first, "year") and hasattr(first, "month")


def main(argv=None):
    p = argparse.ArgumentParser(description="Draw a chart from CSV columns.")
    p.add_argument("kind", choices=["bar", "line", "scatter", "hist"])
    p.add_argument("csv")
    p.add_argument("--x", help="x / category column")
    p.add_argument("--y", required=True, help="value column(s), comma separated")
    p.add_argument("--out", default="")
    p.add_argument("--title", default="")
    p.add_argument("--bins", type=int, default=20)
    args = p.parse_args(argv)

    import pandas as pd

    df = pd.read_csv(args.csv)
    ycols = [c for c in args.y.split(",") if c]
    for c in ycols + ([args.x] if args.x else []):
        if c not in df.columns:
            p.error("unknown column %r; columns are: %s" % (c, ", ".join(df.columns)))
    out = args.out or "%s.png" % args.kind
    if args.kind == "hist":
        histogram(df[ycols[0]], out, bins=args.bins, title=args.title, xlabel=ycols[0])
    else:
        if not args.x:
            p.error("--x is required for %s" % args.kind)
        if args.kind == "bar":
            ys = df[ycols[0]] if len(ycols) == 1 else {c: df[c] for c in ycols}
            bar_chart(df[args.x], ys, out, title=args.title, xlabel=args.x,
                      ylabel=ycols[0] if len(ycols) == 1 else "")
        elif args.kind == "line":
            ys = df[ycols[0]] if len(ycols) == 1 else {c: df[c] for c in ycols}
            line_chart(df[args.x], ys, out, title=args.title, xlabel=args.x,
                       ylabel=ycols[0] if len(ycols) == 1 else "")
        else:
            scatter_chart(df[args.x], df[ycols[0]], out, title=args.title, xlabel=args.x,
                          ylabel=ycols[0], trend=True)
    print("chart saved: %s" % out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
