// The console's shell: sign-in (or the auth-off notice), then a header with
// the pages and a hash router (#/playground, #/sandboxes, #/drive?path=…,
// #/skills/<name>, #/usage).
import "./style.css";
import { api, getKey, probe, setKey, setUnauthorizedHandler } from "./api";
import { button, clear, h } from "./dom";
import { createDrive } from "./pages/drive";
import type { Page } from "./pages/page";
import { createPlayground } from "./pages/playground";
import { createSandboxes } from "./pages/sandboxes";
import { createSkills } from "./pages/skills";
import { createUsage } from "./pages/usage";

const app = document.getElementById("app")!;
const AUTH_OFF_SEEN = "kiln.authOffSeen";

const ROUTES: { name: string; label: string; make: () => Page }[] = [
  { name: "playground", label: "Playground", make: createPlayground },
  { name: "sandboxes", label: "Sandboxes", make: createSandboxes },
  { name: "drive", label: "Drive", make: createDrive },
  { name: "skills", label: "Skills", make: createSkills },
  { name: "usage", label: "Usage", make: createUsage },
];

let authOff = false;

async function start(notice?: string): Promise<void> {
  clear(app);
  const key = getKey();
  try {
    if (key) {
      if ((await probe(key)) === "ok") return showApp();
      setKey(null);
      return showSignIn(notice ?? "That API key was refused (unknown or revoked). Sign in again.");
    }
    if ((await probe(null)) === "ok") {
      authOff = true;
      if (sessionStorage.getItem(AUTH_OFF_SEEN)) return showApp();
      return showAuthOff();
    }
    return showSignIn(notice);
  } catch (e) {
    return showUnreachable(e);
  }
}

function centered(...children: (Node | null)[]): HTMLElement {
  const main = h("main", { id: "main", class: "centered", tabindex: "-1" }, ...children);
  app.replaceChildren(main);
  return main;
}

function brand(): HTMLElement {
  return h("p", { class: "brand big" }, h("span", { class: "logo", "aria-hidden": "true" }, "K"), "Kiln");
}

function showSignIn(notice?: string): void {
  document.title = "Sign in · Kiln console";
  const input = h("input", {
    type: "password",
    id: "api-key",
    name: "api-key",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    "aria-describedby": "api-key-hint",
  });
  const error = h("p", { class: "error-title", role: "alert", id: "signin-error" }, notice ?? "");
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h(
    "form",
    { class: "card signin", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, "Sign in to the Kiln console"),
    h("div", { class: "field" }, h("label", { for: "api-key" }, "API key"), input),
    h(
      "p",
      { class: "hint", id: "api-key-hint" },
      "A key made with ",
      h("code", null, "kilnd keys create --data-dir DIR --workspace NAME"),
      ". It is kept in this tab only (sessionStorage) and sent as a Bearer token.",
    ),
    error,
    submit,
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const key = input.value.trim();
    if (!key) return;
    submit.disabled = true;
    error.textContent = "Checking…";
    probe(key)
      .then((r) => {
        if (r === "ok") {
          setKey(key);
          void start();
        } else {
          error.textContent = "That API key was refused (unknown or revoked).";
          input.select();
        }
      })
      .catch((e: unknown) => {
        error.textContent = `Cannot reach kilnd: ${e instanceof Error ? e.message : String(e)}`;
      })
      .finally(() => {
        submit.disabled = false;
      });
  });
  centered(brand(), form);
  input.focus();
}

function showAuthOff(): void {
  document.title = "Authentication is off · Kiln console";
  const go = button(
    "Continue without a key",
    () => {
      sessionStorage.setItem(AUTH_OFF_SEEN, "1");
      showApp();
    },
    { class: "primary", id: "continue-auth-off" },
  );
  centered(
    brand(),
    h(
      "section",
      { class: "card notice", "aria-labelledby": "authoff-title" },
      h("h1", { id: "authoff-title" }, "Authentication is off"),
      h(
        "p",
        null,
        "This kilnd answers every request without an API key: no key has ever been created, " +
          "and it listens on a loopback address only, so only programs on this machine can reach it. " +
          "All sandboxes, Drive files and usage belong to the workspace “default”.",
      ),
      h(
        "p",
        null,
        "To turn authentication on, create a key; from then on every request needs one " +
          "(revoking the last key does not turn it off again):",
      ),
      h("pre", null, "kilnd keys create --data-dir DIR --workspace NAME"),
      go,
    ),
  );
  go.focus();
}

