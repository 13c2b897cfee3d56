"""The asyncio client: :class:`AsyncClient` and :class:`AsyncSandbox`, the
twins of :class:`kiln.Client` and :class:`kiln.Sandbox`. Callbacks may be
plain functions or coroutine functions. Cancelling the task that awaits a
run closes its connection, and kilnd interrupts the run (the context and
the sandbox stay usable)."""
from __future__ import annotations

import asyncio
import inspect
import os
import time
import urllib.parse
from types import TracebackType
from typing import (cast, Any, AsyncIterator, BinaryIO, Callable, Dict, Iterable, List, Literal,
                    Mapping, Optional, Type, Union, overload)

from . import _ops as ops
from ._api import CHUNK, Body, Config, ExecutionAssembler, exec_wait
from ._async_http import AsyncHTTP, AsyncStreamed
from .errors import ExecutionError, NotFoundError, TimeoutError
from .models import (ActionFile, CommandInfo, CommandResult, Context, DriveFile,
                     ExecuteCodeResult, Execution, FileEntry, OutputMessage, ProcessFileResult,
                     Result, SandboxInfo, Skill, SkillSummary, TestCase, TestReport, Usage,
                     Validation)
from .sandbox import TimeArg, _time_param

__all__ = ["AsyncClient", "AsyncSandbox", "AsyncFiles", "AsyncCommands", "AsyncCommandHandle",
           "AsyncDrive", "AsyncSkills", "AsyncActions", "AsyncByteStream", "AsyncCodeStream"]

Handler = Callable[[Any], Any]
PathLike = Union[str, "os.PathLike[str]"]


async def _dispatch(handlers: Mapping[str, Optional[Handler]], call: Any) -> None:
    if call is not None:
        fn = handlers.get(call[0])
        if fn is not None:
            out = fn(call[1])
            if inspect.isawaitable(out):
                await out


class AsyncByteStream:
    """A file being downloaded: ``async for chunk in stream``. Close it (or
    ``async with``) to stop early."""

    def __init__(self, streamed: AsyncStreamed, chunk_size: int = CHUNK) -> None:
        self._s = streamed
        self._chunk = chunk_size
        length = streamed.response.headers.get("Content-Length")
        self.size: Optional[int] = int(length) if length else None

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._s.chunks(self._chunk)

    async def save(self, dest: Union[PathLike, BinaryIO]) -> int:
        """Writes every chunk to a path or a binary file; returns the byte count."""
        loop = asyncio.get_running_loop()
        n = 0
        if hasattr(dest, "write"):
            f: Any = dest
            async for chunk in self:
                await loop.run_in_executor(None, f.write, chunk)
                n += len(chunk)
            return n
        with open(cast(PathLike, dest), "wb") as out:
            async for chunk in self:
                await loop.run_in_executor(None, out.write, chunk)
                n += len(chunk)
        return n

    def close(self) -> None:
        """Stops reading and closes the connection."""
        self._s.close()

    async def __aenter__(self) -> "AsyncByteStream":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()


async def _read_format(stream: AsyncByteStream, fmt: str) -> Union[str, bytes, AsyncByteStream]:
    if fmt == "stream":
        return stream
    if fmt not in ("text", "bytes"):
        stream.close()
        raise ValueError(f"format must be 'text', 'bytes' or 'stream', not {fmt!r}")
    parts = [c async for c in stream]
    data = b"".join(parts)
    return data if fmt == "bytes" else data.decode("utf-8")


