"""The asyncio transport: HTTP/1.1 over asyncio streams (the standard library
has no async HTTP client). Headers are parsed by http.client.parse_headers;
bodies may be sent and read in chunks. One connection per request
(``Connection: close``), so cancelling a task closes its connection, which
kilnd takes as the client going away (a run is interrupted)."""
from __future__ import annotations

import asyncio
import http.client
import io
import json
import ssl
import urllib.parse
from email.message import Message
from typing import Any, AsyncIterator, Dict, List, Optional, Tuple

from . import errors
from ._api import CHUNK, RETRY_STATUSES, Config, Request, notify
from ._http import body_length
from .models import dumps

_MAX_HEADER = 64 * 1024


class AsyncResponse:
    """A response whose body is read on demand."""

    def __init__(self, status: int, headers: Message, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, timeout: float, url: str) -> None:
        self.status = status
        self.headers = headers
        self._reader = reader
        self._writer = writer
        self._timeout = timeout
        self._url = url
        te = (headers.get("Transfer-Encoding") or "").lower()
        self._chunked = "chunked" in te
        length = headers.get("Content-Length")
        self._remaining: Optional[int] = None if self._chunked or length is None else int(length)
        self._chunk_left = 0
        self._eof = False
        self._buf = b""

    async def _io(self, aw: Any) -> Any:
        try:
            return await asyncio.wait_for(aw, self._timeout)
        except asyncio.TimeoutError as e:
            self.close()
            raise errors.TimeoutError(f"no answer from {self._url} in {self._timeout} s") from e
        except (OSError, asyncio.IncompleteReadError) as e:
            self.close()
            raise errors.ConnectionError(f"connection to {self._url} failed: {e}") from e

    async def read_some(self, n: int = CHUNK) -> bytes:
        """Up to ``n`` bytes of the body; b"" at its end."""
        if self._buf:
            data, self._buf = self._buf[:n], self._buf[n:]
            return data
        if self._eof:
            return b""
        if self._chunked:
            if self._chunk_left == 0:
                line = await self._io(self._reader.readline())
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while True:  # trailers, then the blank line
                        t = await self._io(self._reader.readline())
                        if t in (b"\r\n", b"\n", b""):
                            break
                    self._eof = True
                    return b""
                self._chunk_left = size
            data = await self._io(self._reader.read(min(n, self._chunk_left)))
            if not data:
                raise errors.ConnectionError(f"{self._url} closed the connection mid-answer")
            self._chunk_left -= len(data)
            if self._chunk_left == 0:
                await self._io(self._reader.readexactly(2))
            return bytes(data)
        if self._remaining is not None:
            if self._remaining == 0:
                self._eof = True
                return b""
            data = await self._io(self._reader.read(min(n, self._remaining)))
            if not data:
                raise errors.ConnectionError(f"{self._url} closed the connection mid-answer")
            self._remaining -= len(data)
            return bytes(data)
        data = await self._io(self._reader.read(n))
        if not data:
            self._eof = True
        return bytes(data)

    async def read(self) -> bytes:
        """The whole body."""
        parts: List[bytes] = []
        while True:
            d = await self.read_some()
            if not d:
                return b"".join(parts)
            parts.append(d)

    async def lines(self) -> AsyncIterator[bytes]:
        """The body line by line, each as soon as it has arrived."""
        pending = b""
        while True:
            d = await self.read_some()
            if not d:
                if pending:
                    yield pending
                return
            pending += d
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                yield line

    def close(self) -> None:
        """Closes the connection."""
        if not self._writer.is_closing():
            self._writer.close()


class AsyncStreamed:
    """An open response: NDJSON events or raw chunks, closed when done."""

    def __init__(self, resp: AsyncResponse, r: Request) -> None:
        self.response = resp
        self._r = r

    async def events(self) -> AsyncIterator[Dict[str, Any]]:
        """Each NDJSON event as it arrives."""
        target = self._r.target()
        try:
            async for line in self.response.lines():
                line = line.strip()
                if not line:
                    continue
                event = json.loads(line)
                notify("event", self._r.method, target, 200, event)
                yield event
        finally:
            self.close()

    async def chunks(self, size: int = CHUNK) -> AsyncIterator[bytes]:
        """The body in chunks of at most ``size`` bytes."""
        try:
            while True:
                d = await self.response.read_some(size)
                if not d:
                    return
                yield d
        finally:
            self.close()

    def close(self) -> None:
        """Closes the connection (a run still going is interrupted)."""
        self.response.close()

    async def __aenter__(self) -> "AsyncStreamed":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()


