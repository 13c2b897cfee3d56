"""Kiln: run untrusted Python, JavaScript, TypeScript and Bash in sandboxes.

>>> from kiln import Sandbox
>>> with Sandbox.create() as sbx:
...     print(sbx.run_code("6 * 7").text)
42

``KILN_URL`` (default http://127.0.0.1:8420) and ``KILN_API_KEY`` configure
where kilnd is and which key to use. :class:`AsyncSandbox` is the asyncio
twin of :class:`Sandbox`; :class:`Client` holds workspace-wide calls (Drive,
skills, actions, validate/test, usage).
"""
from ._api import Config, add_observer
from .aio import (AsyncActions, AsyncClient, AsyncCodeStream, AsyncCommandHandle,
                  AsyncCommands, AsyncDrive, AsyncFiles, AsyncSandbox, AsyncSkills,
                  AsyncByteStream)
from .errors import (APIError, AuthenticationError, BadRequestError, CommandExitError,
                     ConflictError, ConnectionError, ExecutionError, ExecutionTimeoutError,
                     InsufficientStorageError, InternalError, InvalidError, KilnError,
                     NotFoundError, QuotaExceededError, RateLimitedError, TimeoutError,
                     TooLargeError, UnavailableError, UnsupportedTypeError)
from .models import (ActionFile, CommandInfo, CommandResult, Context, DriveFile,
                     ExecuteCodeResult, Execution, FileEntry, Limits, Logs, OutputMessage,
                     ProcessFileResult, Result, SandboxInfo, SandboxUsage, Skill, SkillSummary,
                     TestCase, TestOutcome, TestReport, Usage, UsageDay, Validation,
                     ValidationIssue)
from .sandbox import (Actions, ByteStream, Client, CodeStream, CommandHandle, Commands, Drive,
                      Files, Sandbox, Skills)

__version__ = "0.1.0"

__all__ = [
    "Sandbox", "AsyncSandbox", "Client", "AsyncClient", "Config", "add_observer",
    "Files", "Commands", "CommandHandle", "Drive", "Skills", "Actions", "ByteStream",
    "CodeStream", "AsyncFiles", "AsyncCommands", "AsyncCommandHandle", "AsyncDrive",
    "AsyncSkills", "AsyncActions", "AsyncByteStream", "AsyncCodeStream",
    "KilnError", "ConnectionError", "TimeoutError", "APIError", "BadRequestError",
    "AuthenticationError", "QuotaExceededError", "NotFoundError", "ConflictError",
    "TooLargeError", "UnsupportedTypeError", "InvalidError", "RateLimitedError",
    "InternalError", "UnavailableError", "InsufficientStorageError", "ExecutionError",
    "ExecutionTimeoutError", "CommandExitError",
    "Result", "Logs", "Execution", "OutputMessage", "SandboxInfo", "SandboxUsage", "Limits",
    "Context", "CommandResult", "CommandInfo", "FileEntry", "DriveFile", "ActionFile",
    "ExecuteCodeResult", "ProcessFileResult", "Skill", "SkillSummary", "Validation",
    "ValidationIssue", "TestCase", "TestReport", "TestOutcome", "Usage", "UsageDay",
]
