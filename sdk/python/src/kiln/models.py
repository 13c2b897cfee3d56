"""Data the API returns, as typed objects."""
from __future__ import annotations

import base64
import binascii
import json as _json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, List, Optional

from .errors import CommandExitError, ExecutionError

__all__ = [
    "Result", "Logs", "Execution", "OutputMessage", "SandboxInfo", "SandboxUsage", "Limits",
    "Context", "CommandResult", "CommandInfo", "FileEntry", "DriveFile", "ActionFile",
    "ExecuteCodeResult", "ProcessFileResult", "Skill", "SkillSummary", "Validation",
    "ValidationIssue", "TestCase", "TestReport", "TestOutcome", "Usage", "UsageDay",
    "parse_time",
]

JSON = Any


def parse_time(text: Optional[str]) -> Optional[datetime]:
    """An aware datetime from the API's RFC 3339 text (None stays None)."""
    if text is None:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _b64(value: Any) -> Optional[bytes]:
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=False)
    except (binascii.Error, ValueError):
        return None


_RESULT_KEYS = ("text", "html", "markdown", "svg", "png", "jpeg", "pdf", "latex", "json",
                "javascript")


class Result:
    """One rich result of an execution: every rendering the object offered.

    ``text``, ``html``, ``markdown``, ``svg``, ``latex`` and ``javascript`` are
    strings; ``png``, ``jpeg`` and ``pdf`` are the decoded bytes; ``json`` is the
    decoded JSON value. A field the object did not offer is None.
    ``is_main_result`` is true for the value of the cell's last expression.
    In Jupyter the result displays itself (``_repr_html_``, ``_repr_png_``, ...).
    """

    def __init__(self, data: Dict[str, Any]) -> None:
        self.raw: Dict[str, Any] = {k: v for k, v in data.items() if k != "type"}
        self.is_main_result: bool = bool(data.get("is_main_result", False))
        self.text: Optional[str] = data.get("text")
        self.html: Optional[str] = data.get("html")
        self.markdown: Optional[str] = data.get("markdown")
        self.svg: Optional[str] = data.get("svg")
        self.latex: Optional[str] = data.get("latex")
        self.javascript: Optional[str] = data.get("javascript")
        self.json: JSON = data.get("json")
        self.png: Optional[bytes] = _b64(data.get("png"))
        self.jpeg: Optional[bytes] = _b64(data.get("jpeg"))
        self.pdf: Optional[bytes] = _b64(data.get("pdf"))
        self.extra: Dict[str, Any] = {k: v for k, v in self.raw.items()
                                      if k not in _RESULT_KEYS and k != "is_main_result"}

    def formats(self) -> List[str]:
        """The renderings present, e.g. ``["text", "html"]``."""
        return [k for k in _RESULT_KEYS if self.raw.get(k) is not None]

    def _repr_html_(self) -> Optional[str]:
        return self.html

    def _repr_markdown_(self) -> Optional[str]:
        return self.markdown

    def _repr_svg_(self) -> Optional[str]:
        return self.svg

    def _repr_png_(self) -> Optional[bytes]:
        return self.png

    def _repr_jpeg_(self) -> Optional[bytes]:
        return self.jpeg

    def _repr_latex_(self) -> Optional[str]:
        return self.latex

    def _repr_json_(self) -> JSON:
        return self.json

    def __str__(self) -> str:
        return self.text if self.text is not None else ""

    def __repr__(self) -> str:
        return f"Result(formats={self.formats()!r}, is_main_result={self.is_main_result})"


@dataclass
class OutputMessage:
    """A piece of output as the program wrote it: ``text``, the ``stream``
    ("stdout" or "stderr") and when kilnd relayed it (``timestamp``)."""

    text: str
    stream: str
    timestamp: Optional[datetime] = None

    @property
    def line(self) -> str:
        """The text (E2B's name for it)."""
        return self.text

    def __str__(self) -> str:
        return self.text


@dataclass
class Logs:
    """An execution's output: the pieces written to stdout and to stderr."""

    stdout: List[str] = field(default_factory=list)
    stderr: List[str] = field(default_factory=list)


@dataclass
class Execution:
    """The outcome of ``run_code``: results, logs, error (None when it
    succeeded), execution_count and duration_ms."""

    results: List[Result] = field(default_factory=list)
    logs: Logs = field(default_factory=Logs)
    error: Optional[ExecutionError] = None
    execution_count: int = 0
    duration_ms: int = 0

    @property
    def text(self) -> Optional[str]:
        """The main result's text (the value of the last expression), if any."""
        for r in self.results:
            if r.is_main_result:
                return r.text
        return None

    @property
    def stdout(self) -> str:
        """All of stdout, joined."""
        return "".join(self.logs.stdout)

    @property
    def stderr(self) -> str:
        """All of stderr, joined."""
        return "".join(self.logs.stderr)

    def raise_error(self) -> "Execution":
        """Raises ``error`` if the code failed; returns self otherwise."""
        if self.error is not None:
            raise self.error
        return self

    @staticmethod
    def from_json(data: Dict[str, Any]) -> "Execution":
        """From the API's whole (non-streamed) answer."""
        err = data.get("error")
        logs = data.get("logs") or {}
        return Execution(
            results=[Result(r) for r in data.get("results", [])],
            logs=Logs(list(logs.get("stdout", [])), list(logs.get("stderr", []))),
            error=ExecutionError.from_json(err) if isinstance(err, dict) else None,
            execution_count=int(data.get("execution_count", 0)),
            duration_ms=int(data.get("duration_ms", 0)))


