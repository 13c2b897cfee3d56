/**
 * The transport: global fetch, retries with backoff for idempotent calls,
 * NDJSON streams, streamed bodies, AbortSignal plus timeouts.
 */
import { ConnectionError, KilnError, TimeoutError, errorFromResponse } from "./errors.js";

/** Where kilnd is and how to talk to it. */
export interface ClientOptions {
  /** Base URL of kilnd; default `KILN_URL`, then http://127.0.0.1:8420. */
  url?: string;
  /** API key; default `KILN_API_KEY` (none: auth off on a loopback kilnd). */
  apiKey?: string;
  /** Default request timeout in milliseconds (60 000). */
  requestTimeoutMs?: number;
  /** How often an idempotent call is retried after a connection failure or a 502/503/504 (3). */
  maxRetries?: number;
}

/** Data a body may be: sent as is, or streamed chunk by chunk. */
export type BodyData =
  | string
  | Uint8Array
  | ArrayBuffer
  | Blob
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array>
  | Iterable<Uint8Array>;

/** One API call, independent of how it is sent. @internal */
export interface Request {
  method: string;
  path: string;
  query?: Record<string, string | number | boolean | undefined | null>;
  json?: unknown;
  body?: BodyData;
  /** The streamed body's length, when known (sent as Content-Length). */
  contentLength?: number;
  idempotent?: boolean;
  timeoutMs?: number;
  stream?: boolean;
  raw?: boolean;
  signal?: AbortSignal;
}

/**
 * Called as `observer(kind, method, target, status, payload)` for every JSON
 * message: kind "request" (the body sent), "response" (a JSON answer, or
 * null for bodiless and raw ones) and "event" (one streamed event).
 */
export type Observer = (kind: "request" | "response" | "event", method: string, target: string,
  status: number | null, payload: unknown) => void;

const observers: Observer[] = [];

/** Registers an observer of every JSON message (for tests and debugging); returns its remover. */
export function addObserver(observer: Observer): () => void {
  observers.push(observer);
  return () => {
    const i = observers.indexOf(observer);
    if (i >= 0) observers.splice(i, 1);
  };
}

function notify(kind: "request" | "response" | "event", method: string, target: string,
  status: number | null, payload: unknown): void {
  for (const o of [...observers]) o(kind, method, target, status, payload);
}

const RETRY_STATUSES = new Set([502, 503, 504]);

function env(name: string): string | undefined {
  const p = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  return p?.env?.[name] || undefined;
}

/** Resolved client settings. @internal */
export interface Config {
  url: string;
  apiKey: string | undefined;
  requestTimeoutMs: number;
  maxRetries: number;
  backoffMs: number;
}

