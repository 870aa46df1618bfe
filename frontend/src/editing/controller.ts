/**
 * Mouse editing on the image: select, move and resize boxes, draw new boxes,
 * paint and erase masks. Listens in the capture phase on the viewer wrapper
 * and stops the events it handles, so Cornerstone's window/level only gets
 * left-drags on empty image.
 */
import type { Box } from "../api/types";
import { applyAffine, invertAffine, type Affine } from "../viewer/coords";
import { cloneMask, createMask, maskBbox, type Mask } from "../viewer/rle";
import type { Handle } from "../viewer/overlay";
import type { AnnotationDoc, Change, LocalAnnotation } from "./document";
import { boxFromPoints, hitHandle, inBox, inMask, moveBox, resizeBox, roundBox, stroke } from "./geometry";

/**
 * "assist": a dragged box goes to the box → mask assist instead of becoming a label.
 * "measure": the left button belongs to Cornerstone's measurement tool of the moment.
 */
export type EditMode = "select" | "box" | "assist" | "brush" | "eraser" | "measure";

export interface EditHost {
  doc: AnnotationDoc;
  width: number;
  height: number;
  mode(): EditMode;
  /** pixel → canvas of the annotated image, null when another slice is shown */
  affine(): Affine | null;
  selected(): string | null;
  select(key: string | null): void;
  visible(a: LocalAnnotation): boolean;
  brushRadius(): number;
  /** threshold brush: whether a pixel may be painted */
  paintFilter(): ((x: number, y: number) => boolean) | undefined;
  /** class for a new annotation; null asks the user to pick one first */
  newClass(): number | null;
  newKey(): string;
  setCursor(c: { x: number; y: number; r: number; erase: boolean } | null): void;
  setDraft(b: Box | null): void;
  /** a mask changed in place */
  maskChanged(mask: Mask): void;
  render(): void;
  created(key: string): void;
  /** box → mask: fit a mask inside the box just dragged (``released`` is the mouse-up time) */
  assist(box: Box, released: number): void;
}

/** Screen pixels the pointer must travel before a press on a label becomes a drag. */
const DRAG_SLOP_PX = 3;

type Drag =
  | { kind: "move"; key: string; start: [number, number]; orig: Box; screen: [number, number]; moved: boolean }
  | { kind: "resize"; key: string; handle: Handle; orig: Box; screen: [number, number]; moved: boolean }
  | { kind: "box"; start: [number, number] }
  | { kind: "paint"; key: string; created: boolean; before: LocalAnnotation | null; mask: Mask; last: [number, number]; value: 0 | 1 };

export class EditController {
  private drag: Drag | null = null;

  constructor(
    private readonly wrapper: HTMLElement,
    private readonly host: EditHost,
  ) {
    wrapper.addEventListener("mousedown", this.onDown, true);
    wrapper.addEventListener("mousemove", this.onHover);
    wrapper.addEventListener("mouseleave", this.onLeave);
  }

  destroy(): void {
    this.wrapper.removeEventListener("mousedown", this.onDown, true);
    this.wrapper.removeEventListener("mousemove", this.onHover);
    this.wrapper.removeEventListener("mouseleave", this.onLeave);
    window.removeEventListener("mousemove", this.onMove, true);
    window.removeEventListener("mouseup", this.onUp, true);
  }

  /** Event → image pixel (COCO coordinates). */
  private toPixel(e: MouseEvent): [number, number] | null {
    const m = this.host.affine();
    if (!m) return null;
    const rect = this.wrapper.getBoundingClientRect();
    return applyAffine(invertAffine(m), [e.clientX - rect.left, e.clientY - rect.top]);
  }

  /** How many image pixels one screen pixel covers. */
  private pixelsPerScreenPixel(): number {
    const m = this.host.affine();
    return m ? 1 / Math.hypot(m[0], m[1]) : 1;
  }

