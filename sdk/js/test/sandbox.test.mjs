// Sandbox lifecycle, runCode, results, streaming, cancellation, contexts.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  BadRequestError, ConflictError, ExecutionError, NotFoundError, Result, Sandbox, TimeoutError,
} from "../dist/index.js";
import { recordExchanges, startKilnd } from "./helpers.mjs";

let kilnd, rec, sbx;

before(async () => {
  kilnd = await startKilnd({ poolSize: 2 });
  process.env.KILN_URL = kilnd.url;
  rec = recordExchanges();
  sbx = await Sandbox.create();
});

after(async () => {
  await sbx?.close();
  const checked = rec.check();
  await kilnd.stop();
  assert.equal(checked.status, 0, checked.output);
  assert.ok(checked.count > 50, `only ${checked.count} messages checked`);
});

async function untilFree(s, code = "'free'") {
  const t0 = Date.now();
  for (;;) {
    try {
      return await s.runCode(code);
    } catch (e) {
      if (!(e instanceof ConflictError) || Date.now() - t0 > 5000) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

test("create, info, timeout, connect, list, kill", async () => {
  const s = await Sandbox.create({ metadata: { user: "u1" }, env: { GREETING: "hi" },
    limits: { memory_mb: 256, exec_timeout_s: 20 }, timeoutMs: 120_000 });
  try {
    assert.match(s.id, /^sbx_/);
    assert.equal(s.sandboxId, s.id);
    assert.deepEqual(s.info.metadata, { user: "u1" });
    assert.equal(s.info.limits.memory_mb, 256);
    const left = s.info.expiresAt.getTime() - Date.now();
    assert.ok(left > 100_000 && left <= 121_000, String(left));
    assert.equal((await s.runCode("import os\nos.environ['GREETING']")).text, "'hi'");
    assert.equal((await s.getInfo()).usage.executions, 1);
    assert.ok((await Sandbox.list()).some((x) => x.id === s.id));
    await s.setTimeout(600_000);
    assert.ok(s.info.expiresAt.getTime() - Date.now() > 590_000);
    assert.equal((await Sandbox.connect(s.id)).id, s.id);
    assert.equal(await s.isRunning(), true);
  } finally {
    await s.kill();
  }
  assert.equal(await s.isRunning(), false);
  await assert.rejects(s.getInfo(), (e) => e instanceof NotFoundError && e.status === 404 && e.code === "not_found");
  await s.close(); // already gone: no error
});

test("Sandbox.use and asyncDispose delete the sandbox", async () => {
  let id;
  const v = await Sandbox.use({}, async (s) => {
    id = s.id;
    return (await s.runCode("1 + 1")).text;
  });
  assert.equal(v, "2");
  await assert.rejects(Sandbox.connect(id), NotFoundError);
  const s = await Sandbox.create();
  await s[Symbol.asyncDispose]();
  assert.equal(await s.isRunning(), false);
});

test("session is get-or-create; bad limits are a 400", async () => {
  const a = await Sandbox.create({ session: "js-turn-1" });
  try {
    const b = await Sandbox.create({ session: "js-turn-1" });
    assert.equal(b.id, a.id);
    assert.equal(a.info.session, "js-turn-1");
  } finally {
    await a.kill();
  }
  await assert.rejects(Sandbox.create({ limits: { memory_mb: 1e7 } }), (e) => e instanceof BadRequestError && /memory_mb/.test(e.message));
});

test("results: text, html, png, json", async () => {
  const ex = await sbx.runCode("print('hello')\n6 * 7");
  assert.equal(ex.text, "42");
  assert.deepEqual(ex.logs.stdout, ["hello\n"]);
  assert.equal(ex.error, null);
  assert.ok(ex.results[0] instanceof Result && ex.results[0].isMainResult);
  const df = (await sbx.runCode("import pandas as pd\npd.DataFrame({'a': [1, 2]})")).results[0];
  assert.match(df.html, /<table/);
  assert.ok(df.formats().includes("html") && df.formats().includes("text"));
  const fig = await sbx.runCode("import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()");
  assert.deepEqual([...fig.results[0].png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const js = await sbx.runCode("[1, 2, 3].map(x => x * 2)", { language: "javascript" });
  assert.deepEqual(js.results[0].json, [2, 4, 6]);
  assert.equal((await sbx.runCode("const n: number = 5\nn * 2", { language: "typescript" })).text, "10");
  assert.equal((await sbx.runCode("echo $((2 + 3))", { language: "bash" })).stdout, "5\n");
});

test("execution errors", async () => {
  const ex = await sbx.runCode("x = 1\n1 / 0");
  assert.ok(ex.error instanceof ExecutionError);
  assert.equal(ex.error.name, "ZeroDivisionError");
  assert.equal(ex.error.value, "division by zero");
  assert.equal(ex.error.line, 2);
  assert.match(ex.error.traceback, /Traceback/);
  assert.throws(() => ex.throwIfError(), (e) => e === ex.error);
  assert.equal((await sbx.runCode("x")).text, "1");
  const sh = await sbx.runCode("ls /nonexistent", { language: "bash" });
  assert.equal(sh.error.name, "CommandError");
  await rec.invalidRequest(() => assert.rejects(sbx.runCode("1", { language: "cobol" }), BadRequestError));
  await assert.rejects(sbx.runCode("1", { language: "python", context: "ctx_x" }), TypeError);
});

test("execution timeout and the client's timeout", async () => {
  const ex = await sbx.runCode("import time\ntime.sleep(5)", { timeoutMs: 500 });
  assert.ok(ex.error.isTimeout && ex.error.name === "TimeoutError");
  const t0 = Date.now();
  await assert.rejects(sbx.runCode("import time\ntime.sleep(5)", { requestTimeoutMs: 500 }), TimeoutError);
  assert.ok(Date.now() - t0 < 3000);
  assert.equal((await untilFree(sbx)).text, "'free'");
  assert.equal((await sbx.runCode("import os\nos.environ.get('ONLY')", { env: { ONLY: "x" } })).text, "'x'");
});

test("streaming callbacks arrive live", async () => {
  const t0 = Date.now();
  const seen = [], results = [], errors = [];
  const ex = await sbx.runCode(
    "import time, sys\nfor i in range(3):\n    print(i, flush=True)\n    time.sleep(0.4)\n" +
    "print('e', file=sys.stderr)\ndisplay({'k': 1})\n1/0", {
      onStdout: (m) => seen.push([Date.now() - t0, m]),
      onStderr: async (m) => { await null; seen.push([Date.now() - t0, m]); },
      onResult: (r) => results.push(r),
      onError: (e) => errors.push(e),
    });
  const end = Date.now() - t0;
  assert.deepEqual(seen.map(([, m]) => m.text), ["0\n", "1\n", "2\n", "e\n"]);
  assert.equal(seen[3][1].stream, "stderr");
  assert.ok(seen[0][1].timestamp instanceof Date);
  assert.ok(seen[0][0] < end - 800, `first at ${seen[0][0]} ms, end at ${end} ms`);
  assert.ok(seen[1][0] - seen[0][0] > 250);
  assert.equal(results.length, 1);
  assert.equal(results[0].text, "{'k': 1}");
  assert.equal(errors[0].name, "ZeroDivisionError");
  assert.equal(ex.error, errors[0]);
  assert.ok(ex.durationMs >= 1000);
});

test("streamCode is an async iterator of events", async () => {
  const stream = sbx.streamCode("import time\nprint('a', flush=True)\ntime.sleep(0.5)\n7");
  const t0 = Date.now();
  const items = [];
  for await (const item of stream) items.push([Date.now() - t0, item]);
  assert.deepEqual(items.map(([, i]) => i.type), ["stdout", "result"]);
  assert.equal(items[0][1].message.text, "a\n");
  assert.ok(items[1][0] - items[0][0] > 300, "the stdout event came before the run ended");
  assert.equal(stream.execution.text, "7");
  // Leaving the loop early interrupts the run.
  const s2 = sbx.streamCode("import time\nprint('x', flush=True)\ntime.sleep(30)");
  for await (const item of s2) {
    assert.equal(item.type, "stdout");
    break;
  }
  assert.equal((await untilFree(sbx)).text, "'free'");
});

test("AbortSignal interrupts a run; the sandbox and its state stay", async () => {
  await sbx.runCode("state = 'kept'");
  const ac = new AbortController();
  const started = new Promise((resolve) => {
    const p = sbx.runCode("import time\nprint('go', flush=True)\ntime.sleep(30)", {
      signal: ac.signal, onStdout: () => resolve({ p }),
    });
    p.catch(() => undefined);
  });
  const running = (await started).p;
  const t0 = Date.now();
  ac.abort();
  await assert.rejects(running, (e) => e.name === "AbortError");
  const ex = await untilFree(sbx, "state");
  assert.equal(ex.text, "'kept'");
  assert.ok(Date.now() - t0 < 5000);
  // A signal aborted before the call never sends it.
  await assert.rejects(sbx.runCode("1", { signal: AbortSignal.abort() }), (e) => e.name === "AbortError");
  // A plain (non-streamed) run is interrupted the same way.
  await assert.rejects(sbx.runCode("import time\ntime.sleep(30)", { signal: AbortSignal.timeout(300) }),
    (e) => e.name === "TimeoutError" || e.name === "AbortError");
  assert.equal((await untilFree(sbx, "1 + 1")).text, "2");
});

test("a throwing callback interrupts the run", async () => {
  const t0 = Date.now();
  await assert.rejects(sbx.runCode("import time\nprint('go', flush=True)\ntime.sleep(30)", {
    onStdout: () => { throw new Error("stop here"); },
  }), /stop here/);
  assert.ok(Date.now() - t0 < 5000);
  assert.equal((await untilFree(sbx)).text, "'free'");
});

test("a busy context is a ConflictError", async () => {
  const long = sbx.runCode("import time\ntime.sleep(1.5)", { onStdout: () => {} });
  await new Promise((r) => setTimeout(r, 400));
  await assert.rejects(sbx.runCode("1"), (e) => e instanceof ConflictError && e.status === 409);
  await long;
});

test("code contexts", async () => {
  const c = await sbx.createCodeContext({ language: "python", cwd: "/tmp" });
  assert.equal(c.language, "python");
  assert.equal(c.cwd, "/tmp");
  assert.equal(c.default, false);
  await sbx.runCode("v = 5", { context: c });
  assert.equal((await sbx.runCode("v", { context: c.id })).text, "5");
  assert.equal((await sbx.runCode("import os\nos.getcwd()", { context: c })).text, "'/tmp'");
  assert.ok((await sbx.listCodeContexts()).some((x) => x.id === c.id));
  assert.equal((await sbx.getCodeContext(c)).id, c.id);
  assert.equal((await sbx.restartCodeContext(c)).id, c.id);
  assert.equal((await sbx.runCode("v", { context: c })).error.name, "NameError");
  await sbx.removeCodeContext(c);
  await assert.rejects(sbx.getCodeContext(c), NotFoundError);
  await assert.rejects(sbx.runCode("1", { context: c }), NotFoundError);
  await rec.invalidRequest(() => assert.rejects(sbx.createCodeContext({ language: "cobol" }), BadRequestError));
});
