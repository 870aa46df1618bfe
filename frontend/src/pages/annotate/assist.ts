/**
 * Box → mask: the server fits a mask inside a box (the active model, else a classical method
 * in the window on screen); it appears as a proposal of the class for new labels, to accept
 * (Enter), fix with the brush, or replace by dragging again. Propagating a label to the next
 * slice fits it there the same way.
 */
import { segmentBox } from "../../api/annotations";
import { ApiError } from "../../api/http";
import type { Box } from "../../api/types";
import { newKey } from "../../editing/document";
import { decodeRle, maskBbox } from "../../viewer/rle";
import type { AnnotatePage, Carried } from "./page";

export async function assist(p: AnnotatePage, box: Box, released: number): Promise<void> {
  const { s } = p;
  const cls = s.activeClass;
  if (cls == null || !s.image) return p.status("Pick a class first (1-9).");
  const seq = ++s.assistSeq;
  const fitted = await fitInBox(p, box, cls, seq);
  if (!fitted || fitted === "stale") return;
  const doc = s.doc;
  const previous = s.assisted ? doc.get(s.assisted) : undefined;
  if (previous && previous.status === "proposed" && previous.source === "assist") {
    const change = doc.update(previous.key, fitted.fields);
    if (change) doc.execute({ label: "Box → mask again", changes: [change] });
  } else {
    s.assisted = newKey();
    doc.execute({ label: "Box → mask", changes: [doc.create({ key: s.assisted, id: null, version: null, ...fitted.fields, ...fitted.origin })] });
  }
  p.select(s.assisted);
  p.renderNow();
  p.ui.wrap.dataset.assistMs = (performance.now() - released).toFixed(1);
}

/** What the assist answered, said on the page: the engine and its time on the server. */
export function engineText(result: { engine: string; model_version: number | null; ms: number }): string {
  return `${result.engine === "model" ? `model v${result.model_version}` : "classical"} engine, ${Math.round(result.ms)} ms on the server`;
}

/**
 * Ask the server for a mask fitted inside `box` on the image being labelled, showing the box
 * meanwhile and what answered after; "stale" when a newer box or another slice came first,
 * null when the answer is empty or an error (said on the page).
 */
async function fitInBox(p: AnnotatePage, box: Box, cls: number, seq: number) {
  const { s, ui, signal } = p;
  const forImage = s.imageId;
  s.draft = box;
  p.render();
  const w = s.view?.getWindow();
  let result;
  try {
    result = await segmentBox(
      forImage,
      { box: [box[0], box[1], box[0] + box[2], box[1] + box[3]], label_class: cls, window: w ? [w.center, w.width] : undefined },
      signal,
    );
  } catch (e) {
    if (signal.aborted) return "stale";
    s.draft = null;
    p.render();
    ui.assistInfo.textContent = `Box → mask failed: ${e instanceof ApiError ? e.detail : String((e as Error).message ?? e)}`;
    return null;
  }
  if (seq !== s.assistSeq || forImage !== s.imageId) {
    if (forImage !== s.imageId) s.draft = null;
    return "stale";
  }
  s.draft = null;
  const mask = decodeRle(result.mask);
  const bbox = maskBbox(mask);
  const engine = engineText(result);
  if (!bbox) {
    p.render();
    ui.assistInfo.textContent = `Box → mask found nothing in the box (${engine}).`;
    return null;
  }
  const note = result.note ? ` (${result.note.replace(/\.$/, "")})` : "";
  ui.assistInfo.textContent = `Box → mask: ${engine}${note}. Enter accepts.`;
  return {
    fields: { label_class: cls, box: bbox, mask, status: "proposed" as const },
    origin: { score: result.score, source: "assist" as const, model_version: result.model_version },
  };
}

/** Propagate: the label copied from the neighbouring slice, fitted to this one (a proposal). */
export async function fitCarried(p: AnnotatePage, c: Carried, lay: (c: Carried, label: string) => void): Promise<void> {
  const { s } = p;
  const pad = Math.max(2, Math.round(0.15 * Math.max(c.box[2], c.box[3])));
  const x = Math.max(0, c.box[0] - pad);
  const y = Math.max(0, c.box[1] - pad);
  const box: Box = [x, y, Math.min(c.width, c.box[0] + c.box[2] + pad) - x, Math.min(c.height, c.box[1] + c.box[3] + pad) - y];
  const fitted = await fitInBox(p, box, c.label_class, ++s.assistSeq);
  if (fitted === "stale") return;
  if (!fitted) return lay(c, "Copy from the neighbouring slice (the fit found nothing)");
  s.assisted = newKey();
  s.doc.execute({
    label: "Propagate from the neighbouring slice",
    changes: [s.doc.create({ key: s.assisted, id: null, version: null, ...fitted.fields, ...fitted.origin })],
  });
  p.select(s.assisted);
}
