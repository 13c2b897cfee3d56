// Usage: the workspace's metered figures per day (active seconds are the
// billed ones: one credit is one active second), the live sandboxes' own
// counters, refreshed every few seconds, and CSV exports of both.
import { api, describeError, type Sandbox, type Usage } from "../api";
import { barChart } from "../chart";
import { button, field, h, replace, saveBlob, stackable } from "../dom";
import { dateRange, formatBytes, formatDuration, formatNumber, formatTime, toCsv, utcDate } from "../format";
import { Poller, type Page } from "./page";

export function fillDays(u: Usage, from: string, to: string) {
  const byDate = new Map(u.by_day.map((d) => [d.date, d]));
  return dateRange(from, to).map(
    (date) =>
      byDate.get(date) ?? {
        date,
        sandboxes: 0,
        session_seconds: 0,
        active_seconds: 0,
        cpu_seconds: 0,
        executions: 0,
      },
  );
}

export function usageCsv(u: Usage, from: string, to: string): string {
  const rows: (string | number)[][] = [
    ["date", "sandboxes", "session_seconds", "active_seconds", "cpu_seconds", "executions", "credits_used"],
  ];
  for (const d of fillDays(u, from, to))
    rows.push([d.date, d.sandboxes, d.session_seconds, d.active_seconds, d.cpu_seconds, d.executions, d.active_seconds]);
  return toCsv(rows);
}

export function sandboxesCsv(list: Sandbox[]): string {
  const rows: (string | number | null)[][] = [
    ["sandbox", "session", "created_at", "expires_at", "active_ms", "cpu_ms", "memory_peak_bytes", "executions"],
  ];
  for (const s of list)
    rows.push([
      s.id,
      s.session,
      s.created_at,
      s.expires_at,
      s.usage?.active_ms ?? null,
      s.usage?.cpu_ms ?? null,
      s.usage?.memory_peak_bytes ?? null,
      s.usage?.executions ?? null,
    ]);
  return toCsv(rows);
}

