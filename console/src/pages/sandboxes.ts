// Sandboxes: every live sandbox of the workspace with its status, age,
// expiry, limits and live CPU and memory; inspect, extend, delete; and
// sessions (get-or-create a sandbox by a session key).
import { api, describeError, type Sandbox } from "../api";
import { announce, button, confirmDialog, field, h, replace, stackable } from "../dom";
import { formatBytes, formatDuration, formatMs, formatTime, secondsUntil } from "../format";
import { navigate, shared } from "../state";
import { Poller, type Page } from "./page";

interface Sample {
  at: number;
  cpu_ms: number;
}

export function createSandboxes(): Page {
  const samples = new Map<string, Sample>();
  const cpuPct = new Map<string, number>();
  let sandboxes: Sandbox[] = [];
  let inspected: string | null = null;

  const tableHost = h("div", { class: "table-wrap" });
  const updated = h("p", { class: "hint", "aria-live": "off" });
  const message = h("p", { class: "hint", role: "status" });
  const detail = h("section", { class: "panel detail", "aria-labelledby": "detail-heading", hidden: true });

  // Sessions: get-or-create by key.
  const sessionInput = h("input", { type: "text", id: "session-key", placeholder: "turn-42", maxlength: "256" });
  const timeoutInput = h("input", { type: "number", id: "session-timeout", min: "60", step: "60", value: "900" });
  const memoryInput = h("input", { type: "number", id: "session-memory", min: "32", step: "32", placeholder: "default" });
  const sessionResult = h("p", { class: "hint", role: "status" });
  const sessionForm = h(
    "form",
    { class: "inline-form", "aria-labelledby": "sessions-heading" },
    field("Session key (optional)", sessionInput, "Get-or-create: a live sandbox with this key comes back as it is."),
    field("Timeout (s)", timeoutInput),
    field("Memory (MB)", memoryInput),
    h("button", { type: "submit", class: "primary" }, "Get or create sandbox"),
  );
  sessionForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void createFromForm();
  });
  const sessionsList = h("div", { class: "sessions-list" });

  const root = h(
    "div",
    { class: "page sandboxes" },
    h(
      "div",
      { class: "page-head" },
      h("h1", null, "Sandboxes"),
      button("Refresh", () => void poller.tick(), { class: "compact" }),
    ),
    updated,
    message,
    tableHost,
    detail,
    h(
      "section",
      { class: "panel", "aria-labelledby": "sessions-heading" },
      h("h2", { id: "sessions-heading" }, "Sessions"),
      h(
        "p",
        { class: "hint" },
        "A session key names one live sandbox: an agent that sends the same key on every turn gets the same sandbox back, with its files and variables.",
      ),
      sessionForm,
      sessionResult,
      sessionsList,
    ),
  );

  const poller = new Poller(refresh, 2000);

  async function refresh(): Promise<void> {
    let list: Sandbox[];
    try {
      list = await api.listSandboxes();
    } catch (e) {
      message.textContent = `Could not list sandboxes: ${describeError(e)}`;
      return;
    }
    // The list has no usage; each sandbox's GET does (CPU from its cgroup).
    const full = await Promise.all(list.map((s) => api.getSandbox(s.id).catch(() => s)));
    const now = performance.now();
    for (const s of full) {
      if (!s.usage) continue;
      const prev = samples.get(s.id);
      if (prev && now > prev.at) {
        const pct = ((s.usage.cpu_ms - prev.cpu_ms) / (now - prev.at)) * 100;
        cpuPct.set(s.id, Math.max(0, pct));
      }
      samples.set(s.id, { at: now, cpu_ms: s.usage.cpu_ms });
    }
    for (const id of samples.keys()) if (!full.some((s) => s.id === id)) samples.delete(id);
    sandboxes = full;
    render();
    updated.textContent = `Updated ${new Date().toLocaleTimeString()} · refreshed every 2 s`;
    if (inspected) {
      const s = sandboxes.find((x) => x.id === inspected);
      if (s) renderDetail(s, false);
      else {
        detail.hidden = true;
        inspected = null;
      }
    }
  }

  function limitsText(s: Sandbox): string {
    const l = s.limits;
    return `${l.memory_mb} MB · ${l.cpus} CPU · ${l.pids} pids · ${l.disk_mb} MB disk · ${l.exec_timeout_s} s/run`;
  }

  function memoryCell(s: Sandbox): HTMLElement {
    const peak = s.usage?.memory_peak_bytes ?? 0;
    const limit = s.limits.memory_mb * 1024 * 1024;
    const meter = h("meter", {
      min: "0",
      max: String(limit),
      value: String(peak),
      high: String(limit * 0.8),
      "aria-label": `Peak memory of ${s.id}`,
    });
    return h("td", null, h("div", { class: "meter-cell" }, meter, `${formatBytes(peak)} / ${s.limits.memory_mb} MB`));
  }

  function render(): void {
    if (sandboxes.length === 0) {
      replace(tableHost, h("p", { class: "empty" }, "No live sandboxes. The playground starts one on Run."));
    } else {
      const rows = sandboxes.map((s) => {
        const pct = cpuPct.get(s.id);
        const left = secondsUntil(s.expires_at);
        const current = s.id === shared.sandboxId;
        return h(
          "tr",
          { "data-id": s.id, class: current ? "current" : null },
          h(
            "th",
            { scope: "row" },
            h("code", null, s.id),
            current ? h("span", { class: "pill" }, "playground") : null,
            s.session ? h("div", { class: "hint" }, `session: ${s.session}`) : null,
          ),
          h("td", null, h("span", { class: `pill status-${s.status}` }, s.status)),
          h("td", null, formatDuration(-secondsUntil(s.created_at))),
          h("td", { title: formatTime(s.expires_at) }, left > 0 ? `in ${formatDuration(left)}` : "expiring"),
          h("td", { class: "limits" }, limitsText(s)),
          h(
            "td",
            { class: "num cpu" },
            pct === undefined ? "…" : `${pct.toFixed(pct < 10 ? 1 : 0)} %`,
            h("div", { class: "hint" }, s.usage ? `${(s.usage.cpu_ms / 1000).toFixed(2)} s total` : ""),
          ),
          memoryCell(s),
          h("td", { class: "num" }, String(s.usage?.executions ?? "–")),
          h(
            "td",
            { class: "actions" },
            button("Use in playground", () => {
              shared.sandboxId = s.id;
              navigate("#/playground");
            }, { class: "compact", "aria-label": `Use ${s.id} in the playground` }),
            button("Inspect", () => {
              inspected = s.id;
              renderDetail(s, true);
            }, { class: "compact", "aria-label": `Inspect ${s.id}` }),
            button("+10 min", () => void extend(s, Math.max(0, left) + 600), {
              class: "compact",
              "aria-label": `Extend ${s.id} by 10 minutes`,
            }),
            button("Delete", () => void remove(s), { class: "compact danger-text", "aria-label": `Delete ${s.id}` }),
          ),
        );
      });
      replace(
        tableHost,
        stackable(
h(
          "table",
          { class: "table sandboxes-table" },
          h("caption", { class: "sr-only" }, "Live sandboxes"),
          h(
            "thead",
            null,
            h(
              "tr",
              null,
              ...["Sandbox", "Status", "Age", "Expires", "Limits", "CPU", "Peak memory", "Runs"].map((c) =>
                h("th", { scope: "col", class: ["CPU", "Runs"].includes(c) ? "num" : null }, c),
              ),
              h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")),
            ),
          ),
          h("tbody", null, rows),
        )),
      );
    }
    const withSession = sandboxes.filter((s) => s.session);
    replace(
      sessionsList,
      withSession.length === 0
        ? h("p", { class: "hint" }, "No live sandbox has a session key.")
        : h(
            "ul",
            { class: "plain" },
            withSession.map((s) =>
              h("li", null, h("strong", null, s.session ?? ""), " → ", h("code", null, s.id), ` · expires ${formatTime(s.expires_at)}`),
            ),
          ),
    );
  }

  async function renderDetail(s: Sandbox, focus: boolean): Promise<void> {
    detail.hidden = false;
    const extendInput = h("input", { type: "number", id: "extend-minutes", min: "1", step: "1", value: "30" });
    const form = h(
      "form",
      { class: "inline-form" },
      field("Expire in (minutes from now)", extendInput),
      h("button", { type: "submit" }, "Set expiry"),
    );
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      void extend(s, Number(extendInput.value) * 60);
    });
    const u = s.usage;
    const dl = h(
      "dl",
      { class: "kv" },
      ...[
        ["Status", s.status],
        ["Session", s.session ?? "none"],
        ["Template", s.template],
        ["Network", s.network],
        ["Created", formatTime(s.created_at)],
        ["Expires", formatTime(s.expires_at)],
        ["Limits", limitsText(s)],
        ["Active time", u ? formatMs(u.active_ms) : "–"],
        ["CPU time", u ? formatMs(u.cpu_ms) : "–"],
        ["Peak memory", u ? formatBytes(u.memory_peak_bytes) : "–"],
        ["Executions", u ? String(u.executions) : "–"],
        ["Metadata", Object.keys(s.metadata).length ? JSON.stringify(s.metadata) : "none"],
      ].flatMap(([k, v]) => [h("dt", null, k), h("dd", null, v)]),
    );
    const ctxHost = h("div", null, h("p", { class: "hint" }, "Loading contexts…"));
    const heading = h("h2", { id: "detail-heading", tabindex: "-1" }, "Sandbox ", h("code", null, s.id));
    // Keep the expiry field's value while the table refreshes under it.
    if (!focus && detail.querySelector("#extend-minutes")) {
      replace(detail.querySelector(".detail-kv")!, dl);
    } else {
      replace(
        detail,
        h("div", { class: "panel-head" }, heading, button("Close", () => {
          detail.hidden = true;
          inspected = null;
        }, { class: "compact" })),
        h("div", { class: "detail-kv" }, dl),
        form,
        h("h3", null, "Contexts and background commands"),
        ctxHost,
      );
      if (focus) heading.focus();
    }
    if (!focus) return;
    try {
      const [contexts, commands] = await Promise.all([api.contexts(s.id), api.commands(s.id)]);
      replace(
        ctxHost,
        h(
          "ul",
          { class: "plain" },
          contexts.map((c) => h("li", null, h("code", null, c.id), ` ${c.language} in ${c.cwd}${c.default ? " (default)" : ""}`)),
          commands.map((c) =>
            h("li", null, `pid ${c.pid}: `, h("code", null, c.cmd), c.running ? " (running)" : ` (exit ${c.exit_code ?? "?"})`),
          ),
        ),
      );
    } catch (e) {
      replace(ctxHost, h("p", { class: "error-title" }, describeError(e)));
    }
  }

  async function extend(s: Sandbox, seconds: number): Promise<void> {
    try {
      const updatedSbx = await api.setTimeout(s.id, Math.max(1, Math.round(seconds)));
      message.textContent = `${s.id} now expires ${formatTime(updatedSbx.expires_at)}.`;
      announce(message.textContent);
    } catch (e) {
      message.textContent = `Could not extend ${s.id}: ${describeError(e)}`;
    }
    await poller.tick();
  }

  async function remove(s: Sandbox): Promise<void> {
    const ok = await confirmDialog(
      `Delete sandbox ${s.id}?`,
      "Every process in it is killed and its files are gone. This cannot be undone.",
      "Delete sandbox",
    );
    if (!ok) return;
    try {
      await api.deleteSandbox(s.id);
      if (shared.sandboxId === s.id) shared.sandboxId = null;
      message.textContent = `${s.id} deleted.`;
      announce(message.textContent);
    } catch (e) {
      message.textContent = `Could not delete ${s.id}: ${describeError(e)}`;
    }
    await poller.tick();
  }

  async function createFromForm(): Promise<void> {
    const body: Record<string, unknown> = { metadata: { created_by: "console" } };
    if (sessionInput.value.trim()) body.session = sessionInput.value.trim();
    if (timeoutInput.value) body.timeout_s = Number(timeoutInput.value);
    if (memoryInput.value) body.limits = { memory_mb: Number(memoryInput.value) };
    try {
      const { sandbox, created } = await api.createSandbox(body);
      sessionResult.textContent = created
        ? `Created ${sandbox.id}.`
        : `Session “${sandbox.session}” already has ${sandbox.id}: returned it as it is.`;
      announce(sessionResult.textContent);
    } catch (e) {
      sessionResult.textContent = `Could not create: ${describeError(e)}`;
    }
    await poller.tick();
  }

  return {
    title: "Sandboxes",
    root,
    show() {
      poller.start();
    },
    hide() {
      poller.stop();
    },
  };
}
