"""The HTTP-client layer of the test support package, on `requests`, for the
pytest suites (tests/api, tests/security, tests/cli).

ApiCalls: the API's verbs and common calls on top of a subclass's req().
Daemon: a KilndProcess (tests/support/kilnd.py) plus a requests session.
The fixtures (kilnd, fresh_daemon, sandbox) are made by tests/support/fixtures.py.
"""
from __future__ import annotations

import json
import time

import requests

from kilnd import KilndProcess


class ApiCalls:
    """The API's verbs and common calls, on top of a subclass's req()."""

    def req(self, method, path, **kw):
        raise NotImplementedError

    def get(self, path, **kw):
        return self.req("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.req("POST", path, json=body if body is not None else {}, **kw)

    def put(self, path, data=b"", **kw):
        return self.req("PUT", path, data=data, **kw)

    def delete(self, path, **kw):
        return self.req("DELETE", path, **kw)

    def create_sandbox(self, **body):
        """Creates a sandbox; returns its JSON (a dict with "id")."""
        r = self.post("/v1/sandboxes", body)
        assert r.status_code in (200, 201), r.text
        return r.json()

    def execute(self, sid, code, **body):
        body["code"] = code
        r = self.post(f"/v1/sandboxes/{sid}/execute", body)
        assert r.status_code == 200, r.text
        return r.json()

    def run(self, sid, cmd, **body):
        body["cmd"] = cmd
        r = self.post(f"/v1/sandboxes/{sid}/commands", body)
        assert r.status_code == 200, r.text
        return r.json()

    def put_file(self, sid, path, data):
        r = self.req("PUT", f"/v1/sandboxes/{sid}/files/content", params={"path": path},
                     data=data)
        assert r.status_code == 201, r.text
        return r.json()


class Daemon(KilndProcess, ApiCalls):
    """A kilnd process plus a small HTTP client for it (requests)."""

    def __init__(self, *extra_args, **kw):
        self.http = requests.Session()
        super().__init__(*extra_args, **kw)

    def req(self, method, path, **kw):
        kw.setdefault("timeout", 120)
        return self.http.request(method, self.url + path, **kw)

    def stream(self, path, body, accept="application/x-ndjson"):
        """Yields (arrival_time, event) pairs as the server sends them."""
        r = self.http.post(self.url + path, json=body, headers={"Accept": accept}, stream=True,
                           timeout=120)
        assert r.status_code == 200, r.text
        for line in r.iter_lines():
            if not line:
                continue
            line = line.decode()
            if accept == "text/event-stream":
                assert line.startswith("data: "), line
                line = line[len("data: "):]
            yield time.monotonic(), json.loads(line)
