/**
 * The client: {@link Client} (workspace-wide calls) and {@link Sandbox}
 * (one sandbox: code, commands, files).
 */
import { ExecutionError, NotFoundError, TimeoutError } from "./errors.js";
import { type BodyData, type ClientOptions, type Opened, type Request, Transport, resolveConfig } from "./http.js";
import {
  type Context, type DriveFile, type ExecuteCodeResult, type FileEntry, type Limits,
  type OutputMessage, type ProcessFileResult, type SandboxInfo, type Skill, type SkillSummary,
  type StreamItem, type TestCase, type TestReport, type Usage, type Validation, CommandResult,
  type CommandInfo, Execution, Result, commandInfo, driveFile, executeCodeResult, fileEntry,
  processFileResult, sandboxInfo, toBase64, usage,
} from "./models.js";

/** Options every call takes. */
export interface CallOptions {
  /** Aborts the call (a run being streamed is interrupted by kilnd). */
  signal?: AbortSignal;
  /** How long to wait for the answer, in milliseconds. */
  requestTimeoutMs?: number;
}

/** How a file is read: text (UTF-8), bytes, or a stream of chunks. */
export type ReadFormat = "text" | "bytes" | "stream";

const EXEC_MARGIN_MS = 30_000;
const enc = (s: string) => encodeURIComponent(s);
const sbxPath = (id: string, rest = "") => `/v1/sandboxes/${enc(id)}${rest}`;

function compact<T extends Record<string, unknown>>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined && v !== null) (out as any)[k] = v;
  return out;
}

function lengthOf(o: { contentLength?: number }): Pick<Request, "contentLength"> {
  return o.contentLength === undefined ? {} : { contentLength: o.contentLength };
}

function call(o: CallOptions | undefined): Pick<Request, "signal" | "timeoutMs"> {
  const r: Pick<Request, "signal" | "timeoutMs"> = {};
  if (o?.signal) r.signal = o.signal;
  if (o?.requestTimeoutMs !== undefined) r.timeoutMs = o.requestTimeoutMs;
  return r;
}

async function readAs(t: Transport, o: Opened, format: ReadFormat): Promise<string | Uint8Array | ReadableStream<Uint8Array>> {
  const stream = t.byteStream(o);
  if (format === "stream") return stream;
  const parts: Uint8Array[] = [];
  let n = 0;
  const reader = stream.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    parts.push(value);
    n += value.length;
  }
  const all = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  if (format === "bytes") return all;
  if (format === "text") return new TextDecoder().decode(all);
  throw new TypeError(`format must be "text", "bytes" or "stream", not ${String(format)}`);
}

async function* chunksOf(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}

async function saveTo(stream: ReadableStream<Uint8Array>, localPath: string): Promise<number> {
  const fs = await import("node:fs");
  const { pipeline } = await import("node:stream/promises");
  let n = 0;
  async function* counted() {
    for await (const c of chunksOf(stream)) {
      n += c.length;
      yield c;
    }
  }
  await pipeline(counted(), fs.createWriteStream(localPath));
  return n;
}

async function fileSource(localPath: string): Promise<{ body: AsyncIterable<Uint8Array>; contentLength: number }> {
  const fs = await import("node:fs");
  const st = await fs.promises.stat(localPath);
  return { body: fs.createReadStream(localPath, { highWaterMark: 64 * 1024 }), contentLength: st.size };
}

/** Drive: the workspace's persistent file storage (`client.drive`). */
export class Drive {
  /** @internal */
  constructor(private readonly t: Transport) {}

  /**
   * Stores `data` (string, bytes, a Blob, a ReadableStream or an (async)
   * iterable of chunks, streamed) at `path`. `scope` is "persistent" (default),
   * "session" or "temporary"; an existing path throws ConflictError unless `replace`.
   */
  async write(path: string, data: BodyData, opts: CallOptions & { scope?: DriveFile["scope"]; replace?: boolean; contentLength?: number } = {}): Promise<DriveFile> {
    return driveFile(await this.t.call({
      method: "PUT", path: "/v1/drive/content", body: data, ...lengthOf(opts),
      query: { path, scope: opts.scope, replace: opts.replace ? "true" : undefined },
      idempotent: Boolean(opts.replace), ...call(opts),
    }));
  }

