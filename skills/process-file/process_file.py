#!/usr/bin/python3
"""Built-in file operations behind Kiln's processFile action.

Usage:
    python3 /skills/process-file/process_file.py <operation> <input_path> <options_json> <output_dir>

operation    analyze | transform | parse_excel
input_path   the input file (.csv .tsv .xlsx .xls .json .txt)
options_json a JSON object ("" or "{}" for none); "@file.json" reads it from a file
output_dir   where output files are written (created if missing)

Prints exactly ONE JSON object on stdout: the result, or {"error": "..."}.
Exit codes: 0 ok; 1 bad request (bad options, unknown step or column, input
that cannot be parsed); 2 unsupported file type; 3 internal error.

Importable as well: load_frame(), analyze(), transform(), parse_excel(),
jsonable() work on pandas objects directly.
"""

import ast
import csv
import datetime as _dt
import decimal
import json
import math
import os
import re
import sys

os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

SUPPORTED = ("csv", "tsv", "xlsx", "xls", "json", "txt")
EXCEL = ("xlsx", "xls")
OPERATIONS = ("analyze", "transform", "parse_excel")
OUTPUT_FORMATS = ("csv", "json", "xlsx")
AGG_FUNCS = ("sum", "mean", "min", "max", "count", "median", "nunique")
FILTER_OPS = ("==", "!=", ">", ">=", "<", "<=", "contains", "in", "notnull", "isnull")
TOP_VALUES = 5
PREVIEW_ROWS = 10

EXIT_OK, EXIT_BAD_REQUEST, EXIT_UNSUPPORTED, EXIT_INTERNAL = 0, 1, 2, 3


class OperationError(Exception):
    """A problem with the request or the input; reported as {"error": ...}."""

    def __init__(self, message, exit_code=EXIT_BAD_REQUEST):
        super().__init__(message)
        self.exit_code = exit_code


# --------------------------------------------------------------------------
# JSON safety
# --------------------------------------------------------------------------

def jsonable(v):
    """Converts numpy/pandas/datetime values to plain JSON values (NaN -> None)."""
    if v is None:
        return None
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set)):
        return [jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return [jsonable(x) for x in v.tolist()]
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return f if math.isfinite(f) else None
    if isinstance(v, decimal.Decimal):
        f = float(v)
        return f if math.isfinite(f) else None
    if isinstance(v, str):
        return v
    if v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    if isinstance(v, (_dt.datetime, _dt.date, _dt.time)):
        return v.isoformat()
    if isinstance(v, (pd.Timedelta, _dt.timedelta)):
        return str(v)
    if isinstance(v, np.datetime64):
        return jsonable(pd.Timestamp(v)) if not np.isnat(v) else None
    if isinstance(v, bytes):
        return v.decode("utf-8", errors="replace")
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return str(v)


def frame_rows(df):
    """All rows of df as lists of JSON-safe values."""
    return [[jsonable(x) for x in row] for row in df.itertuples(index=False, name=None)]


def frame_records(df):
    cols = [str(c) for c in df.columns]
    return [dict(zip(cols, row)) for row in frame_rows(df)]


# --------------------------------------------------------------------------
# Loading inputs
# --------------------------------------------------------------------------

def file_kind(path):
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext not in SUPPORTED:
        shown = ("." + ext) if ext else "(no extension)"
        raise OperationError(
            "unsupported file type %s; supported: %s" % (shown, ", ".join(SUPPORTED)),
            EXIT_UNSUPPORTED)
    return ext


def _read_csv(path, sep, options):
    kwargs = {"sep": options.get("sep", options.get("delimiter", sep))}
    encoding = options.get("encoding")
    try:
        return pd.read_csv(path, encoding=encoding or "utf-8-sig", **kwargs)
    except UnicodeDecodeError:
        if encoding:
            raise
        return pd.read_csv(path, encoding="latin-1", **kwargs)


def _frame_from_json(data):
    if isinstance(data, list):
        if not data:
            return pd.DataFrame()
        if all(isinstance(x, dict) for x in data):
            return pd.json_normalize(data)
        if all(isinstance(x, list) for x in data):
            return pd.DataFrame(data)
        if all(not isinstance(x, (dict, list)) for x in data):
            return pd.DataFrame({"value": data})
        raise OperationError("JSON array mixes objects, arrays and scalars")
    if isinstance(data, dict):
        if data and all(isinstance(v, list) for v in data.values()):
            lengths = {len(v) for v in data.values()}
            if len(lengths) != 1:
                raise OperationError("JSON object of columns has columns of different lengths")
            return pd.DataFrame(data)
        # {"data": [records]}: a single list of records under one key
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) == 1 and lists[0] and all(isinstance(x, dict) for x in lists[0]):
            return pd.json_normalize(lists[0])
        if all(not isinstance(v, (dict, list)) for v in data.values()):
            return pd.DataFrame([data])
        return pd.json_normalize(data)
    raise OperationError("JSON input must be an array of records or an object of columns")


