"""The blocking client: :class:`Client` (workspace-wide calls) and
:class:`Sandbox` (one sandbox: code, commands, files)."""
from __future__ import annotations

import os
import time
import urllib.parse
from datetime import date, datetime, timezone
from typing import (cast, Any, BinaryIO, Callable, Dict, Iterable, Iterator, List, Literal,
                    Mapping, Optional, Type, Union, overload)
from types import TracebackType

from . import _ops as ops
from ._api import (CHUNK, Body, Config, ExecutionAssembler, exec_wait)
from ._http import HTTP, Streamed
from .errors import ExecutionError, NotFoundError, TimeoutError
from .models import (ActionFile, CommandInfo, CommandResult, Context, DriveFile,
                     ExecuteCodeResult, Execution, FileEntry, OutputMessage, ProcessFileResult,
                     Result, SandboxInfo, Skill, SkillSummary, TestCase, TestReport, Usage,
                     Validation)

__all__ = ["Client", "Sandbox", "Files", "Commands", "CommandHandle", "Drive", "Skills",
           "Actions", "ByteStream", "CodeStream"]

OutputHandler = Callable[[OutputMessage], Any]
ResultHandler = Callable[[Result], Any]
ErrorHandler = Callable[[ExecutionError], Any]
PathLike = Union[str, "os.PathLike[str]"]
TimeArg = Union[str, date, datetime, None]


def _time_param(v: TimeArg) -> Optional[str]:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=timezone.utc)
        return v.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return v.isoformat()


class ByteStream:
    """A file being downloaded: iterate for chunks of bytes (never the whole
    file at once). Close it (or use ``with``) to stop early."""

    def __init__(self, streamed: Streamed, chunk_size: int = CHUNK) -> None:
        self._s = streamed
        self._chunk = chunk_size
        length = streamed.response.getheader("Content-Length")
        self.size: Optional[int] = int(length) if length else None

    def __iter__(self) -> Iterator[bytes]:
        return self._s.chunks(self._chunk)

    def save(self, dest: Union[PathLike, BinaryIO]) -> int:
        """Writes every chunk to a path or a binary file; returns the byte count."""
        n = 0
        if hasattr(dest, "write"):
            f: Any = dest
            for chunk in self:
                f.write(chunk)
                n += len(chunk)
            return n
        with open(cast(PathLike, dest), "wb") as out:
            for chunk in self:
                out.write(chunk)
                n += len(chunk)
        return n

    def close(self) -> None:
        """Stops reading and closes the connection."""
        self._s.close()

    def __enter__(self) -> "ByteStream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _read_format(stream: ByteStream, fmt: str) -> Union[str, bytes, ByteStream]:
    if fmt == "stream":
        return stream
    data = b"".join(stream)
    if fmt == "bytes":
        return data
    if fmt == "text":
        return data.decode("utf-8")
    raise ValueError(f"format must be 'text', 'bytes' or 'stream', not {fmt!r}")


class Drive:
    """Drive: the workspace's persistent file storage (``client.drive``)."""

    def __init__(self, http: HTTP) -> None:
        self._http = http

    def write(self, path: str, data: Body, *, scope: Optional[str] = None,
              replace: bool = False, request_timeout: Optional[float] = None) -> DriveFile:
        """Stores ``data`` (str, bytes, a binary file object or an iterable of
        bytes chunks, streamed as it is read) at ``path`` (e.g. "/data/q4.csv").
        ``scope`` is "persistent" (default), "session" or "temporary"; an existing
        path raises ConflictError unless ``replace``."""
        return DriveFile.from_json(self._http.call(
            ops.drive_write(path, data, scope, replace, request_timeout)))

    def upload_file(self, local_path: PathLike, path: str, *, scope: Optional[str] = None,
                    replace: bool = False, request_timeout: Optional[float] = None) -> DriveFile:
        """Streams a local file into Drive at ``path``."""
        with open(local_path, "rb") as f:
            return self.write(path, f, scope=scope, replace=replace,
                              request_timeout=request_timeout)

    @overload
    def read(self, path: str, format: Literal["text"] = ...,
             request_timeout: Optional[float] = None) -> str: ...

    @overload
    def read(self, path: str, format: Literal["bytes"],
             request_timeout: Optional[float] = None) -> bytes: ...

    @overload
    def read(self, path: str, format: Literal["stream"],
             request_timeout: Optional[float] = None) -> ByteStream: ...

    def read(self, path: str, format: str = "text",
             request_timeout: Optional[float] = None) -> Union[str, bytes, ByteStream]:
        """A Drive file as text (UTF-8), bytes, or a :class:`ByteStream` of chunks."""
        return _read_format(ByteStream(self._http.open(ops.drive_read(path, request_timeout))),
                            format)

    def download_file(self, path: str, local_path: PathLike,
                      request_timeout: Optional[float] = None) -> int:
        """Streams a Drive file to a local path; returns its size."""
        return self.read(path, "stream", request_timeout).save(local_path)

    def list(self, prefix: Optional[str] = None) -> List[DriveFile]:
        """The files under ``prefix`` (default "/")."""
        return [DriveFile.from_json(f) for f in self._http.call(ops.drive_list(prefix))["files"]]

    def remove(self, path: str) -> None:
        """Deletes a Drive file."""
        self._http.call(ops.drive_remove(path))


