#!/bin/bash
# Syntax check for /v1/validate: `bash -n` (parse, never run) on stdin, printed
# as a JSON list of {line, column, message}. Runs inside a sandbox.
out=$(bash -n 2>&1 </dev/stdin)
/usr/bin/python3 -c '
import json, re, sys
errors = []
for line in sys.argv[1].splitlines():
    m = re.search(r"line (\d+): (.*)", line)
    if m and not any(e["line"] == int(m.group(1)) for e in errors):
        errors.append({"line": int(m.group(1)), "column": None, "message": m.group(2)})
print(json.dumps(errors))
' "$out"