  private hit(px: number, py: number): { key: string; handle: Handle | null } | null {
    const tol = 6 * this.pixelsPerScreenPixel();
    const sel = this.host.selected();
    const selA = sel ? this.host.doc.get(sel) : undefined;
    if (selA && this.host.visible(selA)) {
      const handle = hitHandle(selA.box, px, py, tol);
      if (handle) return { key: selA.key, handle };
    }
    const candidates = this.host.doc
      .list()
      .filter((a) => this.host.visible(a) && (inMask(a.mask, px, py) || inBox(a.box, px, py, tol / 2)))
      .sort((a, b) => a.box[2] * a.box[3] - b.box[2] * b.box[3]);
    // clicking again where the selected one is keeps it selected
    const keep = candidates.find((a) => a.key === sel);
    const pick = keep ?? candidates[0];
    return pick ? { key: pick.key, handle: null } : null;
  }

  private onDown = (e: MouseEvent) => {
    const mode = this.host.mode();
    // Shift + stroke extends the selected label wherever the stroke starts
    const extend = e.shiftKey && (mode === "brush" || mode === "eraser");
    if (e.button !== 0 || e.ctrlKey || (e.shiftKey && !extend) || e.altKey || e.metaKey) return;
    if (mode === "measure") return;
    const p = this.toPixel(e);
    if (!p) return;
    const { doc } = this.host;
    if (mode === "select") {
      const hit = this.hit(p[0], p[1]);
      if (!hit) {
        this.host.select(null);
        return; // window/level on empty image
      }
      this.host.select(hit.key);
      if (doc.locked) return; // selecting is reading: no move or resize
      const a = doc.get(hit.key)!;
      const screen: [number, number] = [e.clientX, e.clientY];
      this.drag = hit.handle
        ? { kind: "resize", key: hit.key, handle: hit.handle, orig: [...a.box] as Box, screen, moved: false }
        : { kind: "move", key: hit.key, start: p, orig: [...a.box] as Box, screen, moved: false };
    } else if (doc.refused()) {
      return stop(e);
    } else if (mode === "box" || mode === "assist") {
      this.drag = { kind: "box", start: p };
    } else {
      const value: 0 | 1 = mode === "brush" ? 1 : 0;
      // A brush stroke edits the selected label only when it starts inside its mask (or with
      // Shift); anywhere else it starts a new label. The eraser works on the selected label or
      // on the one under the pointer.
      let key = this.host.selected();
      let a = key ? doc.get(key) : undefined;
      if (a && !this.host.visible(a)) a = undefined;
      if (a && value === 1 && !extend && !inMask(a.mask, p[0], p[1])) a = undefined;
      if (!a && value === 0) {
        const under = this.hit(p[0], p[1]);
        a = under ? doc.get(under.key) : undefined;
      }
      if (!a && value === 0) return stop(e);
      let created = false;
      if (!a) {
        const cls = this.host.newClass();
        if (cls == null) return stop(e);
        created = true;
        key = this.host.newKey();
        a = {
          key,
          id: null,
          version: null,
          label_class: cls,
          box: [0, 0, 0, 0],
          mask: null,
          status: "accepted",
          score: null,
          source: "human",
          model_version: null,
        };
      }
      const mask = a.mask ? cloneMask(a.mask) : createMask(this.host.width, this.host.height);
      const before = created ? null : { ...a };
      if (created) doc.annotations.set(a.key, { ...a, mask });
      else doc.annotations.set(a.key, { ...a, mask });
      if (!created) this.host.select(a.key);
      this.drag = { kind: "paint", key: a.key, created, before, mask, last: p, value };
      this.paintTo(p);
    }
    window.addEventListener("mousemove", this.onMove, true);
    window.addEventListener("mouseup", this.onUp, true);
    stop(e);
  };

  private paintTo(p: [number, number]): void {
    const d = this.drag;
    if (!d || d.kind !== "paint") return;
    const accept = d.value === 1 ? this.host.paintFilter() : undefined;
    if (stroke(d.mask, d.last, p, this.host.brushRadius(), d.value, accept) || d.last === p) this.host.maskChanged(d.mask);
    d.last = p;
    this.host.setCursor({ x: p[0], y: p[1], r: this.host.brushRadius(), erase: d.value === 0 });
    this.host.render();
  }

