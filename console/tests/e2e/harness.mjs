// A real kilnd and a real browser for the console's end-to-end tests.
//
// Each daemon gets its own port, data folder, uid range (from 2,000,000 up,
// clear of the other suites; each sandbox slot takes two uids) and parent
// cgroup, as tests/api/conftest.py does. The browser is Debian's Chromium
// (/usr/bin/chromium) driven by playwright-core, with a fresh profile.
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, "../../..");
export const BUILD = path.resolve(process.env.KILN_BUILD ?? path.join(ROOT, "build"));
export const KILND = process.env.KILN_KILND ?? path.join(BUILD, "kilnd");
export const SHOTS = path.resolve(process.env.KILN_SCREENSHOTS ?? path.join(BUILD, "console-screenshots"));
export const CHROMIUM = process.env.KILN_CHROMIUM ?? "/usr/bin/chromium";

let daemonCount = 0;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class Daemon {
  constructor({ withKey = false, workspace = "console-test" } = {}) {
    this.n = daemonCount++;
    this.withKey = withKey;
    this.workspace = workspace;
    // 2,000,000 + 4,000 per test process (by pid) + 400 per daemon.
    this.uidBase = 5_000_000 + (process.pid % 200) * 4000 + this.n * 400;
    this.cgroupParent = `kiln-console-test-${process.pid}-${this.n}`;
    this.key = null;
  }

  async start() {
    if (!fs.existsSync(KILND)) throw new Error(`no kilnd at ${KILND}: run 'make build' first`);
    this.dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "kiln-console-data-"));
    if (this.withKey) {
      this.key = execFileSync(KILND, ["keys", "create", "--data-dir", this.dataDir, "--workspace", this.workspace], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"], // the key on stdout; its log lines kept out of TAP
      }).trim();
    }
    this.port = await freePort();
    this.url = `http://127.0.0.1:${this.port}`;
    this.logPath = path.join(this.dataDir, "kilnd.log");
    const log = fs.openSync(this.logPath, "a");
    this.proc = spawn(
      KILND,
      [
        "--listen", `127.0.0.1:${this.port}`,
        "--data-dir", this.dataDir,
        "--pool-size", "1",
        "--uid-base", String(this.uidBase),
        "--max-sandboxes", "16",
        "--cgroup-parent", this.cgroupParent,
      ],
      { stdio: ["ignore", log, log] },
    );
    fs.closeSync(log);
    this.exited = new Promise((resolve) => this.proc.once("exit", (code, sig) => resolve({ code, sig })));
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (this.proc.exitCode !== null) throw new Error(`kilnd exited: ${this.readLog()}`);
      try {
        const r = await fetch(`${this.url}/healthz`);
        if (r.ok) return this;
      } catch {
        /* not listening yet */
      }
      await sleep(50);
    }
    throw new Error(`kilnd did not start: ${this.readLog()}`);
  }

  readLog() {
    try {
      return fs.readFileSync(this.logPath, "utf8");
    } catch {
      return "";
    }
  }

  headers(extra = {}) {
    return this.key ? { Authorization: `Bearer ${this.key}`, ...extra } : extra;
  }

  async api(method, p, body) {
    const r = await fetch(this.url + p, {
      method,
      headers: this.headers(body === undefined ? {} : { "Content-Type": "application/json" }),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      /* bytes */
    }
    return { status: r.status, json, text };
  }

  async stop() {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill("SIGTERM");
      const done = await Promise.race([this.exited, sleep(30_000).then(() => null)]);
      if (!done) {
        this.proc.kill("SIGKILL");
        await this.exited;
      }
    }
    await removeParentCgroups(this.cgroupParent);
    if (this.dataDir && !process.env.KILN_KEEP_DATA) fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}

