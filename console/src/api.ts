// The console's client for kilnd's public API (docs/API.md), same origin.
// The API key lives in sessionStorage (gone when the tab closes) and goes
// out as "Authorization: Bearer <key>" on every call.
import { readNdjson } from "./ndjson";

const KEY_STORAGE = "kiln.apiKey";

export interface Limits {
  memory_mb: number;
  cpus: number;
  pids: number;
  disk_mb: number;
  exec_timeout_s: number;
}

export interface SandboxUsage {
  active_ms: number;
  cpu_ms: number;
  memory_peak_bytes: number;
  executions: number;
}

export interface Sandbox {
  id: string;
  status: string;
  template: string;
  session: string | null;
  created_at: string;
  expires_at: string;
  limits: Limits;
  metadata: Record<string, string>;
  network: string;
  usage?: SandboxUsage;
}

export interface FileEntry {
  name: string;
  path: string;
  type: "file" | "dir" | "symlink" | "other";
  size: number;
  mtime: string;
}

export interface DriveFile {
  path: string;
  size: number;
  scope: "temporary" | "session" | "persistent";
  created_at: string;
  expires_at: string | null;
  sha256: string;
}

export interface DayUsage {
  date: string;
  sandboxes: number;
  session_seconds: number;
  active_seconds: number;
  cpu_seconds: number;
  executions: number;
}

export interface Usage {
  workspace: string;
  sandboxes: number;
  session_seconds: number;
  active_seconds: number;
  cpu_seconds: number;
  executions: number;
  credits: number | null;
  by_day: DayUsage[];
}

export interface SkillSummary {
  name: string;
  description: string;
}

export interface Skill extends SkillSummary {
  body: string;
  files: string[];
}

export interface Context {
  id: string;
  language: string;
  cwd: string;
  default: boolean;
}

export interface Command {
  pid: number;
  cmd: string;
  running: boolean;
  exit_code: number | null;
}

export type Language = "python" | "javascript" | "typescript" | "bash";
export const LANGUAGES: Language[] = ["python", "javascript", "typescript", "bash"];

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export function getKey(): string | null {
  return sessionStorage.getItem(KEY_STORAGE);
}

export function setKey(key: string | null): void {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

// Called on any 401 after sign-in (a revoked key): the app shows sign-in.
let onUnauthorized: (message: string) => void = () => {};
export function setUnauthorizedHandler(fn: (message: string) => void): void {
  onUnauthorized = fn;
}

function authHeaders(extra: Record<string, string> = {}, key = getKey()): Record<string, string> {
  const headers: Record<string, string> = { ...extra };
  if (key) headers["Authorization"] = `Bearer ${key}`;
  return headers;
}

async function errorFrom(res: Response): Promise<ApiError> {
  let code = "http_" + res.status;
  let message = res.statusText || `HTTP ${res.status}`;
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string } };
    if (body.error) {
      code = body.error.code ?? code;
      message = body.error.message ?? message;
    }
  } catch {
    /* not JSON */
  }
  return new ApiError(res.status, code, message);
}

export function errorFromXhr(status: number, text: string): ApiError {
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (body.error) return new ApiError(status, body.error.code ?? "", body.error.message ?? "");
  } catch {
    /* not JSON */
  }
  return new ApiError(status, "http_" + status, text || `HTTP ${status}`);
}

interface RequestOptions {
  json?: unknown;
  body?: BodyInit;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  key?: string | null;
}

export async function request(method: string, path: string, opts: RequestOptions = {}) {
  const headers = authHeaders(opts.headers, opts.key === undefined ? getKey() : opts.key);
  let body = opts.body;
  if (opts.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(opts.json);
  }
  const res = await fetch(path, { method, headers, body, signal: opts.signal, cache: "no-store" });
  if (!res.ok) {
    const err = await errorFrom(res);
    if (res.status === 401 && opts.key === undefined) onUnauthorized(err.message);
    throw err;
  }
  return res;
}

async function json<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  const res = await request(method, path, opts);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

const q = encodeURIComponent;

// Probes the API with a key (or none): "ok", "unauthorized", or throws on a
// network failure.
export async function probe(key: string | null): Promise<"ok" | "unauthorized"> {
  try {
    await request("GET", "/v1/sandboxes", { key });
    return "ok";
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return "unauthorized";
    throw e;
  }
}

