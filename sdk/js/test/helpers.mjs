// Test helpers for the TypeScript SDK suite: a real kilnd per test file, and
// a record of every JSON message the SDK sent or received, checked against
// docs/openapi.yaml by tests/support/openapi.py (python3-jsonschema).
import { spawn, spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { addObserver } from "../dist/index.js";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const KILND = process.env.KILN_KILND ?? path.join(ROOT, "build", "kilnd");
export const MiB = 1 << 20;
let counter = 0;

export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts build/kilnd on a free port with its own data folder, uid range
 * (2 500 000+, apart from the other suites': see tests/support/kilnd.py)
 * and parent cgroup.
 */
export async function startKilnd({ args = [], poolSize = 1, maxSandboxes = 32, name = "sdkjs" } = {}) {
  const n = counter++;
  const port = await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `kiln-${name}-data-`));
  const uidBase = 2_500_000 + (process.pid % 400) * 1000 + n * 200;
  const cgroupParent = `kiln-${name}-test-${process.pid}-${n}`;
  const log = fs.openSync(path.join(dataDir, "kilnd.log"), "a");
  const proc = spawn(KILND, ["--listen", `127.0.0.1:${port}`, "--data-dir", dataDir,
    "--pool-size", String(poolSize), "--uid-base", String(uidBase), "--cgroup-parent", cgroupParent,
    "--max-sandboxes", String(maxSandboxes), ...args], { stdio: ["ignore", log, log] });
  const url = `http://127.0.0.1:${port}`;
  const readLog = () => fs.readFileSync(path.join(dataDir, "kilnd.log"), "utf8");
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`kilnd exited with ${proc.exitCode}:\n${readLog()}`);
    try {
      const r = await fetch(url + "/healthz");
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error("kilnd did not become healthy:\n" + readLog());
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url, dataDir, proc, readLog,
    admin(...a) {
      const out = spawnSync(KILND, [...a, "--data-dir", dataDir], { encoding: "utf8", timeout: 30_000 });
      if (out.status !== 0) throw new Error(`kilnd ${a.join(" ")}: ${out.stderr}`);
      return out.stdout.trim();
    },
    async stop() {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once("exit", r));
        proc.kill("SIGTERM");
        const t = setTimeout(() => proc.kill("SIGKILL"), 30_000);
        await exited;
        clearTimeout(t);
      }
      fs.closeSync(log);
      removeParentCgroups(cgroupParent);
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function removeParentCgroups(parent) {
  for (const ctl of ["memory", "pids", "cpu", "cpuacct", "unified"]) {
    const p = path.join("/sys/fs/cgroup", ctl, parent);
    if (!fs.existsSync(p)) continue;
    for (const d of fs.readdirSync(p, { withFileTypes: true })) {
      if (d.isDirectory()) try { fs.rmdirSync(path.join(p, d.name)); } catch { /* busy */ }
    }
    try { fs.rmdirSync(p); } catch { /* busy */ }
  }
}

/** Records every message the SDK exchanges; `check()` validates them all. */
export function recordExchanges() {
  const seen = [];
  const state = { requests: true, all: true };
  const remove = addObserver((kind, method, target, status, payload) => {
    if (!state.all || (kind === "request" && !state.requests)) return;
    seen.push({ kind, method, path: target, status, body: payload });
  });
  return {
    seen,
    /** Runs fn without checking the requests it sends (deliberately invalid ones). */
    async invalidRequest(fn) {
      state.requests = false;
      try { return await fn(); } finally { state.requests = true; }
    },
    /** Runs fn against something that is not kilnd: nothing is recorded. */
    async notKilnd(fn) {
      state.all = false;
      try { return await fn(); } finally { state.all = true; }
    },
    /** Validates every recorded message; returns [count, output]. */
    check() {
      remove();
      const file = path.join(os.tmpdir(), `kiln-sdkjs-exchanges-${process.pid}-${Date.now()}.jsonl`);
      fs.writeFileSync(file, seen.map((x) => JSON.stringify(x)).join("\n") + "\n");
      const out = spawnSync("/usr/bin/python3", [path.join(ROOT, "tests", "support", "openapi.py"), file],
        { encoding: "utf8", timeout: 120_000 });
      fs.rmSync(file, { force: true });
      return { status: out.status, output: (out.stdout ?? "") + (out.stderr ?? ""), count: seen.length };
    },
  };
}

/** Samples this process's RSS while `fn` runs; resolves to [result, growth in bytes]. */
export async function peakRssGrowth(fn) {
  const base = process.memoryUsage().rss;
  let peak = base;
  const t = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 5);
  try {
    const result = await fn();
    peak = Math.max(peak, process.memoryUsage().rss);
    return [result, peak - base];
  } finally {
    clearInterval(t);
  }
}

export function makeFile(p, size) {
  const block = Buffer.alloc(MiB);
  const fd = fs.openSync(p, "w");
  for (let i = 0; i < size / MiB; i++) {
    crypto.randomFillSync(block);
    fs.writeSync(fd, block);
  }
  fs.closeSync(fd);
  return p;
}

export function sameFile(a, b) {
  const fa = fs.openSync(a, "r"), fb = fs.openSync(b, "r");
  const ba = Buffer.alloc(4 * MiB), bb = Buffer.alloc(4 * MiB);
  try {
    for (;;) {
      const na = fs.readSync(fa, ba), nb = fs.readSync(fb, bb);
      if (na !== nb || !ba.subarray(0, na).equals(bb.subarray(0, nb))) return false;
      if (na === 0) return true;
    }
  } finally {
    fs.closeSync(fa);
    fs.closeSync(fb);
  }
}
