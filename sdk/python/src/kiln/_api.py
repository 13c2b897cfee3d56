"""What the sync and async clients share: configuration, request descriptions,
observers and the assembly of streamed events into an Execution."""
from __future__ import annotations

import os
import random
import urllib.parse
from dataclasses import dataclass, field
from typing import (Any, AsyncIterable, BinaryIO, Callable, Dict, Iterable, List, Mapping,
                    Optional, Tuple, Union)

from .errors import ExecutionError
from .models import Execution, Logs, OutputMessage, Result, parse_time

DEFAULT_URL = "http://127.0.0.1:8420"
DEFAULT_TIMEOUT = 60.0
# Added to an execution's own timeout before the client gives up waiting.
EXEC_MARGIN_S = 30.0
CHUNK = 256 * 1024

Body = Union[None, bytes, bytearray, memoryview, str, BinaryIO, Iterable[bytes],
             AsyncIterable[bytes]]


@dataclass
class Config:
    """Where kilnd is and how to talk to it. ``url`` and ``api_key`` default to
    the ``KILN_URL`` and ``KILN_API_KEY`` environment variables."""

    url: str = DEFAULT_URL
    api_key: Optional[str] = None
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = 3
    backoff: float = 0.25

    @staticmethod
    def resolve(url: Optional[str] = None, api_key: Optional[str] = None,
                timeout: Optional[float] = None, max_retries: Optional[int] = None) -> "Config":
        """Arguments first, then the environment, then the defaults."""
        c = Config(url=(url or os.environ.get("KILN_URL") or DEFAULT_URL).rstrip("/"),
                   api_key=api_key or os.environ.get("KILN_API_KEY") or None)
        if timeout is not None:
            c.timeout = timeout
        if max_retries is not None:
            c.max_retries = max_retries
        parsed = urllib.parse.urlsplit(c.url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"KILN_URL must be an http(s) URL, not {c.url!r}")
        return c

    def headers(self) -> Dict[str, str]:
        """Headers every request carries."""
        h = {"User-Agent": "kiln-python/0.1.0"}
        if self.api_key:
            h["Authorization"] = "Bearer " + self.api_key
        return h

    def delay(self, attempt: int) -> float:
        """Backoff before retry number ``attempt`` (1-based): exponential, jittered."""
        return float(min(4.0, self.backoff * (2 ** (attempt - 1))) * (0.5 + random.random() / 2))


# Statuses worth retrying for an idempotent call: the daemon or a proxy in
# front of it was momentarily unable to answer.
RETRY_STATUSES = frozenset({502, 503, 504})


@dataclass
class Request:
    """One API call, described independently of the transport."""

    method: str
    path: str
    query: Dict[str, str] = field(default_factory=dict)
    json: Any = None
    body: Body = None
    idempotent: bool = False
    timeout: Optional[float] = None
    stream: bool = False      # ask for NDJSON events
    raw: bool = False         # the answer is bytes, not JSON
    has_json: bool = False    # send `json` (even when it is an empty object)

    def target(self) -> str:
        """Path plus query string."""
        if not self.query:
            return self.path
        return self.path + "?" + urllib.parse.urlencode(self.query)

    def replayable(self) -> bool:
        """Whether the body can be sent again on a retry."""
        return self.body is None or isinstance(self.body, (bytes, bytearray, memoryview, str))


def req(method: str, path: str, json: Any = None, *, query: Optional[Mapping[str, Any]] = None,
        idempotent: Optional[bool] = None, body: Body = None, timeout: Optional[float] = None,
        stream: bool = False, raw: bool = False, send_json: Optional[bool] = None) -> Request:
    """Builds a Request; GET, PUT and DELETE are idempotent unless told otherwise."""
    q = {k: _query_value(v) for k, v in (query or {}).items() if v is not None}
    return Request(method, path, q, json, body,
                   idempotent if idempotent is not None else method in ("GET", "PUT", "DELETE"),
                   timeout, stream, raw,
                   send_json if send_json is not None else json is not None)


def _query_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def quote(segment: str) -> str:
    """A path segment, percent-encoded."""
    return urllib.parse.quote(segment, safe="")


def compact(**fields: Any) -> Dict[str, Any]:
    """A JSON body of the fields that are not None (only documented fields are sent)."""
    return {k: v for k, v in fields.items() if v is not None}


# --- observers: every message, for tests and debugging ---------------------

Observer = Callable[[str, str, str, Optional[int], Any], None]
"""Called as ``observer(kind, method, target, status, payload)`` where kind is
"request" (payload: the JSON body sent), "response" (status, JSON body or None
for bodiless/raw answers) or "event" (one streamed event)."""

_observers: List[Observer] = []


def add_observer(observer: Observer) -> Callable[[], None]:
    """Registers an observer of every JSON message the SDK sends or receives
    (request bodies, responses, streamed events); returns a function that
    removes it. Meant for tests and debugging."""
    _observers.append(observer)

    def remove() -> None:
        if observer in _observers:
            _observers.remove(observer)
    return remove


def notify(kind: str, method: str, target: str, status: Optional[int], payload: Any) -> None:
    """Tells every observer about one message."""
    for o in list(_observers):
        o(kind, method, target, status, payload)


# --- streamed events -> Execution ---------------------------------------------

Handler = Callable[[Any], Any]


class ExecutionAssembler:
    """Turns the stream of execute events into callbacks and an Execution."""

    def __init__(self) -> None:
        self.execution = Execution(logs=Logs())
        self.ended = False

    def feed(self, event: Dict[str, Any]) -> Optional[Tuple[str, Any]]:
        """Takes one event; returns (callback name, argument) to call, if any."""
        t = event.get("type")
        if t in ("stdout", "stderr"):
            text = str(event.get("text", ""))
            getattr(self.execution.logs, t).append(text)
            msg = OutputMessage(text, t, parse_time(event.get("timestamp")))
            return ("on_" + t, msg)
        if t == "result":
            r = Result(event)
            self.execution.results.append(r)
            return ("on_result", r)
        if t == "error":
            err = ExecutionError.from_json(event)
            self.execution.error = err
            return ("on_error", err)
        if t == "end":
            self.ended = True
            self.execution.execution_count = int(event.get("execution_count", 0))
            self.execution.duration_ms = int(event.get("duration_ms", 0))
        return None


def execute_body(code: str, language: Optional[str], context_id: Optional[str],
                 timeout: Optional[float], env: Optional[Mapping[str, str]]) -> Dict[str, Any]:
    """The execute request body."""
    if language is not None and context_id is not None:
        raise ValueError("give language or context, not both")
    return compact(code=code, language=language, context_id=context_id, timeout_s=timeout,
                   env=dict(env) if env is not None else None)


def exec_wait(timeout: Optional[float], default_exec_s: float) -> float:
    """How long the client waits for an execution's answer."""
    return (timeout if timeout is not None else default_exec_s) + EXEC_MARGIN_S