class AsyncDrive:
    """Drive, the workspace's persistent storage (``client.drive``)."""

    def __init__(self, http: AsyncHTTP) -> None:
        self._http = http

    async def write(self, path: str, data: Body, *, scope: Optional[str] = None,
                    replace: bool = False,
                    request_timeout: Optional[float] = None) -> DriveFile:
        """Stores ``data`` (str, bytes, a binary file, or a (async) iterable of
        bytes chunks, streamed) at ``path``; ConflictError if it exists unless ``replace``."""
        return DriveFile.from_json(await self._http.call(
            ops.drive_write(path, data, scope, replace, request_timeout)))

    async def upload_file(self, local_path: PathLike, path: str, *, scope: Optional[str] = None,
                          replace: bool = False,
                          request_timeout: Optional[float] = None) -> DriveFile:
        """Streams a local file into Drive."""
        with open(local_path, "rb") as f:
            return await self.write(path, f, scope=scope, replace=replace,
                                    request_timeout=request_timeout)

    @overload
    async def read(self, path: str, format: Literal["text"] = ...,
                   request_timeout: Optional[float] = None) -> str: ...

    @overload
    async def read(self, path: str, format: Literal["bytes"],
                   request_timeout: Optional[float] = None) -> bytes: ...

    @overload
    async def read(self, path: str, format: Literal["stream"],
                   request_timeout: Optional[float] = None) -> AsyncByteStream: ...

    async def read(self, path: str, format: str = "text",
                   request_timeout: Optional[float] = None
                   ) -> Union[str, bytes, AsyncByteStream]:
        """A Drive file as text, bytes, or an :class:`AsyncByteStream`."""
        s = await self._http.open(ops.drive_read(path, request_timeout))
        return await _read_format(AsyncByteStream(s), format)

    async def download_file(self, path: str, local_path: PathLike,
                            request_timeout: Optional[float] = None) -> int:
        """Streams a Drive file to a local path; returns its size."""
        return await (await self.read(path, "stream", request_timeout)).save(local_path)

    async def list(self, prefix: Optional[str] = None) -> List[DriveFile]:
        """The files under ``prefix`` (default "/")."""
        d = await self._http.call(ops.drive_list(prefix))
        return [DriveFile.from_json(f) for f in d["files"]]

    async def remove(self, path: str) -> None:
        """Deletes a Drive file."""
        await self._http.call(ops.drive_remove(path))


class AsyncSkills:
    """Skills (``client.skills``)."""

    def __init__(self, http: AsyncHTTP) -> None:
        self._http = http

    async def list(self) -> List[SkillSummary]:
        """Every skill's name and description."""
        d = await self._http.call(ops.list_skills())
        return [SkillSummary(s["name"], s["description"]) for s in d["skills"]]

    async def get(self, name: str) -> Skill:
        """A skill's instructions and file list."""
        d = await self._http.call(ops.get_skill(name))
        return Skill(d["name"], d["description"], d["body"], list(d["files"]))

    async def read_file(self, name: str, path: str) -> bytes:
        """One of a skill's files."""
        data: bytes = await self._http.call(ops.read_skill_file(name, path))
        return data


class AsyncActions:
    """One-call tools for agents (``client.actions``)."""

    def __init__(self, http: AsyncHTTP) -> None:
        self._http = http

    async def execute_code(self, code: str, *, file: Optional[ops.FileData] = None,
                           file_name: Optional[str] = None, file_url: Optional[str] = None,
                           session: Optional[str] = None,
                           request_timeout: float = 120.0) -> ExecuteCodeResult:
        """See :meth:`kiln.Actions.execute_code`."""
        return ExecuteCodeResult.from_json(await self._http.call(ops.execute_code_action(
            code, file, file_name, file_url, session, request_timeout)))

    async def process_file(self, operation: str, *, file: Optional[ops.FileData] = None,
                           file_name: Optional[str] = None, file_url: Optional[str] = None,
                           options: Optional[Mapping[str, Any]] = None,
                           session: Optional[str] = None,
                           request_timeout: float = 120.0) -> ProcessFileResult:
        """See :meth:`kiln.Actions.process_file`."""
        return ProcessFileResult.from_json(await self._http.call(ops.process_file_action(
            operation, file, file_name, file_url, options, session, request_timeout)))

    async def fetch_file(self, file: Union[ActionFile, str]) -> bytes:
        """The bytes behind an action file's signed link."""
        url = file.url if isinstance(file, ActionFile) else file
        u = urllib.parse.urlsplit(url)
        data: bytes = await self._http.call(ops.signed_download(u.path + "?" + u.query))
        return data


