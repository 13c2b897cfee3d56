// Drive, actions, skills, validate/test, usage, health; auth, quota and
// rate limits on a keyed daemon; retries only for idempotent calls.
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, test } from "node:test";
import {
  AuthenticationError, BadRequestError, Client, ConflictError, ConnectionError, NotFoundError,
  QuotaExceededError, RateLimitedError, Sandbox, UnavailableError, UnsupportedTypeError,
} from "../dist/index.js";
import { recordExchanges, startKilnd } from "./helpers.mjs";

let kilnd, keyed, rec, client, key;

before(async () => {
  [kilnd, keyed] = await Promise.all([
    startKilnd({ poolSize: 1 }),
    startKilnd({ poolSize: 1, maxSandboxes: 3, name: "sdkjs-keyed" }),
  ]);
  key = keyed.admin("keys", "create", "--workspace", "acme");
  process.env.KILN_URL = kilnd.url;
  rec = recordExchanges();
  client = new Client();
});

after(async () => {
  const checked = rec.check();
  await Promise.all([kilnd.stop(), keyed.stop()]);
  assert.equal(checked.status, 0, checked.output);
  assert.ok(checked.count > 30, `only ${checked.count} messages checked`);
});

test("health", async () => {
  assert.equal((await client.health()).status, "ok");
});

test("Drive and transfers with a sandbox", async () => {
  const f = await client.drive.write("/data/q4.csv", "region,q4\nnorth,120\n");
  assert.deepEqual([f.path, f.size, f.scope, f.expiresAt], ["/data/q4.csv", 20, "persistent", null]);
  assert.match(f.sha256, /^[0-9a-f]{64}$/);
  await assert.rejects(client.drive.write("/data/q4.csv", "x"), (e) => e instanceof ConflictError && /already exists/.test(e.message));
  const g = await client.drive.write("/data/q4.csv", new TextEncoder().encode("region,q4\n"), { replace: true, scope: "session" });
  assert.equal(g.scope, "session");
  assert.ok(g.expiresAt instanceof Date);
  assert.equal(await client.drive.read("/data/q4.csv"), "region,q4\n");
  assert.deepEqual((await client.drive.list("/data")).map((x) => x.path), ["/data/q4.csv"]);
  await assert.rejects(client.drive.write("/data/run.sh", "echo hi"), UnsupportedTypeError);
  await assert.rejects(client.drive.write("relative.csv", "x"), BadRequestError);
  await Sandbox.use({ client }, async (sbx) => {
    assert.equal(await sbx.files.copyFromDrive("/data/q4.csv", "in.csv"), 10);
    assert.equal(await sbx.files.read("in.csv"), "region,q4\n");
    await sbx.files.write("out.csv", "a\n1\n");
    const out = await sbx.files.copyToDrive("out.csv", "/reports/out.csv", { scope: "temporary" });
    assert.deepEqual([out.path, out.scope], ["/reports/out.csv", "temporary"]);
    await assert.rejects(sbx.files.copyToDrive("out.csv", "/reports/out.csv"), ConflictError);
    assert.equal((await sbx.files.copyToDrive("out.csv", "/reports/out.csv", { replace: true })).size, 4);
    await assert.rejects(sbx.files.copyFromDrive("/nope.csv", "x.csv"), NotFoundError);
  });
  await client.drive.remove("/data/q4.csv");
  await client.drive.remove("/reports/out.csv");
  await assert.rejects(client.drive.remove("/data/q4.csv"), NotFoundError);
});

test("actions", async () => {
  const ran = await client.actions.executeCode(
    "import pandas as pd\ndf = pd.read_csv('sales.csv')\ndf.to_csv('twice.csv')\nprint(int(df.q4.sum()))",
    { file: new TextEncoder().encode("region,q4\nn,1\ns,2\n"), fileName: "sales.csv" });
  assert.equal(ran.success, true);
  assert.equal(ran.stdout, "3\n");
  assert.deepEqual(ran.files.map((f) => f.name), ["twice.csv"]);
  assert.match(ran.sandboxId, /^sbx_/);
  assert.match(new TextDecoder().decode(await client.actions.fetchFile(ran.files[0])), /region/);
  const failed = await client.actions.executeCode("1/0");
  assert.equal(failed.success, false);
  assert.equal(failed.error.name, "ZeroDivisionError");
  const analysed = await client.actions.processFile("analyze", { file: "a,b\n1,2\n3,4\n", fileName: "t.csv" });
  assert.deepEqual(analysed.result.shape, [2, 2]);
  await assert.rejects(client.actions.processFile("analyze", { file: "MZ", fileName: "x.exe" }), UnsupportedTypeError);
  await rec.invalidRequest(() => assert.rejects(client.actions.processFile("explode", { file: "a\n", fileName: "t.csv" }), BadRequestError));
});

test("skills", async () => {
  const names = (await client.skills.list()).map((s) => s.name);
  assert.ok(names.includes("charts") && names.includes("data-analysis"));
  const sk = await client.skills.get("charts");
  assert.ok(sk.body && sk.files.includes("SKILL.md"));
  const text = new TextDecoder().decode(await client.skills.readFile("charts", "SKILL.md"));
  assert.ok(text.startsWith("---"));
  await assert.rejects(client.skills.get("nope"), NotFoundError);
  await assert.rejects(client.skills.readFile("charts", "nope.py"), NotFoundError);
});