def _read_json(path):
    with open(path, "rb") as f:
        raw = f.read()
    text = raw.decode("utf-8-sig", errors="replace")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        # JSON Lines: one object per line
        lines = [ln for ln in text.splitlines() if ln.strip()]
        try:
            data = [json.loads(ln) for ln in lines]
        except json.JSONDecodeError:
            raise OperationError("invalid JSON: %s" % e) from None
        if not lines:
            raise OperationError("invalid JSON: empty file") from None
    return _frame_from_json(data)


def read_text(path):
    with open(path, "rb") as f:
        raw = f.read()
    text = raw.decode("utf-8-sig", errors="replace")
    lines = text.splitlines()
    stats = {"lines": len(lines), "words": len(text.split()), "chars": len(text)}
    return pd.DataFrame({"line": pd.Series(lines, dtype="object")}), stats


def load_frame(path, options=None):
    """Reads a supported file into a DataFrame. Returns (df, kind, extra)
    where extra holds text statistics for .txt inputs."""
    options = options or {}
    kind = file_kind(path)
    if not os.path.isfile(path):
        raise OperationError("input file not found: %s" % path)
    extra = {}
    try:
        if kind == "csv":
            df = _read_csv(path, ",", options)
        elif kind == "tsv":
            df = _read_csv(path, "\t", options)
        elif kind in EXCEL:
            df = excel_frame(path, options.get("sheet", 0))
        elif kind == "json":
            df = _read_json(path)
        else:
            df, extra["text"] = read_text(path)
    except OperationError:
        raise
    except pd.errors.EmptyDataError:
        df = pd.DataFrame()
    except (ValueError, KeyError, IndexError, UnicodeDecodeError, pd.errors.ParserError) as e:
        raise OperationError("cannot read %s file: %s" % (kind, e)) from None
    except Exception as e:  # xlrd/openpyxl/zipfile errors for corrupt workbooks
        raise OperationError("cannot read %s file: %s: %s" % (kind, type(e).__name__, e)) from None
    df.columns = [str(c) for c in df.columns]
    return df, kind, extra


# --------------------------------------------------------------------------
# Excel workbooks (cell by cell: openpyxl for .xlsx, xlrd for .xls)
# --------------------------------------------------------------------------
# pandas 1.5 refuses Debian's xlrd 1.2 for .xls, so both formats are read
# with their libraries' public APIs and turned into frames here. The format
# is sniffed from the file's first bytes, so a misnamed workbook still opens.

def _excel_format(path):
    with open(path, "rb") as f:
        magic = f.read(8)
    if magic.startswith(b"PK\x03\x04"):
        return "xlsx"
    if magic == b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1":
        return "xls"
    raise OperationError("not an Excel workbook (neither .xlsx nor .xls content)")


def _trim(rows):
    """Drops trailing empty rows and trailing all-empty columns."""
    while rows and all(v is None or v == "" for v in rows[-1]):
        rows.pop()
    width = 0
    for row in rows:
        for i in range(len(row) - 1, -1, -1):
            if row[i] is not None and row[i] != "":
                width = max(width, i + 1)
                break
    return [list(row[:width]) + [None] * (width - len(row)) for row in rows]