class AsyncClient:
    """The asyncio twin of :class:`kiln.Client` (same arguments)."""

    def __init__(self, url: Optional[str] = None, api_key: Optional[str] = None, *,
                 timeout: Optional[float] = None, max_retries: Optional[int] = None) -> None:
        self.config = Config.resolve(url, api_key, timeout, max_retries)
        self._http = AsyncHTTP(self.config)
        self.drive = AsyncDrive(self._http)
        self.skills = AsyncSkills(self._http)
        self.actions = AsyncActions(self._http)

    async def health(self) -> Dict[str, Any]:
        """``{"status": "ok", "version": ...}``."""
        result: Dict[str, Any] = await self._http.call(ops.health())
        return result

    async def create_sandbox(self, **kwargs: Any) -> "AsyncSandbox":
        """Same as :meth:`AsyncSandbox.create`, on this client."""
        return await AsyncSandbox.create(client=self, **kwargs)

    async def list_sandboxes(self) -> List[SandboxInfo]:
        """The workspace's live sandboxes."""
        d = await self._http.call(ops.list_sandboxes())
        return [SandboxInfo.from_json(s) for s in d["sandboxes"]]

    async def validate(self, code: str, language: Optional[str] = None) -> Validation:
        """Checks code with the language's own parser, plus advisory warnings."""
        return Validation.from_json(await self._http.call(ops.validate(code, language)))

    async def test(self, code: str, tests: Iterable[Union[TestCase, Mapping[str, Any]]],
                   language: Optional[str] = None, request_timeout: float = 120.0) -> TestReport:
        """Runs code in a fresh sandbox, then each call, comparing values as JSON."""
        return TestReport.from_json(await self._http.call(
            ops.test(code, tests, language, request_timeout)))

    test.__test__ = False  # type: ignore[attr-defined]

    async def usage(self, from_: TimeArg = None, to: TimeArg = None) -> Usage:
        """Metered usage between two times or dates."""
        return Usage.from_json(await self._http.call(
            ops.usage(_time_param(from_), _time_param(to))))

    async def close(self) -> None:
        """Releases resources (nothing is pooled)."""
        await self._http.close()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


class AsyncCodeStream:
    """A run being streamed: ``async for item in stream`` yields OutputMessage,
    Result and ExecutionError items as they happen; ``execution`` is complete
    afterwards. ``aclose()`` before the end interrupts the run."""

    def __init__(self, streamed: AsyncStreamed) -> None:
        self._s = streamed
        self._asm = ExecutionAssembler()

    @property
    def execution(self) -> Execution:
        """What the run produced so far."""
        return self._asm.execution

    async def __aiter__(self) -> AsyncIterator[Union[OutputMessage, Result, ExecutionError]]:
        async for event in self._s.events():
            item = self._asm.feed(event)
            if item is not None:
                yield item[1]

    async def aclose(self) -> None:
        """Stops the stream; a run still going is interrupted."""
        self._s.close()

    async def __aenter__(self) -> "AsyncCodeStream":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()


