// A tiny element builder. Text always goes in as text nodes; nothing here
// ever parses a string as HTML (no innerHTML anywhere in the console).

type Child = Node | string | number | null | undefined | false | Child[];
type Handler = (ev: Event) => void;
export type Attrs = Record<string, string | number | boolean | Handler | null | undefined>;

function append(parent: Node, child: Child): void {
  if (child === null || child === undefined || child === false) return;
  if (Array.isArray(child)) {
    for (const c of child) append(parent, c);
    return;
  }
  parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
}

function applyAttrs(el: Element, attrs: Attrs | undefined): void {
  if (!attrs) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (typeof v === "function") {
      el.addEventListener(k.replace(/^on/, "").toLowerCase(), v);
    } else if (k === "srcdoc" || k === "style") {
      // srcdoc is set as a property by the one place that makes iframes;
      // style attributes are refused by the page's CSP.
      throw new Error(`h(): '${k}' is not settable here`);
    } else {
      el.setAttribute(k, v === true ? "" : String(v));
    }
  }
}

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Attrs | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  applyAttrs(el, attrs ?? undefined);
  append(el, children);
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";

export function s(tag: string, attrs?: Attrs | null, ...children: Child[]): SVGElement {
  const el = document.createElementNS(SVG_NS, tag);
  applyAttrs(el, attrs ?? undefined);
  append(el, children);
  return el;
}

export function clear(el: Element): void {
  while (el.firstChild) el.removeChild(el.firstChild);
}

export function replace(el: Element, ...children: Child[]): void {
  clear(el);
  append(el, children);
}

let idCounter = 0;
export function uid(prefix: string): string {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

// A polite live region for short status messages screen readers announce.
let liveRegion: HTMLElement | null = null;
export function announce(text: string): void {
  if (!liveRegion) {
    liveRegion = h("div", { class: "sr-only", "aria-live": "polite", role: "status" });
    document.body.appendChild(liveRegion);
  }
  liveRegion.textContent = "";
  window.setTimeout(() => {
    if (liveRegion) liveRegion.textContent = text;
  }, 30);
}

// A labelled form field: <label for> + the control.
export function field(label: string, control: HTMLElement, hint?: string): HTMLElement {
  const id = control.id || uid("f");
  control.id = id;
  let hintEl: HTMLElement | null = null;
  if (hint) {
    hintEl = h("span", { class: "hint", id: `${id}-hint` }, hint);
    control.setAttribute("aria-describedby", hintEl.id);
  }
  return h("div", { class: "field" }, h("label", { for: id }, label), control, hintEl);
}

export function button(
  label: string | Node,
  onClick: (ev: Event) => void,
  attrs: Attrs = {},
): HTMLButtonElement {
  return h("button", { type: "button", ...attrs, onclick: onClick }, label);
}

// Opens a modal <dialog> asking to confirm; resolves true on confirm.
export function confirmDialog(
  title: string,
  message: string,
  confirmLabel: string,
  danger = true,
): Promise<boolean> {
  return new Promise((resolve) => {
    const titleId = uid("dlg");
    const dlg = h(
      "dialog",
      { class: "confirm", "aria-labelledby": titleId },
      h("h2", { id: titleId }, title),
      h("p", null, message),
    );
    const done = (ok: boolean) => {
      dlg.close();
      dlg.remove();
      resolve(ok);
    };
    const cancel = button("Cancel", () => done(false));
    const ok = button(confirmLabel, () => done(true), { class: danger ? "danger" : "primary" });
    dlg.appendChild(h("div", { class: "actions" }, cancel, ok));
    dlg.addEventListener("cancel", (ev) => {
      ev.preventDefault();
      done(false);
    });
    document.body.appendChild(dlg);
    dlg.showModal();
    cancel.focus();
  });
}

// Saves a Blob as a download with the given file name.
export function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: name, class: "sr-only" });
  document.body.appendChild(a);
  a.click();
  a.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// Marks a table to show each row as a card on narrow screens: every cell
// gets its column's header as data-label (style.css shows it before the
// value there).
export function stackable(table: HTMLTableElement): HTMLTableElement {
  const heads = Array.from(table.tHead?.rows[0]?.cells ?? []).map((c) =>
    c.querySelector(".sr-only") ? "" : (c.textContent ?? "").trim(),
  );
  for (const body of Array.from(table.tBodies)) {
    for (const row of Array.from(body.rows)) {
      Array.from(row.cells).forEach((cell, i) => {
        if (heads[i] && i > 0) cell.dataset.label = heads[i];
      });
    }
  }
  table.classList.add("stack");
  return table;
}