export function createUsage(): Page {
  let usage: Usage | null = null;
  let live: Sandbox[] = [];
  let days = 14;

  const rangeSelect = h("select", { id: "usage-range" });
  for (const [n, label] of [
    [7, "Last 7 days"],
    [14, "Last 14 days"],
    [30, "Last 30 days"],
    [90, "Last 90 days"],
  ] as const) {
    const opt = h("option", { value: String(n) }, label);
    if (n === days) opt.selected = true;
    rangeSelect.appendChild(opt);
  }
  rangeSelect.addEventListener("change", () => {
    days = Number(rangeSelect.value);
    void poller.tick();
  });
  const liveBox = h("input", { type: "checkbox", id: "usage-live", checked: true });
  liveBox.addEventListener("change", () => (liveBox.checked ? poller.start() : poller.stop()));
  const updated = h("p", { class: "hint" });
  const cards = h("div", { class: "stat-cards" });
  const charts = h("div", { class: "charts" });
  const table = h("div", { class: "table-wrap" });
  const dailyTable = h("div", { class: "table-wrap" });
  const error = h("p", { class: "error-title", role: "alert" });

  const range = () => ({ from: utcDate(days - 1), to: utcDate(0) });

  const root = h(
    "div",
    { class: "page usage" },
    h(
      "div",
      { class: "page-head" },
      h("h1", null, "Usage"),
      h(
        "div",
        { class: "inline-form" },
        field("Period", rangeSelect),
        h("div", { class: "check" }, liveBox, h("label", { for: liveBox.id }, "Refresh every 5 s")),
        button("Export daily CSV", () => {
          if (!usage) return;
          const { from, to } = range();
          saveBlob(new Blob([usageCsv(usage, from, to)], { type: "text/csv" }), `kiln-usage-${from}-${to}.csv`);
        }, { id: "export-daily" }),
        button("Export sandboxes CSV", () => {
          saveBlob(new Blob([sandboxesCsv(live)], { type: "text/csv" }), `kiln-sandboxes-${utcDate(0)}.csv`);
        }, { id: "export-sandboxes" }),
      ),
    ),
    updated,
    error,
    cards,
    h("section", { "aria-labelledby": "charts-heading" }, h("h2", { id: "charts-heading" }, "Per day (UTC)"), charts),
    h(
      "details",
      { class: "panel" },
      h("summary", null, "The daily figures as a table"),
      dailyTable,
    ),
    h(
      "section",
      { class: "panel", "aria-labelledby": "per-sandbox-heading" },
      h("h2", { id: "per-sandbox-heading" }, "Live sandboxes"),
      h(
        "p",
        { class: "hint" },
        "Each live sandbox's own counters. Sandboxes that have ended are in the daily totals above.",
      ),
      table,
    ),
  );

  async function refresh(): Promise<void> {
    const { from, to } = range();
    try {
      // 'to' is exclusive in time: the end of today.
      const [u, list] = await Promise.all([
        api.usage(from, `${utcDate(-1)}T00:00:00Z`),
        api.listSandboxes(),
      ]);
      usage = u;
      live = await Promise.all(list.map((s) => api.getSandbox(s.id).catch(() => s)));
      error.textContent = "";
    } catch (e) {
      error.textContent = `Could not load usage: ${describeError(e)}`;
      return;
    }
    render(from, to);
    updated.textContent = `Workspace “${usage.workspace}” · ${from} to ${to} · updated ${new Date().toLocaleTimeString()}`;
  }

  function stat(label: string, value: string, id: string, hint?: string) {
    return h(
      "div",
      { class: "stat", id },
      h("span", { class: "stat-label" }, label),
      h("span", { class: "stat-value" }, value),
      hint ? h("span", { class: "hint" }, hint) : null,
    );
  }

  function render(from: string, to: string): void {
    if (!usage) return;
    const u = usage;
    replace(
      cards,
      stat("Executions", formatNumber(u.executions), "stat-executions"),
      stat("Active time", formatDuration(u.active_seconds), "stat-active", `${formatNumber(u.active_seconds, 2)} s, billed`),
      stat("CPU time", `${formatNumber(u.cpu_seconds, 2)} s`, "stat-cpu"),
      stat("Session time", formatDuration(u.session_seconds), "stat-session"),
      stat("Sandboxes", formatNumber(u.sandboxes), "stat-sandboxes"),
      stat(
        "Credits left",
        u.credits === null ? "no limit" : `${formatNumber(u.credits, 1)} s`,
        "stat-credits",
        u.credits === null ? "no balance set for this workspace" : "1 credit = 1 active second",
      ),
    );
    const filled = fillDays(u, from, to);
    const pts = (k: "active_seconds" | "cpu_seconds" | "executions") =>
      filled.map((d) => ({ label: d.date, value: d[k] }));
    replace(
      charts,
      barChart({ title: "Active seconds", unit: "s", points: pts("active_seconds") }),
      barChart({ title: "CPU seconds", unit: "s", points: pts("cpu_seconds") }),
      barChart({ title: "Executions", unit: "runs", points: pts("executions") }),
      barChart({ title: "Credits used", unit: "credits", points: pts("active_seconds") }),
    );
    replace(
      dailyTable,
      h(
        "table",
        { class: "table" },
        h("caption", { class: "sr-only" }, "Usage per day"),
        h(
          "thead",
          null,
          h(
            "tr",
            null,
            ["Date", "Sandboxes", "Session s", "Active s", "CPU s", "Executions"].map((c) =>
              h("th", { scope: "col", class: c === "Date" ? null : "num" }, c),
            ),
          ),
        ),
        h(
          "tbody",
          null,
          filled
            .slice()
            .reverse()
            .map((d) =>
              h(
                "tr",
                null,
                h("th", { scope: "row" }, d.date),
                [d.sandboxes, d.session_seconds, d.active_seconds, d.cpu_seconds, d.executions].map((v) =>
                  h("td", { class: "num" }, formatNumber(v, 2)),
                ),
              ),
            ),
        ),
      ),
    );
    replace(
      table,
      live.length === 0
        ? h("p", { class: "empty" }, "No live sandboxes.")
        : stackable(
h(
            "table",
            { class: "table usage-table" },
            h("caption", { class: "sr-only" }, "Usage of each live sandbox"),
            h(
              "thead",
              null,
              h(
                "tr",
                null,
                ["Sandbox", "Created", "Active", "CPU", "Executions", "Peak memory"].map((c) =>
                  h("th", { scope: "col", class: ["Sandbox", "Created"].includes(c) ? null : "num" }, c),
                ),
              ),
            ),
            h(
              "tbody",
              null,
              live.map((s) =>
                h(
                  "tr",
                  { "data-id": s.id },
                  h("th", { scope: "row" }, h("code", null, s.id), s.session ? h("div", { class: "hint" }, s.session) : null),
                  h("td", null, formatTime(s.created_at)),
                  h("td", { class: "num" }, s.usage ? `${(s.usage.active_ms / 1000).toFixed(2)} s` : "–"),
                  h("td", { class: "num" }, s.usage ? `${(s.usage.cpu_ms / 1000).toFixed(2)} s` : "–"),
                  h("td", { class: "num executions" }, String(s.usage?.executions ?? "–")),
                  h("td", { class: "num" }, s.usage ? formatBytes(s.usage.memory_peak_bytes) : "–"),
                ),
              ),
            ),
          )),
    );
  }

  const poller = new Poller(refresh, 5000);

  return {
    title: "Usage",
    root,
    show() {
      if (liveBox.checked) poller.start();
      else void poller.tick();
    },
    hide() {
      poller.stop();
    },
  };
}
