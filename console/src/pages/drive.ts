// Drive: the workspace's persistent storage. Browse folders, see each
// file's scope and expiry, upload (with progress; replacing asks first),
// download, delete, copy into the playground's sandbox. A refused type
// (415) shows kilnd's reason and Drive's type rules.
import { api, ApiError, describeError, putWithProgress, type DriveFile } from "../api";
import { announce, button, confirmDialog, field, h, replace, saveBlob, uid, stackable } from "../dom";
import { folderListing, normalizeFolder } from "../drive_tree";
import { basename, formatBytes, formatTime, joinPath } from "../format";
import { navigate, shared } from "../state";
import type { Page } from "./page";

const SCOPES = [
  { value: "persistent", label: "Persistent (no expiry)" },
  { value: "session", label: "Session (24 hours)" },
  { value: "temporary", label: "Temporary (10 minutes)" },
];

function typeRules(): HTMLElement {
  return h(
    "div",
    { class: "type-rules" },
    h("h3", null, "Drive's type rules"),
    h(
      "p",
      null,
      "Allowed: text and code, images, PDF, audio, video, office documents, CSV / JSON / Excel and data files (Parquet, Feather, NumPy, HDF5 …).",
    ),
    h(
      "p",
      null,
      "Refused: executables and shared libraries (.exe, .so, .dll …), scripts (.sh, .bat, .ps1 …), archives (.zip, .tar, .gz …) and system files (.sys, .ini, .conf …) — also any file whose content starts like an executable or a #! script, whatever its name.",
    ),
  );
}