def _xlsx_value(v):
    if isinstance(v, float) and v.is_integer() and abs(v) < 2 ** 53:
        return int(v)
    return v


def _read_xlsx(path):
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheets = []
        for ws in wb.worksheets:
            rows = [[_xlsx_value(v) for v in row] for row in ws.iter_rows(values_only=True)]
            sheets.append((ws.title, _trim(rows)))
        return sheets
    finally:
        wb.close()


def _read_xls(path):
    import xlrd

    book = xlrd.open_workbook(path, on_demand=True)
    try:
        sheets = []
        for index in range(book.nsheets):
            sh = book.sheet_by_index(index)
            rows = []
            for r in range(sh.nrows):
                row = []
                for cell in sh.row(r):
                    t, v = cell.ctype, cell.value
                    if t in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
                        v = None
                    elif t == xlrd.XL_CELL_NUMBER:
                        v = int(v) if float(v).is_integer() and abs(v) < 2 ** 53 else float(v)
                    elif t == xlrd.XL_CELL_DATE:
                        try:
                            v = xlrd.xldate.xldate_as_datetime(v, book.datemode)
                            if v.year == 1899 and v.month == 12 and v.day in (30, 31):
                                v = v.time()  # a time-of-day cell
                        except (ValueError, OverflowError, xlrd.xldate.XLDateError):
                            v = float(v)
                    elif t == xlrd.XL_CELL_BOOLEAN:
                        v = bool(v)
                    elif t == xlrd.XL_CELL_ERROR:
                        v = xlrd.error_text_from_code.get(v, "#ERROR")
                    row.append(v)
                rows.append(row)
            sheets.append((sh.name, _trim(rows)))
            book.unload_sheet(index)
        return sheets
    finally:
        book.release_resources()


def read_workbook(path):
    """[(sheet_name, rows)] with rows as lists of Python values (None = empty)."""
    try:
        if _excel_format(path) == "xlsx":
            return _read_xlsx(path)
        return _read_xls(path)
    except OperationError:
        raise
    except Exception as e:  # corrupt zip/OLE, encrypted workbook, ...
        raise OperationError("cannot read Excel file: %s: %s" % (type(e).__name__, e)) from None


def header_names(first_row):
    return [("column_%d" % (i + 1)) if v is None or v == "" else str(jsonable(v))
            for i, v in enumerate(first_row)]


def rows_frame(rows):
    """A DataFrame from rows whose first row is the header."""
    if not rows:
        return pd.DataFrame()
    header = header_names(rows[0])
    seen = {}
    for i, h in enumerate(header):  # pandas-style de-duplication: a, a.1, a.2
        if h in seen:
            seen[h] += 1
            header[i] = "%s.%d" % (h, seen[h])
        else:
            seen[h] = 0
    return pd.DataFrame(rows[1:], columns=header).infer_objects()


def excel_frame(path, sheet=0):
    sheets = read_workbook(path)
    names = [n for n, _ in sheets]
    if isinstance(sheet, bool) or not isinstance(sheet, (int, str)):
        raise OperationError("options.sheet must be a sheet name or a 0-based index")
    if isinstance(sheet, int):
        if not 0 <= sheet < len(sheets):
            raise OperationError("sheet index %d out of range; the workbook has %d sheet(s): %s"
                                 % (sheet, len(sheets), ", ".join(names)))
        return rows_frame(sheets[sheet][1])
    if sheet not in names:
        raise OperationError("no sheet named %r; sheets are: %s" % (sheet, ", ".join(names)))
    return rows_frame(sheets[names.index(sheet)][1])


# --------------------------------------------------------------------------
# analyze
# --------------------------------------------------------------------------

def _is_text(series):
    return (pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)
            or isinstance(series.dtype, pd.CategoricalDtype))


