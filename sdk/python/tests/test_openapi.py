"""docs/openapi.yaml itself: it is consistent, and the routes and media types
the SDKs never use (SSE, /metrics, signed links, oversized bodies) match
what kilnd serves. Plain urllib, so nothing here goes through the SDK."""
import http.client
import json
import re
import urllib.error
import urllib.request

import pytest

from openapi import Mismatch, spec

METHODS = ("get", "put", "post", "delete", "patch")


def raw(daemon, method, path, body=None, headers=None):
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(daemon.url + path, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def test_document_is_consistent():
    s = spec()
    seen_ids = set()
    for template, item in s.doc["paths"].items():
        names = set(re.findall(r"\{(\w+)\}", template))
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            assert op.get("operationId") and op["operationId"] not in seen_ids, (template, method)
            seen_ids.add(op["operationId"])
            params = [s._deref(p) for p in item.get("parameters", []) + op.get("parameters", [])]
            declared = {p["name"] for p in params if p["in"] == "path"}
            assert declared == names, (template, method, declared, names)
            assert op["responses"], (template, method)
            for status, resp in op["responses"].items():
                resp = s._deref(resp)
                assert resp.get("description"), (template, method, status)
                for media, content in (resp.get("content") or {}).items():
                    # Every $ref inside resolves (a validator is built and run).
                    with pytest.raises(Mismatch):
                        s.validate_response(method.upper(), template, int(status), [None], media)
            if "requestBody" in op:
                body = s._deref(op["requestBody"])
                schema = body["content"].get("application/json", {}).get("schema")
                if schema is not None:
                    resolved = s._deref(schema)
                    if resolved.get("type") == "object":
                        assert resolved.get("additionalProperties") is False, (template, method)


def test_sse_stream_matches(daemon):
    status, _, body = raw(daemon, "POST", "/v1/sandboxes", {})
    sid = json.loads(body)["id"]
    try:
        status, headers, body = raw(daemon, "POST", f"/v1/sandboxes/{sid}/execute",
                                    {"code": "print(1)\ndisplay({'a': 1})\n1/0"},
                                    {"Accept": "text/event-stream", "Content-Type": "application/json"})
        assert status == 200 and headers["Content-Type"] == "text/event-stream"
        events = [json.loads(block[len("data: "):]) for block in body.decode().split("\n\n") if block]
        assert [e["type"] for e in events] == ["stdout", "result", "error", "end"]
        for e in events:
            spec().validate_event("POST", f"/v1/sandboxes/{sid}/execute", e, "text/event-stream")
        status, headers, body = raw(daemon, "POST", f"/v1/sandboxes/{sid}/commands",
                                    {"cmd": "echo hi; sleep 2", "timeout_s": 0.3},
                                    {"Accept": "text/event-stream"})
        events = [json.loads(b[len("data: "):]) for b in body.decode().split("\n\n") if b]
        assert events[-1]["type"] == "end" and events[-1]["error"] == "timeout"
        for e in events:
            spec().validate_event("POST", f"/v1/sandboxes/{sid}/commands", e, "text/event-stream")
    finally:
        raw(daemon, "DELETE", f"/v1/sandboxes/{sid}")


def test_metrics_signed_links_and_errors(daemon):
    s = spec()
    status, headers, body = raw(daemon, "GET", "/metrics")
    assert status == 200 and b"kiln_sandboxes_live" in body
    s.validate_status("GET", "/metrics", status)
    status, _, body = raw(daemon, "GET", "/v1/download?w=default&p=%2Fx&e=1&sig=00")
    assert status == 404
    s.validate_response("GET", "/v1/download", 404, json.loads(body))
    status, _, body = raw(daemon, "GET", "/v1/nope")
    assert status == 404 and json.loads(body)["error"]["code"] == "not_found"
    s.validate_response("GET", "/v1/sandboxes/sbx_none", 404, json.loads(body))
    status, _, body = raw(daemon, "POST", "/v1/sandboxes", b"[1]")
    assert status == 400
    s.validate_response("POST", "/v1/sandboxes", 400, json.loads(body))
    status, _, body = raw(daemon, "POST", "/v1/sandboxes", {})
    sid = json.loads(body)["id"]
    try:
        code = {"code": "x" * ((1 << 20) + 1)}
        status, _, body = raw(daemon, "POST", f"/v1/sandboxes/{sid}/execute", code)
        assert status == 413
        s.validate_response("POST", f"/v1/sandboxes/{sid}/execute", 413, json.loads(body))
        # An oversized Content-Length is refused before any of the body is sent.
        conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=30)
        conn.putrequest("PUT", f"/v1/sandboxes/{sid}/files/content?path=big")
        conn.putheader("Content-Length", str(300 << 20))
        conn.endheaders()
        resp = conn.getresponse()
        status, body = resp.status, resp.read()
        conn.close()
        assert status == 413
        s.validate_response("PUT", f"/v1/sandboxes/{sid}/files/content", 413, json.loads(body))
        status, _, body = raw(daemon, "POST", f"/v1/sandboxes/{sid}/timeout", {"timeout_s": 0})
        assert status == 400
        s.validate_response("POST", f"/v1/sandboxes/{sid}/timeout", 400, json.loads(body))
    finally:
        raw(daemon, "DELETE", f"/v1/sandboxes/{sid}")
