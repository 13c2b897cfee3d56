"""Every API call as a Request, shared by the sync and async clients (so both
send exactly the same, documented, fields)."""
from __future__ import annotations

import base64
from typing import Any, Dict, Iterable, List, Mapping, Optional, Union

from ._api import Body, Request, compact, execute_body, quote, req
from .models import Context, TestCase

ContextRef = Union[Context, str]
FileData = Union[bytes, str]


def ctx_id(c: ContextRef) -> str:
    """A context's id, from a Context or an id."""
    return c.id if isinstance(c, Context) else c


def sbx(sid: str, rest: str = "") -> str:
    """The path of a sandbox route."""
    return f"/v1/sandboxes/{quote(sid)}{rest}"


def health() -> Request:
    return req("GET", "/healthz")


def create_sandbox(template: Optional[str], timeout: Optional[int], session: Optional[str],
                   env: Optional[Mapping[str, str]], metadata: Optional[Mapping[str, str]],
                   limits: Optional[Mapping[str, Any]], network: Optional[str]) -> Request:
    body = compact(template=template, timeout_s=timeout, session=session,
                   env=dict(env) if env is not None else None,
                   metadata=dict(metadata) if metadata is not None else None,
                   limits=dict(limits) if limits is not None else None, network=network)
    # With a session key, create is get-or-create: safe to retry.
    return req("POST", "/v1/sandboxes", body, idempotent=session is not None)


def list_sandboxes() -> Request:
    return req("GET", "/v1/sandboxes")


def get_sandbox(sid: str) -> Request:
    return req("GET", sbx(sid))


def delete_sandbox(sid: str) -> Request:
    return req("DELETE", sbx(sid))


def set_timeout(sid: str, seconds: int) -> Request:
    return req("POST", sbx(sid, "/timeout"), {"timeout_s": int(seconds)}, idempotent=True)


def create_context(sid: str, language: Optional[str], cwd: Optional[str]) -> Request:
    return req("POST", sbx(sid, "/contexts"), compact(language=language, cwd=cwd),
               send_json=True)


def list_contexts(sid: str) -> Request:
    return req("GET", sbx(sid, "/contexts"))


def get_context(sid: str, c: ContextRef) -> Request:
    return req("GET", sbx(sid, "/contexts/" + quote(ctx_id(c))))


def delete_context(sid: str, c: ContextRef) -> Request:
    return req("DELETE", sbx(sid, "/contexts/" + quote(ctx_id(c))))


def restart_context(sid: str, c: ContextRef) -> Request:
    return req("POST", sbx(sid, "/contexts/" + quote(ctx_id(c)) + "/restart"))


def execute(sid: str, code: str, language: Optional[str], context: Optional[ContextRef],
            timeout: Optional[float], env: Optional[Mapping[str, str]], wait: float,
            stream: bool) -> Request:
    body = execute_body(code, language, ctx_id(context) if context is not None else None,
                        timeout, env)
    return req("POST", sbx(sid, "/execute"), body, timeout=wait, stream=stream)


def run_command(sid: str, cmd: str, background: bool, cwd: Optional[str],
                env: Optional[Mapping[str, str]], timeout: Optional[float],
                stdin: Optional[str], wait: float, stream: bool) -> Request:
    body = compact(cmd=cmd, cwd=cwd, env=dict(env) if env is not None else None,
                   timeout_s=timeout, stdin=stdin, background=True if background else None)
    return req("POST", sbx(sid, "/commands"), body, timeout=wait, stream=stream)


def list_commands(sid: str) -> Request:
    return req("GET", sbx(sid, "/commands"))


def get_command(sid: str, pid: int) -> Request:
    return req("GET", sbx(sid, f"/commands/{int(pid)}"))


def kill_command(sid: str, pid: int) -> Request:
    return req("POST", sbx(sid, f"/commands/{int(pid)}/kill"), idempotent=True)


def list_files(sid: str, path: Optional[str]) -> Request:
    return req("GET", sbx(sid, "/files"), query={"path": path})


def read_file(sid: str, path: str, timeout: Optional[float]) -> Request:
    return req("GET", sbx(sid, "/files/content"), query={"path": path}, raw=True,
               timeout=timeout)


def write_file(sid: str, path: str, data: Body, timeout: Optional[float]) -> Request:
    return req("PUT", sbx(sid, "/files/content"), query={"path": path}, body=data,
               timeout=timeout)