def analyze(df, extra=None):
    numeric = df.select_dtypes(include="number")
    numeric = numeric.loc[:, [c for c in numeric.columns if not pd.api.types.is_bool_dtype(df[c])]]
    columns = []
    for c in df.columns:
        s = df[c]
        columns.append({
            "name": str(c),
            "dtype": str(s.dtype),
            "missing": int(s.isna().sum()),
            "unique": int(s.nunique(dropna=True)),
        })
    summary = {}
    if numeric.shape[1]:
        desc = numeric.describe()
        for c in desc.columns:
            summary[str(c)] = {str(k): jsonable(v) for k, v in desc[c].items()}
    correlations = {}
    if numeric.shape[1]:
        corr = numeric.astype("float64").corr(method="pearson")
        correlations = {str(a): {str(b): jsonable(corr.loc[a, b]) for b in corr.columns}
                        for a in corr.index}
    top_values = {}
    for c in df.columns:
        s = df[c]
        if not _is_text(s):
            continue
        counts = s.dropna().astype(str).value_counts().head(TOP_VALUES)
        top_values[str(c)] = [{"value": str(v), "count": int(n)} for v, n in counts.items()]
    result = {
        "shape": [int(df.shape[0]), int(df.shape[1])],
        "columns": columns,
        "summary": summary,
        "missing": {str(c): int(df[c].isna().sum()) for c in df.columns},
        "correlations": correlations,
        "top_values": top_values,
    }
    if extra:
        result.update(extra)
    return result


# --------------------------------------------------------------------------
# transform
# --------------------------------------------------------------------------

# Functions pandas.eval evaluates itself (no Python call happens).
_EVAL_FUNCS = {"sin", "cos", "tan", "exp", "log", "expm1", "log1p", "sqrt", "sinh", "cosh",
               "tanh", "arcsin", "arccos", "arctan", "arccosh", "arcsinh", "arctanh", "abs",
               "arctan2", "log10", "floor", "ceil"}
_EVAL_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.Name,
               ast.Load, ast.Constant, ast.List, ast.Tuple, ast.operator, ast.unaryop,
               ast.boolop, ast.cmpop, ast.Call)


def check_expr(expr):
    """Whitelists a derive expression: arithmetic, comparisons, boolean logic,
    column names (plain or `back quoted`), literals and pandas.eval's math
    functions. No attributes, subscripts, keywords, lambdas or '@' locals:
    DataFrame.eval would otherwise call methods such as col.to_csv(...)."""
    if not isinstance(expr, str) or not expr.strip():
        raise OperationError("derive.expr must be a non-empty string")
    if len(expr) > 2000:
        raise OperationError("derive.expr is too long (max 2000 characters)")
    if "@" in expr or "__" in expr:
        raise OperationError("derive.expr may not use '@' or '__'")
    # `col name` -> placeholder identifiers for the syntax check
    stripped = re.sub(r"`[^`]*`", "_col", expr)
    if "`" in stripped:
        raise OperationError("derive.expr has an unclosed back quote")
    try:
        tree = ast.parse(stripped.strip(), mode="eval")
    except SyntaxError as e:
        raise OperationError("derive.expr is not a valid expression: %s" % e.msg) from None
    for node in ast.walk(tree):
        if not isinstance(node, _EVAL_NODES):
            raise OperationError("derive.expr may not contain %s" % type(node).__name__)
        if isinstance(node, ast.Call):
            if (not isinstance(node.func, ast.Name) or node.func.id not in _EVAL_FUNCS
                    or node.keywords):
                raise OperationError(
                    "derive.expr may only call: %s" % ", ".join(sorted(_EVAL_FUNCS)))
        if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float, str, bool)):
            raise OperationError("derive.expr has an unsupported literal")


def _need_columns(df, cols, where):
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise OperationError("unknown column%s %s in %s; columns are: %s" % (
            "s" if len(missing) > 1 else "", ", ".join(repr(c) for c in missing), where,
            ", ".join(repr(str(c)) for c in df.columns)))


def _as_list(v, where):
    if isinstance(v, str):
        return [v]
    if isinstance(v, list) and v and all(isinstance(x, str) for x in v):
        return v
    raise OperationError("%s must be a column name or a non-empty list of column names" % where)