export function createDrive(): Page {
  let folder = "/";
  let all: DriveFile[] = [];

  const crumbs = h("nav", { class: "crumbs", "aria-label": "Drive folder" });
  const listHost = h("div", { class: "table-wrap" });
  const message = h("div", { class: "drive-message", role: "status" });
  const uploads = h("div", { class: "uploads" });

  const fileInput = h("input", { type: "file", multiple: true, id: "drive-upload" });
  const folderInput = h("input", { type: "text", id: "drive-folder", value: "/", spellcheck: "false" });
  const scopeSelect = h("select", { id: "drive-scope" });
  for (const s of SCOPES) scopeSelect.appendChild(h("option", { value: s.value }, s.label));
  const uploadForm = h(
    "form",
    { class: "inline-form", "aria-labelledby": "drive-upload-heading" },
    field("Files", fileInput),
    field("Into folder", folderInput),
    field("Scope", scopeSelect),
    h("button", { type: "submit", class: "primary" }, "Upload"),
  );
  uploadForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void uploadAll();
  });

  const root = h(
    "div",
    { class: "page drive" },
    h(
      "div",
      { class: "page-head" },
      h("h1", null, "Drive"),
      button("Refresh", () => void refresh(), { class: "compact" }),
    ),
    h(
      "p",
      { class: "hint" },
      "Workspace storage that outlives sandboxes. Temporary files expire after 10 minutes, session files after 24 hours, persistent files never.",
    ),
    h(
      "section",
      { class: "panel", "aria-labelledby": "drive-upload-heading" },
      h("h2", { id: "drive-upload-heading" }, "Upload"),
      uploadForm,
      uploads,
    ),
    message,
    h("section", { class: "panel", "aria-labelledby": "drive-files-heading" }, h("h2", { id: "drive-files-heading" }, "Files"), crumbs, listHost),
  );

  async function refresh(): Promise<void> {
    try {
      all = await api.listDrive("/");
    } catch (e) {
      replace(listHost, h("p", { class: "error-title", role: "alert" }, describeError(e)));
      return;
    }
    render();
  }

  function go(path: string) {
    navigate(`#/drive?path=${encodeURIComponent(path)}`);
  }

  function render(): void {
    const { folders, files } = folderListing(all, folder);
    const parts = folder.split("/").filter(Boolean);
    replace(
      crumbs,
      button("Drive", () => go("/"), { class: "link" }),
      parts.map((p, i) => [
        " / ",
        i === parts.length - 1
          ? h("span", { "aria-current": "location" }, p)
          : button(p, () => go("/" + parts.slice(0, i + 1).join("/")), { class: "link" }),
      ]),
    );
    if (folders.length === 0 && files.length === 0) {
      replace(
        listHost,
        h("p", { class: "empty" }, folder === "/" ? "Drive is empty. Upload a file above." : "No files in this folder."),
      );
      return;
    }
    const rows = [
      ...folders.map((f) =>
        h(
          "tr",
          { "data-folder": f.path },
          h("th", { scope: "row" }, button(`${f.name}/`, () => go(f.path), { class: "link", "aria-label": `Open folder ${f.name}` })),
          h("td", { class: "num" }, formatBytes(f.size)),
          h("td", { colspan: "4", class: "hint" }, `${f.files} file${f.files === 1 ? "" : "s"}`),
          h("td", null),
        ),
      ),
      ...files.map((f) => {
        const name = basename(f.path);
        return h(
          "tr",
          { "data-path": f.path },
          h("th", { scope: "row" }, h("span", { class: "file-name" }, name)),
          h("td", { class: "num" }, formatBytes(f.size)),
          h("td", null, h("span", { class: `pill scope-${f.scope}` }, f.scope)),
          h("td", null, f.expires_at ? formatTime(f.expires_at) : "never"),
          h("td", null, formatTime(f.created_at)),
          h("td", null, h("code", { title: f.sha256 }, f.sha256.slice(0, 12))),
          h(
            "td",
            { class: "actions" },
            button("Download", () => void download(f), { class: "compact", "aria-label": `Download ${name}` }),
            button("To sandbox", () => void toSandbox(f), {
              class: "compact",
              "aria-label": `Copy ${name} into the playground's sandbox`,
            }),
            button("Delete", () => void remove(f), { class: "compact danger-text", "aria-label": `Delete ${name}` }),
          ),
        );
      }),
    ];
    replace(
      listHost,
      stackable(
h(
        "table",
        { class: "table drive-table" },
        h("caption", { class: "sr-only" }, `Drive folder ${folder}`),
        h(
          "thead",
          null,
          h(
            "tr",
            null,
            ...["Name", "Size", "Scope", "Expires", "Created", "SHA-256"].map((c) =>
              h("th", { scope: "col", class: c === "Size" ? "num" : null }, c),
            ),
            h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")),
          ),
        ),
        h("tbody", null, rows),
      )),
    );
  }

  function showRefusal(name: string, e: ApiError) {
    replace(
      message,
      h(
        "div",
        { class: "refused", role: "alert" },
        h("p", { class: "error-title" }, `${name} was refused: ${e.message}`),
        typeRules(),
      ),
    );
  }

  async function uploadOne(file: File, dir: string, scope: string): Promise<void> {
    const path = joinPath(dir, file.name);
    const bar = h("progress", { max: "1", value: "0", id: uid("dup") });
    const note = h("span", { class: "hint" }, "0%");
    const row = h(
      "div",
      { class: "upload", "data-name": file.name },
      h("label", { for: bar.id }, `${path} (${formatBytes(file.size)})`),
      bar,
      note,
    );
    uploads.appendChild(row);
    const put = (replaceIt: boolean) =>
      putWithProgress(api.driveUrl(path, scope, replaceIt), file, (p) => {
        bar.value = p;
        note.textContent = `${Math.round(p * 100)}%`;
      });
    try {
      try {
        await put(false);
      } catch (e) {
        if (!(e instanceof ApiError) || e.status !== 409) throw e;
        const ok = await confirmDialog(
          `Replace ${path}?`,
          `Drive already has ${path}. Replacing it keeps the path and swaps its content for ${file.name} (${formatBytes(file.size)}).`,
          "Replace",
        );
        if (!ok) {
          note.textContent = "kept the existing file";
          row.dataset.failed = "true";
          return;
        }
        bar.value = 0;
        await put(true);
      }
      note.textContent = "uploaded";
      row.dataset.done = "true";
      announce(`${path} uploaded`);
      window.setTimeout(() => row.remove(), 5000);
    } catch (e) {
      note.textContent = e instanceof ApiError ? `${e.status} ${e.code}` : describeError(e);
      note.className = "error-title";
      row.dataset.failed = "true";
      if (e instanceof ApiError && e.status === 415) showRefusal(file.name, e);
      else replace(message, h("p", { class: "error-title", role: "alert" }, `${file.name}: ${describeError(e)}`));
    }
  }

  async function uploadAll(): Promise<void> {
    const files = Array.from(fileInput.files ?? []);
    if (files.length === 0) {
      replace(message, h("p", { class: "error-title", role: "alert" }, "Choose one or more files first."));
      return;
    }
    replace(message);
    const dir = normalizeFolder(folderInput.value || "/");
    const scope = scopeSelect.value;
    // One at a time, so a replace question is about one file.
    for (const f of files) await uploadOne(f, dir, scope);
    fileInput.value = "";
    await refresh();
  }

  async function download(f: DriveFile): Promise<void> {
    try {
      saveBlob(await api.readDrive(f.path), basename(f.path));
    } catch (e) {
      replace(message, h("p", { class: "error-title", role: "alert" }, describeError(e)));
    }
  }

  async function toSandbox(f: DriveFile): Promise<void> {
    let sid = shared.sandboxId;
    try {
      if (!sid) {
        sid = (await api.createSandbox({ metadata: { created_by: "console" } })).sandbox.id;
        shared.sandboxId = sid;
      }
      const name = basename(f.path);
      await api.driveToSandbox(sid, f.path, name);
      replace(
        message,
        h(
          "p",
          null,
          `Copied ${f.path} to /home/user/${name} in ${sid}. `,
          button("Open the playground", () => navigate("#/playground"), { class: "link" }),
        ),
      );
    } catch (e) {
      replace(message, h("p", { class: "error-title", role: "alert" }, describeError(e)));
    }
  }

  async function remove(f: DriveFile): Promise<void> {
    const ok = await confirmDialog(`Delete ${f.path}?`, "The file is removed from Drive for good.", "Delete");
    if (!ok) return;
    try {
      await api.deleteDrive(f.path);
      announce(`${f.path} deleted`);
    } catch (e) {
      replace(message, h("p", { class: "error-title", role: "alert" }, describeError(e)));
    }
    await refresh();
  }

  return {
    title: "Drive",
    root,
    show(params) {
      folder = normalizeFolder(params.get("path") ?? "/");
      folderInput.value = folder;
      void refresh();
    },
    hide() {},
  };
}