  private onMove = (e: MouseEvent) => {
    const d = this.drag;
    const p = this.toPixel(e);
    if (!d || !p) return;
    const { doc, width, height } = this.host;
    if ((d.kind === "move" || d.kind === "resize") && !d.moved) {
      if (Math.hypot(e.clientX - d.screen[0], e.clientY - d.screen[1]) < DRAG_SLOP_PX) return stop(e);
      d.moved = true;
    }
    if (d.kind === "move") {
      const a = doc.get(d.key);
      if (a) a.box = moveBox(d.orig, p[0] - d.start[0], p[1] - d.start[1], width, height);
    } else if (d.kind === "resize") {
      const a = doc.get(d.key);
      if (a) a.box = resizeBox(d.orig, d.handle, p[0], p[1], width, height);
    } else if (d.kind === "box") {
      this.host.setDraft(boxFromPoints(d.start[0], d.start[1], clampTo(p[0], width), clampTo(p[1], height)));
    } else {
      this.paintTo(p);
      return stop(e);
    }
    this.host.render();
    stop(e);
  };

  private onUp = (e: MouseEvent) => {
    window.removeEventListener("mousemove", this.onMove, true);
    window.removeEventListener("mouseup", this.onUp, true);
    const d = this.drag;
    this.drag = null;
    if (!d) return;
    stop(e);
    const { doc } = this.host;
    if (d.kind === "move" || d.kind === "resize") {
      const a = doc.get(d.key);
      if (!a || !d.moved) return; // a click selects: looking is not editing
      const box = roundBox(a.box);
      a.box = d.orig; // restore, then apply as a command
      const change = doc.update(d.key, { box });
      if (change) doc.execute({ label: d.kind === "move" ? "Move box" : "Resize box", changes: [change] });
    } else if (d.kind === "box") {
      this.host.setDraft(null);
      const p = this.toPixel(e) ?? d.start;
      const box = roundBox(boxFromPoints(d.start[0], d.start[1], clampTo(p[0], this.host.width), clampTo(p[1], this.host.height)));
      if (box[2] < 2 || box[3] < 2) return this.host.render();
      if (this.host.mode() === "assist") return this.host.assist(box, e.timeStamp);
      const cls = this.host.newClass();
      if (cls == null) return this.host.render();
      const key = this.host.newKey();
      doc.execute({
        label: "Draw box",
        changes: [
          doc.create({ key, id: null, version: null, label_class: cls, box, mask: null, status: "accepted", score: null, source: "human", model_version: null }),
        ],
      });
      this.host.created(key);
    } else {
      this.finishPaint(d);
    }
  };

  private finishPaint(d: Extract<Drag, { kind: "paint" }>): void {
    const { doc } = this.host;
    const current = doc.get(d.key)!;
    const bbox = maskBbox(d.mask);
    let change: Change;
    if (d.created) {
      doc.annotations.delete(d.key);
      if (!bbox) return this.host.render();
      change = doc.create({ ...current, mask: d.mask, box: bbox });
    } else {
      // the snapshot from the stroke's start, with the server identity acknowledged since
      const before = { ...d.before!, id: current.id, version: current.version };
      doc.annotations.set(d.key, before);
      const after = { ...before, mask: bbox ? d.mask : null, box: bbox ?? before.box };
      change = { kind: "annotation", key: d.key, before, after };
    }
    doc.execute({ label: d.value ? "Paint mask" : "Erase mask", changes: [change] });
    if (d.created) this.host.created(d.key);
  }

  private onHover = (e: MouseEvent) => {
    if (this.drag) return;
    const mode = this.host.mode();
    if (mode !== "brush" && mode !== "eraser") return;
    const p = this.toPixel(e);
    this.host.setCursor(p ? { x: p[0], y: p[1], r: this.host.brushRadius(), erase: mode === "eraser" } : null);
    this.host.render();
  };

  private onLeave = () => {
    this.host.setCursor(null);
    this.host.render();
  };
}

function stop(e: Event): void {
  e.stopPropagation();
  e.preventDefault();
}

function clampTo(v: number, max: number): number {
  return Math.max(0, Math.min(max, v));
}
