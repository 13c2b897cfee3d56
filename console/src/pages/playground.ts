// Playground: an editor, Run / Interrupt, output streamed live as the code
// produces it, rich results, and the sandbox's files beside it.
import {
  api,
  ApiError,
  describeError,
  executeStream,
  LANGUAGES,
  putWithProgress,
  type ExecEvent,
  type FileEntry,
  type Language,
} from "../api";
import { announce, button, confirmDialog, field, h, replace, saveBlob, uid } from "../dom";
import { createEditor, type CodeEditor } from "../editor";
import { basename, formatBytes, formatMs, formatTime, joinPath, parentPath } from "../format";
import { renderError, renderResult, type Result } from "../results";
import { onSandboxChange, shared } from "../state";
import type { Page } from "./page";

const SAMPLES: Record<Language, string> = {
  python: `import pandas as pd
import matplotlib.pyplot as plt

df = pd.DataFrame({"region": ["north", "south", "east", "west"], "q4": [120, 95, 143, 88]})
df.plot.bar(x="region", y="q4", legend=False, title="Q4 sales")
plt.show()
df
`,
  javascript: `const xs = [1, 2, 3].map((x) => x * 2);
console.log("doubled", xs);
({ sum: xs.reduce((a, b) => a + b, 0), xs });
`,
  typescript: `interface User { name: string; age: number }
const users: User[] = [{ name: "ada", age: 36 }, { name: "alan", age: 41 }];
const oldest = users.reduce((a, b) => (a.age >= b.age ? a : b));
console.log(\`oldest: \${oldest.name}\`);
oldest;
`,
  bash: `echo "hello from $(whoami) in $(pwd)"
ls -la
`,
};

const LANGUAGE_LABELS: Record<Language, string> = {
  python: "Python",
  javascript: "JavaScript",
  typescript: "TypeScript",
  bash: "Bash",
};

const MAX_CELLS = 30;

class Cell {
  readonly root: HTMLElement;
  private readonly body: HTMLElement;
  private readonly state: HTMLElement;
  private lastStream: { kind: string; el: HTMLElement } | null = null;
  private readonly started = performance.now();

  constructor(code: string, language: Language, n: number) {
    const first = code.trim().split("\n")[0] ?? "";
    this.state = h("span", { class: "cell-state" }, "running…");
    this.body = h("div", { class: "cell-body" });
    const headingId = uid("cell");
    this.root = h(
      "article",
      { class: "cell", "data-state": "running", "aria-labelledby": headingId },
      h(
        "header",
        { class: "cell-head" },
        h(
          "h3",
          { id: headingId },
          h("span", { class: "badge" }, LANGUAGE_LABELS[language]),
          ` Run ${n}: `,
          h("code", null, first.length > 60 ? first.slice(0, 60) + "…" : first),
        ),
        this.state,
      ),
      this.body,
    );
  }

  event(ev: ExecEvent): void {
    switch (ev.type) {
      case "stdout":
      case "stderr": {
        const text = String(ev.text ?? "");
        if (!this.lastStream || this.lastStream.kind !== ev.type) {
          const el = h("pre", {
            class: `stream stream-${ev.type}`,
            "aria-label": ev.type === "stdout" ? "Standard output" : "Standard error",
          });
          this.body.appendChild(el);
          this.lastStream = { kind: ev.type, el };
        }
        this.lastStream.el.appendChild(document.createTextNode(text));
        break;
      }
      case "result":
        this.lastStream = null;
        this.body.appendChild(renderResult(ev as unknown as Result));
        break;
      case "error":
        this.lastStream = null;
        this.root.dataset.hasError = "true";
        this.body.appendChild(renderError(ev as Record<string, unknown>));
        break;
      case "end": {
        const n = typeof ev.execution_count === "number" ? `#${ev.execution_count} · ` : "";
        const ms = typeof ev.duration_ms === "number" ? formatMs(ev.duration_ms) : "";
        this.finish(this.root.dataset.hasError ? "error" : "done", `${n}${ms}`);
        break;
      }
    }
  }

  finish(state: "done" | "error" | "interrupted" | "failed", text: string): void {
    if (this.root.dataset.state !== "running") return;
    this.root.dataset.state = state;
    this.state.textContent = text;
  }

  fail(message: string): void {
    this.body.appendChild(h("p", { class: "run-error error-title", role: "alert" }, message));
    this.finish("failed", "failed");
  }

  elapsed(): number {
    return performance.now() - this.started;
  }

  get running(): boolean {
    return this.root.dataset.state === "running";
  }
}