def _coerce_value(series, value):
    if isinstance(value, str):
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            try:
                return float(value)
            except ValueError:
                raise OperationError(
                    "filter value %r is not a number but column %r is numeric"
                    % (value, series.name)) from None
        if pd.api.types.is_datetime64_any_dtype(series):
            try:
                return pd.Timestamp(value)
            except ValueError:
                raise OperationError("filter value %r is not a date" % value) from None
    return value


def _step_select(df, arg):
    cols = _as_list(arg, "select")
    _need_columns(df, cols, "select")
    return df.loc[:, cols]


def _step_filter(df, arg):
    if not isinstance(arg, dict) or "column" not in arg or "op" not in arg:
        raise OperationError('filter needs {"column", "op", "value"}')
    col, op = arg["column"], arg["op"]
    _need_columns(df, [col], "filter")
    if op not in FILTER_OPS:
        raise OperationError("unknown filter op %r; ops are: %s" % (op, " ".join(FILTER_OPS)))
    s = df[col]
    if op == "notnull":
        return df[s.notna()]
    if op == "isnull":
        return df[s.isna()]
    if "value" not in arg:
        raise OperationError("filter op %r needs a value" % op)
    value = arg["value"]
    if op == "contains":
        mask = s.astype(str).str.contains(str(value), case=bool(arg.get("case", True)),
                                          regex=False) & s.notna()
        return df[mask]
    if op == "in":
        if not isinstance(value, list):
            raise OperationError("filter op 'in' needs a list value")
        return df[s.isin([_coerce_value(s, v) for v in value])]
    value = _coerce_value(s, value)
    try:
        mask = {"==": s.__eq__, "!=": s.__ne__, ">": s.__gt__, ">=": s.__ge__,
                "<": s.__lt__, "<=": s.__le__}[op](value)
    except TypeError as e:
        raise OperationError("cannot compare column %r with %r: %s" % (col, value, e)) from None
    return df[mask.fillna(False).astype(bool)]


def _step_rename(df, arg):
    if not isinstance(arg, dict) or not arg:
        raise OperationError("rename needs an object {old: new}")
    _need_columns(df, list(arg), "rename")
    if not all(isinstance(v, str) and v for v in arg.values()):
        raise OperationError("rename targets must be non-empty strings")
    return df.rename(columns=arg)


def _step_derive(df, arg):
    if not isinstance(arg, dict) or not isinstance(arg.get("name"), str) or not arg["name"]:
        raise OperationError('derive needs {"name", "expr"}')
    expr = arg.get("expr")
    check_expr(expr)
    try:
        value = df.eval(expr, local_dict={}, global_dict={}, engine="python")
    except pd.errors.UndefinedVariableError as e:
        raise OperationError("unknown column in derive.expr: %s; columns are: %s" % (
            e, ", ".join(repr(str(c)) for c in df.columns))) from None
    except Exception as e:
        raise OperationError("cannot evaluate derive.expr %r: %s" % (expr, e)) from None
    if isinstance(value, pd.DataFrame):
        raise OperationError("derive.expr must be an expression, not an assignment")
    out = df.copy()
    out[arg["name"]] = value
    return out


def _step_sort(df, arg):
    if isinstance(arg, (str, list)):
        arg = {"by": arg}
    if not isinstance(arg, dict) or "by" not in arg:
        raise OperationError('sort needs {"by": column or [columns], "ascending"?}')
    by = _as_list(arg["by"], "sort.by")
    _need_columns(df, by, "sort")
    ascending = arg.get("ascending", True)
    if isinstance(ascending, list):
        if len(ascending) != len(by) or not all(isinstance(a, bool) for a in ascending):
            raise OperationError("sort.ascending list must have one bool per column")
    elif not isinstance(ascending, bool):
        raise OperationError("sort.ascending must be true or false")
    try:
        return df.sort_values(by=by, ascending=ascending, na_position="last", kind="mergesort")
    except TypeError as e:
        raise OperationError("cannot sort: %s" % e) from None


