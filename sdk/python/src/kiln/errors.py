"""Exceptions raised by the Kiln SDK.

Every exception is a :class:`KilnError`. An error answer from the API
becomes the :class:`APIError` subclass for its ``code`` (``not_found`` ->
:class:`NotFoundError`, ``quota_exceeded`` -> :class:`QuotaExceededError`,
...). Code that raised inside a sandbox is an :class:`ExecutionError`; it
is found on ``Execution.error`` and raised by ``Execution.raise_error()``.
"""
from __future__ import annotations

import builtins
from typing import Any, Dict, Optional, Type

__all__ = [
    "KilnError", "ConnectionError", "TimeoutError", "APIError", "BadRequestError",
    "AuthenticationError", "QuotaExceededError", "NotFoundError", "ConflictError",
    "TooLargeError", "UnsupportedTypeError", "InvalidError", "RateLimitedError",
    "InternalError", "UnavailableError", "InsufficientStorageError", "ExecutionError",
    "ExecutionTimeoutError", "CommandExitError", "error_from_response",
]


class KilnError(Exception):
    """Base class of every error the SDK raises."""


class ConnectionError(KilnError, builtins.ConnectionError):
    """kilnd could not be reached (refused, reset, DNS, TLS)."""


class TimeoutError(KilnError, builtins.TimeoutError):
    """Waiting took too long: the client's request timeout, or (as
    :class:`ExecutionTimeoutError`) code that ran past its execution timeout."""


class APIError(KilnError):
    """An error answer from the API: ``status``, ``code`` and ``message``."""

    status: int
    code: str
    message: str

    def __init__(self, status: int, code: str, message: str,
                 body: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.body = body


class BadRequestError(APIError):
    """400 ``bad_request``: malformed input, or a path into a read-only place."""


class AuthenticationError(APIError):
    """401 ``unauthorized``: missing, unknown or revoked API key."""


class QuotaExceededError(APIError):
    """402 ``quota_exceeded``: the workspace's credits are spent."""


class NotFoundError(APIError):
    """404 ``not_found``: no such sandbox, context, file, skill or route in this workspace."""


class ConflictError(APIError):
    """409 ``conflict``: the context is busy, or the Drive file exists."""


class TooLargeError(APIError):
    """413 ``too_large``: a body, code or file over its cap."""


class UnsupportedTypeError(APIError):
    """415 ``unsupported_type``: a file type Drive or an action does not accept."""


class InvalidError(APIError):
    """422 ``invalid``: an action's operation failed."""


class RateLimitedError(APIError):
    """429 ``rate_limited``: the daemon's sandbox limit is reached."""


class InternalError(APIError):
    """500 ``internal``: the daemon failed."""


class UnavailableError(APIError):
    """503 ``unavailable``: the sandbox ended mid-request, or a service is not configured."""


class InsufficientStorageError(APIError):
    """507 ``insufficient_storage``: the sandbox's disk is full."""


_BY_CODE: Dict[str, Type[APIError]] = {
    "bad_request": BadRequestError,
    "unauthorized": AuthenticationError,
    "quota_exceeded": QuotaExceededError,
    "not_found": NotFoundError,
    "conflict": ConflictError,
    "too_large": TooLargeError,
    "unsupported_type": UnsupportedTypeError,
    "invalid": InvalidError,
    "rate_limited": RateLimitedError,
    "internal": InternalError,
    "unavailable": UnavailableError,
    "insufficient_storage": InsufficientStorageError,
}
_BY_STATUS: Dict[int, Type[APIError]] = {
    400: BadRequestError, 401: AuthenticationError, 402: QuotaExceededError,
    404: NotFoundError, 405: BadRequestError, 409: ConflictError, 413: TooLargeError,
    415: UnsupportedTypeError, 422: InvalidError, 429: RateLimitedError, 500: InternalError,
    503: UnavailableError, 507: InsufficientStorageError,
}


def error_from_response(status: int, body: Any, fallback_text: str = "") -> APIError:
    """The :class:`APIError` subclass for an error answer (by code, else by status)."""
    code, message = "", fallback_text
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        code = str(err.get("code", ""))
        message = str(err.get("message", fallback_text))
    cls = _BY_CODE.get(code) or _BY_STATUS.get(status) or APIError
    return cls(status, code or "http_" + str(status), message or f"HTTP {status}",
               body if isinstance(body, dict) else None)


class ExecutionError(KilnError):
    """Code that failed inside the sandbox: ``name`` (the exception's type, or
    ``TimeoutError``, ``OutOfMemoryError``, ``ContextStoppedError``, ``CommandError``
    for bash), ``value`` (its message), ``traceback`` and ``line`` (the line of the
    submitted code, when known)."""

    def __init__(self, name: str, value: str, traceback: str = "",
                 line: Optional[int] = None) -> None:
        super().__init__(f"{name}: {value}")
        self.name = name
        self.value = value
        self.traceback = traceback
        self.line = line

    @staticmethod
    def from_json(data: Dict[str, Any]) -> "ExecutionError":
        """An ExecutionError (or ExecutionTimeoutError) from the API's error object."""
        name = str(data.get("name", "Error"))
        cls = ExecutionTimeoutError if name == "TimeoutError" else ExecutionError
        line = data.get("line")
        return cls(name, str(data.get("value", "")), str(data.get("traceback", "")),
                   line if isinstance(line, int) else None)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, value={self.value!r}, line={self.line!r})"


class ExecutionTimeoutError(ExecutionError, TimeoutError):
    """The code ran past its execution timeout (the API's ``TimeoutError``)."""


class CommandExitError(KilnError):
    """A command ended with a non-zero exit code (raised by ``CommandResult.check()``)."""

    def __init__(self, exit_code: int, stdout: str, stderr: str) -> None:
        super().__init__(f"command exited with {exit_code}: {stderr.strip()[-500:]}")
        self.exit_code = exit_code
        self.stdout = stdout
        self.stderr = stderr