export const api = {
  health: () => json<{ status: string; version: string }>("GET", "/healthz"),

  listSandboxes: async () =>
    (await json<{ sandboxes: Sandbox[] }>("GET", "/v1/sandboxes")).sandboxes,
  getSandbox: (id: string) => json<Sandbox>("GET", `/v1/sandboxes/${q(id)}`),
  // 201 created, 200 when the session key already had a live sandbox.
  createSandbox: async (body: Record<string, unknown>) => {
    const res = await request("POST", "/v1/sandboxes", { json: body });
    return { sandbox: (await res.json()) as Sandbox, created: res.status === 201 };
  },
  deleteSandbox: (id: string) => json<void>("DELETE", `/v1/sandboxes/${q(id)}`),
  setTimeout: (id: string, timeout_s: number) =>
    json<Sandbox>("POST", `/v1/sandboxes/${q(id)}/timeout`, { json: { timeout_s } }),
  contexts: async (id: string) =>
    (await json<{ contexts: Context[] }>("GET", `/v1/sandboxes/${q(id)}/contexts`)).contexts,
  commands: async (id: string) =>
    (await json<{ commands: Command[] }>("GET", `/v1/sandboxes/${q(id)}/commands`)).commands,

  listFiles: async (id: string, path: string) =>
    (await json<{ entries: FileEntry[] }>("GET", `/v1/sandboxes/${q(id)}/files?path=${q(path)}`))
      .entries,
  readFile: async (id: string, path: string) =>
    (await request("GET", `/v1/sandboxes/${q(id)}/files/content?path=${q(path)}`)).blob(),
  deleteFile: (id: string, path: string) =>
    json<void>("DELETE", `/v1/sandboxes/${q(id)}/files?path=${q(path)}`),
  fileUrl: (id: string, path: string) => `/v1/sandboxes/${q(id)}/files/content?path=${q(path)}`,
  driveToSandbox: (id: string, drive_path: string, sandbox_path: string) =>
    json<{ size: number }>("POST", `/v1/sandboxes/${q(id)}/upload`, {
      json: { drive_path, sandbox_path },
    }),

  listDrive: async (prefix: string) =>
    (await json<{ files: DriveFile[] }>("GET", `/v1/drive?prefix=${q(prefix)}`)).files,
  readDrive: async (path: string) =>
    (await request("GET", `/v1/drive/content?path=${q(path)}`)).blob(),
  deleteDrive: (path: string) => json<void>("DELETE", `/v1/drive?path=${q(path)}`),
  driveUrl: (path: string, scope: string, replace: boolean) =>
    `/v1/drive/content?path=${q(path)}&scope=${q(scope)}&replace=${replace}`,

  skills: async () => (await json<{ skills: SkillSummary[] }>("GET", "/v1/skills")).skills,
  skill: (name: string) => json<Skill>("GET", `/v1/skills/${q(name)}`),
  skillFile: async (name: string, path: string) =>
    (
      await request(
        "GET",
        `/v1/skills/${q(name)}/files/${path.split("/").map(q).join("/")}`,
      )
    ).text(),

  usage: (from: string, to?: string) =>
    json<Usage>("GET", `/v1/usage?from=${q(from)}${to ? `&to=${q(to)}` : ""}`),
};

export interface ExecEvent {
  type: "stdout" | "stderr" | "result" | "error" | "end";
  [k: string]: unknown;
}

// Streams an execution (NDJSON). Aborting `signal` closes the connection,
// which kilnd takes as an interrupt of the run.
export async function executeStream(
  sandboxId: string,
  body: { code: string; language: Language },
  onEvent: (ev: ExecEvent) => void,
  signal: AbortSignal,
): Promise<void> {
  const res = await request("POST", `/v1/sandboxes/${q(sandboxId)}/execute`, {
    json: body,
    headers: { Accept: "application/x-ndjson" },
    signal,
  });
  if (!res.body) throw new Error("the response has no body to stream");
  await readNdjson(res.body, (ev) => onEvent(ev as ExecEvent));
}

// PUTs a file with upload progress (fetch has no upload progress events).
export function putWithProgress(
  url: string,
  file: Blob,
  onProgress: (fraction: number) => void,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    for (const [k, v] of Object.entries(authHeaders({ "Content-Type": "application/octet-stream" })))
      xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (ev) => {
      if (ev.lengthComputable && ev.total > 0) onProgress(ev.loaded / ev.total);
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        try {
          resolve(JSON.parse(xhr.responseText));
        } catch {
          resolve(null);
        }
      } else {
        const err = errorFromXhr(xhr.status, xhr.responseText);
        if (xhr.status === 401) onUnauthorized(err.message);
        reject(err);
      }
    };
    xhr.onerror = () => reject(new Error("network error while uploading"));
    xhr.onabort = () => reject(new DOMException("upload cancelled", "AbortError"));
    xhr.send(file);
  });
}

export function describeError(e: unknown): string {
  if (e instanceof ApiError) return `${e.message} (${e.status} ${e.code})`;
  if (e instanceof Error) return e.message;
  return String(e);
}
