// The web console end to end: a real kilnd (with an API key, and one with
// auth off), Debian's Chromium, and the pages as a person uses them.
// Screenshots of every page go to build/console-screenshots/.
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import { after, before, describe, test } from "node:test";
import {
  Daemon,
  editorText,
  lastCell,
  openBrowser,
  runCode,
  screenshot,
  setCode,
  unlabelledControls,
} from "./harness.mjs";

const today = new Date().toISOString().slice(0, 10);

// The status of a GET sent exactly as written (fetch would resolve "..").
function rawStatus(port, target) {
  return new Promise((resolve, reject) => {
    http.get({ host: "127.0.0.1", port, path: target }, (res) => {
      res.resume();
      resolve(res.statusCode);
    }).on("error", reject);
  });
}

async function readDownload(download) {
  const p = await download.path();
  return fs.readFileSync(p);
}

describe("console with an API key", { timeout: 180_000 }, () => {
  let kilnd;
  let browser;
  let page;
  let executions = 0; // runs made through the console (for the usage page)

  before(async () => {
    kilnd = await new Daemon({ withKey: true, workspace: "console-test" }).start();
    browser = await openBrowser();
    page = browser.page;
  });

  after(async () => {
    await browser?.close();
    await kilnd?.stop();
  });

  test("serves the console with strict security and caching headers", async () => {
    const r = await fetch(`${kilnd.url}/`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type"), /^text\/html/);
    const csp = r.headers.get("content-security-policy");
    assert.ok(csp, "a Content-Security-Policy header");
    const directives = Object.fromEntries(
      csp.split(";").map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k, v]),
    );
    assert.deepEqual(directives["script-src"], ["'self'"], "no inline script, no eval");
    assert.deepEqual(directives["connect-src"], ["'self'"]);
    assert.deepEqual(directives["frame-ancestors"], ["'none'"]);
    assert.deepEqual(directives["default-src"], ["'none'"]);
    assert.ok(!csp.includes("unsafe-inline") && !csp.includes("unsafe-eval"), csp);
    assert.equal(r.headers.get("x-content-type-options"), "nosniff");
    assert.equal(r.headers.get("cache-control"), "no-cache");
    const html = await r.text();
    assert.ok(!/<script(?![^>]*\bsrc=)[^>]*>/.test(html), "no inline <script> in index.html");
    const asset = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(asset, "index.html loads a hashed script");
    const a = await fetch(kilnd.url + asset);
    assert.equal(a.status, 200);
    assert.match(a.headers.get("content-type"), /^text\/javascript/);
    assert.match(a.headers.get("cache-control"), /immutable/);
    assert.equal(a.headers.get("x-content-type-options"), "nosniff");
    // Revalidation answers 304.
    const etag = r.headers.get("etag");
    const again = await fetch(`${kilnd.url}/`, { headers: { "If-None-Match": etag } });
    assert.equal(again.status, 304);
    // Nothing outside the console's folder; the API still wants its key.
    assert.equal(await rawStatus(kilnd.port, "/console/%2e%2e/kilnd"), 404);
    assert.equal(await rawStatus(kilnd.port, "/console/assets/../../kilnd"), 404);
    assert.equal((await fetch(`${kilnd.url}/console/assets/nope.js`)).status, 404);
    assert.equal((await fetch(`${kilnd.url}/`, { method: "POST" })).status, 405);
    assert.equal((await fetch(`${kilnd.url}/v1/sandboxes`)).status, 401);
  });

  test("sign in with an API key", async () => {
    await page.goto(`${kilnd.url}/`);
    const keyInput = page.getByLabel("API key");
    await keyInput.waitFor();
    await screenshot(page, "01-sign-in");
    await keyInput.fill("kiln_not_a_real_key");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator("#signin-error").filter({ hasText: "refused" }).waitFor();
    await keyInput.fill(kilnd.key);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator("#nav-playground[aria-current=page]").waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem("kiln.apiKey")), kilnd.key);
    // A reload keeps the tab signed in (sessionStorage).
    await page.reload();
    await page.locator("#nav-playground[aria-current=page]").waitFor();
  });

  test("runs Python with a matplotlib chart and shows the image", async () => {
    const cell = await runCode(
      page,
      [
        "import matplotlib.pyplot as plt",
        "import pandas as pd",
        'df = pd.DataFrame({"day": ["mon", "tue", "wed", "thu"], "runs": [3, 7, 4, 9]})',
        'df.plot.bar(x="day", y="runs", legend=False, title="Runs per day", figsize=(6, 3))',
        "plt.show()",
        'print("rows:", len(df))',
        "df",
      ].join("\n"),
    );
    executions += 1;
    assert.equal(await cell.getAttribute("data-state"), "done");
    const img = cell.locator("img.result-image");
    await img.waitFor();
    const size = await img.evaluate((el) => [el.naturalWidth, el.naturalHeight, el.src.slice(0, 22)]);
    assert.ok(size[0] > 200 && size[1] > 100, `a decoded PNG, got ${size}`);
    assert.equal(size[2], "data:image/png;base64,");
    assert.match(await cell.locator(".stream-stdout").textContent(), /rows: 4/);
    // The DataFrame's HTML is in a sandboxed frame, not in the page.
    const frame = cell.locator("iframe.result-frame");
    assert.equal(await frame.getAttribute("sandbox"), "");
    assert.equal(await page.locator("main table.dataframe").count(), 0);
    await page.frameLocator(".output-log .cell >> nth=-1 >> iframe.result-frame").locator("table").waitFor();
    await screenshot(page, "02-playground", { fullPage: true });
  });

  test("shows output as it arrives, before the run ends", async () => {
    await setCode(page, 'import time\nprint("first", flush=True)\ntime.sleep(3)\nprint("second")');
    // Ctrl+Enter in the editor runs the code.
    await page.keyboard.press("Control+Enter");
    executions += 1;
    const cell = lastCell(page);
    await cell.locator(".stream-stdout", { hasText: "first" }).waitFor({ timeout: 15_000 });
    assert.equal(await cell.getAttribute("data-state"), "running", "still running when 'first' shows");
    assert.ok(!(await cell.textContent()).includes("second"));
    await cell.and(page.locator("[data-state=done]")).waitFor({ timeout: 30_000 });
    assert.match(await cell.locator(".stream-stdout").textContent(), /first\s+second/);
  });

  test("interrupts a long run", async () => {
    await setCode(page, "import time\ni = 0\nwhile True:\n    print(i, flush=True)\n    i += 1\n    time.sleep(0.2)");
    await page.getByRole("button", { name: "Run", exact: true }).click();
    executions += 1;
    const cell = lastCell(page);
    await cell.locator(".stream-stdout", { hasText: "3" }).waitFor({ timeout: 15_000 });
    const started = Date.now();
    await page.getByRole("button", { name: "Interrupt" }).click();
    await cell.and(page.locator("[data-state=interrupted]")).waitFor({ timeout: 5000 });
    // The context stopped (a still-running one would answer 409 for the
    // rest of its 60 s timeout) and kept its state.
    const next = await runCode(page, 'print("after", i > 3)', { timeout: 15_000 });
    executions += 1;
    assert.equal(await next.getAttribute("data-state"), "done");
    assert.match(await next.locator(".stream-stdout").textContent(), /after True/);
    assert.ok(Date.now() - started < 15_000);
  });

  test("uploads a file into the sandbox with progress, uses it from code, downloads and deletes it", async () => {
    const rows = ["v"];
    let sum = 0;
    for (let i = 0; i < 200_000; i++) {
      rows.push(String(i % 97));
      sum += i % 97;
    }
    const csv = Buffer.from(rows.join("\n") + "\n");
    await page.locator("#sandbox-upload").setInputFiles({ name: "data.csv", mimeType: "text/csv", buffer: csv });
    const upload = page.locator('.uploads .upload[data-name="data.csv"]');
    await upload.waitFor();
    assert.equal(await upload.locator("progress").count(), 1, "a progress bar");
    await upload.and(page.locator("[data-done=true]")).waitFor();
    assert.equal(await upload.locator("progress").evaluate((p) => p.value), 1);
    const row = page.locator('.files-table tr[data-name="data.csv"]');
    await row.waitFor();

    const cell = await runCode(page, 'import pandas as pd\nprint("sum", pd.read_csv("data.csv")["v"].sum())');
    executions += 1;
    assert.match(await cell.locator(".stream-stdout").textContent(), new RegExp(`sum ${sum}`));

    const [download] = await Promise.all([
      page.waitForEvent("download"),
      row.getByRole("button", { name: "Download data.csv" }).click(),
    ]);
    assert.equal(download.suggestedFilename(), "data.csv");
    assert.ok((await readDownload(download)).equals(csv), "downloaded bytes are the uploaded ones");

    await row.getByRole("button", { name: "Delete data.csv" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByRole("button", { name: "Delete" }).click();
    await row.waitFor({ state: "detached" });
  });

  test("Drive: upload, download round trip, replace with confirmation, refused type", async () => {
    await page.locator("#nav-drive").click();
    await page.getByRole("heading", { name: "Drive", exact: true }).waitFor();
    const first = Buffer.from("region,q4\nnorth,120\nsouth,95\n");
    await page.locator("#drive-upload").setInputFiles({ name: "q4.csv", mimeType: "text/csv", buffer: first });
    await page.locator("#drive-folder").fill("/reports");
    await page.locator("#drive-scope").selectOption("session");
    await page.getByRole("button", { name: "Upload", exact: true }).click();
    await page.getByRole("button", { name: "Open folder reports" }).click();
    const row = page.locator('tr[data-path="/reports/q4.csv"]');
    await row.waitFor();
    assert.match(await row.textContent(), /session/);

    const [download] = await Promise.all([
      page.waitForEvent("download"),
      row.getByRole("button", { name: "Download q4.csv" }).click(),
    ]);
    assert.ok((await readDownload(download)).equals(first), "Drive round trip keeps the bytes");

    // Into the playground's sandbox, through the API's Drive-to-sandbox copy.
    await row.getByRole("button", { name: "Copy q4.csv into the playground's sandbox" }).click();
    await page.locator(".drive-message", { hasText: "Copied /reports/q4.csv to /home/user/q4.csv" }).waitFor();
    const sid = await page.evaluate(() => sessionStorage.getItem("kiln.sandbox"));
    const copied = await fetch(`${kilnd.url}/v1/sandboxes/${sid}/files/content?path=q4.csv`, { headers: kilnd.headers() });
    assert.ok(Buffer.from(await copied.arrayBuffer()).equals(first), "copied into the sandbox");

    // The same name again: Drive answers 409 and the console asks first.
    const second = Buffer.from("region,q4\nnorth,121\nsouth,96\neast,143\n");
    await page.locator("#drive-upload").setInputFiles({ name: "q4.csv", mimeType: "text/csv", buffer: second });
    await page.locator("#drive-folder").fill("/reports");
    await page.getByRole("button", { name: "Upload", exact: true }).click();
    const dialog = page.getByRole("dialog", { name: "Replace /reports/q4.csv?" });
    await dialog.waitFor();
    await screenshot(page, "04-drive-replace");
    await dialog.getByRole("button", { name: "Replace" }).click();
    // The first upload's row may still be listed (rows leave after 5 s): wait for this one's.
    await page
      .locator('.upload[data-name="q4.csv"][data-done=true]', { hasText: `(${second.length} B)` })
      .waitFor();
    const stored = await fetch(`${kilnd.url}/v1/drive/content?path=/reports/q4.csv`, { headers: kilnd.headers() });
    assert.ok(Buffer.from(await stored.arrayBuffer()).equals(second), "replaced");

    // A script is refused (415) with the reason and the type rules.
    await page.locator("#drive-upload").setInputFiles({
      name: "setup.sh",
      mimeType: "text/plain",
      buffer: Buffer.from("#!/bin/sh\necho hi\n"),
    });
    await page.getByRole("button", { name: "Upload", exact: true }).click();
    const refused = page.locator(".refused");
    await refused.waitFor();
    assert.match(await refused.textContent(), /setup\.sh was refused/);
    assert.match(await refused.textContent(), /Drive's type rules/);
    assert.match(await refused.textContent(), /scripts/);
    await page.locator("#drive-files-heading").scrollIntoViewIfNeeded();
    await screenshot(page, "04-drive", { fullPage: true });
    const list = await kilnd.api("GET", "/v1/drive?prefix=/");
    assert.deepEqual(list.json.files.map((f) => f.path), ["/reports/q4.csv"]);
  });

  test("HTML and SVG from code never run in the console", async () => {
    await page.locator("#nav-playground").click();
    const mark = "KILN-PWNED";
    const code = [
      "class Html:",
      "    def _repr_html_(self):",
      `        return '<b id="bold">bold</b><script>parent.__kilnPwned = 1; console.log("${mark}-script")</script>' \\`,
      `            '<img src="x" onerror="console.log(\\'${mark}-img\\'); parent.__kilnPwned = 2">'`,
      "class Svg:",
      "    def _repr_svg_(self):",
      `        return '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40" onload="console.log(\\'${mark}-svg\\')">' \\`,
      `            '<script>console.log("${mark}-svg-script")</script><text x="4" y="24">svg</text></svg>'`,
      "display(Html())",
      "display(Svg())",
      `print('<img src=x onerror="console.log(\\'${mark}-stdout\\')">')`,
      `raise ValueError('<img src=x onerror="console.log(\\'${mark}-error\\')">')`,
    ].join("\n");
    const cell = await runCode(page, code);
    executions += 1;
    assert.equal(await cell.getAttribute("data-state"), "error");
    const frames = cell.locator("iframe.result-frame");
    assert.equal(await frames.count(), 2);
    for (const sb of await frames.evaluateAll((els) => els.map((e) => e.getAttribute("sandbox"))))
      assert.equal(sb, "", "sandbox with no allowances");
    // The HTML did render, inside its frame.
    await page.frameLocator(".output-log .cell >> nth=-1 >> iframe.result-frame >> nth=0").locator("#bold").waitFor();
    // Text stays text.
    assert.match(await cell.locator(".stream-stdout").textContent(), /<img src=x onerror=/);
    assert.match(await cell.locator(".run-error .error-title").textContent(), /ValueError: <img src=x onerror=/);
    await page.waitForTimeout(1500); // time for anything that would fire
    const fired = browser.messages.filter((m) => m.text.includes(mark));
    assert.deepEqual(fired, [], "no payload logged anything");
    assert.deepEqual(browser.errors, [], "no page errors");
    assert.equal(await page.evaluate(() => window.__kilnPwned), undefined);
    assert.equal(await page.locator('main img[src="x"], main #bold, main svg text').count(), 0);
    await cell.scrollIntoViewIfNeeded();
    await screenshot(page, "07-untrusted-results");
  });

  test("sandboxes: live CPU and memory, inspect, extend, sessions, delete", async () => {
    const sid = await page.evaluate(() => sessionStorage.getItem("kiln.sandbox"));
    assert.ok(sid, "the playground has a sandbox");
    const before = await kilnd.api("GET", `/v1/sandboxes/${sid}`);
    await page.locator("#nav-sandboxes").click();
    const row = page.locator(`.sandboxes-table tr[data-id="${sid}"]`);
    await row.waitFor();
    // The second poll gives a CPU rate.
    await row.locator("td.cpu", { hasText: "%" }).waitFor({ timeout: 10_000 });
    assert.match(await row.textContent(), /512 MB · 1 CPU/);
    assert.match(await row.locator("meter").getAttribute("value"), /^[1-9]\d*$/, "peak memory > 0");
    await row.getByRole("button", { name: `Inspect ${sid}` }).click();
    await page.locator("#detail-heading").waitFor();
    await page.locator(".detail li", { hasText: "python" }).waitFor();

    await row.getByRole("button", { name: `Extend ${sid} by 10 minutes` }).click();
    await page.locator(".sandboxes [role=status]", { hasText: "now expires" }).first().waitFor();
    const afterExtend = await kilnd.api("GET", `/v1/sandboxes/${sid}`);
    const gained = (Date.parse(afterExtend.json.expires_at) - Date.parse(before.json.expires_at)) / 1000;
    assert.ok(gained > 500, `expiry moved by ${gained} s`);

    // Sessions: get-or-create.
    await page.getByLabel("Session key (optional)").fill("console-turn-1");
    await page.getByRole("button", { name: "Get or create sandbox" }).click();
    await page.locator("p[role=status]", { hasText: "Created sbx_" }).waitFor();
    await page.getByRole("button", { name: "Get or create sandbox" }).click();
    await page.locator("p[role=status]", { hasText: "already has" }).waitFor();
    const list = (await kilnd.api("GET", "/v1/sandboxes")).json.sandboxes;
    const bySession = list.filter((s) => s.session === "console-turn-1");
    assert.equal(bySession.length, 1);
    const other = bySession[0].id;
    await page.locator(".sessions-list", { hasText: "console-turn-1" }).waitFor();
    const otherRow = page.locator(`.sandboxes-table tr[data-id="${other}"]`);
    await otherRow.waitFor();
    await screenshot(page, "03-sandboxes", { fullPage: true });

    await otherRow.getByRole("button", { name: `Delete ${other}` }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Delete sandbox" }).click();
    await otherRow.waitFor({ state: "detached" });
    assert.equal((await kilnd.api("GET", `/v1/sandboxes/${other}`)).status, 404);
  });

  test("skills: browse, read a file, open in the playground", async () => {
    await page.locator("#nav-skills").click();
    await page.getByRole("link", { name: /^charts/ }).click();
    await page.locator("#skill-heading", { hasText: "charts" }).waitFor();
    await page.getByRole("button", { name: "Read chart.py" }).click();
    const file = page.locator(".file-viewer pre");
    await file.waitFor();
    assert.match(await file.textContent(), /def bar_chart/);
    await screenshot(page, "05-skills", { fullPage: true });
    await page.locator("#skill-open").click();
    await page.locator("#nav-playground[aria-current=page]").waitFor();
    assert.match(await editorText(page), /from chart import bar_chart/);
    assert.equal(await page.locator("#language-select").inputValue(), "python");
  });

  test("usage shows the executions just made, live, with CSV export", async () => {
    await page.locator("#nav-usage").click();
    const sid = await page.evaluate(() => sessionStorage.getItem("kiln.sandbox"));
    const value = page.locator("#stat-executions .stat-value");
    await value.waitFor();
    assert.equal(executions, 6);
    const shown = Number((await value.textContent()).replace(/,/g, ""));
    assert.ok(shown >= executions, `shows ${shown} executions, made ${executions}`);
    const row = page.locator(`.usage-table tr[data-id="${sid}"]`);
    await row.waitFor();
    assert.ok(Number(await row.locator(".executions").textContent()) >= executions);
    const bar = page.locator(`figure:has(figcaption:has-text("Executions")) rect.bar[data-date="${today}"]`);
    assert.ok(Number(await bar.getAttribute("data-value")) >= executions);

    // Live: one more execution shows up without a reload.
    await kilnd.api("POST", `/v1/sandboxes/${sid}/execute`, { code: "1 + 1" });
    await page.locator("#stat-executions .stat-value", { hasText: String(shown + 1) }).waitFor({ timeout: 12_000 });
    await screenshot(page, "06-usage", { fullPage: true });

    const [download] = await Promise.all([page.waitForEvent("download"), page.locator("#export-daily").click()]);
    const csv = (await readDownload(download)).toString();
    const lines = csv.trim().split("\r\n");
    assert.equal(lines[0], "date,sandboxes,session_seconds,active_seconds,cpu_seconds,executions,credits_used");
    const todayLine = lines.find((l) => l.startsWith(today));
    assert.ok(todayLine, csv);
    assert.ok(Number(todayLine.split(",")[5]) >= executions + 1);
  });

  test("is usable on a phone and every control has a label", async () => {
    for (const name of ["playground", "sandboxes", "drive", "skills", "usage"]) {
      await page.locator(`#nav-${name}`).click();
      await page.locator(`#nav-${name}[aria-current=page]`).waitFor();
      await page.waitForTimeout(300);
      assert.deepEqual(await unlabelledControls(page), [], `${name}: unlabelled controls`);
    }
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      for (const name of ["playground", "sandboxes", "usage"]) {
        await page.locator(`#nav-${name}`).click();
        await page.waitForTimeout(400);
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(overflow <= 1, `${name}: the page scrolls sideways by ${overflow}px on a phone`);
        await screenshot(page, `08-phone-${name}`);
      }
      // Keyboard: the first Tab lands on "Skip to content".
      await page.reload();
      await page.locator("#nav-usage[aria-current=page]").waitFor();
      await page.keyboard.press("Tab");
      assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Skip to content");
    } finally {
      await page.setViewportSize({ width: 1280, height: 860 });
    }
  });
});

describe("console with auth off (loopback, no key ever made)", { timeout: 60_000 }, () => {
  let kilnd;
  let browser;

  before(async () => {
    kilnd = await new Daemon({ withKey: false }).start();
    browser = await openBrowser();
  });

  after(async () => {
    await browser?.close();
    await kilnd?.stop();
  });

  test("says so clearly, then runs code without a key", async () => {
    const { page } = browser;
    await page.goto(`${kilnd.url}/`);
    await page.getByRole("heading", { name: "Authentication is off" }).waitFor();
    assert.match(await page.locator("main").textContent(), /kilnd keys create/);
    await screenshot(page, "00-auth-off");
    await page.getByRole("button", { name: "Continue without a key" }).click();
    await page.locator(".pill", { hasText: "auth off" }).waitFor();
    await page.locator("#language-select").selectOption("javascript");
    const cell = await runCode(page, 'const xs = [1, 2, 3].map((x) => x * 2);\n({ total: xs.reduce((a, b) => a + b), xs, label: "<b>x</b>" })');
    assert.equal(await cell.getAttribute("data-state"), "done");
    await cell.locator(".json-tree .j-key", { hasText: "total" }).waitFor();
    assert.match(await cell.locator(".json-tree").textContent(), /"<b>x<\/b>"/);
    assert.equal(await page.evaluate(() => sessionStorage.getItem("kiln.apiKey")), null);
  });
});
