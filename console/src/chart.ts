// Bar charts drawn as SVG: one bar per day, a y axis with round ticks.
import { h, s, uid } from "./dom";
import { formatNumber } from "./format";

// Round tick values from 0 up to at least max (about `count` steps).
export function niceTicks(max: number, count = 4): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((st) => st >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = 0; v < max + step * 0.999; v += step) ticks.push(Number(v.toPrecision(12)));
  if (ticks.length < 2) ticks.push(step);
  return ticks;
}

export interface Series {
  title: string;
  unit: string;
  points: { label: string; value: number }[];
}

const W = 640;
const H = 220;
const M = { l: 52, r: 12, t: 14, b: 34 };

export function barChart(series: Series): HTMLElement {
  const titleId = uid("ct");
  const descId = uid("cd");
  const pts = series.points;
  const max = Math.max(0, ...pts.map((p) => p.value));
  const ticks = niceTicks(max);
  const top = ticks[ticks.length - 1] || 1;
  const plotW = W - M.l - M.r;
  const plotH = H - M.t - M.b;
  const band = plotW / Math.max(1, pts.length);
  const barW = Math.max(1, Math.min(40, band * 0.7));
  const y = (v: number) => M.t + plotH - (v / top) * plotH;
  const total = pts.reduce((a, p) => a + p.value, 0);
  const peak = pts.reduce((a, p) => (p.value > a.value ? p : a), { label: "", value: -1 });
  const desc =
    total === 0
      ? `No ${series.title.toLowerCase()} in these ${pts.length} days.`
      : `${formatNumber(total, 2)} ${series.unit} over ${pts.length} days; highest ${formatNumber(peak.value, 2)} on ${peak.label}.`;

  const svg = s(
    "svg",
    {
      viewBox: `0 0 ${W} ${H}`,
      role: "img",
      "aria-labelledby": titleId,
      "aria-describedby": descId,
      class: "chart",
      preserveAspectRatio: "xMidYMid meet",
    },
    s("title", { id: titleId }, series.title),
    s("desc", { id: descId }, desc),
  );
  const grid = s("g", { class: "grid" });
  for (const t of ticks) {
    grid.appendChild(s("line", { x1: M.l, x2: W - M.r, y1: y(t), y2: y(t) }));
    grid.appendChild(s("text", { x: M.l - 6, y: y(t) + 4, "text-anchor": "end", class: "tick" }, formatNumber(t, 2)));
  }
  svg.appendChild(grid);
  const bars = s("g", { class: "bars" });
  const every = Math.max(1, Math.ceil(pts.length / 8));
  pts.forEach((p, i) => {
    const x = M.l + i * band + (band - barW) / 2;
    const hgt = Math.max(p.value > 0 ? 1 : 0, y(0) - y(p.value));
    bars.appendChild(
      s(
        "rect",
        { x, y: y(0) - hgt, width: barW, height: hgt, class: "bar", "data-date": p.label, "data-value": p.value },
        s("title", null, `${p.label}: ${formatNumber(p.value, 2)} ${series.unit}`),
      ),
    );
    if (i % every === 0 || i === pts.length - 1) {
      bars.appendChild(
        s("text", { x: M.l + i * band + band / 2, y: H - M.b + 16, "text-anchor": "middle", class: "tick" }, p.label.slice(5)),
      );
    }
  });
  svg.appendChild(bars);
  svg.appendChild(s("line", { x1: M.l, x2: W - M.r, y1: y(0), y2: y(0), class: "axis" }));
  return h(
    "figure",
    { class: "chart-card" },
    h("figcaption", null, h("strong", null, series.title), h("span", { class: "hint" }, ` · ${desc}`)),
    svg,
  );
}
