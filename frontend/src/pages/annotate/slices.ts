/**
 * The series' slices: the slice scrolled to becomes the image being labelled (its own labels,
 * tags, status and undo), and a label can be copied or propagated to the neighbouring slice.
 */
import { listAnnotations } from "../../api/annotations";
import { getImage } from "../../api/images";
import type { Annotation, Box, ImageDetail } from "../../api/types";
import { fromServer, newKey } from "../../editing/document";
import { imagePath } from "../../router";
import { applyPending } from "../../sync/applyPending";
import { cloneMask } from "../../viewer/rle";
import { fitCarried } from "./assist";
import type { AnnotatePage, Carried } from "./page";
import { applyLock } from "./review";

/**
 * Copy the selected label (box and mask) onto the neighbouring slice, which opens; with `fit`
 * (propagate) the copy is then fitted to that slice by box → mask.
 */
export function copyToSlice({ s }: AnnotatePage, step: 1 | -1, fit = false): void {
  const a = s.selectedKey ? s.doc.get(s.selectedKey) : undefined;
  if (!a || !s.view || !s.image) return;
  const target = s.annotatedIndex + step;
  if (target < 0 || target >= s.sliceIds.length) return;
  s.carried = {
    imageId: s.sliceIds[target],
    label_class: a.label_class,
    box: [...a.box] as Box,
    mask: a.mask ? cloneMask(a.mask) : null,
    width: s.image.columns,
    height: s.image.rows,
    fit,
  };
  void s.view.setIndex(target);
}

/** The carried label as it was, as an undoable edit of this image. */
function layCarried(p: AnnotatePage, c: Carried, label: string): void {
  const key = newKey();
  const doc = p.s.doc;
  doc.execute({
    label,
    changes: [
      doc.create({ key, id: null, version: null, label_class: c.label_class, box: c.box, mask: c.mask, status: "accepted", score: null, source: "human", model_version: null }),
    ],
  });
  p.select(key);
}

/** Lay the carried label on the image just opened (fitted to it when propagating). */
function dropCarried(p: AnnotatePage): void {
  const { s } = p;
  const c = s.carried;
  s.carried = null;
  if (!c || !s.image || c.imageId !== s.image.id || c.width !== s.image.columns || c.height !== s.image.rows) return;
  if (c.fit) void fitCarried(p, c, (carried, label) => layCarried(p, carried, label));
  else layCarried(p, c, "Copy from the neighbouring slice");
}

/** Make the slice on screen the image being labelled: its own labels, tags, status and undo. */
export async function labelSlice(p: AnnotatePage): Promise<void> {
  const { s, queue, signal } = p;
  if (!s.view) return;
  const index = s.view.index;
  const id = s.sliceIds[index];
  const seq = ++s.switching; // a later scroll wins over a load still on its way
  if (id === undefined || id === s.imageId) return;
  p.commitActivity();
  void queue.flush();
  let detail: ImageDetail;
  let anns: Annotation[];
  try {
    [detail, anns] = await Promise.all([getImage(id, signal), listAnnotations(id, signal)]);
  } catch (e) {
    if (!signal.aborted) p.status(`Could not load this slice's labels (${String((e as Error).message ?? e)}).`);
    return;
  }
  if (seq !== s.switching || signal.aborted || !s.view) return;
  s.imageId = id;
  s.image = detail;
  s.annotatedIndex = index;
  s.selectedKey = null;
  s.doc = p.newDoc(id);
  s.doc.load(applyPending(anns.map(fromServer), queue.pendingAnnotations(id)), detail.tags, detail.status);
  s.reviewEditing = false;
  applyLock(p);
  dropCarried(p);
  history.replaceState(null, "", imagePath(p.slug, id, p.query));
  p.ui.crumbImage.textContent = `Image ${id}`;
  document.title = document.title.replace(/^Image \d+/, `Image ${id}`);
  p.ui.wrap.dataset.imageId = String(id);
  p.render();
  p.renderSidebar();
  if (queue.pendingAnnotations(id).length) void queue.flush();
}
