/** Pure geometry for editing: box moves and resizes, brush dabs, hit tests. All in image pixels. */
import type { Box } from "../api/types";
import { HANDLES, handlePoints, type Handle } from "../viewer/overlay";
import type { Mask } from "../viewer/rle";

export function clampBox([x, y, w, h]: Box, width: number, height: number): Box {
  const x0 = Math.max(0, Math.min(width, x));
  const y0 = Math.max(0, Math.min(height, y));
  const x1 = Math.max(0, Math.min(width, x + w));
  const y1 = Math.max(0, Math.min(height, y + h));
  return [x0, y0, x1 - x0, y1 - y0];
}

export function roundBox(b: Box): Box {
  return b.map((v) => Math.round(v * 100) / 100) as Box;
}

/** Box from two corners, any order. */
export function boxFromPoints(ax: number, ay: number, bx: number, by: number): Box {
  return [Math.min(ax, bx), Math.min(ay, by), Math.abs(bx - ax), Math.abs(by - ay)];
}

export function moveBox([x, y, w, h]: Box, dx: number, dy: number, width: number, height: number): Box {
  const nx = Math.max(0, Math.min(width - w, x + dx));
  const ny = Math.max(0, Math.min(height - h, y + dy));
  return [nx, ny, w, h];
}

/** Drag one handle of a box to (px, py); the opposite side stays put. */
export function resizeBox(box: Box, handle: Handle, px: number, py: number, width: number, height: number): Box {
  let [x0, y0] = [box[0], box[1]];
  let [x1, y1] = [box[0] + box[2], box[1] + box[3]];
  px = Math.max(0, Math.min(width, px));
  py = Math.max(0, Math.min(height, py));
  if (handle.includes("w")) x0 = px;
  if (handle.includes("e")) x1 = px;
  if (handle.startsWith("n")) y0 = py;
  if (handle.startsWith("s")) y1 = py;
  return boxFromPoints(x0, y0, x1, y1);
}

export function hitHandle(box: Box, px: number, py: number, tolerance: number): Handle | null {
  const pts = handlePoints(box);
  for (let i = 0; i < pts.length; i++) {
    if (Math.abs(pts[i][0] - px) <= tolerance && Math.abs(pts[i][1] - py) <= tolerance) return HANDLES[i];
  }
  return null;
}

export function inBox([x, y, w, h]: Box, px: number, py: number, tolerance = 0): boolean {
  return px >= x - tolerance && px <= x + w + tolerance && py >= y - tolerance && py <= y + h + tolerance;
}

export function inMask(mask: Mask | null, px: number, py: number): boolean {
  if (!mask) return false;
  const x = Math.floor(px);
  const y = Math.floor(py);
  return x >= 0 && y >= 0 && x < mask.width && y < mask.height && mask.data[y * mask.width + x] === 1;
}

/**
 * Paint (value 1) or erase (value 0) a disc of radius r centred at (cx, cy)
 * (COCO coordinates: pixel (i, j) has its centre at (i + ½, j + ½)).
 * `accept` limits painting to pixels whose value passes (threshold brush).
 * Returns whether any pixel changed.
 */
export function dab(
  mask: Mask,
  cx: number,
  cy: number,
  r: number,
  value: 0 | 1,
  accept?: (x: number, y: number) => boolean,
): boolean {
  const { width: w, height: h, data } = mask;
  const x0 = Math.max(0, Math.floor(cx - r));
  const x1 = Math.min(w - 1, Math.ceil(cx + r));
  const y0 = Math.max(0, Math.floor(cy - r));
  const y1 = Math.min(h - 1, Math.ceil(cy + r));
  const r2 = r * r;
  let changed = false;
  for (let y = y0; y <= y1; y++) {
    const dy = y + 0.5 - cy;
    for (let x = x0; x <= x1; x++) {
      const dx = x + 0.5 - cx;
      if (dx * dx + dy * dy > r2) continue;
      const i = y * w + x;
      if (data[i] === value) continue;
      if (value === 1 && accept && !accept(x, y)) continue;
      data[i] = value;
      changed = true;
    }
  }
  return changed;
}

/** Dabs along a segment so fast strokes leave no gaps. */
export function stroke(
  mask: Mask,
  from: [number, number],
  to: [number, number],
  r: number,
  value: 0 | 1,
  accept?: (x: number, y: number) => boolean,
): boolean {
  const dist = Math.hypot(to[0] - from[0], to[1] - from[1]);
  const steps = Math.max(1, Math.ceil(dist / Math.max(0.5, r / 2)));
  let changed = false;
  for (let i = 1; i <= steps; i++) {
    const t = i / steps;
    changed = dab(mask, from[0] + (to[0] - from[0]) * t, from[1] + (to[1] - from[1]) * t, r, value, accept) || changed;
  }
  return changed;
}
