/** The page's dialogs (help, confirm done) and leaving the image: done, next image. */
import { confirmDone, helpOverlay } from "../../components/HelpOverlay";
import { imagePath, worklistPath } from "../../router";
import { nextImageId } from "../StudyListPage";
import { proposedKeys, setStatus } from "./labels";
import type { AnnotatePage } from "./page";

export function openModal({ s, ui }: AnnotatePage, el: HTMLElement): void {
  s.modalEl?.remove();
  s.modalEl = el;
  ui.page.appendChild(el);
}

export function closeModal({ s }: AnnotatePage): void {
  s.modalEl?.remove();
  s.modalEl = null;
}

export function toggleHelp(p: AnnotatePage): void {
  if (p.s.modalEl?.dataset.testid === "help") return closeModal(p);
  openModal(p, helpOverlay(p.commands.list(), () => closeModal(p)));
}

export async function goNext(p: AnnotatePage): Promise<void> {
  p.commitActivity();
  void p.queue.flush();
  const next = await nextImageId(p.slug, p.query, p.s.imageId);
  p.ctx.navigate(next != null ? imagePath(p.slug, next, p.query) : worklistPath(p.slug, p.query));
}

/** Done (and on to the next image); asks first while proposals are still unreviewed. */
export function markDone(p: AnnotatePage, thenNext: boolean): void {
  const open = proposedKeys(p);
  const finish = () => {
    closeModal(p);
    p.commitActivity();
    const doc = p.s.doc;
    if (doc.status !== "done") doc.execute({ label: "Done", changes: [doc.setStatus("done")] });
    void p.queue.flush();
    if (thenNext) void goNext(p);
  };
  if (!open.length) return finish();
  openModal(
    p,
    confirmDone(open.length, {
      rejectRest: () => {
        setStatus(p, open, "rejected", "Reject the rest");
        finish();
      },
      anyway: finish,
      cancel: () => closeModal(p),
    }),
  );
}
