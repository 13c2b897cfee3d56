// The package installs from a tarball with no registry, its README
// quick-start runs as written, and its type declarations type-check a consumer.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { startKilnd } from "./helpers.mjs";

const PKG = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
let kilnd, dir;

before(async () => {
  kilnd = await startKilnd({ poolSize: 1 });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "kiln-sdkjs-pkg-"));
  const run = (cmd, args, cwd) => {
    const r = spawnSync(cmd, args, { cwd, encoding: "utf8", timeout: 120_000 });
    assert.equal(r.status, 0, `${cmd} ${args.join(" ")}: ${r.stdout}${r.stderr}`);
    return r.stdout;
  };
  const tgz = run("npm", ["pack", "--silent", "--pack-destination", dir], PKG).trim().split("\n").pop();
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  run("npm", ["install", "--offline", "--no-audit", "--no-fund", "--loglevel=error", `./${tgz}`], dir);
});

after(async () => {
  await kilnd.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

function quickStart() {
  const readme = fs.readFileSync(path.join(PKG, "README.md"), "utf8");
  return readme.match(/```js\n([\s\S]*?)```/)[1];
}

test("the README quick-start is five lines and runs as written", () => {
  const code = quickStart();
  assert.equal(code.trimEnd().split("\n").length, 5);
  fs.writeFileSync(path.join(dir, "quick.mjs"), code);
  const r = spawnSync("node", ["quick.mjs"], { cwd: dir, encoding: "utf8", timeout: 60_000,
    env: { ...process.env, KILN_URL: kilnd.url } });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, "hello\n42\n");
});

test("the package has no runtime dependencies and ships its declarations", () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, "node_modules", "kiln-sdk", "package.json"), "utf8"));
  assert.equal(pkg.dependencies, undefined);
  assert.ok(fs.existsSync(path.join(dir, "node_modules", "kiln-sdk", "dist", "index.d.ts")));
  assert.deepEqual(fs.readdirSync(path.join(dir, "node_modules")).filter((n) => !n.startsWith(".")), ["kiln-sdk"]);
});

test("a strict TypeScript consumer type-checks against the declarations", () => {
  fs.writeFileSync(path.join(dir, "consumer.ts"), [
    'import { Sandbox, Client, NotFoundError, type Execution, type StreamItem } from "kiln-sdk";',
    "async function main(): Promise<string | undefined> {",
    "  const sbx = await Sandbox.create({ timeoutMs: 60_000 });",
    "  const ex: Execution = await sbx.runCode('1', { onStdout: (m) => { const t: string = m.text; void t; } });",
    "  const bytes: Uint8Array = await sbx.files.read('x', { format: 'bytes' });",
    "  const text: string = await sbx.files.read('x');",
    "  const stream: ReadableStream<Uint8Array> = await sbx.files.read('x', { format: 'stream' });",
    "  const h = await sbx.commands.run('sleep 1', { background: true });",
    "  const pid: number = h.pid;",
    "  const r = await sbx.commands.run('true');",
    "  const code: number = r.exitCode;",
    "  for await (const item of sbx.streamCode('1')) { const s: StreamItem = item; void s; }",
    "  try { await new Client().skills.get('x'); } catch (e) { if (e instanceof NotFoundError) return e.code; }",
    "  void bytes; void text; void stream; void pid; void code;",
    "  return ex.text;",
    "}",
    "void main;",
    "",
  ].join("\n"));
  const tsc = path.join(PKG, "node_modules", ".bin", "tsc");
  const r = spawnSync(tsc, ["--noEmit", "--strict", "--target", "es2022", "--module", "nodenext",
    "--moduleResolution", "nodenext", "--typeRoots", path.join(PKG, "node_modules", "@types"),
    "--types", "node", "consumer.ts"], { cwd: dir, encoding: "utf8", timeout: 120_000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  // And a wrong use is an error.
  fs.writeFileSync(path.join(dir, "wrong.ts"),
    'import { Sandbox } from "kiln-sdk";\nconst n: number = (await Sandbox.create()).files.read("x");\nexport {};\n');
  const bad = spawnSync(tsc, ["--noEmit", "--strict", "--target", "es2022", "--module", "nodenext",
    "--moduleResolution", "nodenext", "--typeRoots", path.join(PKG, "node_modules", "@types"),
    "--types", "node", "wrong.ts"], { cwd: dir, encoding: "utf8", timeout: 120_000 });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stdout, /TS2322/);
});
