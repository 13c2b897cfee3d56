"""The blocking transport: http.client with a small connection pool, retries
with backoff for idempotent calls, NDJSON streams and streamed bodies."""
from __future__ import annotations

import builtins
import http.client
import io
import json
import os
import socket
import ssl
import threading
import time
import urllib.parse
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple, Union, cast

from . import errors
from ._api import CHUNK, RETRY_STATUSES, Config, Request, notify
from .models import dumps

_Conn = Union[http.client.HTTPConnection, http.client.HTTPSConnection]
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


def _is_timeout(e: BaseException) -> bool:
    return isinstance(e, (socket.timeout, builtins.TimeoutError))


def body_length(body: Any) -> Optional[int]:
    """The number of bytes left in a file-like body, when it can be known."""
    try:
        fileno = body.fileno()
        size = os.fstat(fileno).st_size
        return max(0, int(size) - int(body.tell()))
    except (AttributeError, OSError, io.UnsupportedOperation, ValueError):
        pass
    try:
        pos = body.tell()
        end = body.seek(0, io.SEEK_END)
        body.seek(pos)
        return int(end - pos)
    except (AttributeError, OSError, io.UnsupportedOperation, ValueError):
        return None


def prepare_body(r: Request) -> Tuple[Any, Dict[str, str]]:
    """The body to send and the headers that describe it."""
    headers: Dict[str, str] = {}
    if r.has_json:
        headers["Content-Type"] = "application/json"
        return dumps(r.json), headers
    b = r.body
    if b is None:
        return None, headers
    headers["Content-Type"] = "application/octet-stream"
    if isinstance(b, str):
        return b.encode("utf-8"), headers
    if isinstance(b, (bytes, bytearray, memoryview)):
        return bytes(b), headers
    if hasattr(b, "read"):
        n = body_length(b)
        if n is not None:
            headers["Content-Length"] = str(n)
        return b, headers
    if hasattr(b, "__iter__"):
        return iter(cast(Iterable[bytes], b)), headers
    raise TypeError(f"cannot send a body of type {type(b).__name__}")