// Removes the daemon's (empty by now) parent cgroups in every hierarchy.
async function removeParentCgroups(parent) {
  const roots = ["memory", "pids", "cpu", "cpuacct", "cpu,cpuacct", "unified", ""].map((c) =>
    path.join("/sys/fs/cgroup", c, parent),
  );
  for (let attempt = 0; attempt < 50; attempt++) {
    let left = 0;
    for (const dir of roots) {
      if (!fs.existsSync(dir)) continue;
      for (const child of fs.readdirSync(dir, { withFileTypes: true })) {
        if (child.isDirectory()) {
          try {
            fs.rmdirSync(path.join(dir, child.name));
          } catch {
            /* busy for a moment more */
          }
        }
      }
      try {
        fs.rmdirSync(dir);
      } catch {
        left += 1;
      }
    }
    if (left === 0) return;
    await sleep(100);
  }
}

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

// A browser with a fresh profile; collects every console message and page
// error (the XSS test reads them).
export async function openBrowser() {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: run 'make setup'`);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "kiln-console-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 860 },
    acceptDownloads: true,
    timeout: 60_000,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const messages = [];
  const errors = [];
  page.on("console", (m) => messages.push({ type: m.type(), text: m.text() }));
  page.on("pageerror", (e) => errors.push(String(e)));
  page.setDefaultTimeout(20_000);
  return {
    context,
    page,
    messages,
    errors,
    async close() {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

// A PNG of the page in SHOTS. fullPage grows the viewport to the whole
// page first: Chromium paints the (out-of-process) result iframes only
// while they are in the viewport.
export async function screenshot(page, name, { fullPage = false } = {}) {
  fs.mkdirSync(SHOTS, { recursive: true });
  const file = path.join(SHOTS, `${name}.png`);
  const size = page.viewportSize();
  if (fullPage) {
    const height = await page.evaluate(() => document.documentElement.scrollHeight);
    await page.setViewportSize({ width: size.width, height: Math.min(4000, Math.max(size.height, height)) });
  }
  await page.waitForTimeout(fullPage ? 600 : 300);
  await page.screenshot({ path: file });
  if (fullPage) await page.setViewportSize(size);
  return file;
}

// Replaces the editor's code: select all, then insert the text as one
// input (no per-key auto-indent or bracket closing).
export async function setCode(page, code) {
  const content = page.locator(".editor .cm-content");
  await content.click();
  await page.keyboard.press("Control+A");
  await page.keyboard.press("Delete");
  await page.keyboard.insertText(code);
}

export async function editorText(page) {
  return page.locator(".editor .cm-content").evaluate((el) =>
    Array.from(el.querySelectorAll(".cm-line"))
      .map((l) => l.textContent)
      .join("\n"),
  );
}

// The newest run's output cell.
export function lastCell(page) {
  return page.locator(".output-log .cell").last();
}

// Runs the editor's code and waits for the run to finish.
export async function runCode(page, code, { timeout = 60_000 } = {}) {
  const before = await page.locator(".output-log .cell").count();
  await setCode(page, code);
  await page.getByRole("button", { name: "Run", exact: true }).click();
  await page.locator(".output-log .cell").nth(before).waitFor();
  const cell = page.locator(".output-log .cell").nth(before);
  await cell.and(page.locator(":not([data-state=running])")).waitFor({ timeout });
  return cell;
}

// Every form control on the visible page has an accessible name.
export async function unlabelledControls(page) {
  return page.evaluate(() => {
    const bad = [];
    for (const el of document.querySelectorAll("input, select, textarea, button, [role=textbox]")) {
      if (el.type === "hidden" || el.closest("[hidden]")) continue;
      const name =
        (el.labels && el.labels.length > 0) ||
        el.getAttribute("aria-label") ||
        el.getAttribute("aria-labelledby") ||
        (el.tagName === "BUTTON" && el.textContent.trim());
      if (!name) bad.push(el.outerHTML.slice(0, 120));
    }
    for (const host of document.querySelectorAll(".editor")) {
      const c = host.shadowRoot?.querySelector(".cm-content");
      if (c && !c.getAttribute("aria-label")) bad.push("editor without a label");
    }
    for (const img of document.querySelectorAll("img")) if (!img.getAttribute("alt")) bad.push(img.outerHTML.slice(0, 120));
    return bad;
  });
}