class Skills:
    """Skills: tested instructions and templates (``client.skills``)."""

    def __init__(self, http: HTTP) -> None:
        self._http = http

    def list(self) -> List[SkillSummary]:
        """Every skill's name and description."""
        return [SkillSummary(s["name"], s["description"])
                for s in self._http.call(ops.list_skills())["skills"]]

    def get(self, name: str) -> Skill:
        """A skill's instructions and file list."""
        d = self._http.call(ops.get_skill(name))
        return Skill(d["name"], d["description"], d["body"], list(d["files"]))

    def read_file(self, name: str, path: str) -> bytes:
        """One of a skill's files."""
        data: bytes = self._http.call(ops.read_skill_file(name, path))
        return data


class Actions:
    """One-call tools for agents (``client.actions``)."""

    def __init__(self, http: HTTP) -> None:
        self._http = http

    def execute_code(self, code: str, *, file: Optional[ops.FileData] = None,
                     file_name: Optional[str] = None, file_url: Optional[str] = None,
                     session: Optional[str] = None,
                     request_timeout: float = 120.0) -> ExecuteCodeResult:
        """Runs Python code in a fresh sandbox (or the ``session``'s) with an
        optional input file (bytes/str as ``file`` + ``file_name``, or ``file_url``)
        in its working folder; the files it made come back as signed links."""
        return ExecuteCodeResult.from_json(self._http.call(ops.execute_code_action(
            code, file, file_name, file_url, session, request_timeout)))

    def process_file(self, operation: str, *, file: Optional[ops.FileData] = None,
                     file_name: Optional[str] = None, file_url: Optional[str] = None,
                     options: Optional[Mapping[str, Any]] = None, session: Optional[str] = None,
                     request_timeout: float = 120.0) -> ProcessFileResult:
        """``operation`` "analyze", "transform" (``options={"steps": [...],
        "output": "csv"}``) or "parse_excel" on a CSV, TSV, Excel, JSON or text file."""
        return ProcessFileResult.from_json(self._http.call(ops.process_file_action(
            operation, file, file_name, file_url, options, session, request_timeout)))

    def fetch_file(self, file: Union[ActionFile, str]) -> bytes:
        """The bytes behind an action file's signed link (no key needed)."""
        url = file.url if isinstance(file, ActionFile) else file
        u = urllib.parse.urlsplit(url)
        data: bytes = self._http.call(ops.signed_download(u.path + "?" + u.query))
        return data


