"""Small shared helpers for the API tests (fixtures live in conftest.py)."""
import re
from datetime import datetime, timezone

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def parse_time(s):
    """Parses an RFC 3339 string (asserting the format) into an aware datetime."""
    assert isinstance(s, str) and RFC3339.match(s), f"not RFC 3339: {s!r}"
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def is_utc(s):
    return parse_time(s).utcoffset() == timezone.utc.utcoffset(None)


def assert_error(r, status, code):
    """The response is `status` with body {"error": {"code": code, "message": str}}."""
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert err["code"] == code, body
    assert isinstance(err["message"], str) and err["message"], body
    return err


def out(res, stream="stdout"):
    """The joined stdout/stderr of an execute response."""
    items = res["logs"][stream]
    assert all(isinstance(x, str) for x in items), items
    return "".join(items)


def main_results(res):
    return [r for r in res["results"] if r.get("is_main_result")]