/** Arguments first, then the environment, then the defaults. @internal */
export function resolveConfig(o: ClientOptions = {}): Config {
  const url = (o.url ?? env("KILN_URL") ?? "http://127.0.0.1:8420").replace(/\/+$/, "");
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`KILN_URL must be an http(s) URL, not ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new TypeError(`KILN_URL must be an http(s) URL, not ${JSON.stringify(url)}`);
  }
  return {
    url,
    apiKey: o.apiKey ?? env("KILN_API_KEY"),
    requestTimeoutMs: o.requestTimeoutMs ?? 60_000,
    maxRetries: o.maxRetries ?? 3,
    backoffMs: 250,
  };
}

function replayable(b: BodyData | undefined): boolean {
  return b === undefined || typeof b === "string" || b instanceof Uint8Array ||
    b instanceof ArrayBuffer || (typeof Blob !== "undefined" && b instanceof Blob);
}

function toStream(b: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): ReadableStream<Uint8Array> {
  const it = Symbol.asyncIterator in b
    ? (b as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]()
    : (b as Iterable<Uint8Array>)[Symbol.iterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await it.next();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    async cancel() {
      await it.return?.();
    },
  });
}

type FetchBody = string | Uint8Array | ArrayBuffer | Blob | ReadableStream<Uint8Array>;

function prepareBody(r: Request): { body?: FetchBody; headers: Record<string, string>; streamed: boolean } {
  if (r.json !== undefined) {
    return { body: JSON.stringify(r.json), headers: { "Content-Type": "application/json" }, streamed: false };
  }
  const b = r.body;
  if (b === undefined) return { headers: {}, streamed: false };
  const headers = { "Content-Type": "application/octet-stream" };
  if (typeof b === "string" || b instanceof Uint8Array || b instanceof ArrayBuffer ||
      (typeof Blob !== "undefined" && b instanceof Blob)) {
    return { body: b, headers, streamed: false };
  }
  if (typeof ReadableStream !== "undefined" && b instanceof ReadableStream) {
    return { body: b, headers, streamed: true };
  }
  return { body: toStream(b as AsyncIterable<Uint8Array>), headers, streamed: true };
}

/**
 * A streamed upload through node:http(s) rather than fetch: Node's fetch
 * (undici) keeps a streamed request body in memory until the request ends
 * (nodejs/undici#4058), which defeats streaming a large file. The answer is
 * handed back as a web Response, like fetch's.
 */
async function nodeStreamedRequest(url: string, method: string, headers: Record<string, string>,
  body: ReadableStream<Uint8Array>, length: number | undefined, signal: AbortSignal): Promise<Response> {
  const target = new URL(url);
  const http = target.protocol === "https:" ? await import("node:https") : await import("node:http");
  const { Readable } = await import("node:stream");
  const { pipeline } = await import("node:stream/promises");
  return new Promise<Response>((resolve, reject) => {
    // A known length lets kilnd refuse an oversized body before it is sent.
    const framing: Record<string, string> = length === undefined
      ? { "Transfer-Encoding": "chunked" } : { "Content-Length": String(length) };
    const req = http.request(target, { method, headers: { ...headers, ...framing }, signal });
    req.on("error", reject);
    req.on("response", (res) => {
      const h = new Headers();
      for (const [k, v] of Object.entries(res.headers)) {
        if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(", ") : v);
      }
      const status = res.statusCode ?? 500;
      const noBody = status === 204 || status === 304;
      if (noBody) res.resume();
      resolve(new Response(noBody ? null : (Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>),
        { status, headers: h }));
    });
    const source = Readable.fromWeb(body as unknown as import("node:stream/web").ReadableStream<Uint8Array>);
    pipeline(source, req).catch((e: unknown) => {
      req.destroy(e as Error);
      reject(e);
    });
  });
}

const isNode = typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === "string";

/** An AbortSignal that fires on the caller's signal or after `ms`. */
class Deadline {
  readonly controller = new AbortController();
  timedOut = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly onAbort: () => void;

  constructor(readonly ms: number, private readonly user?: AbortSignal) {
    this.onAbort = () => this.controller.abort(user?.reason);
    if (user?.aborted) this.controller.abort(user.reason);
    else user?.addEventListener("abort", this.onAbort, { once: true });
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort(new TimeoutError(`no answer in ${ms} ms`));
    }, ms);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The error to throw for a failure while this deadline was active. */
  error(e: unknown, url: string): unknown {
    if (this.timedOut) return new TimeoutError(`no answer from ${url} in ${this.ms} ms`, { cause: e });
    if (this.user?.aborted) return this.user.reason ?? e;
    if (e instanceof KilnError) return e;
    return new ConnectionError(`cannot reach kilnd at ${url}: ${describe(e)}`, { cause: e });
  }

  done(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.user?.removeEventListener("abort", this.onAbort);
  }
}

function describe(e: unknown): string {
  if (e instanceof Error) {
    const cause = (e as { cause?: unknown }).cause;
    return cause instanceof Error ? `${e.message} (${cause.message})` : e.message;
  }
  return String(e);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      reject(signal.reason);
    }, { once: true });
  });
}

/** An answer being read (a stream of events or of bytes). @internal */
export interface Opened {
  response: Response;
  deadline: Deadline;
  target: string;
  method: string;
}

/** Sends Requests to kilnd. @internal */
export class Transport {
  constructor(readonly config: Config) {}

  /** Path plus query string. */
  target(r: Request): string {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(r.query ?? {})) {
      if (v !== undefined && v !== null) q.set(k, String(v));
    }
    const s = q.toString();
    return s ? `${r.path}?${s}` : r.path;
  }

  private delay(attempt: number): number {
    return Math.min(4000, this.config.backoffMs * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
  }

  /** Sends the request; the answer's body is left unread. */
  async open(r: Request): Promise<Opened> {
    const target = this.target(r);
    const idempotent = r.idempotent ?? ["GET", "PUT", "DELETE"].includes(r.method);
    const retryable = idempotent && replayable(r.body);
    if (r.json !== undefined) notify("request", r.method, target, null, r.json);
    for (let attempt = 0; ; ) {
      const deadline = new Deadline(r.timeoutMs ?? this.config.requestTimeoutMs, r.signal);
      const { body, headers, streamed } = prepareBody(r);
      headers["Accept"] = r.stream ? "application/x-ndjson" : r.raw ? "*/*" : "application/json";
      headers["User-Agent"] = "kiln-js/0.1.0";
      if (this.config.apiKey) headers["Authorization"] = `Bearer ${this.config.apiKey}`;
      let response: Response;
      try {
        const init: RequestInit & { duplex?: "half" } = {
          method: r.method, headers, signal: deadline.signal,
        };
        if (body !== undefined) init.body = body as NonNullable<RequestInit["body"]>;
        if (streamed) init.duplex = "half";
        response = streamed && isNode
          ? await nodeStreamedRequest(this.config.url + target, r.method, headers,
            body as ReadableStream<Uint8Array>, r.contentLength, deadline.signal)
          : await fetch(this.config.url + target, init);
      } catch (e) {
        deadline.done();
        const err = deadline.error(e, this.config.url);
        attempt += 1;
        if (err instanceof ConnectionError && retryable && attempt <= this.config.maxRetries) {
          await sleep(this.delay(attempt), r.signal);
          continue;
        }
        throw err;
      }
      if (RETRY_STATUSES.has(response.status) && retryable && attempt < this.config.maxRetries) {
        await response.body?.cancel();
        deadline.done();
        attempt += 1;
        await sleep(this.delay(attempt), r.signal);
        continue;
      }
      if (response.status >= 400) {
        let text = "";
        try {
          text = await response.text();
        } catch (e) {
          deadline.done();
          throw deadline.error(e, this.config.url);
        }
        deadline.done();
        let parsed: unknown = null;
        try {
          parsed = text ? JSON.parse(text) : null;
        } catch {
          parsed = null;
        }
        notify("response", r.method, target, response.status, parsed);
        throw errorFromResponse(response.status, parsed, text.slice(0, 500));
      }
      if (r.raw) notify("response", r.method, target, response.status, null);
      return { response, deadline, target, method: r.method };
    }
  }

  /** Sends the request and returns its JSON answer (null for no body). */
  async call<T = any>(r: Request): Promise<T> {
    const o = await this.open(r);
    let text: string;
    try {
      text = await o.response.text();
    } catch (e) {
      throw o.deadline.error(e, this.config.url);
    } finally {
      o.deadline.done();
    }
    if (!text) {
      notify("response", r.method, o.target, o.response.status, null);
      return null as T;
    }
    const body = JSON.parse(text) as T;
    notify("response", r.method, o.target, o.response.status, body);
    return body;
  }

  /** Sends the request and returns its bytes. */
  async bytes(r: Request): Promise<Uint8Array> {
    const o = await this.open({ ...r, raw: true });
    try {
      return new Uint8Array(await o.response.arrayBuffer());
    } catch (e) {
      throw o.deadline.error(e, this.config.url);
    } finally {
      o.deadline.done();
    }
  }

  /** The answer's body as a stream of chunks (the deadline covers the reading). */
  byteStream(o: Opened): ReadableStream<Uint8Array> {
    const body = o.response.body;
    if (!body) {
      o.deadline.done();
      return new ReadableStream({ start: (c) => c.close() });
    }
    const reader = body.getReader();
    const url = this.config.url;
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const { value, done } = await reader.read();
          if (done) {
            o.deadline.done();
            controller.close();
          } else {
            controller.enqueue(value);
          }
        } catch (e) {
          o.deadline.done();
          controller.error(o.deadline.error(e, url));
        }
      },
      async cancel(reason) {
        o.deadline.done();
        await reader.cancel(reason);
      },
    });
  }

  /** Each NDJSON event of the answer as it arrives. */
  async *events(o: Opened): AsyncGenerator<Record<string, any>> {
    const body = o.response.body;
    if (!body) return;
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let pending = "";
    let finished = false;
    try {
      while (true) {
        let chunk: { done: boolean; value?: Uint8Array };
        try {
          chunk = await reader.read();
        } catch (e) {
          throw o.deadline.error(e, this.config.url);
        }
        if (chunk.done || !chunk.value) break;
        pending += decoder.decode(chunk.value, { stream: true });
        let nl: number;
        while ((nl = pending.indexOf("\n")) >= 0) {
          const line = pending.slice(0, nl).trim();
          pending = pending.slice(nl + 1);
          if (!line) continue;
          const event = JSON.parse(line) as Record<string, any>;
          notify("event", o.method, o.target, 200, event);
          yield event;
        }
      }
      finished = true;
    } finally {
      o.deadline.done();
      if (!finished) {
        // Leaving early closes the connection: kilnd interrupts the run.
        await reader.cancel().catch(() => undefined);
      }
    }
  }
}
