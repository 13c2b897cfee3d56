/** Data the API returns, as typed objects. */
import { CommandExitError, ExecutionError, type ExecutionErrorData } from "./errors.js";

/** Decodes base64 with the platform's atob (no hand-written decoder). */
export function fromBase64(text: string): Uint8Array {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Encodes bytes as base64 with the platform's btoa. */
export function toBase64(bytes: Uint8Array): string {
  let bin = "";
  const step = 0x8000;
  for (let i = 0; i < bytes.length; i += step) {
    bin += String.fromCharCode(...bytes.subarray(i, i + step));
  }
  return btoa(bin);
}

const RESULT_KEYS = ["text", "html", "markdown", "svg", "png", "jpeg", "pdf", "latex", "json",
  "javascript"] as const;

/** The API's result object (base64 for png/jpeg/pdf). */
export interface ResultData {
  is_main_result?: boolean;
  text?: string;
  html?: string;
  markdown?: string;
  svg?: string;
  png?: string;
  jpeg?: string;
  pdf?: string;
  latex?: string;
  json?: unknown;
  javascript?: string;
  [key: string]: unknown;
}

/**
 * One rich result of an execution: every rendering the object offered.
 * `png`, `jpeg` and `pdf` are decoded bytes; `json` is the decoded value.
 */
export class Result {
  readonly isMainResult: boolean;
  readonly text?: string;
  readonly html?: string;
  readonly markdown?: string;
  readonly svg?: string;
  readonly latex?: string;
  readonly javascript?: string;
  readonly json?: unknown;
  readonly png?: Uint8Array;
  readonly jpeg?: Uint8Array;
  readonly pdf?: Uint8Array;
  /** The result as the API sent it. */
  readonly raw: ResultData;

  constructor(data: ResultData) {
    const { type: _type, ...raw } = data as ResultData & { type?: string };
    void _type;
    this.raw = raw;
    this.isMainResult = Boolean(data.is_main_result);
    if (typeof data.text === "string") this.text = data.text;
    if (typeof data.html === "string") this.html = data.html;
    if (typeof data.markdown === "string") this.markdown = data.markdown;
    if (typeof data.svg === "string") this.svg = data.svg;
    if (typeof data.latex === "string") this.latex = data.latex;
    if (typeof data.javascript === "string") this.javascript = data.javascript;
    if ("json" in data) this.json = data.json;
    if (typeof data.png === "string") this.png = fromBase64(data.png);
    if (typeof data.jpeg === "string") this.jpeg = fromBase64(data.jpeg);
    if (typeof data.pdf === "string") this.pdf = fromBase64(data.pdf);
  }

  /** The renderings present, e.g. `["text", "html"]`. */
  formats(): string[] {
    return RESULT_KEYS.filter((k) => this.raw[k] !== undefined && this.raw[k] !== null);
  }

  /** The text rendering (or ""). */
  toString(): string {
    return this.text ?? "";
  }
}

/** A piece of output as the program wrote it. */
export interface OutputMessage {
  /** The text written. */
  text: string;
  /** "stdout" or "stderr". */
  stream: "stdout" | "stderr";
  /** When kilnd relayed it. */
  timestamp: Date | null;
}

/** An execution's output: the pieces written to stdout and to stderr. */
export interface Logs {
  stdout: string[];
  stderr: string[];
}

/** The API's whole execute answer. */
export interface ExecutionData {
  results: ResultData[];
  logs: Logs;
  error: ExecutionErrorData | null;
  execution_count: number;
  duration_ms: number;
}

/** The outcome of `runCode`: results, logs, error (null when it succeeded). */
export class Execution {
  results: Result[] = [];
  logs: Logs = { stdout: [], stderr: [] };
  error: ExecutionError | null = null;
  executionCount = 0;
  durationMs = 0;

  /** The main result's text (the value of the last expression), if any. */
  get text(): string | undefined {
    return this.results.find((r) => r.isMainResult)?.text;
  }

  /** All of stdout, joined. */
  get stdout(): string {
    return this.logs.stdout.join("");
  }

  /** All of stderr, joined. */
  get stderr(): string {
    return this.logs.stderr.join("");
  }

  /** Throws `error` if the code failed; returns this otherwise. */
  throwIfError(): this {
    if (this.error) throw this.error;
    return this;
  }

  /** From the API's whole answer. */
  static fromJSON(d: ExecutionData): Execution {
    const e = new Execution();
    e.results = (d.results ?? []).map((r) => new Result(r));
    e.logs = { stdout: [...(d.logs?.stdout ?? [])], stderr: [...(d.logs?.stderr ?? [])] };
    e.error = d.error ? new ExecutionError(d.error) : null;
    e.executionCount = d.execution_count ?? 0;
    e.durationMs = d.duration_ms ?? 0;
    return e;
  }
}

/** One streamed item of a run. */
export type StreamItem =
  | { type: "stdout" | "stderr"; message: OutputMessage }
  | { type: "result"; result: Result }
  | { type: "error"; error: ExecutionError };

/** A sandbox's resource limits. */
export interface Limits {
  memory_mb: number;
  cpus: number;
  pids: number;
  disk_mb: number;
  exec_timeout_s: number;
}

/** What a sandbox used so far. */
export interface SandboxUsage {
  activeMs: number;
  cpuMs: number;
  memoryPeakBytes: number;
  executions: number;
}

/** A sandbox as the API describes it. */
export interface SandboxInfo {
  id: string;
  status: string;
  template: string;
  session: string | null;
  createdAt: Date;
  expiresAt: Date;
  limits: Limits;
  metadata: Record<string, string>;
  network: string;
  usage?: SandboxUsage;
}

/** @internal */
export function sandboxInfo(d: any): SandboxInfo {
  const info: SandboxInfo = {
    id: d.id, status: d.status, template: d.template, session: d.session ?? null,
    createdAt: new Date(d.created_at), expiresAt: new Date(d.expires_at),
    limits: { ...d.limits }, metadata: { ...(d.metadata ?? {}) }, network: d.network ?? "none",
  };
  if (d.usage) {
    info.usage = {
      activeMs: d.usage.active_ms, cpuMs: d.usage.cpu_ms,
      memoryPeakBytes: d.usage.memory_peak_bytes, executions: d.usage.executions,
    };
  }
  return info;
}

/** A code context: one interpreter whose state persists across runs. */
export interface Context {
  id: string;
  language: string;
  cwd: string;
  default: boolean;
}

/** A finished foreground command; `error` is "timeout" when it was killed for time. */
export class CommandResult {
  constructor(
    readonly exitCode: number,
    readonly stdout: string,
    readonly stderr: string,
    readonly durationMs: number,
    readonly error: string | null,
  ) {}

  /** Throws {@link CommandExitError} unless the exit code is 0. */
  check(): this {
    if (this.exitCode !== 0) throw new CommandExitError(this.exitCode, this.stdout, this.stderr);
    return this;
  }

  /** @internal */
  static fromJSON(d: any): CommandResult {
    return new CommandResult(d.exit_code, d.stdout ?? "", d.stderr ?? "", d.duration_ms ?? 0,
      d.error ?? null);
  }
}

/** A background command (with recent output from `get`). */
export interface CommandInfo {
  pid: number;
  cmd: string;
  running: boolean;
  exitCode: number | null;
  stdout?: string;
  stderr?: string;
}

/** @internal */
export function commandInfo(d: any): CommandInfo {
  const c: CommandInfo = { pid: d.pid, cmd: d.cmd, running: d.running, exitCode: d.exit_code ?? null };
  if (typeof d.stdout === "string") c.stdout = d.stdout;
  if (typeof d.stderr === "string") c.stderr = d.stderr;
  return c;
}

/** An entry of a sandbox folder. */
export interface FileEntry {
  name: string;
  path: string;
  type: "file" | "dir" | "symlink" | "other";
  size: number;
  mtime: Date | null;
}

/** @internal */
export function fileEntry(d: any): FileEntry {
  return { name: d.name, path: d.path, type: d.type, size: d.size, mtime: d.mtime ? new Date(d.mtime) : null };
}

/** A file in Drive. */
export interface DriveFile {
  path: string;
  size: number;
  scope: "temporary" | "session" | "persistent";
  createdAt: Date | null;
  expiresAt: Date | null;
  sha256: string;
}

/** @internal */
export function driveFile(d: any): DriveFile {
  return {
    path: d.path, size: d.size, scope: d.scope,
    createdAt: d.created_at ? new Date(d.created_at) : null,
    expiresAt: d.expires_at ? new Date(d.expires_at) : null, sha256: d.sha256,
  };
}

/** A file an action produced, with a signed link that needs no key. */
export interface ActionFile {
  name: string;
  size: number;
  path: string;
  url: string;
  expiresAt: Date | null;
}

function actionFile(d: any): ActionFile {
  return { name: d.name, size: d.size, path: d.path, url: d.url,
    expiresAt: d.expires_at ? new Date(d.expires_at) : null };
}

/** The answer of the `executeCode` action. */
export interface ExecuteCodeResult {
  success: boolean;
  stdout: string;
  stderr: string;
  results: Result[];
  error: ExecutionError | null;
  files: ActionFile[];
  sandboxId: string;
  skippedFiles: { name: string; reason: string }[];
}

/** @internal */
export function executeCodeResult(d: any): ExecuteCodeResult {
  return {
    success: d.success, stdout: d.stdout ?? "", stderr: d.stderr ?? "",
    results: (d.results ?? []).map((r: ResultData) => new Result(r)),
    error: d.error ? new ExecutionError(d.error) : null,
    files: (d.files ?? []).map(actionFile), sandboxId: d.sandbox_id ?? "",
    skippedFiles: d.skipped_files ?? [],
  };
}

/** The answer of the `processFile` action. */
export interface ProcessFileResult {
  success: boolean;
  result: any;
  files: ActionFile[];
  skippedFiles: { name: string; reason: string }[];
}

/** @internal */
export function processFileResult(d: any): ProcessFileResult {
  return { success: d.success, result: d.result, files: (d.files ?? []).map(actionFile),
    skippedFiles: d.skipped_files ?? [] };
}

/** A skill's name and description. */
export interface SkillSummary {
  name: string;
  description: string;
}

/** A skill: instructions (`body`) and its files. */
export interface Skill extends SkillSummary {
  body: string;
  files: string[];
}

/** The verdict of `validate`. */
export interface Validation {
  valid: boolean;
  errors: { line: number | null; column: number | null; message: string }[];
  warnings: { line: number; rule: string; message: string }[];
}

/** One call to test and the JSON value it should give. */
export interface TestCase {
  call: string;
  expected?: unknown;
}

/** The answer of `test`. */
export interface TestReport {
  total: number;
  passed: number;
  results: { call: string; expected: unknown; actual: unknown; passed: boolean; error: string | null }[];
}

/** One day of usage. */
export interface UsageDay {
  date: string;
  sandboxes: number;
  sessionSeconds: number;
  activeSeconds: number;
  cpuSeconds: number;
  executions: number;
}

/** The workspace's metered usage (`activeSeconds` is billed). */
export interface Usage {
  workspace: string;
  sandboxes: number;
  sessionSeconds: number;
  activeSeconds: number;
  cpuSeconds: number;
  executions: number;
  credits: number | null;
  byDay: UsageDay[];
}

/** @internal */
export function usage(d: any): Usage {
  return {
    workspace: d.workspace, sandboxes: d.sandboxes, sessionSeconds: d.session_seconds,
    activeSeconds: d.active_seconds, cpuSeconds: d.cpu_seconds, executions: d.executions,
    credits: d.credits ?? null,
    byDay: (d.by_day ?? []).map((x: any) => ({
      date: x.date, sandboxes: x.sandboxes, sessionSeconds: x.session_seconds,
      activeSeconds: x.active_seconds, cpuSeconds: x.cpu_seconds, executions: x.executions,
    })),
  };
}