@dataclass
class Limits:
    """A sandbox's resource limits."""

    memory_mb: int
    cpus: float
    pids: int
    disk_mb: int
    exec_timeout_s: int

    @staticmethod
    def from_json(d: Dict[str, Any]) -> "Limits":
        """From the API's ``limits`` object."""
        return Limits(int(d["memory_mb"]), float(d["cpus"]), int(d["pids"]), int(d["disk_mb"]),
                      int(d["exec_timeout_s"]))


@dataclass
class SandboxUsage:
    """What a sandbox used so far (from ``get_info``)."""

    active_ms: int
    cpu_ms: int
    memory_peak_bytes: int
    executions: int


@dataclass
class SandboxInfo:
    """A sandbox as the API describes it."""

    id: str
    status: str
    template: str
    session: Optional[str]
    created_at: datetime
    expires_at: datetime
    limits: Limits
    metadata: Dict[str, str]
    network: str
    usage: Optional[SandboxUsage] = None

    @staticmethod
    def from_json(d: Dict[str, Any]) -> "SandboxInfo":
        """From the API's sandbox object."""
        u = d.get("usage")
        created, expires = parse_time(d["created_at"]), parse_time(d["expires_at"])
        assert created is not None and expires is not None
        return SandboxInfo(
            id=d["id"], status=d["status"], template=d["template"], session=d.get("session"),
            created_at=created, expires_at=expires, limits=Limits.from_json(d["limits"]),
            metadata=dict(d.get("metadata") or {}), network=d.get("network", "none"),
            usage=SandboxUsage(int(u["active_ms"]), int(u["cpu_ms"]),
                               int(u["memory_peak_bytes"]), int(u["executions"]))
            if isinstance(u, dict) else None)


@dataclass
class Context:
    """A code context: one interpreter whose state persists across runs."""

    id: str
    language: str
    cwd: str
    default: bool = False

    @staticmethod
    def from_json(d: Dict[str, Any]) -> "Context":
        """From the API's context object."""
        return Context(d["id"], d["language"], d["cwd"], bool(d.get("default", False)))


@dataclass
class CommandResult:
    """A finished foreground command. ``error`` is "timeout" when it was killed
    for running too long (``exit_code`` 124)."""

    exit_code: int
    stdout: str
    stderr: str
    duration_ms: int = 0
    error: Optional[str] = None

    def check(self) -> "CommandResult":
        """Raises :class:`CommandExitError` unless the exit code is 0."""
        if self.exit_code != 0:
            raise CommandExitError(self.exit_code, self.stdout, self.stderr)
        return self

    @staticmethod
    def from_json(d: Dict[str, Any]) -> "CommandResult":
        """From the API's command answer."""
        return CommandResult(int(d["exit_code"]), d.get("stdout", ""), d.get("stderr", ""),
                             int(d.get("duration_ms", 0)), d.get("error"))


@dataclass
class CommandInfo:
    """A background command: pid (inside the sandbox), cmd, whether it is still
    running, its exit code once it ended, and (from ``get``) its recent output."""

    pid: int
    cmd: str
    running: bool
    exit_code: Optional[int]
    stdout: Optional[str] = None
    stderr: Optional[str] = None

    @staticmethod
    def from_json(d: Dict[str, Any]) -> "CommandInfo":
        """From the API's command object."""
        return CommandInfo(int(d["pid"]), d["cmd"], bool(d["running"]), d.get("exit_code"),
                           d.get("stdout"), d.get("stderr"))


@dataclass
class FileEntry:
    """An entry of a sandbox folder."""

    name: str
    path: str
    type: str
    size: int
    mtime: Optional[datetime]

    @staticmethod
    def from_json(d: Dict[str, Any]) -> "FileEntry":
        """From the API's entry object."""
        return FileEntry(d["name"], d["path"], d["type"], int(d["size"]), parse_time(d["mtime"]))


@dataclass
class DriveFile:
    """A file in Drive (the workspace's persistent storage)."""

    path: str
    size: int
    scope: str
    created_at: Optional[datetime]
    expires_at: Optional[datetime]
    sha256: str

    @staticmethod
    def from_json(d: Dict[str, Any]) -> "DriveFile":
        """From the API's Drive file object."""
        return DriveFile(d["path"], int(d["size"]), d["scope"], parse_time(d.get("created_at")),
                         parse_time(d.get("expires_at")), d["sha256"])