class Client:
    """A connection to kilnd for workspace-wide calls: sandboxes, Drive,
    skills, actions, validate/test and usage.

    ``url`` and ``api_key`` default to ``KILN_URL`` and ``KILN_API_KEY``
    (and then http://127.0.0.1:8420 with no key). ``timeout`` is the default
    request timeout in seconds; ``max_retries`` how often an idempotent call
    is retried (with exponential backoff) after a connection failure or a
    502/503/504.
    """

    def __init__(self, url: Optional[str] = None, api_key: Optional[str] = None, *,
                 timeout: Optional[float] = None, max_retries: Optional[int] = None) -> None:
        self.config = Config.resolve(url, api_key, timeout, max_retries)
        self._http = HTTP(self.config)
        self.drive = Drive(self._http)
        self.skills = Skills(self._http)
        self.actions = Actions(self._http)

    def health(self) -> Dict[str, Any]:
        """``{"status": "ok", "version": ...}``."""
        result: Dict[str, Any] = self._http.call(ops.health())
        return result

    def create_sandbox(self, **kwargs: Any) -> "Sandbox":
        """Same as :meth:`Sandbox.create`, on this client."""
        return Sandbox.create(client=self, **kwargs)

    def list_sandboxes(self) -> List[SandboxInfo]:
        """The workspace's live sandboxes."""
        return [SandboxInfo.from_json(s) for s in self._http.call(ops.list_sandboxes())["sandboxes"]]

    def validate(self, code: str, language: Optional[str] = None) -> Validation:
        """Checks code with the language's own parser (nothing runs) plus advisory warnings."""
        return Validation.from_json(self._http.call(ops.validate(code, language)))

    def test(self, code: str, tests: Iterable[Union[TestCase, Mapping[str, Any]]],
             language: Optional[str] = None, request_timeout: float = 120.0) -> TestReport:
        """Runs ``code`` in a fresh sandbox, then each ``{"call", "expected"}``,
        comparing the values as JSON."""
        return TestReport.from_json(self._http.call(
            ops.test(code, tests, language, request_timeout)))

    test.__test__ = False  # type: ignore[attr-defined]

    def usage(self, from_: TimeArg = None, to: TimeArg = None) -> Usage:
        """Metered usage between two times or dates (open-ended when left out)."""
        return Usage.from_json(self._http.call(ops.usage(_time_param(from_), _time_param(to))))

    def close(self) -> None:
        """Closes pooled connections."""
        self._http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _dispatch(handlers: Mapping[str, Optional[Callable[[Any], Any]]],
              call: Optional[tuple]) -> None:  # type: ignore[type-arg]
    if call is not None:
        fn = handlers.get(call[0])
        if fn is not None:
            fn(call[1])


class CodeStream:
    """A run being streamed: iterate for OutputMessage, Result and
    ExecutionError items as they happen; ``execution`` is complete afterwards.
    Closing it early (or ``break`` + ``close()``) interrupts the run."""

    def __init__(self, streamed: Streamed) -> None:
        self._s = streamed
        self._asm = ExecutionAssembler()

    @property
    def execution(self) -> Execution:
        """What the run produced so far (all of it once iteration ended)."""
        return self._asm.execution

    def __iter__(self) -> Iterator[Union[OutputMessage, Result, ExecutionError]]:
        for event in self._s.events():
            item = self._asm.feed(event)
            if item is not None:
                yield item[1]

    def close(self) -> None:
        """Stops the stream; a run still going is interrupted."""
        self._s.close()

    def __enter__(self) -> "CodeStream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class CommandHandle:
    """A background command: ``pid`` inside the sandbox; ``kill()``, ``wait()``."""

    def __init__(self, commands: "Commands", pid: int) -> None:
        self._commands = commands
        self.pid = pid

    def info(self) -> CommandInfo:
        """Whether it runs, its exit code, and the last 64 KiB of its output."""
        return self._commands.get(self.pid)

    def kill(self) -> None:
        """Kills its process group."""
        self._commands.kill(self.pid)

    def wait(self, timeout: Optional[float] = None, poll_interval: float = 0.1) -> CommandInfo:
        """Polls until it ended; raises kiln.TimeoutError after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            info = self.info()
            if not info.running:
                return info
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"command {self.pid} still running after {timeout} s")
            time.sleep(poll_interval)

    def __repr__(self) -> str:
        return f"CommandHandle(pid={self.pid})"


class Commands:
    """Shell commands in a sandbox (``sandbox.commands``)."""

    def __init__(self, sandbox: "Sandbox") -> None:
        self._sbx = sandbox

    @overload
    def run(self, cmd: str, *, background: Literal[False] = ..., cwd: Optional[str] = None,
            env: Optional[Mapping[str, str]] = None, timeout: Optional[float] = None,
            stdin: Optional[str] = None, on_stdout: Optional[OutputHandler] = None,
            on_stderr: Optional[OutputHandler] = None,
            request_timeout: Optional[float] = None) -> CommandResult: ...

    @overload
    def run(self, cmd: str, *, background: Literal[True], cwd: Optional[str] = None,
            env: Optional[Mapping[str, str]] = None, timeout: Optional[float] = None,
            stdin: Optional[str] = None, on_stdout: Optional[OutputHandler] = None,
            on_stderr: Optional[OutputHandler] = None,
            request_timeout: Optional[float] = None) -> CommandHandle: ...

    def run(self, cmd: str, *, background: bool = False, cwd: Optional[str] = None,
            env: Optional[Mapping[str, str]] = None, timeout: Optional[float] = None,
            stdin: Optional[str] = None, on_stdout: Optional[OutputHandler] = None,
            on_stderr: Optional[OutputHandler] = None,
            request_timeout: Optional[float] = None) -> Union[CommandResult, CommandHandle]:
        """Runs ``/bin/sh -c cmd`` as the sandbox user.

        In the foreground it returns a :class:`CommandResult` (exit code 124 and
        ``error == "timeout"`` when it ran past ``timeout`` seconds); with
        ``on_stdout``/``on_stderr`` the output is streamed to them as it is
        written. With ``background=True`` it returns a :class:`CommandHandle` at once.
        """
        http = self._sbx._http
        wait = request_timeout or exec_wait(timeout, self._sbx._exec_timeout())
        stream = not background and (on_stdout is not None or on_stderr is not None)
        r = ops.run_command(self._sbx.id, cmd, background, cwd, env, timeout, stdin, wait, stream)
        if background:
            return CommandHandle(self, int(http.call(r)["pid"]))
        if not stream:
            return CommandResult.from_json(http.call(r))
        out: List[str] = []
        err: List[str] = []
        handlers = {"on_stdout": on_stdout, "on_stderr": on_stderr}
        asm = ExecutionAssembler()
        with http.open(r) as s:
            for event in s.events():
                if event.get("type") == "end":
                    return CommandResult(int(event["exit_code"]), "".join(out), "".join(err),
                                         int(event.get("duration_ms", 0)), event.get("error"))
                call = asm.feed(event)
                if call is not None and isinstance(call[1], OutputMessage):
                    (out if call[1].stream == "stdout" else err).append(call[1].text)
                _dispatch(handlers, call)
        raise TimeoutError("the command's stream ended without its end event")

    def list(self) -> List[CommandInfo]:
        """Background commands, running and recently finished."""
        return [CommandInfo.from_json(c)
                for c in self._sbx._http.call(ops.list_commands(self._sbx.id))["commands"]]

    def get(self, pid: int) -> CommandInfo:
        """One background command, with the last 64 KiB of each stream."""
        return CommandInfo.from_json(self._sbx._http.call(ops.get_command(self._sbx.id, pid)))

    def kill(self, pid: int) -> None:
        """Kills a background command's process group."""
        self._sbx._http.call(ops.kill_command(self._sbx.id, pid))


