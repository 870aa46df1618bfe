/** A small line chart drawn as inline SVG (text as text nodes only). */
import { extent, integerTicks, linePath, linearScale, niceTicks, tickLabel, type Point } from "../training/chart";

const NS = "http://www.w3.org/2000/svg";

export interface ChartSeries {
  name: string;
  points: Point[];
  color: string;
  /** dots on every point (few points: versions) */
  dots?: boolean;
  width?: number;
  opacity?: number;
  /** leave it out of the legend */
  hidden?: boolean;
}

export interface ChartOptions {
  series: ChartSeries[];
  width?: number;
  height?: number;
  xLabel?: string;
  yLabel?: string;
  /** fixed y domain (e.g. [0, 1] for AP); otherwise from the data */
  yDomain?: [number, number];
  /** x ticks on whole numbers only (version numbers) */
  xIntegers?: boolean;
  empty?: string;
  testid?: string;
}

/** An SVG element with its attributes and, when given, its text. */
export function el<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}, text?: string): SVGElementTagNameMap[K] {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

export function lineChart(o: ChartOptions): SVGSVGElement {
  const W = o.width ?? 560;
  const H = o.height ?? 220;
  const m = { top: 26, right: 14, bottom: 36, left: 48 };
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img" });
  if (o.testid) svg.setAttribute("data-testid", o.testid);
  const xs = extent(o.series.flatMap((s) => s.points.map((p) => p[0])));
  const ys = o.yDomain ?? extent(o.series.flatMap((s) => s.points.map((p) => p[1])));
  if (!xs || !ys) {
    svg.appendChild(el("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "chart-empty" }, o.empty ?? "No data yet"));
    return svg;
  }
  const yt = o.yDomain ? { domain: o.yDomain, ticks: niceTicks(o.yDomain[0], o.yDomain[1], 4).ticks } : niceTicks(ys[0], ys[1], 4);
  const xt = o.xIntegers ? integerTicks(xs[0], xs[1]) : niceTicks(xs[0], xs[1], 6);
  const x = linearScale(xt.domain, [m.left, W - m.right]);
  const y = linearScale(yt.domain, [H - m.bottom, m.top]);

  const grid = el("g", { class: "chart-grid" });
  for (const t of yt.ticks) {
    grid.appendChild(el("line", { x1: m.left, x2: W - m.right, y1: y(t), y2: y(t) }));
    grid.appendChild(el("text", { x: m.left - 6, y: y(t) + 4, "text-anchor": "end" }, tickLabel(t)));
  }
  for (const t of xt.ticks) {
    grid.appendChild(el("line", { x1: x(t), x2: x(t), y1: H - m.bottom, y2: H - m.bottom + 4 }));
    grid.appendChild(el("text", { x: x(t), y: H - m.bottom + 16, "text-anchor": "middle" }, o.xIntegers ? `v${t}` : tickLabel(t)));
  }
  grid.appendChild(el("line", { x1: m.left, x2: W - m.right, y1: H - m.bottom, y2: H - m.bottom, class: "axis" }));
  svg.appendChild(grid);
  if (o.xLabel) svg.appendChild(el("text", { x: (m.left + W - m.right) / 2, y: H - 4, "text-anchor": "middle", class: "chart-label" }, o.xLabel));
  if (o.yLabel) {
    svg.appendChild(
      el("text", { x: 12, y: (m.top + H - m.bottom) / 2, "text-anchor": "middle", class: "chart-label", transform: `rotate(-90 12 ${(m.top + H - m.bottom) / 2})` }, o.yLabel),
    );
  }

  for (const s of o.series) {
    const g = el("g", { class: "chart-series", "data-series": s.name });
    const d = linePath(s.points, x, y);
    if (d) {
      g.appendChild(
        el("path", { d, fill: "none", stroke: s.color, "stroke-width": s.width ?? 1.6, "stroke-opacity": s.opacity ?? 1, "stroke-linejoin": "round" }),
      );
    }
    if (s.dots) {
      for (const [px, py] of s.points) {
        if (py == null) continue;
        const dot = el("circle", { cx: x(px), cy: y(py), r: 3.5, fill: s.color });
        dot.appendChild(el("title", {}, `${s.name}, v${px}: ${py.toFixed(3)}`));
        g.appendChild(dot);
      }
    }
    svg.appendChild(g);
  }

  const legend = el("g", { class: "chart-legend" });
  let lx = m.left + 6;
  for (const s of o.series.filter((s) => !s.hidden)) {
    legend.appendChild(el("rect", { x: lx, y: 9, width: 10, height: 3, fill: s.color }));
    const t = el("text", { x: lx + 14, y: 14 }, s.name);
    legend.appendChild(t);
    lx += 24 + s.name.length * 6.2;
  }
  svg.appendChild(legend);
  return svg;
}