@dataclass
class ActionFile:
    """A file an action produced, with a signed link that needs no key."""

    name: str
    size: int
    path: str
    url: str
    expires_at: Optional[datetime]

    @staticmethod
    def from_json(d: Dict[str, Any]) -> "ActionFile":
        """From the API's action file object."""
        return ActionFile(d["name"], int(d["size"]), d["path"], d["url"],
                          parse_time(d.get("expires_at")))


@dataclass
class ExecuteCodeResult:
    """The answer of the ``executeCode`` action."""

    success: bool
    stdout: str
    stderr: str
    results: List[Result]
    error: Optional[ExecutionError]
    files: List[ActionFile]
    sandbox_id: str
    skipped_files: List[Dict[str, str]] = field(default_factory=list)

    @staticmethod
    def from_json(d: Dict[str, Any]) -> "ExecuteCodeResult":
        """From the API's answer."""
        err = d.get("error")
        return ExecuteCodeResult(
            bool(d["success"]), d.get("stdout", ""), d.get("stderr", ""),
            [Result(r) for r in d.get("results", [])],
            ExecutionError.from_json(err) if isinstance(err, dict) else None,
            [ActionFile.from_json(f) for f in d.get("files", [])], d.get("sandbox_id", ""),
            list(d.get("skipped_files", [])))


@dataclass
class ProcessFileResult:
    """The answer of the ``processFile`` action: its JSON ``result`` and output files."""

    success: bool
    result: JSON
    files: List[ActionFile]
    skipped_files: List[Dict[str, str]] = field(default_factory=list)

    @staticmethod
    def from_json(d: Dict[str, Any]) -> "ProcessFileResult":
        """From the API's answer."""
        return ProcessFileResult(bool(d["success"]), d.get("result"),
                                 [ActionFile.from_json(f) for f in d.get("files", [])],
                                 list(d.get("skipped_files", [])))


@dataclass
class SkillSummary:
    """A skill's name and description."""

    name: str
    description: str


@dataclass
class Skill:
    """A skill: its instructions (``body``, SKILL.md after the front matter) and files."""

    name: str
    description: str
    body: str
    files: List[str]


@dataclass
class ValidationIssue:
    """A syntax error (line, column, message) or a warning (line, rule, message)."""

    line: Optional[int]
    message: str
    column: Optional[int] = None
    rule: Optional[str] = None


@dataclass
class Validation:
    """The verdict of ``validate``: valid, syntax errors, advisory warnings."""

    valid: bool
    errors: List[ValidationIssue]
    warnings: List[ValidationIssue]

    @staticmethod
    def from_json(d: Dict[str, Any]) -> "Validation":
        """From the API's answer."""
        return Validation(
            bool(d["valid"]),
            [ValidationIssue(e.get("line"), e["message"], column=e.get("column"))
             for e in d.get("errors", [])],
            [ValidationIssue(w.get("line"), w["message"], rule=w.get("rule"))
             for w in d.get("warnings", [])])


@dataclass
class TestCase:
    """One call to test: ``call`` (an expression) and the ``expected`` JSON value."""

    call: str
    expected: JSON = None

    __test__ = False  # not a pytest test class


@dataclass
class TestOutcome:
    """How one call did: its actual value, whether it passed, the error if it raised."""

    call: str
    expected: JSON
    actual: JSON
    passed: bool
    error: Optional[str]

    __test__ = False


@dataclass
class TestReport:
    """The answer of ``test``: total, passed and each outcome."""

    total: int
    passed: int
    results: List[TestOutcome]

    __test__ = False

    @staticmethod
    def from_json(d: Dict[str, Any]) -> "TestReport":
        """From the API's answer."""
        return TestReport(int(d["total"]), int(d["passed"]),
                          [TestOutcome(r["call"], r.get("expected"), r.get("actual"),
                                       bool(r["passed"]), r.get("error"))
                           for r in d.get("results", [])])


@dataclass
class UsageDay:
    """One day of usage."""

    date: str
    sandboxes: int
    session_seconds: float
    active_seconds: float
    cpu_seconds: float
    executions: int


@dataclass
class Usage:
    """The workspace's metered usage; ``active_seconds`` is what is billed and
    ``credits`` the remaining balance when one is set."""

    workspace: str
    sandboxes: int
    session_seconds: float
    active_seconds: float
    cpu_seconds: float
    executions: int
    credits: Optional[float]
    by_day: List[UsageDay]

    @staticmethod
    def from_json(d: Dict[str, Any]) -> "Usage":
        """From the API's answer."""
        return Usage(d["workspace"], int(d["sandboxes"]), float(d["session_seconds"]),
                     float(d["active_seconds"]), float(d["cpu_seconds"]), int(d["executions"]),
                     None if d.get("credits") is None else float(d["credits"]),
                     [UsageDay(x["date"], int(x["sandboxes"]), float(x["session_seconds"]),
                               float(x["active_seconds"]), float(x["cpu_seconds"]),
                               int(x["executions"])) for x in d.get("by_day", [])])


def dumps(value: Any) -> bytes:
    """JSON-encodes a request body (UTF-8, no NaN)."""
    return _json.dumps(value, allow_nan=False, separators=(",", ":")).encode("utf-8")
