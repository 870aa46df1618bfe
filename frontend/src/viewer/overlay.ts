/**
 * Draws the image's annotations — boxes and masks in their class colour — on
 * a 2D canvas laid over the Cornerstone viewport.
 *
 * Why a canvas overlay and not a Cornerstone labelmap: a labelmap holds one
 * segment per pixel, but Mask R-CNN proposals overlap (a proposal and the
 * accepted label on the same lesion, or two classes on one region), and each
 * annotation needs its own look (dashed, translucent, selected) and its own
 * COCO RLE on save. One labelmap per annotation would be one derived image
 * and one GPU texture per annotation (50 on a busy image). Here each mask is a
 * `Uint8Array` at image resolution, drawn through the viewport's pixel →
 * canvas transform, so zoom/pan/resize stay exact and 50 masks are 50
 * drawImage calls of cached bitmaps.
 */
import type { LabelClass } from "../api/types";
import type { LocalAnnotation } from "../editing/document";
import { applyAffine, type Affine, type Vec2 } from "./coords";
import { placeTags, readableOn } from "./labelPlacement";
import type { Mask } from "./rle";

export interface OverlayState {
  affine: Affine | null;
  annotations: LocalAnnotation[];
  classes: Map<number, LabelClass>;
  selectedKey: string | null;
  showProposals: boolean;
  showAccepted: boolean;
  /** masks as outlines only, so the anatomy under them stays visible */
  outline: boolean;
  /** labels to point out (a save conflict is about them) */
  highlight: string[];
  /** how strongly masks are filled (1 = the default look) */
  opacity: number;
  /** millimetres per image pixel along a row, for the scale bar; null: no spacing known */
  mmPerPixel: number | null;
  /** brush outline in image pixels */
  cursor: { x: number; y: number; r: number; erase: boolean } | null;
  /** a box being drawn, image pixels */
  draft: [number, number, number, number] | null;
  /** independent reads' boxes being adjudicated, each in its reader's colour */
  reads?: { box: [number, number, number, number]; color: string }[];
}

export function isVisible(a: LocalAnnotation, s: Pick<OverlayState, "showProposals" | "showAccepted">): boolean {
  if (a.status === "rejected") return false;
  return a.status === "proposed" ? s.showProposals : s.showAccepted;
}

