"""Syntax check for /v1/validate: compiles (never runs) the code on stdin and
prints a JSON list of {line, column, message}. Runs inside a sandbox."""
import ast
import json
import sys

src = sys.stdin.read()
errors = []
try:
    # A full compile (not just ast.parse) also reports errors found after
    # parsing, such as 'return' outside a function. Top-level await is
    # allowed because the runner allows it.
    compile(src, "<code>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
except SyntaxError as e:
    errors.append({"line": e.lineno, "column": e.offset, "message": e.msg})
except ValueError as e:  # e.g. source contains null bytes
    errors.append({"line": None, "column": None, "message": str(e)})
print(json.dumps(errors))
