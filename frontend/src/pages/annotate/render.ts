/** Drawing the annotate page from its state: the overlay over the image, the corners, the sidebar. */
import { READER_COLOURS } from "../../components/ReadsBox";
import { isVisible } from "../../viewer/overlay";
import type { AnnotatePage, AnnotateState } from "./page";
import { canReview } from "./review";
import type { LocalAnnotation } from "../../editing/document";

const STATUS_TEXT: Partial<Record<string, string>> = {
  done: "Done ✓ (submitted for review)",
  reviewed: "Accepted in review ✓",
  returned: "Returned: see the comment below, fix, then mark done",
};

export const visibleIn = (s: AnnotateState) => (a: LocalAnnotation) => isVisible(a, s);

/** The labels over the image, when the slice shown is the one being labelled. */
export function renderOverlay({ s, ui, queue }: AnnotatePage): void {
  const { overlay, view } = s;
  if (!overlay || !view) return;
  const onSlice = view.index === s.annotatedIndex;
  const affine = onSlice ? view.pixelToCanvas() : null;
  // where image pixels are on screen, for tests and measurements
  ui.wrap.dataset.pixelToCanvas = affine ? affine.map((v) => v.toFixed(4)).join(",") : "";
  const t0 = performance.now();
  overlay.render({
    affine,
    annotations: s.doc.list(),
    classes: s.classes,
    selectedKey: s.selectedKey,
    showProposals: s.showProposals,
    showAccepted: s.showAccepted,
    outline: s.outline,
    opacity: s.opacity,
    mmPerPixel: s.image?.pixel_spacing ? s.image.pixel_spacing[1] : null,
    highlight: queue
      .state()
      .conflicts.filter((o) => o.imageId === s.imageId)
      .map((o) => o.key),
    cursor: s.cursor,
    draft: s.draft,
    reads: s.reads.flatMap((r, i) => r.annotations.map((a) => ({ box: a.box, color: READER_COLOURS[i % READER_COLOURS.length] }))),
  });
  ui.wrap.dataset.overlayMs = (performance.now() - t0).toFixed(2);
  ui.notice.textContent = onSlice ? "" : "Loading this slice's labels…";
}

export function renderCorners({ s, ui }: AnnotatePage): void {
  const { view, image } = s;
  if (!view || !image) return;
  ui.corners.update({ image, index: view.index, count: view.count, window: view.getWindow(), presets: s.presets, status: s.doc.status, plane: view.plane() });
}

export function renderSidebar(p: AnnotatePage): void {
  const { s, ui } = p;
  const doc = s.doc;
  const comments = s.image?.review.comments ?? [];
  ui.annList.update({ annotations: doc.list(), classes: s.classes, selectedKey: s.selectedKey, comments });
  ui.tags.update({ classes: s.classes, tags: doc.tags, suggestions: s.image?.tag_suggestions ?? [] });
  s.picker?.setActive(s.activeClass);
  s.toolbar?.update({
    mode: s.mode,
    brushRadius: s.brushRadius,
    threshold: s.threshold,
    showProposals: s.showProposals,
    showAccepted: s.showAccepted,
    canUndo: doc.history.canUndo,
    canRedo: doc.history.canRedo,
    done: doc.status === "done",
    outline: s.outline,
    measure: s.measureTool,
  });
  ui.imageStatus.textContent = STATUS_TEXT[doc.status] ?? `Status: ${doc.status.replace("_", " ")}`;
  ui.imageStatus.dataset.status = doc.status;
  ui.reads.update({ reads: s.reads, classes: s.classes });
  ui.review.update({
    status: doc.status,
    review: s.image?.review ?? null,
    reviews: canReview(p),
    editing: s.reviewEditing,
    heldBy: s.heldBy,
    locked: doc.locked,
    labelName: (id) => {
      const a = doc.list().find((x) => x.id === id);
      return a ? (s.classes.get(a.label_class)?.name ?? "a label") : null;
    },
  });
  renderCorners(p);
}