def remove_file(sid: str, path: str) -> Request:
    return req("DELETE", sbx(sid, "/files"), query={"path": path})


def make_dir(sid: str, path: str) -> Request:
    return req("POST", sbx(sid, "/files/mkdir"), {"path": path}, idempotent=True)


def drive_to_sandbox(sid: str, drive_path: str, sandbox_path: str) -> Request:
    return req("POST", sbx(sid, "/upload"), {"drive_path": drive_path,
                                             "sandbox_path": sandbox_path}, idempotent=True)


def sandbox_to_drive(sid: str, sandbox_path: str, drive_path: str, replace: bool,
                     scope: Optional[str]) -> Request:
    body = compact(sandbox_path=sandbox_path, drive_path=drive_path,
                   replace=True if replace else None, scope=scope)
    return req("POST", sbx(sid, "/download"), body, idempotent=replace)


def drive_write(path: str, data: Body, scope: Optional[str], replace: bool,
                timeout: Optional[float]) -> Request:
    # Without replace a second attempt would meet its own first write (409).
    return req("PUT", "/v1/drive/content",
               query={"path": path, "scope": scope, "replace": True if replace else None},
               body=data, idempotent=replace, timeout=timeout)


def drive_read(path: str, timeout: Optional[float]) -> Request:
    return req("GET", "/v1/drive/content", query={"path": path}, raw=True, timeout=timeout)


def drive_list(prefix: Optional[str]) -> Request:
    return req("GET", "/v1/drive", query={"prefix": prefix})


def drive_remove(path: str) -> Request:
    return req("DELETE", "/v1/drive", query={"path": path})


def _file_args(file: Optional[FileData], file_name: Optional[str],
               file_url: Optional[str]) -> Dict[str, Any]:
    if file is not None and file_url is not None:
        raise ValueError("give file or file_url, not both")
    b64 = None
    if file is not None:
        raw = file.encode("utf-8") if isinstance(file, str) else bytes(file)
        b64 = base64.b64encode(raw).decode("ascii")
    return compact(fileBase64=b64, fileName=file_name, fileUrl=file_url)


def execute_code_action(code: str, file: Optional[FileData], file_name: Optional[str],
                        file_url: Optional[str], session: Optional[str],
                        timeout: float) -> Request:
    args = {"code": code, **_file_args(file, file_name, file_url), **compact(session=session)}
    return req("POST", "/v1/actions", {"action": "executeCode", "arguments": args},
               timeout=timeout)


def process_file_action(operation: str, file: Optional[FileData], file_name: Optional[str],
                        file_url: Optional[str], options: Optional[Mapping[str, Any]],
                        session: Optional[str], timeout: float) -> Request:
    args = {"operation": operation, **_file_args(file, file_name, file_url),
            **compact(options=dict(options) if options is not None else None, session=session)}
    return req("POST", "/v1/actions", {"action": "processFile", "arguments": args},
               timeout=timeout)


def signed_download(path_and_query: str) -> Request:
    return Request("GET", path_and_query, idempotent=True, raw=True)


def list_skills() -> Request:
    return req("GET", "/v1/skills")


def get_skill(name: str) -> Request:
    return req("GET", "/v1/skills/" + quote(name))


def read_skill_file(name: str, path: str) -> Request:
    parts = "/".join(quote(p) for p in path.split("/") if p)
    return req("GET", f"/v1/skills/{quote(name)}/files/{parts}", raw=True)


def validate(code: str, language: Optional[str]) -> Request:
    return req("POST", "/v1/validate", compact(code=code, language=language), idempotent=True)


def test(code: str, tests: Iterable[Union[TestCase, Mapping[str, Any]]],
         language: Optional[str], timeout: float) -> Request:
    cases: List[Dict[str, Any]] = []
    for t in tests:
        if isinstance(t, TestCase):
            cases.append({"call": t.call, "expected": t.expected})
        else:
            cases.append({"call": t["call"], "expected": t.get("expected")})
    return req("POST", "/v1/test", compact(code=code, language=language, tests=cases),
               timeout=timeout)


test.__test__ = False  # type: ignore[attr-defined]


def usage(from_: Optional[str], to: Optional[str]) -> Request:
    return req("GET", "/v1/usage", query={"from": from_, "to": to})