class AsyncCommandHandle:
    """A background command (``pid`` inside the sandbox)."""

    def __init__(self, commands: "AsyncCommands", pid: int) -> None:
        self._commands = commands
        self.pid = pid

    async def info(self) -> CommandInfo:
        """Whether it runs, its exit code and recent output."""
        return await self._commands.get(self.pid)

    async def kill(self) -> None:
        """Kills its process group."""
        await self._commands.kill(self.pid)

    async def wait(self, timeout: Optional[float] = None,
                   poll_interval: float = 0.1) -> CommandInfo:
        """Polls until it ended; kiln.TimeoutError after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            info = await self.info()
            if not info.running:
                return info
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"command {self.pid} still running after {timeout} s")
            await asyncio.sleep(poll_interval)


class AsyncCommands:
    """Shell commands in a sandbox (``sandbox.commands``)."""

    def __init__(self, sandbox: "AsyncSandbox") -> None:
        self._sbx = sandbox

    @overload
    async def run(self, cmd: str, *, background: Literal[False] = ...,
                  cwd: Optional[str] = None, env: Optional[Mapping[str, str]] = None,
                  timeout: Optional[float] = None, stdin: Optional[str] = None,
                  on_stdout: Optional[Handler] = None, on_stderr: Optional[Handler] = None,
                  request_timeout: Optional[float] = None) -> CommandResult: ...

    @overload
    async def run(self, cmd: str, *, background: Literal[True], cwd: Optional[str] = None,
                  env: Optional[Mapping[str, str]] = None, timeout: Optional[float] = None,
                  stdin: Optional[str] = None, on_stdout: Optional[Handler] = None,
                  on_stderr: Optional[Handler] = None,
                  request_timeout: Optional[float] = None) -> AsyncCommandHandle: ...

    async def run(self, cmd: str, *, background: bool = False, cwd: Optional[str] = None,
                  env: Optional[Mapping[str, str]] = None, timeout: Optional[float] = None,
                  stdin: Optional[str] = None, on_stdout: Optional[Handler] = None,
                  on_stderr: Optional[Handler] = None,
                  request_timeout: Optional[float] = None
                  ) -> Union[CommandResult, AsyncCommandHandle]:
        """See :meth:`kiln.Commands.run`."""
        http = self._sbx._http
        wait = request_timeout or exec_wait(timeout, self._sbx._exec_timeout())
        stream = not background and (on_stdout is not None or on_stderr is not None)
        r = ops.run_command(self._sbx.id, cmd, background, cwd, env, timeout, stdin, wait, stream)
        if background:
            return AsyncCommandHandle(self, int((await http.call(r))["pid"]))
        if not stream:
            return CommandResult.from_json(await http.call(r))
        out: List[str] = []
        err: List[str] = []
        handlers = {"on_stdout": on_stdout, "on_stderr": on_stderr}
        asm = ExecutionAssembler()
        async with await http.open(r) as s:
            async for event in s.events():
                if event.get("type") == "end":
                    return CommandResult(int(event["exit_code"]), "".join(out), "".join(err),
                                         int(event.get("duration_ms", 0)), event.get("error"))
                call = asm.feed(event)
                if call is not None and isinstance(call[1], OutputMessage):
                    (out if call[1].stream == "stdout" else err).append(call[1].text)
                await _dispatch(handlers, call)
        raise TimeoutError("the command's stream ended without its end event")

    async def list(self) -> List[CommandInfo]:
        """Background commands, running and recently finished."""
        d = await self._sbx._http.call(ops.list_commands(self._sbx.id))
        return [CommandInfo.from_json(c) for c in d["commands"]]

    async def get(self, pid: int) -> CommandInfo:
        """One background command with its recent output."""
        return CommandInfo.from_json(await self._sbx._http.call(ops.get_command(self._sbx.id, pid)))

    async def kill(self, pid: int) -> None:
        """Kills a background command's process group."""
        await self._sbx._http.call(ops.kill_command(self._sbx.id, pid))


