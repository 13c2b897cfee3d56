"""Checks requests and responses against docs/openapi.yaml.

Used by the SDK test suites: every JSON body an SDK sends, every JSON
response and every streamed event it receives is validated against the
schema the document gives for its (method, route, status, media type).

    from openapi import spec
    spec().validate_response("GET", "/v1/sandboxes/sbx_1", 200, body)

As a program it checks a file of recorded exchanges (one JSON object a line:
{"kind": "request" | "response" | "event", "method", "path", "status",
"body"}), which is how the TypeScript suite uses it:

    python3 tests/support/openapi.py exchanges.jsonl

Needs Debian's python3-jsonschema and python3-yaml.
"""
from __future__ import annotations

import functools
import json
import os
import re
import sys
from typing import Any, Dict, List, Optional, Tuple

import jsonschema
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DOCUMENT = os.path.join(ROOT, "docs", "openapi.yaml")

_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

_formats = jsonschema.FormatChecker()


@_formats.checks("date-time")
def _is_datetime(value: object) -> bool:
    return not isinstance(value, str) or bool(_RFC3339.match(value))


@_formats.checks("date")
def _is_date(value: object) -> bool:
    return not isinstance(value, str) or bool(_DATE.match(value))


class Mismatch(AssertionError):
    """A message does not match the document (or the document lacks it)."""