function showUnreachable(e: unknown): void {
  document.title = "kilnd unreachable · Kiln console";
  centered(
    brand(),
    h(
      "section",
      { class: "card notice", role: "alert" },
      h("h1", null, "Cannot reach kilnd"),
      h("p", null, e instanceof Error ? e.message : String(e)),
      button("Try again", () => void start(), { class: "primary" }),
    ),
  );
}

function parseHash(): { name: string; rest: string[]; params: URLSearchParams } {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, query] = raw.split("?", 2);
  const parts = (path ?? "").split("/").filter(Boolean).map(decodeURIComponent);
  return { name: parts[0] ?? "playground", rest: parts.slice(1), params: new URLSearchParams(query) };
}

function showApp(): void {
  const pages = new Map<string, Page>();
  let current: Page | null = null;
  const links = new Map<string, HTMLAnchorElement>();
  const nav = h("nav", { class: "nav", "aria-label": "Console" });
  const list = h("ul", null);
  for (const r of ROUTES) {
    const a = h("a", { href: `#/${r.name}`, id: `nav-${r.name}` }, r.label);
    links.set(r.name, a);
    list.appendChild(h("li", null, a));
  }
  nav.appendChild(list);
  const version = h("span", { class: "hint version" });
  const signOut = button(
    authOff ? "Leave" : "Sign out",
    () => {
      setKey(null);
      sessionStorage.removeItem(AUTH_OFF_SEEN);
      window.removeEventListener("hashchange", route);
      current?.hide();
      void start(authOff ? undefined : "Signed out.");
    },
    { class: "compact", id: "sign-out" },
  );
  const header = h(
    "header",
    { class: "topbar" },
    h("a", { class: "skip", href: "#main" }, "Skip to content"),
    h("a", { class: "brand", href: "#/playground" }, h("span", { class: "logo", "aria-hidden": "true" }, "K"), "Kiln"),
    nav,
    h("div", { class: "topbar-end" }, authOff ? h("span", { class: "pill warn" }, "auth off") : null, version, signOut),
  );
  const main = h("main", { id: "main", tabindex: "-1" });
  // "Skip to content" must not change the route.
  header.querySelector(".skip")!.addEventListener("click", (ev) => {
    ev.preventDefault();
    main.focus();
  });
  app.replaceChildren(header, main);
  api
    .health()
    .then((hz) => (version.textContent = `kilnd ${hz.version}`))
    .catch(() => {});

  function route(): void {
    const { name, rest, params } = parseHash();
    const def = ROUTES.find((r) => r.name === name) ?? ROUTES[0];
    let page = pages.get(def.name);
    if (!page) {
      page = def.make();
      pages.set(def.name, page);
      main.appendChild(page.root);
    }
    if (current && current !== page) current.hide();
    for (const p of pages.values()) p.root.hidden = p !== page;
    for (const [n, a] of links) {
      if (n === def.name) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    const changed = current !== page;
    const first = current === null;
    current = page;
    document.title = `${page.title} · Kiln console`;
    page.show(params, rest);
    if (changed) window.scrollTo(0, 0);
    // After a move between pages, a screen reader starts at the new page;
    // not on the first load, where Tab should reach "Skip to content".
    if (changed && !first && !main.contains(document.activeElement)) main.focus({ preventScroll: true });
  }
  window.addEventListener("hashchange", route);
  setUnauthorizedHandler((message) => {
    window.removeEventListener("hashchange", route);
    setUnauthorizedHandler(() => {});
    current?.hide();
    setKey(null);
    void start(`Signed out: ${message}`);
  });
  route();
}

void start();
