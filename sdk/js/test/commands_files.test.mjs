// Commands (foreground, streamed, background) and sandbox files, including
// streaming large files both ways without holding them in memory.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import {
  BadRequestError, CommandExitError, CommandHandle, CommandResult, NotFoundError, Sandbox, TimeoutError,
} from "../dist/index.js";
import { MiB, makeFile, peakRssGrowth, recordExchanges, sameFile, startKilnd } from "./helpers.mjs";

let kilnd, rec, sbx, tmp;

before(async () => {
  kilnd = await startKilnd({ poolSize: 1, args: ["--file-cap-bytes", String(256 * MiB)] });
  process.env.KILN_URL = kilnd.url;
  rec = recordExchanges();
  sbx = await Sandbox.create();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "kiln-sdkjs-files-"));
});

after(async () => {
  await sbx?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
  const checked = rec.check();
  await kilnd.stop();
  assert.equal(checked.status, 0, checked.output);
  assert.ok(checked.count > 30, `only ${checked.count} messages checked`);
});

test("foreground commands", async () => {
  const r = await sbx.commands.run("echo out; echo err >&2; exit 3");
  assert.ok(r instanceof CommandResult);
  assert.deepEqual([r.exitCode, r.stdout, r.stderr, r.error], [3, "out\n", "err\n", null]);
  assert.throws(() => r.check(), (e) => e instanceof CommandExitError && e.exitCode === 3 && e.stderr === "err\n");
  const ok = await sbx.commands.run("pwd; echo $K; cat", { cwd: "/tmp", env: { K: "v" }, stdin: "from stdin" });
  assert.equal(ok.check().stdout, "/tmp\nv\nfrom stdin");
  const timed = await sbx.commands.run("sleep 5", { timeoutMs: 300 });
  assert.deepEqual([timed.exitCode, timed.error], [124, "timeout"]);
});

test("streamed command output arrives live", async () => {
  const t0 = Date.now();
  const seen = [];
  const r = await sbx.commands.run("for i in 1 2 3; do echo $i; sleep 0.3; done; echo bad >&2", {
    onStdout: (m) => seen.push([Date.now() - t0, m.text]),
    onStderr: (m) => seen.push([Date.now() - t0, m.text]),
  });
  const end = Date.now() - t0;
  assert.deepEqual(seen.map(([, t]) => t), ["1\n", "2\n", "3\n", "bad\n"]);
  assert.ok(seen[0][0] < end - 500, `first at ${seen[0][0]}, end ${end}`);
  assert.deepEqual([r.exitCode, r.stdout, r.stderr], [0, "1\n2\n3\n", "bad\n"]);
  const timed = await sbx.commands.run("sleep 3", { timeoutMs: 300, onStdout: () => {} });
  assert.equal(timed.error, "timeout");
  // Aborting a streamed command kills it; the sandbox stays.
  const ac = new AbortController();
  const p = sbx.commands.run("echo go; sleep 30", { signal: ac.signal, onStdout: () => ac.abort() });
  await assert.rejects(p, (e) => e.name === "AbortError");
  assert.equal((await sbx.commands.run("echo still")).stdout, "still\n");
});

test("background commands: list, get, kill, wait", async () => {
  const h = await sbx.commands.run("echo started; sleep 60", { background: true });
  assert.ok(h instanceof CommandHandle && h.pid > 0);
  const listed = (await sbx.commands.list()).find((c) => c.pid === h.pid);
  assert.equal(listed.running, true);
  assert.equal(listed.cmd, "echo started; sleep 60");
  const t0 = Date.now();
  while (!((await h.info()).stdout ?? "").includes("started")) {
    assert.ok(Date.now() - t0 < 5000);
    await new Promise((r) => setTimeout(r, 50));
  }
  await assert.rejects(h.wait({ timeoutMs: 200 }), TimeoutError);
  await h.kill();
  const done = await h.wait({ timeoutMs: 5000 });
  assert.equal(done.running, false);
  assert.notEqual(done.exitCode, 0);
  const quick = await sbx.commands.run("exit 7", { background: true });
  assert.equal((await quick.wait({ timeoutMs: 5000 })).exitCode, 7);
  await assert.rejects(sbx.commands.get(999999), NotFoundError);
  await assert.rejects(sbx.commands.kill(999999), NotFoundError);
});

