// Formatting helpers (pure; unit-tested in format.test.ts).

export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return "–";
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

// "45 s", "3 min", "2 h 5 min", "3 d 4 h".
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "–";
  const neg = seconds < 0;
  let s = Math.round(Math.abs(seconds));
  let out: string;
  if (s < 60) out = `${s} s`;
  else if (s < 3600) out = `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ""}`;
  else if (s < 86400) {
    const hrs = Math.floor(s / 3600);
    s %= 3600;
    out = `${hrs} h${s >= 60 ? ` ${Math.floor(s / 60)} min` : ""}`;
  } else {
    const d = Math.floor(s / 86400);
    const hrs = Math.floor((s % 86400) / 3600);
    out = `${d} d${hrs ? ` ${hrs} h` : ""}`;
  }
  return neg ? `-${out}` : out;
}

export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

export function formatNumber(n: number, digits = 1): string {
  if (!Number.isFinite(n)) return "–";
  if (Number.isInteger(n)) return n.toLocaleString("en-US");
  return n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

// Seconds from now until an RFC 3339 time (negative once past).
export function secondsUntil(iso: string, now = Date.now()): number {
  return (Date.parse(iso) - now) / 1000;
}

export function formatTime(iso: string | null): string {
  if (!iso) return "never";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });
}

// "2026-11-22" in UTC, `days` days before `now`.
export function utcDate(daysAgo: number, now = new Date()): string {
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  d.setUTCDate(d.getUTCDate() - daysAgo);
  return d.toISOString().slice(0, 10);
}

// Every date from `from` to `to` (inclusive, "YYYY-MM-DD", UTC).
export function dateRange(from: string, to: string): string[] {
  const out: string[] = [];
  const d = new Date(`${from}T00:00:00Z`);
  const end = new Date(`${to}T00:00:00Z`);
  while (d <= end && out.length < 1000) {
    out.push(d.toISOString().slice(0, 10));
    d.setUTCDate(d.getUTCDate() + 1);
  }
  return out;
}

// Removes ANSI escape sequences (colour codes in tracebacks).
export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b[@-Z\\-_]/g, "");
}

// RFC 4180 CSV: fields with a comma, quote or line break are quoted. A
// field that a spreadsheet would read as a formula gets a leading quote.
export function toCsv(rows: (string | number | null)[][]): string {
  const cell = (v: string | number | null): string => {
    let s = v === null ? "" : String(v);
    if (typeof v === "string" && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return rows.map((r) => r.map(cell).join(",")).join("\r\n") + "\r\n";
}

export function basename(path: string): string {
  const parts = path.split("/").filter(Boolean);
  return parts[parts.length - 1] ?? "";
}

export function joinPath(dir: string, name: string): string {
  return (dir.endsWith("/") ? dir : dir + "/") + name;
}

export function parentPath(path: string): string {
  const parts = path.split("/").filter(Boolean);
  parts.pop();
  return "/" + parts.join("/");
}