class Files:
    """A sandbox's files (``sandbox.files``). Paths are absolute or relative
    to /home/user."""

    def __init__(self, sandbox: "Sandbox") -> None:
        self._sbx = sandbox

    def list(self, path: Optional[str] = None) -> List[FileEntry]:
        """A folder's entries (default /home/user)."""
        return [FileEntry.from_json(e)
                for e in self._sbx._http.call(ops.list_files(self._sbx.id, path))["entries"]]

    @overload
    def read(self, path: str, format: Literal["text"] = ...,
             request_timeout: Optional[float] = None) -> str: ...

    @overload
    def read(self, path: str, format: Literal["bytes"],
             request_timeout: Optional[float] = None) -> bytes: ...

    @overload
    def read(self, path: str, format: Literal["stream"],
             request_timeout: Optional[float] = None) -> ByteStream: ...

    def read(self, path: str, format: str = "text",
             request_timeout: Optional[float] = None) -> Union[str, bytes, ByteStream]:
        """A file as text (UTF-8), bytes, or a :class:`ByteStream` of chunks that
        never holds the whole file."""
        return _read_format(ByteStream(self._sbx._http.open(
            ops.read_file(self._sbx.id, path, request_timeout))), format)

    def write(self, path: str, data: Body, request_timeout: Optional[float] = None) -> FileEntry:
        """Writes ``data`` (str, bytes, a binary file object or an iterable of
        bytes chunks, sent as it is read) to ``path``; parent folders are made.
        Returns the entry of the written file."""
        d = self._sbx._http.call(ops.write_file(self._sbx.id, path, data, request_timeout))
        name = d["path"].rsplit("/", 1)[-1]
        return FileEntry(name, d["path"], "file", int(d["size"]), None)

    def upload_file(self, local_path: PathLike, path: str,
                    request_timeout: Optional[float] = None) -> FileEntry:
        """Streams a local file into the sandbox."""
        with open(local_path, "rb") as f:
            return self.write(path, f, request_timeout)

    def download_file(self, path: str, local_path: PathLike,
                      request_timeout: Optional[float] = None) -> int:
        """Streams a sandbox file to a local path; returns its size."""
        return self.read(path, "stream", request_timeout).save(local_path)

    def remove(self, path: str) -> None:
        """Deletes a file, or a folder with everything in it."""
        self._sbx._http.call(ops.remove_file(self._sbx.id, path))

    def make_dir(self, path: str) -> str:
        """Creates a folder and its parents; returns its absolute path."""
        return str(self._sbx._http.call(ops.make_dir(self._sbx.id, path))["path"])

    def exists(self, path: str) -> bool:
        """Whether a file or folder exists at ``path``."""
        parent, _, name = path.rstrip("/").rpartition("/")
        if not name:
            return True
        try:
            entries = self.list(parent if parent or path.startswith("/") else None)
        except NotFoundError:
            return False
        return any(e.name == name for e in entries)

    def copy_from_drive(self, drive_path: str, path: str) -> int:
        """Copies a Drive file into the sandbox; returns its size."""
        return int(self._sbx._http.call(ops.drive_to_sandbox(self._sbx.id, drive_path, path))["size"])

    def copy_to_drive(self, path: str, drive_path: str, *, replace: bool = False,
                      scope: Optional[str] = None) -> DriveFile:
        """Copies a sandbox file into Drive."""
        return DriveFile.from_json(self._sbx._http.call(
            ops.sandbox_to_drive(self._sbx.id, path, drive_path, replace, scope)))