  /** Streams a local file into Drive at `path`. */
  async uploadFile(localPath: string, path: string, opts: CallOptions & { scope?: DriveFile["scope"]; replace?: boolean } = {}): Promise<DriveFile> {
    const src = await fileSource(localPath);
    return this.write(path, src.body, { ...opts, contentLength: src.contentLength });
  }

  /** A Drive file as text, bytes, or a ReadableStream of chunks. */
  read(path: string, opts?: CallOptions & { format?: "text" }): Promise<string>;
  read(path: string, opts: CallOptions & { format: "bytes" }): Promise<Uint8Array>;
  read(path: string, opts: CallOptions & { format: "stream" }): Promise<ReadableStream<Uint8Array>>;
  async read(path: string, opts: CallOptions & { format?: ReadFormat } = {}): Promise<string | Uint8Array | ReadableStream<Uint8Array>> {
    const o = await this.t.open({ method: "GET", path: "/v1/drive/content", query: { path }, raw: true, ...call(opts) });
    return readAs(this.t, o, opts.format ?? "text");
  }

  /** Streams a Drive file to a local path; returns its size. */
  async downloadFile(path: string, localPath: string, opts: CallOptions = {}): Promise<number> {
    return saveTo(await this.read(path, { ...opts, format: "stream" }), localPath);
  }

  /** The files under `prefix` (default "/"). */
  async list(prefix?: string, opts: CallOptions = {}): Promise<DriveFile[]> {
    const d = await this.t.call({ method: "GET", path: "/v1/drive", query: { prefix }, ...call(opts) });
    return d.files.map(driveFile);
  }

  /** Deletes a Drive file. */
  async remove(path: string, opts: CallOptions = {}): Promise<void> {
    await this.t.call({ method: "DELETE", path: "/v1/drive", query: { path }, ...call(opts) });
  }
}

/** Skills: tested instructions and templates (`client.skills`). */
export class Skills {
  /** @internal */
  constructor(private readonly t: Transport) {}

  /** Every skill's name and description. */
  async list(opts: CallOptions = {}): Promise<SkillSummary[]> {
    const d = await this.t.call({ method: "GET", path: "/v1/skills", ...call(opts) });
    return d.skills;
  }

  /** A skill's instructions and file list. */
  async get(name: string, opts: CallOptions = {}): Promise<Skill> {
    return this.t.call({ method: "GET", path: `/v1/skills/${enc(name)}`, ...call(opts) });
  }

  /** One of a skill's files. */
  async readFile(name: string, path: string, opts: CallOptions = {}): Promise<Uint8Array> {
    const parts = path.split("/").filter(Boolean).map(enc).join("/");
    return this.t.bytes({ method: "GET", path: `/v1/skills/${enc(name)}/files/${parts}`, ...call(opts) });
  }
}

/** An input file for an action: bytes or text plus its name, or a URL kilnd fetches. */
export interface ActionInput {
  file?: Uint8Array | string;
  fileName?: string;
  fileUrl?: string;
  session?: string;
}

function actionArgs(i: ActionInput): Record<string, unknown> {
  if (i.file !== undefined && i.fileUrl !== undefined) throw new TypeError("give file or fileUrl, not both");
  const bytes = typeof i.file === "string" ? new TextEncoder().encode(i.file) : i.file;
  return compact({
    fileBase64: bytes ? toBase64(bytes) : undefined, fileName: i.fileName, fileUrl: i.fileUrl,
    session: i.session,
  });
}

/** One-call tools for agents (`client.actions`). */
export class Actions {
  /** @internal */
  constructor(private readonly t: Transport) {}

  /**
   * Runs Python code in a fresh sandbox (or the `session`'s) with an optional
   * input file in its working folder; the files it made come back as signed links.
   */
  async executeCode(code: string, opts: ActionInput & CallOptions = {}): Promise<ExecuteCodeResult> {
    return executeCodeResult(await this.t.call({
      method: "POST", path: "/v1/actions", timeoutMs: 120_000, ...call(opts),
      json: { action: "executeCode", arguments: { code, ...actionArgs(opts) } },
    }));
  }