class AsyncFiles:
    """A sandbox's files (``sandbox.files``)."""

    def __init__(self, sandbox: "AsyncSandbox") -> None:
        self._sbx = sandbox

    async def list(self, path: Optional[str] = None) -> List[FileEntry]:
        """A folder's entries (default /home/user)."""
        d = await self._sbx._http.call(ops.list_files(self._sbx.id, path))
        return [FileEntry.from_json(e) for e in d["entries"]]

    @overload
    async def read(self, path: str, format: Literal["text"] = ...,
                   request_timeout: Optional[float] = None) -> str: ...

    @overload
    async def read(self, path: str, format: Literal["bytes"],
                   request_timeout: Optional[float] = None) -> bytes: ...

    @overload
    async def read(self, path: str, format: Literal["stream"],
                   request_timeout: Optional[float] = None) -> AsyncByteStream: ...

    async def read(self, path: str, format: str = "text",
                   request_timeout: Optional[float] = None
                   ) -> Union[str, bytes, AsyncByteStream]:
        """A file as text, bytes, or an :class:`AsyncByteStream` of chunks."""
        s = await self._sbx._http.open(ops.read_file(self._sbx.id, path, request_timeout))
        return await _read_format(AsyncByteStream(s), format)

    async def write(self, path: str, data: Body,
                    request_timeout: Optional[float] = None) -> FileEntry:
        """Writes str, bytes, a binary file or a (async) iterable of chunks to ``path``."""
        d = await self._sbx._http.call(ops.write_file(self._sbx.id, path, data, request_timeout))
        return FileEntry(d["path"].rsplit("/", 1)[-1], d["path"], "file", int(d["size"]), None)

    async def upload_file(self, local_path: PathLike, path: str,
                          request_timeout: Optional[float] = None) -> FileEntry:
        """Streams a local file into the sandbox."""
        with open(local_path, "rb") as f:
            return await self.write(path, f, request_timeout)

    async def download_file(self, path: str, local_path: PathLike,
                            request_timeout: Optional[float] = None) -> int:
        """Streams a sandbox file to a local path; returns its size."""
        return await (await self.read(path, "stream", request_timeout)).save(local_path)

    async def remove(self, path: str) -> None:
        """Deletes a file, or a folder with everything in it."""
        await self._sbx._http.call(ops.remove_file(self._sbx.id, path))

    async def make_dir(self, path: str) -> str:
        """Creates a folder and its parents; returns its absolute path."""
        return str((await self._sbx._http.call(ops.make_dir(self._sbx.id, path)))["path"])

    async def exists(self, path: str) -> bool:
        """Whether a file or folder exists at ``path``."""
        parent, _, name = path.rstrip("/").rpartition("/")
        if not name:
            return True
        try:
            entries = await self.list(parent if parent or path.startswith("/") else None)
        except NotFoundError:
            return False
        return any(e.name == name for e in entries)

    async def copy_from_drive(self, drive_path: str, path: str) -> int:
        """Copies a Drive file into the sandbox; returns its size."""
        d = await self._sbx._http.call(ops.drive_to_sandbox(self._sbx.id, drive_path, path))
        return int(d["size"])

    async def copy_to_drive(self, path: str, drive_path: str, *, replace: bool = False,
                            scope: Optional[str] = None) -> DriveFile:
        """Copies a sandbox file into Drive."""
        return DriveFile.from_json(await self._sbx._http.call(
            ops.sandbox_to_drive(self._sbx.id, path, drive_path, replace, scope)))