export function createPlayground(): Page {
  let language: Language = (sessionStorage.getItem("kiln.language") as Language) || "python";
  if (!LANGUAGES.includes(language)) language = "python";
  const drafts: Record<Language, string> = { ...SAMPLES };
  for (const l of LANGUAGES) {
    const saved = sessionStorage.getItem(`kiln.draft.${l}`);
    if (saved !== null) drafts[l] = saved;
  }
  let runCount = 0;
  let active: { cell: Cell; ctrl: AbortController } | null = null;
  let fileDir = "/home/user";

  // --- toolbar ---
  const sandboxSelect = h("select", { id: "sandbox-select" });
  const newSandboxBtn = button("New sandbox", () => void newSandbox());
  const languageSelect = h("select", { id: "language-select" });
  for (const l of LANGUAGES) {
    const opt = h("option", { value: l }, LANGUAGE_LABELS[l]);
    if (l === language) opt.selected = true;
    languageSelect.appendChild(opt);
  }
  const runBtn = button("Run", () => void run(), {
    class: "primary",
    "aria-keyshortcuts": "Control+Enter Meta+Enter",
    title: "Run (Ctrl+Enter)",
  });
  const stopBtn = button("Interrupt", () => interrupt(), { disabled: true });
  const status = h("span", { class: "run-status", role: "status", "aria-live": "polite" }, "Ready");
  const sandboxInfo = h("p", { class: "hint sandbox-info" });

  // --- editor & output ---
  const editorHost = h("div", { class: "editor" });
  const output = h("div", { class: "output-log", "aria-label": "Runs, newest last" });
  const emptyOutput = h(
    "p",
    { class: "hint empty" },
    "Output appears here as the code produces it. Run with the button or Ctrl+Enter.",
  );
  output.appendChild(emptyOutput);
  const clearBtn = button("Clear output", () => {
    replace(output, emptyOutput);
  });

  // --- files ---
  const filesPath = h("p", { class: "path" });
  const filesList = h("div", { class: "files-list" });
  const uploads = h("div", { class: "uploads" });
  const uploadInput = h("input", { type: "file", multiple: true, id: "sandbox-upload" });
  uploadInput.addEventListener("change", () => void uploadFiles());
  const filesPanel = h(
    "section",
    { class: "panel files", "aria-labelledby": "files-heading" },
    h(
      "div",
      { class: "panel-head" },
      h("h2", { id: "files-heading" }, "Sandbox files"),
      button("Refresh", () => void refreshFiles(), { class: "compact" }),
    ),
    filesPath,
    h(
      "div",
      { class: "field upload-field" },
      h("label", { for: uploadInput.id }, "Upload to this folder"),
      uploadInput,
    ),
    uploads,
    filesList,
  );

  const root = h(
    "div",
    { class: "page playground" },
    h("h1", { class: "sr-only" }, "Playground"),
    h(
      "div",
      { class: "toolbar", role: "toolbar", "aria-label": "Playground" },
      field("Sandbox", sandboxSelect),
      newSandboxBtn,
      field("Language", languageSelect),
      h("div", { class: "run-buttons" }, runBtn, stopBtn),
      status,
    ),
    sandboxInfo,
    h(
      "div",
      { class: "play-grid" },
      h(
        "div",
        { class: "play-main" },
        h("section", { class: "panel editor-panel", "aria-label": "Code editor" }, editorHost),
        h(
          "section",
          { class: "panel output-panel", "aria-labelledby": "output-heading" },
          h("div", { class: "panel-head" }, h("h2", { id: "output-heading" }, "Output"), clearBtn),
          output,
        ),
      ),
      filesPanel,
    ),
  );

  const editor: CodeEditor = createEditor(editorHost, {
    code: drafts[language],
    language,
    label: "Code",
    onRun: () => void run(),
    onChange: () => {
      drafts[language] = editor.getCode();
      sessionStorage.setItem(`kiln.draft.${language}`, drafts[language]);
    },
  });

  function setLanguage(l: Language, code?: string) {
    drafts[language] = editor.getCode();
    language = l;
    languageSelect.value = l;
    sessionStorage.setItem("kiln.language", l);
    editor.setLanguage(l);
    editor.setCode(code ?? drafts[l]);
  }
  languageSelect.addEventListener("change", () => setLanguage(languageSelect.value as Language));

  sandboxSelect.addEventListener("change", () => {
    shared.sandboxId = sandboxSelect.value || null;
  });
  onSandboxChange(() => {
    void refreshSandboxes();
    fileDir = "/home/user";
    void refreshFiles();
  });

  async function refreshSandboxes(): Promise<void> {
    try {
      const list = await api.listSandboxes();
      const current = shared.sandboxId;
      sandboxSelect.replaceChildren(
        h("option", { value: "" }, list.length ? "(choose a sandbox)" : "(a new one on Run)"),
      );
      for (const s of list) {
        const opt = h("option", { value: s.id }, s.session ? `${s.id} (${s.session})` : s.id);
        if (s.id === current) opt.selected = true;
        sandboxSelect.appendChild(opt);
      }
      const mine = list.find((s) => s.id === current);
      if (current && !mine) {
        sandboxInfo.textContent = `Sandbox ${current} has ended; Run starts a new one.`;
        shared.sandboxId = null;
        return;
      }
      sandboxInfo.textContent = mine
        ? `${mine.id} · ${mine.limits.memory_mb} MB, ${mine.limits.cpus} CPU · expires ${formatTime(mine.expires_at)}`
        : "No sandbox yet: Run creates one.";
    } catch (e) {
      sandboxInfo.textContent = `Could not list sandboxes: ${describeError(e)}`;
    }
  }

  async function newSandbox(): Promise<string> {
    const { sandbox } = await api.createSandbox({ metadata: { created_by: "console" } });
    shared.sandboxId = sandbox.id;
    announce(`Sandbox ${sandbox.id} created`);
    return sandbox.id;
  }

  async function ensureSandbox(): Promise<string> {
    const id = shared.sandboxId;
    if (id) return id;
    return newSandbox();
  }

  function setRunning(on: boolean) {
    runBtn.disabled = on;
    stopBtn.disabled = !on;
    languageSelect.disabled = on;
    sandboxSelect.disabled = on;
    newSandboxBtn.disabled = on;
  }

  async function run(): Promise<void> {
    if (active) return;
    editor.closePopups();
    const code = editor.getCode();
    if (!code.trim()) {
      status.textContent = "Nothing to run";
      return;
    }
    runCount += 1;
    const cell = new Cell(code, language, runCount);
    if (emptyOutput.isConnected) emptyOutput.remove();
    output.appendChild(cell.root);
    while (output.children.length > MAX_CELLS) output.firstElementChild?.remove();
    const ctrl = new AbortController();
    active = { cell, ctrl };
    setRunning(true);
    status.textContent = "Running…";
    const ticker = window.setInterval(() => {
      if (cell.running) status.textContent = `Running… ${formatMs(cell.elapsed())}`;
    }, 200);
    let ended = false;
    try {
      let sid = await ensureSandbox();
      for (let attempt = 0; ; attempt++) {
        try {
          await executeStream(
            sid,
            { code, language },
            (ev) => {
              cell.event(ev);
              if (ev.type === "end") ended = true;
              if (nearBottom()) cell.root.scrollIntoView({ block: "end" });
            },
            ctrl.signal,
          );
          break;
        } catch (e) {
          // The context may still be stopping a run that was just
          // interrupted: a short wait, then again.
          if (e instanceof ApiError && e.status === 409 && attempt < 20 && !ctrl.signal.aborted) {
            status.textContent = "Waiting for the previous run to stop…";
            await new Promise((r) => window.setTimeout(r, 250));
            continue;
          }
          if (e instanceof ApiError && e.status === 404 && attempt === 0) {
            shared.sandboxId = null;
            sid = await newSandbox();
            cell.event({ type: "stderr", text: `(the sandbox had ended; running in ${sid})\n` });
            continue;
          }
          throw e;
        }
      }
      if (!ended) cell.finish("failed", "the stream ended early");
      status.textContent = cell.root.dataset.state === "error" ? "Finished with an error" : "Done";
    } catch (e) {
      if (ctrl.signal.aborted) {
        cell.finish("interrupted", "interrupted");
        status.textContent = "Interrupted";
      } else {
        cell.fail(describeError(e));
        status.textContent = "Failed";
      }
    } finally {
      window.clearInterval(ticker);
      active = null;
      setRunning(false);
      announce(status.textContent ?? "");
      void refreshFiles();
    }
  }

  function interrupt(): void {
    // Closing the connection interrupts the run in kilnd.
    active?.ctrl.abort();
  }

  function nearBottom(): boolean {
    const el = document.scrollingElement ?? document.documentElement;
    return el.scrollHeight - el.scrollTop - el.clientHeight < 240;
  }

  // --- files ---
  async function refreshFiles(): Promise<void> {
    const sid = shared.sandboxId;
    if (!sid) {
      filesPath.textContent = "";
      replace(filesList, h("p", { class: "hint" }, "No sandbox yet: Run creates one."));
      uploadInput.disabled = true;
      return;
    }
    uploadInput.disabled = false;
    replace(filesPath, breadcrumbs(fileDir));
    let entries: FileEntry[];
    try {
      entries = await api.listFiles(sid, fileDir);
    } catch (e) {
      replace(filesList, h("p", { class: "error-title", role: "alert" }, describeError(e)));
      return;
    }
    entries.sort((a, b) =>
      a.type === "dir" && b.type !== "dir"
        ? -1
        : b.type === "dir" && a.type !== "dir"
          ? 1
          : a.name.localeCompare(b.name),
    );
    const rows = entries.map((e) => {
      const nameCell =
        e.type === "dir"
          ? button(`${e.name}/`, () => {
              fileDir = e.path;
              void refreshFiles();
            }, { class: "link", "aria-label": `Open folder ${e.name}` })
          : h("span", { class: "file-name" }, e.name);
      const actions = h("td", { class: "actions" });
      if (e.type === "file") {
        actions.appendChild(
          button("Download", () => void downloadFile(sid, e), {
            class: "compact",
            "aria-label": `Download ${e.name}`,
          }),
        );
      }
      actions.appendChild(
        button("Delete", () => void deleteFile(sid, e), {
          class: "compact danger-text",
          "aria-label": `Delete ${e.name}`,
        }),
      );
      return h(
        "tr",
        { "data-name": e.name },
        h("td", null, nameCell),
        h("td", { class: "num" }, e.type === "dir" ? "" : formatBytes(e.size)),
        actions,
      );
    });
    replace(
      filesList,
      entries.length === 0
        ? h("p", { class: "hint" }, "This folder is empty.")
        : h(
            "table",
            { class: "table files-table" },
            h("caption", { class: "sr-only" }, `Files in ${fileDir}`),
            h(
              "thead",
              null,
              h(
                "tr",
                null,
                h("th", { scope: "col" }, "Name"),
                h("th", { scope: "col", class: "num" }, "Size"),
                h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")),
              ),
            ),
            h("tbody", null, rows),
          ),
    );
  }

  function breadcrumbs(dir: string): HTMLElement {
    const nav = h("nav", { "aria-label": "Folder", class: "crumbs" });
    const parts = dir.split("/").filter(Boolean);
    nav.appendChild(
      button("/", () => {
        fileDir = "/";
        void refreshFiles();
      }, { class: "link", "aria-label": "Root folder" }),
    );
    parts.forEach((p, i) => {
      const path = "/" + parts.slice(0, i + 1).join("/");
      if (i > 0) nav.appendChild(document.createTextNode("/"));
      if (i === parts.length - 1) nav.appendChild(h("span", { "aria-current": "location" }, p));
      else
        nav.appendChild(
          button(p, () => {
            fileDir = path;
            void refreshFiles();
          }, { class: "link" }),
        );
    });
    if (dir !== "/") {
      nav.appendChild(
        button("Up", () => {
          fileDir = parentPath(dir);
          void refreshFiles();
        }, { class: "compact up" }),
      );
    }
    return nav;
  }

  async function downloadFile(sid: string, e: FileEntry) {
    try {
      saveBlob(await api.readFile(sid, e.path), e.name);
    } catch (err) {
      status.textContent = `Download failed: ${describeError(err)}`;
    }
  }

  async function deleteFile(sid: string, e: FileEntry) {
    const ok = await confirmDialog(
      `Delete ${e.name}?`,
      `${e.path} will be removed from the sandbox${e.type === "dir" ? " with everything in it" : ""}.`,
      "Delete",
    );
    if (!ok) return;
    try {
      await api.deleteFile(sid, e.path);
      announce(`${e.name} deleted`);
    } catch (err) {
      status.textContent = `Delete failed: ${describeError(err)}`;
    }
    void refreshFiles();
  }

  async function uploadFiles() {
    const files = Array.from(uploadInput.files ?? []);
    uploadInput.value = "";
    const sid = shared.sandboxId ?? (await ensureSandbox());
    await Promise.all(
      files.map(async (f) => {
        const path = joinPath(fileDir, f.name);
        const bar = h("progress", { max: "1", value: "0", id: uid("up") });
        const label = h("label", { for: bar.id }, `${f.name} (${formatBytes(f.size)})`);
        const note = h("span", { class: "hint" }, "0%");
        const row = h("div", { class: "upload", "data-name": f.name }, label, bar, note);
        uploads.appendChild(row);
        try {
          await putWithProgress(api.fileUrl(sid, path), f, (p) => {
            bar.value = p;
            note.textContent = `${Math.round(p * 100)}%`;
          });
          note.textContent = "uploaded";
          row.dataset.done = "true";
          announce(`${basename(path)} uploaded`);
          window.setTimeout(() => row.remove(), 4000);
        } catch (e) {
          note.textContent = describeError(e);
          note.className = "error-title";
          row.dataset.failed = "true";
        }
      }),
    );
    void refreshFiles();
  }

  return {
    title: "Playground",
    root,
    show() {
      const pending = shared.pendingCode;
      if (pending) {
        shared.pendingCode = null;
        setLanguage(pending.language, pending.code);
        status.textContent = `Opened ${pending.from}`;
        editor.focus();
      }
      void refreshSandboxes();
      void refreshFiles();
    },
    hide() {},
  };
}