test("validate and test", async () => {
  const v = await client.validate("def f(:\n  pass\nimport subprocess");
  assert.equal(v.valid, false);
  assert.equal(v.errors[0].line, 1);
  assert.deepEqual(v.warnings.map((w) => w.rule), ["subprocess"]);
  assert.equal((await client.validate("let x = 1", { language: "javascript" })).valid, true);
  await rec.invalidRequest(() => assert.rejects(client.validate("x", { language: "cobol" }), BadRequestError));
  const rep = await client.test("def add(a, b):\n    return a + b",
    [{ call: "add(2, 3)", expected: 5 }, { call: "add(1, 1)", expected: 3 }, { call: "nope()" }]);
  assert.deepEqual([rep.total, rep.passed], [3, 1]);
  assert.equal(rep.results[1].actual, 2);
  assert.match(rep.results[2].error, /NameError/);
});

test("usage", async () => {
  await Sandbox.use({}, (s) => s.runCode("1"));
  const u = await client.usage();
  assert.equal(u.workspace, "default");
  assert.ok(u.executions >= 1 && u.byDay.length >= 1);
  assert.equal((await client.usage({ from: "2000-01-01", to: new Date("2100-01-01T00:00:00Z") })).sandboxes, u.sandboxes);
  assert.equal((await client.usage({ from: new Date("2100-01-01T00:00:00Z") })).executions, 0);
  await assert.rejects(client.usage({ from: "yesterday" }), BadRequestError);
});

test("auth: no key or a wrong one is a 401", async () => {
  await assert.rejects(Sandbox.create({ url: keyed.url }), (e) => e instanceof AuthenticationError && e.status === 401);
  await assert.rejects(new Client({ url: keyed.url, apiKey: "wrong" }).usage(), AuthenticationError);
  await Sandbox.use({ url: keyed.url, apiKey: key }, async (s) => {
    assert.equal((await s.runCode("2 + 2")).text, "4");
  });
  assert.equal((await new Client({ url: keyed.url, apiKey: key }).usage()).workspace, "acme");
});

test("KILN_URL and KILN_API_KEY configure a client", async () => {
  const saved = { url: process.env.KILN_URL, key: process.env.KILN_API_KEY };
  try {
    process.env.KILN_URL = keyed.url + "/";
    process.env.KILN_API_KEY = key;
    assert.equal((await new Client().usage()).workspace, "acme");
    delete process.env.KILN_API_KEY;
    await assert.rejects(new Client().usage(), AuthenticationError);
  } finally {
    process.env.KILN_URL = saved.url;
    if (saved.key === undefined) delete process.env.KILN_API_KEY;
    else process.env.KILN_API_KEY = saved.key;
  }
});

test("quota exceeded is a 402", async () => {
  const c = new Client({ url: keyed.url, apiKey: key });
  await Sandbox.use({ client: c }, async (s) => {
    keyed.admin("credits", "set", "--workspace", "acme", "--seconds", "0");
    try {
      await assert.rejects(s.runCode("1"), (e) => e instanceof QuotaExceededError && e.code === "quota_exceeded");
      await assert.rejects(s.commands.run("true"), QuotaExceededError);
    } finally {
      keyed.admin("credits", "set", "--workspace", "acme", "--seconds", "100000");
    }
    assert.equal((await s.runCode("1")).text, "1");
  });
});

test("the sandbox limit is a 429", async () => {
  const c = new Client({ url: keyed.url, apiKey: key });
  const made = [];
  try {
    await assert.rejects((async () => { for (let i = 0; i < 5; i++) made.push(await c.createSandbox()); })(),
      (e) => e instanceof RateLimitedError && e.status === 429);
    assert.equal(made.length, 3);
  } finally {
    await Promise.all(made.map((s) => s.kill()));
  }
});

function flaky(fails) {
  const hits = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      hits.push(req.method);
      const bad = hits.length <= fails;
      const body = bad ? '{"error":{"code":"unavailable","message":"busy"}}' : '{"status":"ok","version":"x"}';
      res.writeHead(bad ? 503 : 200, { "Content-Type": "application/json" });
      res.end(body);
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({
    hits, url: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }),
  })));
}

test("retries: idempotent calls only", async () => {
  await rec.notKilnd(async () => {
    const f = await flaky(2);
    assert.equal((await new Client({ url: f.url, maxRetries: 3 }).health()).status, "ok");
    assert.deepEqual(f.hits, ["GET", "GET", "GET"]);
    await f.close();
    const g = await flaky(1);
    await assert.rejects(new Client({ url: g.url, maxRetries: 3 }).actions.executeCode("1"), UnavailableError);
    assert.deepEqual(g.hits, ["POST"]);
    await g.close();
    const h = await flaky(10);
    await assert.rejects(new Client({ url: h.url, maxRetries: 2 }).health(), UnavailableError);
    assert.equal(h.hits.length, 3);
    await h.close();
  });
  await assert.rejects(new Client({ url: "http://127.0.0.1:9", maxRetries: 1 }).health(), ConnectionError);
  assert.throws(() => new Client({ url: "ftp://x" }), TypeError);
});