function rgb(hex: string): [number, number, number] {
  const m = /^#?([0-9a-f]{6})$/i.exec(hex);
  const n = m ? parseInt(m[1], 16) : 0xffcc00;
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

interface Bitmap {
  canvas: HTMLCanvasElement | OffscreenCanvas;
  style: string;
  stamp: number;
}

export class AnnotationOverlay {
  readonly canvas: HTMLCanvasElement;
  private ctx: CanvasRenderingContext2D;
  private bitmaps = new WeakMap<Mask, Bitmap>();
  private stamps = new WeakMap<Mask, number>();

  constructor(parent: HTMLElement) {
    this.canvas = document.createElement("canvas");
    this.canvas.className = "annotation-overlay";
    parent.appendChild(this.canvas);
    this.ctx = this.canvas.getContext("2d")!;
  }

  /** The mask's pixels changed in place (brush): rebuild its bitmap on the next render. */
  invalidate(mask: Mask): void {
    this.stamps.set(mask, (this.stamps.get(mask) ?? 0) + 1);
  }

  private bitmap(mask: Mask, color: string, proposed: boolean, selected: boolean, outline: boolean, opacity: number): Bitmap["canvas"] {
    const style = `${color}|${proposed}|${selected}|${outline}|${opacity}`;
    const stamp = this.stamps.get(mask) ?? 0;
    const cached = this.bitmaps.get(mask);
    if (cached && cached.style === style && cached.stamp === stamp) return cached.canvas;
    const { width: w, height: h, data } = mask;
    const canvas = cached?.canvas ?? (typeof OffscreenCanvas !== "undefined" ? new OffscreenCanvas(w, h) : document.createElement("canvas"));
    canvas.width = w;
    canvas.height = h;
    const c2d = canvas.getContext("2d") as CanvasRenderingContext2D;
    const img = c2d.createImageData(w, h);
    const out = new Uint32Array(img.data.buffer);
    const [r, g, b] = rgb(color);
    const fillA = outline ? 0 : Math.round(255 * opacity * (selected ? 0.5 : proposed ? 0.22 : 0.4));
    const fill = (fillA << 24) | (b << 16) | (g << 8) | r;
    const edge = (255 << 24) | (b << 16) | (g << 8) | r;
    for (let y = 0; y < h; y++) {
      const row = y * w;
      for (let x = 0; x < w; x++) {
        const i = row + x;
        if (!data[i]) continue;
        const border =
          x === 0 || y === 0 || x === w - 1 || y === h - 1 || !data[i - 1] || !data[i + 1] || !data[i - w] || !data[i + w];
        // proposals get a dashed outline, accepted labels a solid one
        if (border && (!proposed || ((x + y) & 4) === 0)) out[i] = edge;
        else if (fillA) out[i] = fill;
      }
    }
    c2d.putImageData(img, 0, 0);
    this.bitmaps.set(mask, { canvas, style, stamp });
    return canvas;
  }

  render(s: OverlayState): void {
    const dpr = window.devicePixelRatio || 1;
    const { clientWidth: cw, clientHeight: ch } = this.canvas;
    if (this.canvas.width !== Math.round(cw * dpr) || this.canvas.height !== Math.round(ch * dpr)) {
      this.canvas.width = Math.round(cw * dpr);
      this.canvas.height = Math.round(ch * dpr);
    }
    const ctx = this.ctx;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    if (!s.affine) return;
    const m = s.affine;
    const toCanvas = (p: Vec2) => applyAffine(m, p);
    const scale = Math.hypot(m[0], m[1]);

    const visible = s.annotations.filter((a) => isVisible(a, s));
    // draw the selected one last, on top
    visible.sort((a, b) => Number(a.key === s.selectedKey) - Number(b.key === s.selectedKey));

    for (const a of visible) {
      if (!a.mask) continue;
      const cls = s.classes.get(a.label_class);
      const bm = this.bitmap(a.mask, cls?.color ?? "#ffcc00", a.status === "proposed", a.key === s.selectedKey, s.outline, s.opacity);
      ctx.setTransform(dpr * m[0], dpr * m[1], dpr * m[2], dpr * m[3], dpr * m[4], dpr * m[5]);
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(bm, 0, 0);
    }

    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    for (const a of visible) {
      const cls = s.classes.get(a.label_class);
      const color = cls?.color ?? "#ffcc00";
      const proposed = a.status === "proposed";
      const selected = a.key === s.selectedKey;
      const [x, y, w, h] = a.box;
      const corners = [toCanvas([x, y]), toCanvas([x + w, y]), toCanvas([x + w, y + h]), toCanvas([x, y + h])];
      ctx.beginPath();
      corners.forEach(([cx, cy], i) => (i ? ctx.lineTo(cx, cy) : ctx.moveTo(cx, cy)));
      ctx.closePath();
      ctx.setLineDash(proposed ? [6, 4] : []);
      ctx.lineWidth = selected ? 2.5 : 1.5;
      ctx.strokeStyle = color;
      if (proposed && !a.mask) {
        const [r, g, b] = rgb(color);
        ctx.fillStyle = `rgba(${r},${g},${b},0.12)`;
        ctx.fill();
      }
      ctx.stroke();
      ctx.setLineDash([]);

      if (selected) {
        ctx.fillStyle = "#fff";
        ctx.strokeStyle = "#000";
        ctx.lineWidth = 1;
        for (const [hx, hy] of handlePoints(a.box)) {
          const [px, py] = toCanvas([hx, hy]);
          ctx.fillRect(px - 4, py - 4, 8, 8);
          ctx.strokeRect(px - 4, py - 4, 8, 8);
        }
      }
    }

    this.tags(ctx, visible, s, toCanvas);

    for (const key of s.highlight) {
      const a = s.annotations.find((x) => x.key === key);
      if (!a) continue;
      const [x, y, w, h] = a.box;
      const [ax, ay] = toCanvas([x, y]);
      const [bx, by] = toCanvas([x + w, y + h]);
      ctx.setLineDash([8, 4]);
      ctx.lineWidth = 3;
      ctx.strokeStyle = "#ffd166";
      ctx.strokeRect(ax - 5, ay - 5, bx - ax + 10, by - ay + 10);
      ctx.setLineDash([]);
    }

    for (const { box, color } of s.reads ?? []) {
      const [ax, ay] = toCanvas([box[0], box[1]]);
      const [bx, by] = toCanvas([box[0] + box[2], box[1] + box[3]]);
      ctx.setLineDash([3, 3]);
      ctx.lineWidth = 2;
      ctx.strokeStyle = color;
      ctx.strokeRect(ax - 2, ay - 2, bx - ax + 4, by - ay + 4);
      ctx.setLineDash([]);
    }

    if (s.mmPerPixel) this.scaleBar(ctx, scale / s.mmPerPixel);
    this.canvas.dataset.opacity = String(s.opacity);

    if (s.draft) {
      const [x, y, w, h] = s.draft;
      const [ax, ay] = toCanvas([x, y]);
      const [bx, by] = toCanvas([x + w, y + h]);
      ctx.setLineDash([4, 3]);
      ctx.strokeStyle = "#fff";
      ctx.lineWidth = 1.5;
      ctx.strokeRect(ax, ay, bx - ax, by - ay);
      ctx.setLineDash([]);
    }

    if (s.cursor) {
      const [cx, cy] = toCanvas([s.cursor.x, s.cursor.y]);
      ctx.beginPath();
      ctx.arc(cx, cy, s.cursor.r * scale, 0, Math.PI * 2);
      ctx.strokeStyle = s.cursor.erase ? "#ff6b6b" : "#ffffff";
      ctx.lineWidth = 1;
      ctx.stroke();
    }
  }

  /** A bar of a round length in mm, 60–150 screen pixels long, bottom left. */
  /**
   * Each label's name (and a proposal's score) in a tag of its class colour, with black or
   * white text, whichever reads on that colour; tags never cover each other (the selected
   * label's is placed first).
   */
  private tags(ctx: CanvasRenderingContext2D, visible: LocalAnnotation[], s: OverlayState, toCanvas: (p: Vec2) => Vec2): void {
    ctx.font = "12px system-ui, sans-serif";
    const order = [...visible].sort((a, b) => Number(b.key === s.selectedKey) - Number(a.key === s.selectedKey));
    const texts = order.map((a) => {
      const cls = s.classes.get(a.label_class);
      return `${cls?.name ?? `class ${a.label_class}`}${a.status === "proposed" && a.score != null ? ` ${a.score.toFixed(2)}` : ""}`;
    });
    const requests = order.map((a, i) => {
      const [x, y, w, h] = a.box;
      const corners = [toCanvas([x, y]), toCanvas([x + w, y + h])];
      const left = Math.min(corners[0][0], corners[1][0]);
      const top = Math.min(corners[0][1], corners[1][1]);
      const box = { x: left, y: top, w: Math.abs(corners[1][0] - corners[0][0]), h: Math.abs(corners[1][1] - corners[0][1]) };
      return { box, w: ctx.measureText(texts[i]).width + 8, h: 16 };
    });
    const placed = placeTags(requests, this.canvas.clientWidth, this.canvas.clientHeight);
    order.forEach((a, i) => {
      const color = s.classes.get(a.label_class)?.color ?? "#ffcc00";
      const tag = placed[i];
      ctx.fillStyle = color;
      ctx.fillRect(tag.x, tag.y, tag.w, tag.h);
      ctx.strokeStyle = "rgba(0,0,0,0.8)";
      ctx.lineWidth = 1;
      ctx.strokeRect(tag.x + 0.5, tag.y + 0.5, tag.w - 1, tag.h - 1);
      ctx.fillStyle = readableOn(color);
      ctx.fillText(texts[i], tag.x + 4, tag.y + 12);
    });
    this.canvas.dataset.tags = JSON.stringify(placed.map((t) => [t.x, t.y, t.w, t.h].map(Math.round)));
  }

  private scaleBar(ctx: CanvasRenderingContext2D, pxPerMm: number): void {
    const mm = [1, 2, 5, 10, 20, 50, 100, 200, 500].find((l) => l * pxPerMm >= 60) ?? 500;
    const len = mm * pxPerMm;
    const h = this.canvas.clientHeight;
    const x = 10;
    const y = h - 34;
    ctx.strokeStyle = "#e8e8e8";
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.moveTo(x, y - 4);
    ctx.lineTo(x, y);
    ctx.lineTo(x + len, y);
    ctx.lineTo(x + len, y - 4);
    ctx.stroke();
    ctx.fillStyle = "#e8e8e8";
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillText(`${mm} mm`, x + len + 6, y + 3);
    this.canvas.dataset.scaleBar = `${mm} mm`;
  }

  destroy(): void {
    this.canvas.remove();
  }
}

export type Handle = "nw" | "n" | "ne" | "e" | "se" | "s" | "sw" | "w";

export const HANDLES: Handle[] = ["nw", "n", "ne", "e", "se", "s", "sw", "w"];

export function handlePoints([x, y, w, h]: [number, number, number, number]): Vec2[] {
  return [
    [x, y],
    [x + w / 2, y],
    [x + w, y],
    [x + w, y + h / 2],
    [x + w, y + h],
    [x + w / 2, y + h],
    [x, y + h],
    [x, y + h / 2],
  ];
}