class Spec:
    """The OpenAPI document, with validators per schema."""

    def __init__(self, path: str = DOCUMENT) -> None:
        with open(path, encoding="utf-8") as f:
            self.doc: Dict[str, Any] = yaml.safe_load(f)
        jsonschema.Draft202012Validator.check_schema(
            {"$defs": self.doc["components"]["schemas"]})
        self._routes: List[Tuple[re.Pattern[str], str]] = []
        for template in self.doc["paths"]:
            pattern = re.escape(template)
            # A trailing {path} may hold slashes (skill files); others may not.
            pattern = re.sub(r"\\\{path\\\}$", r"(?P<path>.+)", pattern)
            pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", pattern)
            self._routes.append((re.compile("^" + pattern + "$"), template))
        self._make_validator = self._validator_factory()

    def _validator_factory(self) -> Any:
        try:  # jsonschema >= 4.18 (the referencing library)
            from referencing import Registry, Resource
            from referencing.jsonschema import DRAFT202012

            resource = Resource.from_contents(self.doc, default_specification=DRAFT202012)
            registry = Registry().with_resource("urn:kiln:openapi", resource)

            def make(schema: Dict[str, Any]) -> Any:
                schema = _rebase(schema, "urn:kiln:openapi")
                return jsonschema.Draft202012Validator(
                    schema, registry=registry, format_checker=_formats)
            return make
        except ImportError:  # Debian 12's jsonschema 4.10
            resolver = jsonschema.RefResolver("", self.doc)

            def make_old(schema: Dict[str, Any]) -> Any:
                return jsonschema.Draft202012Validator(
                    schema, resolver=resolver, format_checker=_formats)
            return make_old

    def route(self, path: str) -> str:
        """The document's path template for a concrete path (query ignored)."""
        path = path.split("?", 1)[0]
        for pattern, template in self._routes:
            if pattern.match(path):
                return template
        raise Mismatch(f"no route in the document matches {path}")

    def operation(self, method: str, path: str) -> Dict[str, Any]:
        """The operation object for (method, path)."""
        template = self.route(path)
        op = self.doc["paths"][template].get(method.lower())
        if op is None:
            raise Mismatch(f"{method} {template} is not in the document")
        return op

    def _schema_for(self, method: str, path: str, status: int, media: str) -> Dict[str, Any]:
        op = self.operation(method, path)
        responses = op["responses"]
        resp = responses.get(str(status)) or responses.get("default")
        if resp is None:
            raise Mismatch(f"{method} {self.route(path)} has no {status} response "
                           f"(documented: {sorted(responses)})")
        resp = self._deref(resp)
        content = resp.get("content") or {}
        if media not in content:
            raise Mismatch(f"{method} {self.route(path)} {status} has no {media} body "
                           f"(documented: {sorted(content)})")
        return content[media]["schema"]

    def _deref(self, obj: Dict[str, Any]) -> Dict[str, Any]:
        while "$ref" in obj:
            node: Any = self.doc
            for part in obj["$ref"].lstrip("#/").split("/"):
                node = node[part]
            obj = node
        return obj

    def _check(self, schema: Dict[str, Any], value: Any, what: str) -> None:
        errors = sorted(self._make_validator(schema).iter_errors(value),
                        key=lambda e: list(e.absolute_path))
        if errors:
            lines = []
            for e in errors[:5]:
                where = "/".join(str(p) for p in e.absolute_path) or "(root)"
                lines.append(f"  at {where}: {e.message}")
                for sub in (e.context or [])[:4]:
                    sub_where = "/".join(str(p) for p in sub.absolute_path) or "(root)"
                    lines.append(f"    - at {sub_where}: {sub.message}")
            raise Mismatch(f"{what} does not match docs/openapi.yaml:\n" + "\n".join(lines) +
                           f"\n  value: {json.dumps(value)[:2000]}")

    def validate_response(self, method: str, path: str, status: int, body: Any,
                          media: str = "application/json") -> None:
        """Raises Mismatch unless `body` fits the documented response."""
        schema = self._schema_for(method, path, status, media)
        self._check(schema, body, f"{method} {path} -> {status} ({media})")

    def validate_status(self, method: str, path: str, status: int) -> None:
        """Raises Mismatch unless the status is documented (for bodiless answers)."""
        op = self.operation(method, path)
        if str(status) not in op["responses"]:
            raise Mismatch(f"{method} {self.route(path)} does not document status {status}")

    def validate_event(self, method: str, path: str, event: Any,
                       media: str = "application/x-ndjson") -> None:
        """Raises Mismatch unless `event` fits the documented stream event."""
        self.validate_response(method, path, 200, event, media)

    def validate_request(self, method: str, path: str, body: Any) -> None:
        """Raises Mismatch unless a JSON request body fits the documented one."""
        op = self.operation(method, path)
        rb = op.get("requestBody")
        if rb is None:
            raise Mismatch(f"{method} {self.route(path)} takes no request body")
        content = self._deref(rb).get("content", {})
        if "application/json" not in content:
            raise Mismatch(f"{method} {self.route(path)} takes no JSON body")
        self._check(content["application/json"]["schema"], body, f"request {method} {path}")

    def check_exchange(self, x: Dict[str, Any]) -> None:
        """Validates one recorded exchange (see the module docstring)."""
        kind = x["kind"]
        if kind == "request":
            self.validate_request(x["method"], x["path"], x["body"])
        elif kind == "response":
            if x.get("body") is None and x.get("media") is None:
                self.validate_status(x["method"], x["path"], x["status"])
            else:
                self.validate_response(x["method"], x["path"], x["status"], x["body"],
                                       x.get("media", "application/json"))
        elif kind == "event":
            self.validate_event(x["method"], x["path"], x["body"],
                                x.get("media", "application/x-ndjson"))
        else:
            raise Mismatch(f"unknown exchange kind {kind!r}")


def _rebase(schema: Dict[str, Any], base: str) -> Any:
    """Rewrites local '#/...' refs to point into the registered document."""
    if isinstance(schema, dict):
        return {k: (base + v if k == "$ref" and isinstance(v, str) and v.startswith("#")
                    else _rebase(v, base)) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_rebase(v, base) for v in schema]
    return schema


@functools.lru_cache(maxsize=None)
def spec(path: Optional[str] = None) -> Spec:
    """The parsed document (cached)."""
    return Spec(path or DOCUMENT)


def main(argv: List[str]) -> int:
    if len(argv) != 2:
        print("usage: openapi.py EXCHANGES.jsonl", file=sys.stderr)
        return 2
    s = spec()
    checked, failures = 0, []
    with open(argv[1], encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            x = json.loads(line)
            try:
                s.check_exchange(x)
            except Mismatch as e:
                failures.append(f"line {n}: {e}")
            checked += 1
    for msg in failures[:20]:
        print(msg, file=sys.stderr)
    print(f"openapi: {checked} messages checked, {len(failures)} mismatches")
    return 1 if failures or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