class Streamed:
    """An open response being read: NDJSON events or raw byte chunks."""

    def __init__(self, http_: "HTTP", conn: _Conn, resp: http.client.HTTPResponse,
                 r: Request) -> None:
        self._http = http_
        self._conn: Optional[_Conn] = conn
        self.response = resp
        self._r = r
        self._done = False

    def events(self) -> Iterator[Dict[str, Any]]:
        """Yields each NDJSON event as it arrives."""
        target = self._r.target()
        try:
            while True:
                line = self.response.readline()
                if not line:
                    break
                line = line.strip()
                if not line:
                    continue
                event = json.loads(line)
                notify("event", self._r.method, target, 200, event)
                yield event
            self._done = True
        except (OSError, http.client.HTTPException) as e:
            raise self._http.wrap_error(e) from e
        finally:
            self.close()

    def chunks(self, size: int = CHUNK) -> Iterator[bytes]:
        """Yields the body in chunks of at most ``size`` bytes."""
        try:
            while True:
                data = self.response.read(size)
                if not data:
                    break
                yield data
            self._done = True
        except (OSError, http.client.HTTPException) as e:
            raise self._http.wrap_error(e) from e
        finally:
            self.close()

    def close(self) -> None:
        """Ends the exchange; a response not read to its end closes the connection
        (which interrupts a run still going on the server)."""
        if self._conn is None:
            return
        conn, self._conn = self._conn, None
        if self._done and not self.response.will_close:
            self._http.release(conn)
        else:
            conn.close()

    def __enter__(self) -> "Streamed":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class HTTP:
    """Sends Requests to kilnd."""

    def __init__(self, config: Config) -> None:
        self.config = config
        u = urllib.parse.urlsplit(config.url)
        self._https = u.scheme == "https"
        self._host = u.hostname or "127.0.0.1"
        self._port = u.port or (443 if self._https else 80)
        self._prefix = u.path.rstrip("/")
        self._idle: List[_Conn] = []
        self._lock = threading.Lock()

    # -- connections --
    def _new(self, timeout: float) -> _Conn:
        if self._https:
            return http.client.HTTPSConnection(self._host, self._port, timeout=timeout,
                                               context=ssl.create_default_context(),
                                               blocksize=CHUNK)
        return http.client.HTTPConnection(self._host, self._port, timeout=timeout,
                                          blocksize=CHUNK)

    def _get(self, r: Request, timeout: float) -> Tuple[_Conn, bool]:
        # A call that could not be sent again (not idempotent, or a streamed
        # body) never goes out on a reused connection: if that connection
        # turned out to be closed, it could not be retried.
        if r.idempotent and r.replayable():
            with self._lock:
                if self._idle:
                    conn = self._idle.pop()
                    conn.timeout = timeout
                    if conn.sock is not None:
                        conn.sock.settimeout(timeout)
                    return conn, True
        return self._new(timeout), False

    def release(self, conn: _Conn) -> None:
        """Returns a connection whose answer was read to the end."""
        with self._lock:
            if len(self._idle) < 8:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        """Closes idle connections."""
        with self._lock:
            idle, self._idle = self._idle, []
        for c in idle:
            c.close()

    def wrap_error(self, e: BaseException) -> errors.KilnError:
        """The SDK error for a transport failure."""
        if _is_timeout(e):
            return errors.TimeoutError(f"no answer from {self.config.url} in time: {e}")
        return errors.ConnectionError(f"connection to kilnd at {self.config.url} failed: {e!r}")

    # -- requests --
    def _exchange(self, r: Request) -> Tuple[_Conn, http.client.HTTPResponse]:
        timeout = r.timeout if r.timeout is not None else self.config.timeout
        target = r.target()
        if r.has_json:
            notify("request", r.method, target, None, r.json)
        attempt = 0
        while True:
            conn, reused = self._get(r, timeout)
            body, headers = prepare_body(r)
            headers.update(self.config.headers())
            headers["Accept"] = "application/x-ndjson" if r.stream else \
                "application/json" if not r.raw else "*/*"
            try:
                conn.request(r.method, self._prefix + target, body=body, headers=headers)
                resp = conn.getresponse()
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                if reused and isinstance(e, _STALE):
                    continue  # the pooled connection had been closed: again on a fresh one
                if _is_timeout(e):
                    raise self.wrap_error(e) from e
                attempt += 1
                if r.idempotent and r.replayable() and attempt <= self.config.max_retries:
                    time.sleep(self.config.delay(attempt))
                    continue
                raise self.wrap_error(e) from e
            if resp.status in RETRY_STATUSES and r.idempotent and r.replayable() and \
                    attempt < self.config.max_retries:
                resp.read()
                conn.close()
                attempt += 1
                time.sleep(self.config.delay(attempt))
                continue
            if resp.status >= 400:
                self._raise(r, conn, resp)
            return conn, resp

    def _raise(self, r: Request, conn: _Conn, resp: http.client.HTTPResponse) -> None:
        try:
            raw = resp.read()
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            raise self.wrap_error(e) from e
        conn.close()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        notify("response", r.method, r.target(), resp.status, body)
        raise errors.error_from_response(resp.status, body, raw.decode("utf-8", "replace")[:500])

    def call(self, r: Request) -> Any:
        """Sends the request and returns its JSON answer (None for no body;
        bytes for raw answers)."""
        conn, resp = self._exchange(r)
        try:
            data = resp.read()
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            raise self.wrap_error(e) from e
        if resp.will_close:
            conn.close()
        else:
            self.release(conn)
        if r.raw:
            notify("response", r.method, r.target(), resp.status, None)
            return data
        if not data:
            notify("response", r.method, r.target(), resp.status, None)
            return None
        body = json.loads(data)
        notify("response", r.method, r.target(), resp.status, body)
        return body

    def open(self, r: Request) -> Streamed:
        """Sends the request and returns the answer unread, to stream from."""
        conn, resp = self._exchange(r)
        if r.raw:
            notify("response", r.method, r.target(), resp.status, None)
        return Streamed(self, conn, resp, r)