  /** `operation` "analyze", "transform" (`options: {steps, output}`) or "parse_excel". */
  async processFile(operation: string, opts: ActionInput & CallOptions & { options?: Record<string, unknown> } = {}): Promise<ProcessFileResult> {
    return processFileResult(await this.t.call({
      method: "POST", path: "/v1/actions", timeoutMs: 120_000, ...call(opts),
      json: { action: "processFile", arguments: { operation, ...actionArgs(opts), ...compact({ options: opts.options }) } },
    }));
  }

  /** The bytes behind an action file's signed link (no key needed). */
  async fetchFile(file: { url: string } | string, opts: CallOptions = {}): Promise<Uint8Array> {
    const u = new URL(typeof file === "string" ? file : file.url);
    const query: Record<string, string> = {};
    u.searchParams.forEach((v, k) => { query[k] = v; });
    return this.t.bytes({ method: "GET", path: u.pathname, query, ...call(opts) });
  }
}

/**
 * A connection to kilnd for workspace-wide calls: sandboxes, Drive, skills,
 * actions, validate/test and usage. `url` and `apiKey` default to `KILN_URL`
 * and `KILN_API_KEY`.
 */
export class Client {
  /** @internal */
  readonly transport: Transport;
  /** Drive (persistent workspace storage). */
  readonly drive: Drive;
  /** Skills. */
  readonly skills: Skills;
  /** One-call tools. */
  readonly actions: Actions;

  constructor(options: ClientOptions = {}) {
    this.transport = new Transport(resolveConfig(options));
    this.drive = new Drive(this.transport);
    this.skills = new Skills(this.transport);
    this.actions = new Actions(this.transport);
  }

  /** `{status: "ok", version}`. */
  async health(opts: CallOptions = {}): Promise<{ status: string; version: string }> {
    return this.transport.call({ method: "GET", path: "/healthz", ...call(opts) });
  }

  /** Same as {@link Sandbox.create}, on this client. */
  async createSandbox(opts: SandboxOptions & CallOptions = {}): Promise<Sandbox> {
    return Sandbox.create({ ...opts, client: this });
  }

  /** The workspace's live sandboxes. */
  async listSandboxes(opts: CallOptions = {}): Promise<SandboxInfo[]> {
    const d = await this.transport.call({ method: "GET", path: "/v1/sandboxes", ...call(opts) });
    return d.sandboxes.map(sandboxInfo);
  }

  /** Checks code with the language's own parser (nothing runs), plus advisory warnings. */
  async validate(code: string, opts: CallOptions & { language?: string } = {}): Promise<Validation> {
    return this.transport.call({ method: "POST", path: "/v1/validate", idempotent: true,
      json: compact({ code, language: opts.language }), ...call(opts) });
  }

  /** Runs `code` in a fresh sandbox, then each call, comparing values as JSON. */
  async test(code: string, tests: TestCase[], opts: CallOptions & { language?: string } = {}): Promise<TestReport> {
    return this.transport.call({
      method: "POST", path: "/v1/test", timeoutMs: 120_000, ...call(opts),
      json: compact({ code, language: opts.language,
        tests: tests.map((t) => ({ call: t.call, expected: t.expected ?? null })) }),
    });
  }

  /** Metered usage between two times or dates (open-ended when left out). */
  async usage(opts: CallOptions & { from?: string | Date; to?: string | Date } = {}): Promise<Usage> {
    const t = (v?: string | Date) => v instanceof Date ? v.toISOString().replace(/\.\d{3}Z$/, "Z") : v;
    return usage(await this.transport.call({ method: "GET", path: "/v1/usage",
      query: { from: t(opts.from), to: t(opts.to) }, ...call(opts) }));
  }
}

/** How a sandbox is made. */
export interface SandboxOptions {
  /** Only "default" today. */
  template?: string;
  /** Lifetime in milliseconds (rounded up to seconds; default 300 s). */
  timeoutMs?: number;
  /** Get-or-create key: the live sandbox holding it comes back instead. */
  session?: string;
  /** Environment for every context and command. */
  env?: Record<string, string>;
  /** Your labels. */
  metadata?: Record<string, string>;
  /** Limits within the daemon's bounds. */
  limits?: Partial<Limits>;
  /** Only "none" today. */
  network?: string;
}