def _step_group(df, arg):
    if not isinstance(arg, dict) or "by" not in arg:
        raise OperationError('group needs {"by": [columns], "agg": {column: function}}')
    by = _as_list(arg["by"], "group.by")
    _need_columns(df, by, "group.by")
    agg = arg.get("agg") or {}
    if not isinstance(agg, dict):
        raise OperationError("group.agg must be an object {column: function}")
    _need_columns(df, list(agg), "group.agg")
    grouped = df.groupby(by, dropna=False, sort=True)
    if not agg:
        return grouped.size().reset_index(name="count")
    spec, names = [], []
    for col, funcs in agg.items():
        funcs = [funcs] if isinstance(funcs, str) else funcs
        if not isinstance(funcs, list) or not funcs:
            raise OperationError("group.agg[%r] must be a function name or a list" % col)
        for fn in funcs:
            if fn not in AGG_FUNCS:
                raise OperationError("unknown aggregate %r; use one of: %s" % (
                    fn, ", ".join(AGG_FUNCS)))
            name = col if len(funcs) == 1 else "%s_%s" % (col, fn)
            if col in by and len(funcs) == 1:
                name = "%s_%s" % (col, fn)
            spec.append((name, col, fn))
            names.append(name)
    if len(set(names)) != len(names):
        raise OperationError("group.agg produces duplicate column names")
    try:
        out = grouped.agg(**{name: pd.NamedAgg(column=col, aggfunc=fn) for name, col, fn in spec})
    except (TypeError, ValueError) as e:
        raise OperationError("cannot aggregate: %s" % e) from None
    return out.reset_index()


def _step_dedupe(df, arg):
    if arg in (None, True, {}):
        arg = {}
    if not isinstance(arg, dict):
        raise OperationError('dedupe takes {"subset"?: [columns], "keep"?: "first"|"last"}')
    subset = arg.get("subset")
    if subset is not None:
        subset = _as_list(subset, "dedupe.subset")
        _need_columns(df, subset, "dedupe")
    keep = arg.get("keep", "first")
    if keep not in ("first", "last"):
        raise OperationError('dedupe.keep must be "first" or "last"')
    return df.drop_duplicates(subset=subset, keep=keep)


STEPS = {"select": _step_select, "filter": _step_filter, "rename": _step_rename,
         "derive": _step_derive, "sort": _step_sort, "group": _step_group,
         "dedupe": _step_dedupe}


def transform(df, steps):
    """Applies a declared pipeline of steps (see SKILL.md) and returns the frame."""
    if not isinstance(steps, list):
        raise OperationError("options.steps must be a list")
    for i, step in enumerate(steps):
        if not isinstance(step, dict) or len(step) != 1:
            raise OperationError("step %d must be an object with exactly one key, one of: %s"
                                 % (i + 1, ", ".join(STEPS)))
        (kind, arg), = step.items()
        if kind not in STEPS:
            raise OperationError("unknown step %r (step %d); steps are: %s"
                                 % (kind, i + 1, ", ".join(STEPS)))
        try:
            df = STEPS[kind](df, arg)
        except OperationError as e:
            raise OperationError("step %d (%s): %s" % (i + 1, kind, e)) from None
    return df.reset_index(drop=True)


def safe_file_name(name, default):
    """A plain file name: no folders, no leading dots, tame characters."""
    name = os.path.basename(str(name or "").replace("\\", "/"))
    name = re.sub(r"[^A-Za-z0-9._ -]+", "_", name).strip().lstrip(".")
    return name[:120] or default


def write_frame(df, out_dir, fmt, name):
    path = os.path.join(out_dir, name)
    if fmt == "csv":
        df.to_csv(path, index=False)
    elif fmt == "json":
        with open(path, "w", encoding="utf-8") as f:
            json.dump(frame_records(df), f, ensure_ascii=False, allow_nan=False, indent=1)
            f.write("\n")
    else:
        out = df.copy()
        for c in out.columns:  # Excel cannot store time zones
            if pd.api.types.is_datetime64tz_dtype(out[c]):
                out[c] = out[c].dt.tz_localize(None)
        out.to_excel(path, index=False, sheet_name="data", engine="openpyxl")
    return path