class AsyncSandbox:
    """One sandbox, from asyncio code; ``async with await AsyncSandbox.create()
    as sbx:`` deletes it at the end. The same methods as :class:`kiln.Sandbox`,
    awaited."""

    def __init__(self, info: SandboxInfo, client: AsyncClient, owns_client: bool = False) -> None:
        self.info = info
        self.client = client
        self._http = client._http
        self._owns_client = owns_client
        self.files = AsyncFiles(self)
        self.commands = AsyncCommands(self)
        self.drive = client.drive

    @property
    def id(self) -> str:
        """The sandbox id."""
        return self.info.id

    @property
    def sandbox_id(self) -> str:
        """The sandbox id (E2B's name for it)."""
        return self.info.id

    @classmethod
    async def create(cls, *, template: Optional[str] = None, timeout: Optional[int] = None,
                     session: Optional[str] = None, env: Optional[Mapping[str, str]] = None,
                     metadata: Optional[Mapping[str, str]] = None,
                     limits: Optional[Mapping[str, Any]] = None, network: Optional[str] = None,
                     url: Optional[str] = None, api_key: Optional[str] = None,
                     request_timeout: Optional[float] = None,
                     client: Optional[AsyncClient] = None) -> "AsyncSandbox":
        """See :meth:`kiln.Sandbox.create`."""
        owns = client is None
        c = client or AsyncClient(url, api_key, timeout=request_timeout)
        info = SandboxInfo.from_json(await c._http.call(ops.create_sandbox(
            template, timeout, session, env, metadata, limits, network)))
        return cls(info, c, owns)

    @classmethod
    async def connect(cls, sandbox_id: str, *, url: Optional[str] = None,
                      api_key: Optional[str] = None,
                      client: Optional[AsyncClient] = None) -> "AsyncSandbox":
        """A handle on an existing sandbox (NotFoundError if it is gone)."""
        owns = client is None
        c = client or AsyncClient(url, api_key)
        info = SandboxInfo.from_json(await c._http.call(ops.get_sandbox(sandbox_id)))
        return cls(info, c, owns)

    def _exec_timeout(self) -> float:
        return float(self.info.limits.exec_timeout_s)

    async def get_info(self) -> SandboxInfo:
        """The sandbox as it is now, with its usage so far."""
        self.info = SandboxInfo.from_json(await self._http.call(ops.get_sandbox(self.id)))
        return self.info

    async def set_timeout(self, seconds: int) -> SandboxInfo:
        """Sets the sandbox to expire ``seconds`` from now."""
        self.info = SandboxInfo.from_json(await self._http.call(ops.set_timeout(self.id, seconds)))
        return self.info

    async def is_running(self) -> bool:
        """Whether the sandbox still exists."""
        try:
            await self.get_info()
            return True
        except NotFoundError:
            return False

    async def kill(self) -> None:
        """Deletes the sandbox."""
        await self._http.call(ops.delete_sandbox(self.id))

    async def close(self) -> None:
        """Deletes the sandbox if it still exists."""
        try:
            await self.kill()
        except NotFoundError:
            pass
        finally:
            if self._owns_client:
                await self.client.close()

    async def __aenter__(self) -> "AsyncSandbox":
        return self

    async def __aexit__(self, exc_type: Optional[Type[BaseException]],
                        exc: Optional[BaseException], tb: Optional[TracebackType]) -> None:
        await self.close()

    async def run_code(self, code: str, *, language: Optional[str] = None,
                       context: Optional[ops.ContextRef] = None,
                       on_stdout: Optional[Handler] = None, on_stderr: Optional[Handler] = None,
                       on_result: Optional[Handler] = None, on_error: Optional[Handler] = None,
                       timeout: Optional[float] = None, env: Optional[Mapping[str, str]] = None,
                       request_timeout: Optional[float] = None) -> Execution:
        """See :meth:`kiln.Sandbox.run_code`; callbacks may be coroutine functions."""
        wait = request_timeout or exec_wait(timeout, self._exec_timeout())
        handlers: Dict[str, Optional[Handler]] = {
            "on_stdout": on_stdout, "on_stderr": on_stderr, "on_result": on_result,
            "on_error": on_error}
        stream = any(h is not None for h in handlers.values())
        r = ops.execute(self.id, code, language, context, timeout, env, wait, stream)
        if not stream:
            return Execution.from_json(await self._http.call(r))
        asm = ExecutionAssembler()
        async with await self._http.open(r) as s:
            async for event in s.events():
                await _dispatch(handlers, asm.feed(event))
        if not asm.ended:
            raise TimeoutError("the execution's stream ended without its end event")
        return asm.execution

    async def stream_code(self, code: str, *, language: Optional[str] = None,
                          context: Optional[ops.ContextRef] = None,
                          timeout: Optional[float] = None,
                          env: Optional[Mapping[str, str]] = None,
                          request_timeout: Optional[float] = None) -> AsyncCodeStream:
        """Starts a run; ``async for`` over the returned :class:`AsyncCodeStream`."""
        wait = request_timeout or exec_wait(timeout, self._exec_timeout())
        return AsyncCodeStream(await self._http.open(
            ops.execute(self.id, code, language, context, timeout, env, wait, True)))

    async def create_code_context(self, language: Optional[str] = None,
                                  cwd: Optional[str] = None) -> Context:
        """Starts a new interpreter with its own state."""
        return Context.from_json(await self._http.call(ops.create_context(self.id, language, cwd)))

    async def list_code_contexts(self) -> List[Context]:
        """Every context of the sandbox."""
        d = await self._http.call(ops.list_contexts(self.id))
        return [Context.from_json(c) for c in d["contexts"]]

    async def get_code_context(self, context: ops.ContextRef) -> Context:
        """One context."""
        return Context.from_json(await self._http.call(ops.get_context(self.id, context)))

    async def restart_code_context(self, context: ops.ContextRef) -> Context:
        """Fresh state, same id."""
        return Context.from_json(await self._http.call(ops.restart_context(self.id, context)))

    async def remove_code_context(self, context: ops.ContextRef) -> None:
        """Ends a context."""
        await self._http.call(ops.delete_context(self.id, context))

    def __repr__(self) -> str:
        return f"AsyncSandbox(id={self.id!r})"
