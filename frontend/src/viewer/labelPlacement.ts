/**
 * Where each label's name tag goes on the overlay, so tags stay readable: above its box when
 * that spot is free, else below it, else stacked further up, never over another tag, and
 * inside the canvas. Tags are placed in the order given (the selected label first).
 */
export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface TagRequest {
  /** the label's box on the canvas */
  box: Rect;
  /** the tag's size */
  w: number;
  h: number;
}

const overlaps = (a: Rect, b: Rect) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

export function placeTags(requests: TagRequest[], width: number, height: number, maxStack = 4): Rect[] {
  const placed: Rect[] = [];
  const clampX = (x: number, w: number) => Math.max(0, Math.min(x, width - w));
  const inside = (r: Rect) => r.y >= 0 && r.y + r.h <= height;
  for (const { box, w, h } of requests) {
    const x = clampX(box.x, w);
    const candidates: Rect[] = [
      { x, y: box.y - h - 1, w, h },
      { x, y: box.y + box.h + 1, w, h },
      ...Array.from({ length: maxStack }, (_, k) => ({ x, y: box.y - (k + 2) * (h + 1), w, h })),
      ...Array.from({ length: maxStack }, (_, k) => ({ x, y: box.y + box.h + 1 + (k + 1) * (h + 1), w, h })),
    ];
    const free = candidates.find((r) => inside(r) && !placed.some((p) => overlaps(p, r)));
    const tag = free ?? { x, y: Math.max(0, Math.min(box.y - h - 1, height - h)), w, h };
    placed.push(tag);
  }
  return placed;
}

/** Black or white, whichever reads better on ``hex`` (WCAG relative luminance). */
export function readableOn(hex: string): "#000" | "#fff" {
  const m = /^#?([0-9a-f]{6})$/i.exec(hex.trim());
  if (!m) return "#fff";
  const n = parseInt(m[1], 16);
  const channel = (v: number) => {
    const c = v / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const lum = 0.2126 * channel((n >> 16) & 255) + 0.7152 * channel((n >> 8) & 255) + 0.0722 * channel(n & 255);
  return (lum + 0.05) / 0.05 > 1.05 / (lum + 0.05) ? "#000" : "#fff";
}
