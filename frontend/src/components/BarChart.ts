/**
 * A small horizontal bar chart drawn as inline SVG (text as text nodes only): a row per bar,
 * its label on the left and its value at the bar's end; a value that is not measured gets no
 * bar, only its text.
 */
import { linearScale, niceTicks, tickLabel } from "../training/chart";
import { el } from "./LineChart";

export interface Bar {
  /** the row's `data-key` */
  key: string;
  /** left of the bar, e.g. a reader and what the figure rests on */
  label: string;
  value: number | null;
  /** at the bar's end: the value, or "not measured" */
  text: string;
  /** on hover: why a value is missing, or what it is */
  title?: string;
}

export interface BarChartOptions {
  bars: Bar[];
  domain: [number, number];
  width?: number;
  xLabel?: string;
  color?: string;
  empty?: string;
  testid?: string;
  /** each bar's row (a `g`) gets it as `data-testid` */
  barTestid?: string;
}

const ROW = 24;

export function barChart(o: BarChartOptions): SVGSVGElement {
  const W = o.width ?? 560;
  const m = { top: 10, right: 96, bottom: o.xLabel ? 38 : 24, left: 180 };
  const H = m.top + m.bottom + Math.max(1, o.bars.length) * ROW;
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart bar-chart", role: "img" });
  if (o.testid) svg.setAttribute("data-testid", o.testid);
  if (!o.bars.length) {
    svg.appendChild(el("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "chart-empty" }, o.empty ?? "No data yet"));
    return svg;
  }
  const x = linearScale(o.domain, [m.left, W - m.right]);
  const bottom = H - m.bottom;
  const grid = el("g", { class: "chart-grid" });
  for (const t of niceTicks(o.domain[0], o.domain[1], 4).ticks) {
    grid.appendChild(el("line", { x1: x(t), x2: x(t), y1: m.top, y2: bottom }));
    grid.appendChild(el("text", { x: x(t), y: bottom + 14, "text-anchor": "middle" }, tickLabel(t)));
  }
  grid.appendChild(el("line", { x1: m.left, x2: m.left, y1: m.top, y2: bottom, class: "axis" }));
  svg.appendChild(grid);
  if (o.xLabel) svg.appendChild(el("text", { x: (m.left + W - m.right) / 2, y: H - 6, "text-anchor": "middle", class: "chart-label" }, o.xLabel));

  o.bars.forEach((b, i) => {
    const y = m.top + i * ROW;
    const row = el("g", { class: "chart-bar", "data-key": b.key, "data-measured": String(b.value != null) });
    if (o.barTestid) row.setAttribute("data-testid", o.barTestid);
    row.appendChild(el("text", { x: m.left - 8, y: y + ROW / 2 + 4, "text-anchor": "end", class: "bar-label" }, b.label));
    let end = m.left;
    if (b.value != null) {
      end = x(Math.min(o.domain[1], Math.max(o.domain[0], b.value)));
      row.appendChild(el("rect", { x: m.left, y: y + 5, width: Math.max(1, end - m.left), height: ROW - 10, fill: o.color ?? "#4aa3ff" }));
    }
    row.appendChild(el("text", { x: end + 6, y: y + ROW / 2 + 4, class: b.value != null ? "bar-value" : "bar-value muted" }, b.text));
    if (b.title) row.appendChild(el("title", {}, b.title));
    svg.appendChild(row);
  });
  return svg;
}
