"""Fixtures for the Python SDK suite: a real kilnd per session, and an
observer that checks every JSON message the SDK sends or receives against
docs/openapi.yaml (a mismatch raises inside the SDK call, failing the test)."""
import contextlib
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "sdk", "python", "src"))
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))

import kiln  # noqa: E402
from kilnd import Kilnd  # noqa: E402
from openapi import spec  # noqa: E402

MiB = 1 << 20
CHECKED = {"n": 0, "requests": True, "all": True}


@contextlib.contextmanager
def not_kilnd():
    """For tests against a fake server: nothing is checked."""
    CHECKED["all"] = False
    try:
        yield
    finally:
        CHECKED["all"] = True


@contextlib.contextmanager
def invalid_request():
    """For tests that send a value the document rules out on purpose (to see
    the API's 400): requests go unchecked, answers are still checked."""
    CHECKED["requests"] = False
    try:
        yield
    finally:
        CHECKED["requests"] = True


def _check(kind, method, target, status, payload):
    s = spec()
    if not CHECKED["all"]:
        return
    if kind == "request":
        if not CHECKED["requests"]:
            return
        s.validate_request(method, target, payload)
    elif kind == "event":
        s.validate_event(method, target, payload)
    elif payload is None:
        s.validate_status(method, target, status)
    else:
        s.validate_response(method, target, status, payload)
    CHECKED["n"] += 1


@pytest.fixture(scope="session", autouse=True)
def openapi_checks():
    remove = kiln.add_observer(_check)
    yield CHECKED
    remove()


@pytest.fixture(scope="session")
def daemon():
    d = Kilnd("--file-cap-bytes", str(256 * MiB), pool_size=2, name="sdkpy")
    old = os.environ.get("KILN_URL")
    os.environ["KILN_URL"] = d.url
    yield d
    if old is None:
        os.environ.pop("KILN_URL", None)
    else:
        os.environ["KILN_URL"] = old
    d.stop()


@pytest.fixture
def sbx(daemon):
    with kiln.Sandbox.create() as s:
        yield s


@pytest.fixture(scope="session")
def client(daemon):
    with kiln.Client() as c:
        yield c


def pytest_sessionfinish(session, exitstatus):
    # The whole suite must have checked messages (a subset may not, e.g. test_package).
    if exitstatus == 0 and session.testscollected > 20 and CHECKED["n"] == 0:
        print("openapi: no message was checked", file=sys.stderr)
        session.exitstatus = 1
    elif CHECKED["n"]:
        print(f"\nopenapi: {CHECKED['n']} messages checked against docs/openapi.yaml")
