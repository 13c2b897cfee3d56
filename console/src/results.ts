// Rendering what code returned. Everything here is untrusted: text goes in
// as text nodes, images as data: URLs, and HTML or SVG only inside an
// iframe with sandbox="" (no scripts, an opaque origin) through srcdoc,
// never into the console's own DOM.
import { h, uid } from "./dom";
import { stripAnsi } from "./format";

export type Result = Record<string, unknown> & { is_main_result?: boolean };

// The renderings a result may carry, richest first.
export const KINDS = [
  "html",
  "svg",
  "png",
  "jpeg",
  "json",
  "markdown",
  "latex",
  "text",
  "pdf",
  "javascript",
] as const;
export type Kind = (typeof KINDS)[number];

const LABELS: Record<Kind, string> = {
  html: "HTML",
  svg: "SVG",
  png: "PNG image",
  jpeg: "JPEG image",
  json: "JSON",
  markdown: "Markdown (source)",
  latex: "LaTeX (source)",
  text: "Text",
  pdf: "PDF",
  javascript: "JavaScript (not run)",
};

export function availableKinds(r: Result): Kind[] {
  return KINDS.filter((k) => r[k] !== undefined && r[k] !== null);
}

// The rendering shown first: the richest, except that a JSON scalar reads
// better as its text.
export function preferredKind(r: Result): Kind | null {
  const kinds = availableKinds(r);
  for (const k of kinds) {
    if (k === "json" && (typeof r.json !== "object" || r.json === null) && kinds.includes("text"))
      continue;
    return k;
  }
  return null;
}

// Everything an HTML or SVG result document may do: show itself with the
// console's frame.css and data: images, nothing else. The console's own
// policy (inherited by srcdoc documents) applies as well. The frame's
// origin is opaque, so its policy names the sheet by its full address.
export function frameDocument(content: string, origin = location.origin): string {
  const sheet = `${origin}/console/frame.css`;
  const csp = `default-src 'none'; img-src data:; style-src ${sheet}`;
  const head =
    `<!doctype html><html><head><meta charset="utf-8">` +
    `<meta http-equiv="Content-Security-Policy" content="${csp}">` +
    `<meta name="referrer" content="no-referrer">` +
    `<link rel="stylesheet" href="${sheet}"></head><body>`;
  return head + content + "</body></html>";
}

// A height for a frame we cannot measure (its document is cross-origin to
// us): rows of a table, or the SVG's own height, within bounds.
export function estimateFrameHeight(kind: "html" | "svg", content: string): number {
  if (kind === "svg") {
    const m = /<svg[^>]*\sheight="([\d.]+)(pt|px)?"/i.exec(content);
    if (m) {
      const px = parseFloat(m[1]) * (m[2] === "pt" ? 4 / 3 : 1);
      return Math.min(640, Math.max(80, Math.round(px) + 24));
    }
    return 360;
  }
  const rows = (content.match(/<tr[\s>]/gi) ?? []).length;
  const lines = (content.match(/<(br|p|div|li|h\d)[\s>/]/gi) ?? []).length;
  return Math.min(480, Math.max(72, 40 + rows * 26 + lines * 22));
}

function sandboxedFrame(kind: "html" | "svg", content: string): HTMLElement {
  const frame = h("iframe", {
    sandbox: "",
    referrerpolicy: "no-referrer",
    title: kind === "html" ? "HTML result (sandboxed, scripts off)" : "SVG result (sandboxed)",
    class: "result-frame",
  });
  frame.srcdoc = frameDocument(content);
  frame.height = String(estimateFrameHeight(kind, content));
  return h("div", { class: "frame-wrap" }, frame);
}

function imageFrom(kind: "png" | "jpeg", data: string): HTMLElement {
  // Base64 only: anything else is not an image we should try to load.
  const clean = data.replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean)) return h("pre", null, "(not valid base64 image data)");
  return h("img", {
    src: `data:image/${kind};base64,${clean}`,
    alt: `${kind.toUpperCase()} image returned by the code`,
    class: "result-image",
  });
}