class AsyncHTTP:
    """Sends Requests to kilnd from asyncio code."""

    def __init__(self, config: Config) -> None:
        self.config = config
        u = urllib.parse.urlsplit(config.url)
        self._https = u.scheme == "https"
        self._host = u.hostname or "127.0.0.1"
        self._port = u.port or (443 if self._https else 80)
        self._prefix = u.path.rstrip("/")
        self._host_header = u.netloc

    async def _connect(self, timeout: float) -> Tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        ctx = ssl.create_default_context() if self._https else None
        try:
            return await asyncio.wait_for(
                asyncio.open_connection(self._host, self._port, ssl=ctx, limit=_MAX_HEADER),
                timeout)
        except asyncio.TimeoutError as e:
            raise errors.TimeoutError(f"cannot connect to {self.config.url} in {timeout} s") from e
        except OSError as e:
            raise errors.ConnectionError(f"cannot reach kilnd at {self.config.url}: {e}") from e

    async def _write_body(self, writer: asyncio.StreamWriter, body: Any, chunked: bool) -> None:
        loop = asyncio.get_running_loop()

        async def put(data: bytes) -> None:
            if not data:
                return
            if chunked:
                writer.write(b"%x\r\n" % len(data) + data + b"\r\n")
            else:
                writer.write(data)
            await writer.drain()

        if isinstance(body, bytes):
            await put(body)
        elif hasattr(body, "read"):
            while True:
                data = await loop.run_in_executor(None, body.read, CHUNK)
                if not data:
                    break
                await put(bytes(data))
        elif hasattr(body, "__aiter__"):
            async for data in body:
                await put(bytes(data))
        elif body is not None:
            for data in body:
                await put(bytes(data))
        if chunked:
            writer.write(b"0\r\n\r\n")
            await writer.drain()

    def _prepare(self, r: Request) -> Tuple[Any, Dict[str, str]]:
        headers: Dict[str, str] = {}
        if r.has_json:
            data = dumps(r.json)
            headers["Content-Type"] = "application/json"
            headers["Content-Length"] = str(len(data))
            return data, headers
        b: Any = r.body
        if b is None:
            if r.method in ("POST", "PUT"):
                headers["Content-Length"] = "0"
            return None, headers
        headers["Content-Type"] = "application/octet-stream"
        if isinstance(b, str):
            b = b.encode("utf-8")
        if isinstance(b, (bytes, bytearray, memoryview)):
            b = bytes(b)
            headers["Content-Length"] = str(len(b))
            return b, headers
        if hasattr(b, "read"):
            n = body_length(b)
            if n is not None:
                headers["Content-Length"] = str(n)
                return b, headers
        if hasattr(b, "read") or hasattr(b, "__iter__") or hasattr(b, "__aiter__"):
            headers["Transfer-Encoding"] = "chunked"
            return b, headers
        raise TypeError(f"cannot send a body of type {type(b).__name__}")

    async def _once(self, r: Request, timeout: float) -> AsyncResponse:
        reader, writer = await self._connect(timeout)
        try:
            body, headers = self._prepare(r)
            headers.update(self.config.headers())
            headers["Host"] = self._host_header
            headers["Connection"] = "close"
            headers["Accept"] = "application/x-ndjson" if r.stream else \
                "application/json" if not r.raw else "*/*"
            head = f"{r.method} {self._prefix + r.target()} HTTP/1.1\r\n" + "".join(
                f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
            writer.write(head.encode("latin-1"))
            await self._write_body(writer, body, headers.get("Transfer-Encoding") == "chunked")
            status_line = await asyncio.wait_for(reader.readline(), timeout)
            parts = status_line.decode("latin-1").split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/"):
                raise errors.ConnectionError(f"{self.config.url} sent no HTTP answer")
            raw_headers = b""
            while True:
                line = await asyncio.wait_for(reader.readline(), timeout)
                raw_headers += line
                if line in (b"\r\n", b"\n", b""):
                    break
                if len(raw_headers) > _MAX_HEADER:
                    raise errors.ConnectionError("response headers too large")
            msg = http.client.parse_headers(io.BytesIO(raw_headers))
            return AsyncResponse(int(parts[1]), msg, reader, writer, timeout, self.config.url)
        except BaseException as e:
            writer.close()
            if isinstance(e, asyncio.TimeoutError):
                raise errors.TimeoutError(
                    f"no answer from {self.config.url} in {timeout} s") from e
            if isinstance(e, OSError):
                raise errors.ConnectionError(f"connection to {self.config.url} failed: {e}") from e
            raise

    async def _exchange(self, r: Request) -> AsyncResponse:
        timeout = r.timeout if r.timeout is not None else self.config.timeout
        if r.has_json:
            notify("request", r.method, r.target(), None, r.json)
        attempt = 0
        while True:
            try:
                resp = await self._once(r, timeout)
            except errors.ConnectionError:
                attempt += 1
                if r.idempotent and r.replayable() and attempt <= self.config.max_retries:
                    await asyncio.sleep(self.config.delay(attempt))
                    continue
                raise
            if resp.status in RETRY_STATUSES and r.idempotent and r.replayable() and \
                    attempt < self.config.max_retries:
                resp.close()
                attempt += 1
                await asyncio.sleep(self.config.delay(attempt))
                continue
            if resp.status >= 400:
                try:
                    raw = await resp.read()
                finally:
                    resp.close()
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                notify("response", r.method, r.target(), resp.status, body)
                raise errors.error_from_response(resp.status, body,
                                                 raw.decode("utf-8", "replace")[:500])
            return resp

    async def call(self, r: Request) -> Any:
        """The JSON answer (None for no body; bytes for raw answers)."""
        resp = await self._exchange(r)
        try:
            data = await resp.read()
        finally:
            resp.close()
        if r.raw or not data:
            notify("response", r.method, r.target(), resp.status, None)
            return data if r.raw else None
        body = json.loads(data)
        notify("response", r.method, r.target(), resp.status, body)
        return body

    async def open(self, r: Request) -> AsyncStreamed:
        """The answer unread, to stream from."""
        resp = await self._exchange(r)
        if r.raw:
            notify("response", r.method, r.target(), resp.status, None)
        return AsyncStreamed(resp, r)

    async def close(self) -> None:
        """Nothing is pooled; kept for symmetry with the blocking client."""