/** Called with each piece of output; may return a promise (awaited). */
export type OutputHandler = (message: OutputMessage) => unknown;

/** How code is run. */
export interface RunCodeOptions extends CallOptions {
  /** "python" (default), "javascript", "typescript" or "bash": that language's default context. */
  language?: string;
  /** A context of your own (excludes `language`). */
  context?: Context | string;
  /** Called with each piece of stdout as it is written. */
  onStdout?: OutputHandler;
  /** Called with each piece of stderr as it is written. */
  onStderr?: OutputHandler;
  /** Called with each result (display(), figures, the last expression). */
  onResult?: (result: Result) => unknown;
  /** Called with the error, if the code fails. */
  onError?: (error: ExecutionError) => unknown;
  /** The execution timeout in milliseconds (default: the sandbox's exec_timeout_s). */
  timeoutMs?: number;
  /** Environment for this run only. */
  env?: Record<string, string>;
}

/** How a command is run. */
export interface RunCommandOptions extends CallOptions {
  /** Return at once with a handle (default false). */
  background?: boolean;
  /** Working folder (default /home/user). */
  cwd?: string;
  /** Extra environment. */
  env?: Record<string, string>;
  /** Kill after this many milliseconds (exit code 124). */
  timeoutMs?: number;
  /** Standard input (at most 1 MiB). */
  stdin?: string;
  /** Called with each piece of stdout as it is written (foreground only). */
  onStdout?: OutputHandler;
  /** Called with each piece of stderr as it is written (foreground only). */
  onStderr?: OutputHandler;
}

/** Turns stream events into items and an Execution. @internal */
class Assembler {
  readonly execution = new Execution();
  ended = false;

  feed(event: Record<string, any>): StreamItem | null {
    switch (event.type) {
      case "stdout":
      case "stderr": {
        const message: OutputMessage = {
          text: String(event.text ?? ""), stream: event.type,
          timestamp: event.timestamp ? new Date(event.timestamp) : null,
        };
        this.execution.logs[event.type as "stdout" | "stderr"].push(message.text);
        return { type: event.type, message };
      }
      case "result": {
        const result = new Result(event);
        this.execution.results.push(result);
        return { type: "result", result };
      }
      case "error": {
        const error = new ExecutionError(event as any);
        this.execution.error = error;
        return { type: "error", error };
      }
      case "end":
        this.ended = true;
        this.execution.executionCount = event.execution_count ?? 0;
        this.execution.durationMs = event.duration_ms ?? 0;
        return null;
      default:
        return null;
    }
  }
}

async function dispatch(item: StreamItem | null, o: RunCodeOptions | RunCommandOptions): Promise<void> {
  if (!item) return;
  let out: unknown;
  if (item.type === "stdout") out = o.onStdout?.(item.message);
  else if (item.type === "stderr") out = o.onStderr?.(item.message);
  else if (item.type === "result") out = (o as RunCodeOptions).onResult?.(item.result);
  else if (item.type === "error") out = (o as RunCodeOptions).onError?.(item.error);
  if (out && typeof (out as Promise<unknown>).then === "function") await out;
}

/**
 * A run being streamed: `for await (const item of stream)` gives
 * `{type: "stdout"|"stderr", message}`, `{type: "result", result}` and
 * `{type: "error", error}` as they happen; `execution` is complete afterwards.
 * Breaking out of the loop (or the call's AbortSignal) interrupts the run.
 */
export class CodeStream implements AsyncIterable<StreamItem> {
  private readonly asm = new Assembler();

  /** @internal */
  constructor(private readonly t: Transport, private readonly opened: Promise<Opened>) {}

  /** What the run produced so far (all of it once iteration ended). */
  get execution(): Execution {
    return this.asm.execution;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<StreamItem> {
    const o = await this.opened;
    for await (const event of this.t.events(o)) {
      const item = this.asm.feed(event);
      if (item) yield item;
    }
  }
}

/** A background command: `pid` inside the sandbox; `kill()`, `wait()`. */
export class CommandHandle {
  /** @internal */
  constructor(private readonly commands: Commands, readonly pid: number) {}

