"""The escape suite's result table (a module of its own so both conftest.py and
test_escape.py share one copy, whatever pytest's import mode)."""

# probe name -> {"expected", "observed", "verdict"}
RESULTS = {}


def record(name, expected, observed, blocked):
    RESULTS[name] = {"expected": expected, "observed": observed,
                     "verdict": "blocked" if blocked else "NOT BLOCKED"}