class Sandbox:
    """One sandbox. Make it with :meth:`Sandbox.create` (or ``connect`` to an
    existing one); ``with Sandbox.create() as sbx:`` deletes it at the end.

    >>> with Sandbox.create() as sbx:
    ...     sbx.run_code("6 * 7").text
    '42'
    """

    def __init__(self, info: SandboxInfo, client: Client, owns_client: bool = False) -> None:
        self.info = info
        self.client = client
        self._http = client._http
        self._owns_client = owns_client
        self.files = Files(self)
        self.commands = Commands(self)
        self.drive = client.drive

    @property
    def id(self) -> str:
        """The sandbox id (``sbx_…``)."""
        return self.info.id

    @property
    def sandbox_id(self) -> str:
        """The sandbox id (E2B's name for it)."""
        return self.info.id

    @classmethod
    def create(cls, *, template: Optional[str] = None, timeout: Optional[int] = None,
               session: Optional[str] = None, env: Optional[Mapping[str, str]] = None,
               metadata: Optional[Mapping[str, str]] = None,
               limits: Optional[Mapping[str, Any]] = None, network: Optional[str] = None,
               url: Optional[str] = None, api_key: Optional[str] = None,
               request_timeout: Optional[float] = None,
               client: Optional[Client] = None) -> "Sandbox":
        """Creates a sandbox (a few ms: it comes from the warm pool).

        ``timeout`` is its lifetime in seconds (default 300; see
        :meth:`set_timeout`); ``session`` makes this get-or-create: the live
        sandbox holding that key is returned instead. ``env`` goes to every
        context and command; ``limits`` may set memory_mb, cpus, pids, disk_mb
        and exec_timeout_s.
        """
        owns = client is None
        c = client or Client(url, api_key, timeout=request_timeout)
        info = SandboxInfo.from_json(c._http.call(ops.create_sandbox(
            template, timeout, session, env, metadata, limits, network)))
        return cls(info, c, owns)

    @classmethod
    def connect(cls, sandbox_id: str, *, url: Optional[str] = None,
                api_key: Optional[str] = None, client: Optional[Client] = None) -> "Sandbox":
        """A handle on an existing sandbox (NotFoundError if it is gone)."""
        owns = client is None
        c = client or Client(url, api_key)
        return cls(SandboxInfo.from_json(c._http.call(ops.get_sandbox(sandbox_id))), c, owns)

    @staticmethod
    def list(*, url: Optional[str] = None, api_key: Optional[str] = None) -> List[SandboxInfo]:
        """The workspace's live sandboxes."""
        with Client(url, api_key) as c:
            return c.list_sandboxes()

    def _exec_timeout(self) -> float:
        return float(self.info.limits.exec_timeout_s)

    # -- lifecycle --
    def get_info(self) -> SandboxInfo:
        """The sandbox as it is now, with its usage so far."""
        self.info = SandboxInfo.from_json(self._http.call(ops.get_sandbox(self.id)))
        return self.info

    def set_timeout(self, seconds: int) -> SandboxInfo:
        """Sets the sandbox to expire ``seconds`` from now."""
        self.info = SandboxInfo.from_json(self._http.call(ops.set_timeout(self.id, seconds)))
        return self.info

    def is_running(self) -> bool:
        """Whether the sandbox still exists."""
        try:
            self.get_info()
            return True
        except NotFoundError:
            return False

    def kill(self) -> None:
        """Deletes the sandbox: every process and file in it goes."""
        self._http.call(ops.delete_sandbox(self.id))

    def close(self) -> None:
        """Deletes the sandbox if it still exists and closes the client's
        connections when the sandbox made its own client."""
        try:
            self.kill()
        except NotFoundError:
            pass
        finally:
            if self._owns_client:
                self.client.close()

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]],
                 exc: Optional[BaseException], tb: Optional[TracebackType]) -> None:
        self.close()

    # -- code --
    def run_code(self, code: str, *, language: Optional[str] = None,
                 context: Optional[ops.ContextRef] = None,
                 on_stdout: Optional[OutputHandler] = None,
                 on_stderr: Optional[OutputHandler] = None,
                 on_result: Optional[ResultHandler] = None,
                 on_error: Optional[ErrorHandler] = None,
                 timeout: Optional[float] = None, env: Optional[Mapping[str, str]] = None,
                 request_timeout: Optional[float] = None) -> Execution:
        """Runs code and returns its :class:`Execution` (also when the code
        raised: see ``execution.error``).

        ``language`` ("python", "javascript", "typescript", "bash") picks that
        language's default context; ``context`` a context of your own; with
        neither, the default Python context. State persists between runs in a
        context. ``timeout`` is the execution timeout in seconds (default the
        sandbox's exec_timeout_s); ``env`` applies to this run only.

        With any ``on_*`` callback the run is streamed: each is called as the
        output, results and error arrive. An exception raised by a callback
        interrupts the run and propagates.
        """
        wait = request_timeout or exec_wait(timeout, self._exec_timeout())
        handlers = {"on_stdout": on_stdout, "on_stderr": on_stderr, "on_result": on_result,
                    "on_error": on_error}
        stream = any(h is not None for h in handlers.values())
        r = ops.execute(self.id, code, language, context, timeout, env, wait, stream)
        if not stream:
            return Execution.from_json(self._http.call(r))
        asm = ExecutionAssembler()
        with self._http.open(r) as s:
            for event in s.events():
                _dispatch(handlers, asm.feed(event))
        if not asm.ended:
            raise TimeoutError("the execution's stream ended without its end event")
        return asm.execution

    def stream_code(self, code: str, *, language: Optional[str] = None,
                    context: Optional[ops.ContextRef] = None, timeout: Optional[float] = None,
                    env: Optional[Mapping[str, str]] = None,
                    request_timeout: Optional[float] = None) -> CodeStream:
        """Starts a run and returns a :class:`CodeStream` to iterate over its
        output, results and error as they happen."""
        wait = request_timeout or exec_wait(timeout, self._exec_timeout())
        return CodeStream(self._http.open(
            ops.execute(self.id, code, language, context, timeout, env, wait, True)))

    # -- contexts --
    def create_code_context(self, language: Optional[str] = None,
                            cwd: Optional[str] = None) -> Context:
        """Starts a new interpreter (python by default) with its own state."""
        return Context.from_json(self._http.call(ops.create_context(self.id, language, cwd)))

    def list_code_contexts(self) -> List[Context]:
        """Every context of the sandbox (the default ones included)."""
        return [Context.from_json(c)
                for c in self._http.call(ops.list_contexts(self.id))["contexts"]]

    def get_code_context(self, context: ops.ContextRef) -> Context:
        """One context."""
        return Context.from_json(self._http.call(ops.get_context(self.id, context)))

    def restart_code_context(self, context: ops.ContextRef) -> Context:
        """Fresh state, same id."""
        return Context.from_json(self._http.call(ops.restart_context(self.id, context)))

    def remove_code_context(self, context: ops.ContextRef) -> None:
        """Ends a context (a run in it ends with ContextStoppedError)."""
        self._http.call(ops.delete_context(self.id, context))

    def __repr__(self) -> str:
        return f"Sandbox(id={self.id!r})"