  /** Whether it runs, its exit code and the last 64 KiB of its output. */
  info(opts: CallOptions = {}): Promise<CommandInfo> {
    return this.commands.get(this.pid, opts);
  }

  /** Kills its process group. */
  kill(opts: CallOptions = {}): Promise<void> {
    return this.commands.kill(this.pid, opts);
  }

  /** Polls until it ended; TimeoutError after `timeoutMs`. */
  async wait(opts: CallOptions & { timeoutMs?: number; pollIntervalMs?: number } = {}): Promise<CommandInfo> {
    const deadline = opts.timeoutMs === undefined ? Infinity : Date.now() + opts.timeoutMs;
    for (;;) {
      const info = await this.info(opts);
      if (!info.running) return info;
      if (Date.now() > deadline) throw new TimeoutError(`command ${this.pid} still running after ${opts.timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, opts.pollIntervalMs ?? 100));
    }
  }
}

/** Shell commands in a sandbox (`sandbox.commands`). */
export class Commands {
  /** @internal */
  constructor(private readonly sbx: Sandbox) {}

  /**
   * Runs `/bin/sh -c cmd` as the sandbox user. In the foreground it resolves
   * to a {@link CommandResult} (exit code 124 and `error: "timeout"` past
   * `timeoutMs`), streaming output to `onStdout`/`onStderr` when given; with
   * `background: true` it resolves at once to a {@link CommandHandle}.
   */
  run(cmd: string, opts: RunCommandOptions & { background: true }): Promise<CommandHandle>;
  run(cmd: string, opts?: RunCommandOptions & { background?: false }): Promise<CommandResult>;
  async run(cmd: string, opts: RunCommandOptions = {}): Promise<CommandResult | CommandHandle> {
    const t = this.sbx.client.transport;
    const stream = !opts.background && Boolean(opts.onStdout || opts.onStderr);
    const r: Request = {
      method: "POST", path: sbxPath(this.sbx.id, "/commands"), stream,
      json: compact({
        cmd, cwd: opts.cwd, env: opts.env, stdin: opts.stdin,
        timeout_s: opts.timeoutMs !== undefined ? opts.timeoutMs / 1000 : undefined,
        background: opts.background ? true : undefined,
      }),
      timeoutMs: opts.requestTimeoutMs ?? (opts.timeoutMs ?? this.sbx.execTimeoutMs()) + EXEC_MARGIN_MS,
    };
    if (opts.signal) r.signal = opts.signal;
    if (opts.background) return new CommandHandle(this, (await t.call(r)).pid);
    if (!stream) return CommandResult.fromJSON(await t.call(r));
    const asm = new Assembler();
    const out: string[] = [];
    const err: string[] = [];
    for await (const event of t.events(await t.open(r))) {
      if (event.type === "end") {
        return new CommandResult(event.exit_code, out.join(""), err.join(""), event.duration_ms ?? 0, event.error ?? null);
      }
      const item = asm.feed(event);
      if (item?.type === "stdout") out.push(item.message.text);
      if (item?.type === "stderr") err.push(item.message.text);
      await dispatch(item, opts);
    }
    throw new TimeoutError("the command's stream ended without its end event");
  }

  /** Background commands, running and recently finished. */
  async list(opts: CallOptions = {}): Promise<CommandInfo[]> {
    const d = await this.sbx.client.transport.call({ method: "GET", path: sbxPath(this.sbx.id, "/commands"), ...call(opts) });
    return d.commands.map(commandInfo);
  }

  /** One background command, with the last 64 KiB of each stream. */
  async get(pid: number, opts: CallOptions = {}): Promise<CommandInfo> {
    return commandInfo(await this.sbx.client.transport.call({
      method: "GET", path: sbxPath(this.sbx.id, `/commands/${Math.trunc(pid)}`), ...call(opts) }));
  }

  /** Kills a background command's process group. */
  async kill(pid: number, opts: CallOptions = {}): Promise<void> {
    await this.sbx.client.transport.call({
      method: "POST", path: sbxPath(this.sbx.id, `/commands/${Math.trunc(pid)}/kill`), idempotent: true, ...call(opts) });
  }
}

/** A sandbox's files (`sandbox.files`); paths are absolute or relative to /home/user. */
export class Files {
  /** @internal */
  constructor(private readonly sbx: Sandbox) {}

  private get t(): Transport {
    return this.sbx.client.transport;
  }

  /** A folder's entries (default /home/user). */
  async list(path?: string, opts: CallOptions = {}): Promise<FileEntry[]> {
    const d = await this.t.call({ method: "GET", path: sbxPath(this.sbx.id, "/files"), query: { path }, ...call(opts) });
    return d.entries.map(fileEntry);
  }

  /** A file as text (UTF-8), bytes, or a ReadableStream of chunks that never holds the whole file. */
  read(path: string, opts?: CallOptions & { format?: "text" }): Promise<string>;
  read(path: string, opts: CallOptions & { format: "bytes" }): Promise<Uint8Array>;
  read(path: string, opts: CallOptions & { format: "stream" }): Promise<ReadableStream<Uint8Array>>;
  async read(path: string, opts: CallOptions & { format?: ReadFormat } = {}): Promise<string | Uint8Array | ReadableStream<Uint8Array>> {
    const o = await this.t.open({ method: "GET", path: sbxPath(this.sbx.id, "/files/content"), query: { path }, raw: true, ...call(opts) });
    return readAs(this.t, o, opts.format ?? "text");
  }

  /**
   * Writes `data` (string, bytes, Blob, ReadableStream or an (async) iterable
   * of chunks, sent as it is read) to `path`; parent folders are made.
   */
  async write(path: string, data: BodyData, opts: CallOptions & { contentLength?: number } = {}): Promise<{ path: string; size: number }> {
    return this.t.call({ method: "PUT", path: sbxPath(this.sbx.id, "/files/content"), query: { path }, body: data,
      ...lengthOf(opts), ...call(opts) });
  }

  /** Streams a local file into the sandbox. */
  async uploadFile(localPath: string, path: string, opts: CallOptions = {}): Promise<{ path: string; size: number }> {
    const src = await fileSource(localPath);
    return this.write(path, src.body, { ...opts, contentLength: src.contentLength });
  }

  /** Streams a sandbox file to a local path; returns its size. */
  async downloadFile(path: string, localPath: string, opts: CallOptions = {}): Promise<number> {
    return saveTo(await this.read(path, { ...opts, format: "stream" }), localPath);
  }

  /** Deletes a file, or a folder with everything in it. */
  async remove(path: string, opts: CallOptions = {}): Promise<void> {
    await this.t.call({ method: "DELETE", path: sbxPath(this.sbx.id, "/files"), query: { path }, ...call(opts) });
  }

  /** Creates a folder and its parents; resolves to its absolute path. */
  async makeDir(path: string, opts: CallOptions = {}): Promise<string> {
    return (await this.t.call({ method: "POST", path: sbxPath(this.sbx.id, "/files/mkdir"), json: { path }, idempotent: true, ...call(opts) })).path;
  }

  /** Whether a file or folder exists at `path`. */
  async exists(path: string, opts: CallOptions = {}): Promise<boolean> {
    const trimmed = path.replace(/\/+$/, "");
    const i = trimmed.lastIndexOf("/");
    const name = trimmed.slice(i + 1);
    if (!name) return true;
    const parent = i > 0 ? trimmed.slice(0, i) : i === 0 ? "/" : undefined;
    try {
      return (await this.list(parent, opts)).some((e) => e.name === name);
    } catch (e) {
      if (e instanceof NotFoundError) return false;
      throw e;
    }
  }

  /** Copies a Drive file into the sandbox; resolves to its size. */
  async copyFromDrive(drivePath: string, path: string, opts: CallOptions = {}): Promise<number> {
    return (await this.t.call({ method: "POST", path: sbxPath(this.sbx.id, "/upload"), idempotent: true,
      json: { drive_path: drivePath, sandbox_path: path }, ...call(opts) })).size;
  }

  /** Copies a sandbox file into Drive. */
  async copyToDrive(path: string, drivePath: string, opts: CallOptions & { replace?: boolean; scope?: DriveFile["scope"] } = {}): Promise<DriveFile> {
    return driveFile(await this.t.call({ method: "POST", path: sbxPath(this.sbx.id, "/download"),
      idempotent: Boolean(opts.replace), ...call(opts),
      json: compact({ sandbox_path: path, drive_path: drivePath, replace: opts.replace ? true : undefined, scope: opts.scope }) }));
  }
}

/**
 * One sandbox. Make it with {@link Sandbox.create} (or `connect` to one);
 * `kill()` deletes it, and `Sandbox.use(opts, fn)` (or `await using`)
 * deletes it when done.
 */
export class Sandbox {
  /** The sandbox as last seen. */
  info: SandboxInfo;
  /** The client it talks through. */
  readonly client: Client;
  /** Files in the sandbox. */
  readonly files: Files;
  /** Shell commands. */
  readonly commands: Commands;
  /** The workspace's Drive. */
  readonly drive: Drive;

  /** @internal */
  constructor(info: SandboxInfo, client: Client) {
    this.info = info;
    this.client = client;
    this.files = new Files(this);
    this.commands = new Commands(this);
    this.drive = client.drive;
  }

  /** The sandbox id (`sbx_…`). */
  get id(): string {
    return this.info.id;
  }

  /** The sandbox id (E2B's name for it). */
  get sandboxId(): string {
    return this.info.id;
  }

  /** @internal */
  execTimeoutMs(): number {
    return this.info.limits.exec_timeout_s * 1000;
  }

  /**
   * Creates a sandbox (a few ms: it comes from the warm pool). With
   * `session`, the live sandbox holding that key is returned instead.
   */
  static async create(opts: SandboxOptions & ClientOptions & CallOptions & { client?: Client } = {}): Promise<Sandbox> {
    const client = opts.client ?? new Client(opts);
    const json = compact({
      template: opts.template, session: opts.session, env: opts.env, metadata: opts.metadata,
      limits: opts.limits, network: opts.network,
      timeout_s: opts.timeoutMs !== undefined ? Math.ceil(opts.timeoutMs / 1000) : undefined,
    });
    const d = await client.transport.call({ method: "POST", path: "/v1/sandboxes", json,
      idempotent: opts.session !== undefined, ...call(opts) });
    return new Sandbox(sandboxInfo(d), client);
  }

  /** A handle on an existing sandbox (NotFoundError if it is gone). */
  static async connect(sandboxId: string, opts: ClientOptions & CallOptions & { client?: Client } = {}): Promise<Sandbox> {
    const client = opts.client ?? new Client(opts);
    return new Sandbox(sandboxInfo(await client.transport.call({ method: "GET", path: sbxPath(sandboxId), ...call(opts) })), client);
  }

  /** The workspace's live sandboxes. */
  static async list(opts: ClientOptions & CallOptions = {}): Promise<SandboxInfo[]> {
    return new Client(opts).listSandboxes(opts);
  }

  /** Creates a sandbox, runs `fn` with it, and deletes it afterwards (also when `fn` throws). */
  static async use<T>(opts: SandboxOptions & ClientOptions & CallOptions & { client?: Client }, fn: (sandbox: Sandbox) => Promise<T>): Promise<T> {
    const sandbox = await Sandbox.create(opts);
    try {
      return await fn(sandbox);
    } finally {
      await sandbox.close();
    }
  }

  /** The sandbox as it is now, with its usage so far. */
  async getInfo(opts: CallOptions = {}): Promise<SandboxInfo> {
    this.info = sandboxInfo(await this.client.transport.call({ method: "GET", path: sbxPath(this.id), ...call(opts) }));
    return this.info;
  }

  /** Sets the sandbox to expire `timeoutMs` from now (rounded up to seconds). */
  async setTimeout(timeoutMs: number, opts: CallOptions = {}): Promise<SandboxInfo> {
    this.info = sandboxInfo(await this.client.transport.call({ method: "POST", path: sbxPath(this.id, "/timeout"),
      json: { timeout_s: Math.ceil(timeoutMs / 1000) }, idempotent: true, ...call(opts) }));
    return this.info;
  }

  /** Whether the sandbox still exists. */
  async isRunning(opts: CallOptions = {}): Promise<boolean> {
    try {
      await this.getInfo(opts);
      return true;
    } catch (e) {
      if (e instanceof NotFoundError) return false;
      throw e;
    }
  }

  /** Deletes the sandbox: every process and file in it goes. */
  async kill(opts: CallOptions = {}): Promise<void> {
    await this.client.transport.call({ method: "DELETE", path: sbxPath(this.id), ...call(opts) });
  }

  /** Deletes the sandbox if it still exists. */
  async close(): Promise<void> {
    try {
      await this.kill();
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
    }
  }

  /** For `await using sandbox = await Sandbox.create()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private executeRequest(code: string, o: RunCodeOptions, stream: boolean): Request {
    if (o.language !== undefined && o.context !== undefined) throw new TypeError("give language or context, not both");
    const contextId = typeof o.context === "string" ? o.context : o.context?.id;
    const r: Request = {
      method: "POST", path: sbxPath(this.id, "/execute"), stream,
      json: compact({
        code, language: o.language, context_id: contextId, env: o.env,
        timeout_s: o.timeoutMs !== undefined ? o.timeoutMs / 1000 : undefined,
      }),
      timeoutMs: o.requestTimeoutMs ?? (o.timeoutMs ?? this.execTimeoutMs()) + EXEC_MARGIN_MS,
    };
    if (o.signal) r.signal = o.signal;
    return r;
  }

  /**
   * Runs code and resolves to its {@link Execution} (also when the code
   * threw: see `execution.error`). With any `on*` callback the run is
   * streamed and each is called as output, results and the error arrive
   * (a callback that throws interrupts the run). `signal` aborts the run.
   */
  async runCode(code: string, opts: RunCodeOptions = {}): Promise<Execution> {
    const t = this.client.transport;
    const stream = Boolean(opts.onStdout || opts.onStderr || opts.onResult || opts.onError);
    const r = this.executeRequest(code, opts, stream);
    if (!stream) return Execution.fromJSON(await t.call(r));
    const asm = new Assembler();
    for await (const event of t.events(await t.open(r))) await dispatch(asm.feed(event), opts);
    if (!asm.ended) throw new TimeoutError("the execution's stream ended without its end event");
    return asm.execution;
  }

  /** Starts a run and returns a {@link CodeStream} to iterate over as it happens. */
  streamCode(code: string, opts: Omit<RunCodeOptions, "onStdout" | "onStderr" | "onResult" | "onError"> = {}): CodeStream {
    const t = this.client.transport;
    return new CodeStream(t, t.open(this.executeRequest(code, opts, true)));
  }

  /** Starts a new interpreter (python by default) with its own state. */
  async createCodeContext(opts: CallOptions & { language?: string; cwd?: string } = {}): Promise<Context> {
    return this.client.transport.call({ method: "POST", path: sbxPath(this.id, "/contexts"),
      json: compact({ language: opts.language, cwd: opts.cwd }), ...call(opts) });
  }

  /** Every context of the sandbox (the default ones included). */
  async listCodeContexts(opts: CallOptions = {}): Promise<Context[]> {
    return (await this.client.transport.call({ method: "GET", path: sbxPath(this.id, "/contexts"), ...call(opts) })).contexts;
  }

  /** One context. */
  async getCodeContext(context: Context | string, opts: CallOptions = {}): Promise<Context> {
    const id = typeof context === "string" ? context : context.id;
    return this.client.transport.call({ method: "GET", path: sbxPath(this.id, `/contexts/${enc(id)}`), ...call(opts) });
  }

  /** Fresh state, same id. */
  async restartCodeContext(context: Context | string, opts: CallOptions = {}): Promise<Context> {
    const id = typeof context === "string" ? context : context.id;
    return this.client.transport.call({ method: "POST", path: sbxPath(this.id, `/contexts/${enc(id)}/restart`), ...call(opts) });
  }

  /** Ends a context (a run in it ends with ContextStoppedError). */
  async removeCodeContext(context: Context | string, opts: CallOptions = {}): Promise<void> {
    const id = typeof context === "string" ? context : context.id;
    await this.client.transport.call({ method: "DELETE", path: sbxPath(this.id, `/contexts/${enc(id)}`), ...call(opts) });
  }
}