function pdfLink(data: string): HTMLElement {
  const btn = h("button", { type: "button" }, "Download PDF");
  btn.addEventListener("click", () => {
    const bytes = Uint8Array.from(atob(data.replace(/\s+/g, "")), (c) => c.charCodeAt(0));
    const url = URL.createObjectURL(new Blob([bytes], { type: "application/octet-stream" }));
    const a = h("a", { href: url, download: "result.pdf" });
    a.click();
    window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
  });
  return h("p", null, "A PDF result. ", btn);
}

export function renderKind(r: Result, kind: Kind): HTMLElement {
  const v = r[kind];
  switch (kind) {
    case "html":
    case "svg":
      return sandboxedFrame(kind, String(v));
    case "png":
    case "jpeg":
      return imageFrom(kind, String(v));
    case "json":
      return h("div", { class: "json-tree" }, jsonTree(v, 0, null));
    case "pdf":
      return pdfLink(String(v));
    case "javascript":
      return h(
        "div",
        null,
        h("p", { class: "hint" }, "JavaScript output is shown as text: the console never runs it."),
        h("pre", { class: "result-text" }, String(v)),
      );
    default:
      return h("pre", { class: "result-text" }, typeof v === "string" ? v : JSON.stringify(v));
  }
}

// One result: the preferred rendering, and a chooser when there are several.
export function renderResult(r: Result): HTMLElement {
  const kinds = availableKinds(r);
  const first = preferredKind(r);
  const box = h("div", {
    class: "result",
    "data-kinds": kinds.join(" "),
  });
  if (!first) {
    box.appendChild(h("pre", { class: "result-text" }, "(empty result)"));
    return box;
  }
  const body = h("div", { class: "result-body" }, renderKind(r, first));
  if (kinds.length > 1) {
    const sel = h("select", { id: uid("as"), class: "compact" });
    for (const k of kinds) {
      const opt = h("option", { value: k }, LABELS[k]);
      if (k === first) opt.selected = true;
      sel.appendChild(opt);
    }
    sel.addEventListener("change", () => {
      body.replaceChildren(renderKind(r, sel.value as Kind));
    });
    box.appendChild(
      h(
        "div",
        { class: "result-head" },
        h("label", { for: sel.id }, r.is_main_result ? "Result, shown as" : "Display, shown as"),
        sel,
      ),
    );
  }
  box.appendChild(body);
  return box;
}

export function renderError(e: {
  name?: unknown;
  value?: unknown;
  traceback?: unknown;
  line?: unknown;
}): HTMLElement {
  const where = typeof e.line === "number" ? ` (line ${e.line})` : "";
  const tb = typeof e.traceback === "string" ? stripAnsi(e.traceback).trimEnd() : "";
  return h(
    "div",
    { class: "run-error", role: "group", "aria-label": "Error" },
    h("p", { class: "error-title" }, `${String(e.name ?? "Error")}: ${String(e.value ?? "")}${where}`),
    tb ? h("pre", { class: "traceback" }, tb) : null,
  );
}

const MAX_CHILDREN = 200;

// A JSON value as nested <details> (keyboard-operable as they are).
export function jsonTree(v: unknown, depth: number, key: string | null): HTMLElement {
  const keyEl = key === null ? null : h("span", { class: "j-key" }, `${key}: `);
  if (v === null || typeof v !== "object") {
    const cls =
      v === null ? "j-null" : typeof v === "string" ? "j-str" : typeof v === "number" ? "j-num" : "j-bool";
    const text = typeof v === "string" ? JSON.stringify(v) : String(v);
    return h("div", { class: "j-leaf" }, keyEl, h("span", { class: cls }, text));
  }
  const isArray = Array.isArray(v);
  const entries: [string, unknown][] = isArray
    ? (v as unknown[]).map((x, i) => [String(i), x])
    : Object.entries(v as Record<string, unknown>);
  const label = isArray ? `Array(${entries.length})` : `Object {${entries.length}}`;
  const details = h(
    "details",
    { class: "j-node" },
    h("summary", null, keyEl, h("span", { class: "j-type" }, label)),
  );
  details.open = depth < 2;
  const list = h("div", { class: "j-children" });
  for (const [k, x] of entries.slice(0, MAX_CHILDREN)) list.appendChild(jsonTree(x, depth + 1, k));
  if (entries.length > MAX_CHILDREN)
    list.appendChild(h("div", { class: "hint" }, `… ${entries.length - MAX_CHILDREN} more`));
  details.appendChild(list);
  return details;
}
