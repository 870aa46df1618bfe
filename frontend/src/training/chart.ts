/**
 * The arithmetic of the small SVG charts on the Models page: extents, "nice" ticks,
 * linear scales, paths with gaps for missing values, and downsampling long curves.
 * No DOM here, so it is unit-tested.
 */
export type Point = [number, number | null];

export interface Scale {
  (v: number): number;
  domain: [number, number];
  range: [number, number];
}

/** Finite min and max of the values, or null when there is none. */
export function extent(values: Iterable<number | null | undefined>): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v == null || !Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo <= hi ? [lo, hi] : null;
}

/** 1, 2, 2.5 or 5 times a power of ten, the step closest above span/count. */
export function niceStep(span: number, count: number): number {
  if (!(span > 0) || !(count > 0)) return 1;
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const f = raw / power;
  const m = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10;
  return m * power;
}

/** A domain widened to whole steps, and its ticks (about `count` of them). */
export function niceTicks(lo: number, hi: number, count = 5): { domain: [number, number]; ticks: number[] } {
  if (lo === hi) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const step = niceStep(hi - lo, count);
  const start = Math.floor(lo / step + 1e-9) * step;
  const end = Math.ceil(hi / step - 1e-9) * step;
  const ticks: number[] = [];
  const digits = Math.max(0, -Math.floor(Math.log10(step)) + 2);
  for (let v = start, i = 0; v <= end + step * 1e-9 && i < 1000; i++, v = start + i * step) {
    ticks.push(Number(v.toFixed(digits)));
  }
  return { domain: [ticks[0], ticks[ticks.length - 1]], ticks };
}

/** Ticks on whole numbers only (version numbers): no tick past the data, at most ~8 ticks. */
export function integerTicks(lo: number, hi: number): { domain: [number, number]; ticks: number[] } {
  const first = Math.floor(lo);
  const last = Math.ceil(hi);
  const step = Math.max(1, Math.ceil((last - first) / 8));
  const ticks: number[] = [];
  for (let v = first; v <= last; v += step) ticks.push(v);
  const pad = last > first ? 0.3 : 1;
  return { domain: [first - pad, last + pad], ticks };
}

export function linearScale(domain: [number, number], range: [number, number]): Scale {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  const k = d1 === d0 ? 0 : (r1 - r0) / (d1 - d0);
  const s = ((v: number) => (d1 === d0 ? (r0 + r1) / 2 : r0 + (v - d0) * k)) as Scale;
  s.domain = domain;
  s.range = range;
  return s;
}

/** An SVG path through the points; a null value breaks the line (M starts a new piece). */
export function linePath(points: Point[], x: (v: number) => number, y: (v: number) => number): string {
  const parts: string[] = [];
  let pen = false;
  for (const [px, py] of points) {
    if (py == null || !Number.isFinite(py) || !Number.isFinite(px)) {
      pen = false;
      continue;
    }
    parts.push(`${pen ? "L" : "M"}${round(x(px))},${round(y(py))}`);
    pen = true;
  }
  return parts.join("");
}

function round(v: number): string {
  return String(Math.round(v * 10) / 10);
}

/**
 * At most about `max` points: each bucket keeps its lowest and highest point (in order),
 * so spikes survive; the first and last points are always kept.
 */
export function downsample(points: [number, number][], max: number): [number, number][] {
  if (points.length <= max || max < 4) return points.slice();
  const buckets = Math.floor((max - 2) / 2);
  const inner = points.slice(1, -1);
  const size = inner.length / buckets;
  const out: [number, number][] = [points[0]];
  for (let b = 0; b < buckets; b++) {
    const from = Math.floor(b * size);
    const to = Math.min(inner.length, Math.floor((b + 1) * size));
    if (to <= from) continue;
    let lo = from;
    let hi = from;
    for (let i = from; i < to; i++) {
      if (inner[i][1] < inner[lo][1]) lo = i;
      if (inner[i][1] > inner[hi][1]) hi = i;
    }
    if (lo === hi) out.push(inner[lo]);
    else out.push(inner[Math.min(lo, hi)], inner[Math.max(lo, hi)]);
  }
  out.push(points[points.length - 1]);
  return out;
}

/** Exponential moving average (the trend line drawn over a noisy loss). */
export function ema(points: [number, number][], alpha: number): [number, number][] {
  let acc: number | null = null;
  return points.map(([x, y]) => {
    acc = acc == null ? y : alpha * y + (1 - alpha) * acc;
    return [x, acc];
  });
}

/** Short tick labels: 1200 → "1.2k", 0.25 → "0.25". */
export function tickLabel(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${trim(v / 1e6)}M`;
  if (a >= 1e4) return `${trim(v / 1e3)}k`;
  if (a >= 100 || v === 0) return String(Math.round(v));
  return trim(v);
}

function trim(v: number): string {
  return String(Number(v.toPrecision(3)));
}