def run_transform(df, options, out_dir):
    fmt = options.get("output", "csv")
    if fmt not in OUTPUT_FORMATS:
        raise OperationError("options.output must be one of: %s" % ", ".join(OUTPUT_FORMATS))
    df = transform(df, options.get("steps", []))
    name = safe_file_name(options.get("output_name"), "transformed." + fmt)
    if not name.lower().endswith("." + fmt):
        name += "." + fmt
    write_frame(df, out_dir, fmt, name)
    return {
        "rows": int(df.shape[0]),
        "columns": [str(c) for c in df.columns],
        "output_file": name,
        "preview": frame_records(df.head(PREVIEW_ROWS)),
    }


# --------------------------------------------------------------------------
# parse_excel
# --------------------------------------------------------------------------

def parse_excel(path, out_dir, max_rows=None):
    kind = file_kind(path)
    if kind not in EXCEL:
        raise OperationError("unsupported file type .%s for parse_excel; supported: xlsx, xls"
                             % kind, EXIT_UNSUPPORTED)
    if not os.path.isfile(path):
        raise OperationError("input file not found: %s" % path)
    sheets, used = [], set()
    for index, (name, raw) in enumerate(read_workbook(path)):
        header = header_names(raw[0]) if raw else []
        rows = [[jsonable(v) for v in row] for row in raw[1:]]
        truncated = max_rows is not None and len(rows) > max_rows
        base = safe_file_name(name, "sheet%d" % (index + 1))
        csv_name, n = base + ".csv", 2
        while csv_name.lower() in used:
            csv_name, n = "%s_%d.csv" % (base, n), n + 1
        used.add(csv_name.lower())
        with open(os.path.join(out_dir, csv_name), "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            if header:
                w.writerow(header)
            for row in rows:
                w.writerow(["" if v is None else v for v in row])
        sheet = {"name": str(name), "shape": [len(rows), len(header)], "header": header,
                 "rows": rows[:max_rows] if truncated else rows, "csv_file": csv_name}
        if truncated:
            sheet["truncated"] = True
        sheets.append(sheet)
    return {"sheets": sheets}


# --------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------

def parse_options(text):
    text = (text or "").strip()
    if text.startswith("@"):
        with open(text[1:], encoding="utf-8") as f:
            text = f.read()
    if not text:
        return {}
    try:
        options = json.loads(text)
    except json.JSONDecodeError as e:
        raise OperationError("options_json is not valid JSON: %s" % e) from None
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise OperationError("options_json must be a JSON object")
    return options


def run(operation, input_path, options, out_dir):
    if operation not in OPERATIONS:
        raise OperationError("unknown operation %r; operations are: %s"
                             % (operation, ", ".join(OPERATIONS)))
    os.makedirs(out_dir, exist_ok=True)
    if operation == "parse_excel":
        max_rows = options.get("max_rows")
        if max_rows is not None and (not isinstance(max_rows, int) or max_rows < 0):
            raise OperationError("options.max_rows must be a non-negative integer")
        return parse_excel(input_path, out_dir, max_rows)
    df, _, extra = load_frame(input_path, options)
    if operation == "analyze":
        return analyze(df, extra)
    return run_transform(df, options, out_dir)


def main(argv):
    real_stdout = sys.stdout
    sys.stdout = sys.stderr  # only our one JSON object goes to stdout
    code, payload = EXIT_OK, None
    try:
        if len(argv) != 5:
            raise OperationError("usage: process_file.py <operation> <input_path> "
                                 "<options_json> <output_dir>")
        options = parse_options(argv[3])
        payload = jsonable(run(argv[1], argv[2], options, argv[4]))
    except OperationError as e:
        code, payload = e.exit_code, {"error": str(e)}
    except Exception as e:  # a bug or an environment problem
        import traceback
        traceback.print_exc()
        code, payload = EXIT_INTERNAL, {"error": "internal error: %s: %s" % (type(e).__name__, e)}
    finally:
        sys.stdout = real_stdout
    real_stdout.write(json.dumps(payload, ensure_ascii=False, allow_nan=False) + "\n")
    real_stdout.flush()
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
