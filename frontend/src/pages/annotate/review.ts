/**
 * Review on the annotate page. A reviewer (or an admin) opening a submitted image reads it:
 * its labels are read-only until they choose to edit, A accepts it and R returns it with a
 * comment, each then on to the next image. An accepted image's labels are locked for everyone
 * until a reviewer reopens it. Every reader holds a lease on the image they have open, renewed
 * while the page is open, so another reader's Next skips it.
 */
import { listAnnotations } from "../../api/annotations";
import { getImage, setImageStatus } from "../../api/images";
import { ApiError } from "../../api/http";
import { adjudicate, getReads, leaseImage, reviewImage } from "../../api/review";
import { fromServer } from "../../editing/document";
import { returnDialog } from "../../components/ReviewBox";
import { closeModal, goNext, openModal } from "./modal";
import type { AnnotatePage } from "./page";

/** How often the open image's lease is renewed (the server's lease lasts 15 minutes). */
const LEASE_EVERY_MS = 5 * 60_000;

export function canReview(p: AnnotatePage): boolean {
  const role = p.ctx.me.projects.find((x) => x.slug === p.slug)?.role;
  return p.ctx.me.is_superuser || role === "admin" || role === "reviewer";
}

/** A reviewer reading a submitted image, not (yet) editing it: A and R decide on the image. */
export function reviewing(p: AnnotatePage): boolean {
  return p.s.doc.status === "done" && canReview(p) && !p.s.reviewEditing;
}

/** Why the labels are read-only now, or null. */
function lockReason(p: AnnotatePage): string | null {
  if (p.s.doc.status === "reviewed") {
    return `Accepted in review: the labels are locked until ${canReview(p) ? "you reopen the image" : "a reviewer reopens the image"}.`;
  }
  if (reviewing(p)) return "You are reviewing: the labels are read-only until you choose Edit labels.";
  return null;
}

/** Lock or unlock the labels after the image or the reader's choice changed, and redraw;
 * a reviewer of a submitted image gets its independent reads, when it has several. */
export function applyLock(p: AnnotatePage): void {
  p.s.doc.locked = lockReason(p);
  p.ui.wrap.dataset.locked = p.s.doc.locked ? "true" : "false";
  p.s.reads = [];
  p.renderSidebar();
  const imageId = p.s.imageId;
  if (p.s.doc.status !== "done" || !canReview(p)) return;
  void getReads(imageId, p.signal).then(
    (reads) => {
      if (p.s.imageId !== imageId) return;
      p.s.reads = reads.length > 1 ? reads : [];
      p.renderSidebar();
      p.render();
    },
    () => {},
  );
}

/** The picked labels and tags become the image's final set; the page shows it. */
export async function reviewAdjudicate(p: AnnotatePage, picks: { read: number; label: number }[], tags: number[]): Promise<void> {
  try {
    await p.queue.flush();
    await adjudicate(p.s.imageId, picks, tags);
    const [detail, anns] = await Promise.all([getImage(p.s.imageId, p.signal), listAnnotations(p.s.imageId, p.signal)]);
    p.s.image = detail;
    p.s.doc.load(anns.map(fromServer), detail.tags, detail.status);
    p.s.reviewEditing = true;
    applyLock(p);
    p.render();
    p.status("The picked labels are the final set: check them, then accept (A).");
  } catch (e) {
    failed(p, e);
  }
}

/** The image's review facts and status again, from the server. */
async function refresh(p: AnnotatePage): Promise<void> {
  const detail = await getImage(p.s.imageId, p.signal);
  p.s.image = detail;
  p.s.doc.status = detail.status;
  applyLock(p);
}

function failed(p: AnnotatePage, e: unknown): void {
  p.status(e instanceof ApiError ? e.detail : `Could not reach the server (${String(e)}).`);
}

export async function reviewAccept(p: AnnotatePage): Promise<void> {
  try {
    await p.queue.flush();
    await reviewImage(p.s.imageId, "accept");
    await refresh(p);
    void goNext(p);
  } catch (e) {
    failed(p, e);
  }
}

export function reviewReturn(p: AnnotatePage): void {
  const selected = p.s.selectedKey ? p.s.doc.get(p.s.selectedKey) : undefined;
  const name = selected?.id != null ? (p.s.classes.get(selected.label_class)?.name ?? "label") : null;
  openModal(
    p,
    returnDialog(name, {
      cancel: () => closeModal(p),
      submit: (comment, aboutSelected) => {
        closeModal(p);
        void (async () => {
          try {
            await p.queue.flush();
            await reviewImage(p.s.imageId, "return", comment, aboutSelected ? (selected?.id ?? null) : null);
            await refresh(p);
            void goNext(p);
          } catch (e) {
            failed(p, e);
          }
        })();
      },
    }),
  );
}

export function reviewEdit(p: AnnotatePage): void {
  p.s.reviewEditing = true;
  applyLock(p);
}

export async function reviewReopen(p: AnnotatePage): Promise<void> {
  try {
    await setImageStatus(p.s.imageId, "in_progress");
    p.s.reviewEditing = true;
    await refresh(p);
  } catch (e) {
    failed(p, e);
  }
}

/** Hold the image while the page is open; tell who else holds it. */
export function holdLease(p: AnnotatePage): void {
  const take = () =>
    leaseImage(p.s.imageId).then(
      () => (p.s.heldBy = null),
      (e) => (p.s.heldBy = e instanceof ApiError && e.code === "image_leased" ? String((e.body as { leased_to?: string }).leased_to ?? "Another reader") : null),
    ).finally(() => p.renderSidebar());
  void take();
  const timer = setInterval(() => void take(), LEASE_EVERY_MS);
  p.cleanups.push(() => clearInterval(timer));
}