test("files: write, read, list, exists, mkdir, remove", async () => {
  const e = await sbx.files.write("d/a.txt", "héllo");
  assert.deepEqual(e, { path: "/home/user/d/a.txt", size: new TextEncoder().encode("héllo").length });
  assert.equal(await sbx.files.read("d/a.txt"), "héllo");
  assert.deepEqual(await sbx.files.read("/home/user/d/a.txt", { format: "bytes" }), new TextEncoder().encode("héllo"));
  const bin = Uint8Array.from({ length: 256 }, (_, i) => i);
  await sbx.files.write("d/b.bin", bin);
  const stream = await sbx.files.read("d/b.bin", { format: "stream" });
  const parts = [];
  for await (const c of stream) parts.push(...c);
  assert.deepEqual(Uint8Array.from(parts), bin);
  assert.deepEqual((await sbx.files.list("d")).map((x) => x.name).sort(), ["a.txt", "b.bin"]);
  assert.equal((await sbx.files.list("d"))[0].type, "file");
  assert.ok((await sbx.files.list()).some((x) => x.name === "d"));
  assert.equal(await sbx.files.exists("d/a.txt"), true);
  assert.equal(await sbx.files.exists("d/zzz"), false);
  assert.equal(await sbx.files.exists("nodir/zzz"), false);
  assert.equal(await sbx.files.makeDir("x/y/z"), "/home/user/x/y/z");
  await sbx.files.remove("d");
  assert.equal(await sbx.files.exists("d"), false);
  await assert.rejects(sbx.files.read("d/a.txt"), NotFoundError);
  await assert.rejects(sbx.files.remove("d"), NotFoundError);
  await assert.rejects(sbx.files.write("/usr/x", "no"), BadRequestError);
  await assert.rejects(sbx.files.read("x"), BadRequestError);
  await sbx.files.write("data.csv", "a,b\n1,2\n");
  assert.equal((await sbx.runCode("open('data.csv').read()")).text, "'a,b\\n1,2\\n'");
  await sbx.files.write("gen.txt", (async function* () { for (let i = 0; i < 3; i++) yield new TextEncoder().encode(String(i)); })());
  assert.equal(await sbx.files.read("gen.txt"), "012");
  await sbx.files.write("blob.txt", new Blob(["from a blob"]));
  assert.equal(await sbx.files.read("blob.txt"), "from a blob");
});

test("a 60 MiB sandbox file streams both ways in little memory", async () => {
  // kiln-init moves a sandbox file in one frame of at most 64 MiB.
  const size = 60 * MiB;
  const src = makeFile(path.join(tmp, "big.csv"), size);
  const [up, upGrowth] = await peakRssGrowth(() => sbx.files.uploadFile(src, "big.csv", { requestTimeoutMs: 120_000 }));
  assert.equal(up.size, size);
  const dst = path.join(tmp, "back.csv");
  const [n, downGrowth] = await peakRssGrowth(() => sbx.files.downloadFile("big.csv", dst, { requestTimeoutMs: 120_000 }));
  assert.equal(n, size);
  assert.ok(sameFile(src, dst));
  assert.ok(upGrowth < 40 * MiB, `upload grew RSS by ${upGrowth >> 20} MiB`);
  assert.ok(downGrowth < 40 * MiB, `download grew RSS by ${downGrowth >> 20} MiB`);
});

test("a 200 MiB Drive file streams both ways in far less memory", async () => {
  const size = 200 * MiB;
  const src = makeFile(path.join(tmp, "huge.csv"), size);
  const [f, upGrowth] = await peakRssGrowth(() => sbx.drive.uploadFile(src, "/big/js.csv", { requestTimeoutMs: 120_000 }));
  assert.equal(f.size, size);
  const dst = path.join(tmp, "huge-back.csv");
  const [n, downGrowth] = await peakRssGrowth(() => sbx.drive.downloadFile("/big/js.csv", dst, { requestTimeoutMs: 120_000 }));
  assert.equal(n, size);
  assert.ok(sameFile(src, dst));
  assert.ok(upGrowth < 80 * MiB, `upload grew RSS by ${upGrowth >> 20} MiB`);
  assert.ok(downGrowth < 80 * MiB, `download grew RSS by ${downGrowth >> 20} MiB`);
  await sbx.drive.remove("/big/js.csv");
});

test("a file over the daemon's cap is a TooLargeError however it is sent", async () => {
  const small = await startKilnd({ poolSize: 1, args: ["--file-cap-bytes", String(MiB)], name: "sdkjs-cap" });
  try {
    const p = makeFile(path.join(tmp, "two.csv"), 2 * MiB);
    await Sandbox.use({ url: small.url }, async (s) => {
      await assert.rejects(s.files.uploadFile(p, "two.csv"), (e) => e.name === "TooLargeError" && e.status === 413);
      await assert.rejects(s.files.write("two.csv", fs.readFileSync(p)), (e) => e.status === 413);
      await assert.rejects(s.files.write("two.csv", fs.createReadStream(p)), (e) => e.status === 413);
      await assert.rejects(s.drive.uploadFile(p, "/two.csv"), (e) => e.status === 413);
      assert.equal((await s.files.write("ok.csv", "fits")).size, 4);
    });
  } finally {
    await small.stop();
  }
});
