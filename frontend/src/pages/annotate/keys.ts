/** Keys run the page's commands; leaving or hiding the page sends what is unsaved. */
import { keyOf } from "../../viewer/commands";
import { closeModal } from "./modal";
import type { AnnotatePage } from "./page";

function onKey(p: AnnotatePage, e: KeyboardEvent): void {
  const t = e.target as HTMLElement | null;
  if (t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA") && e.key !== "Escape") return;
  if (document.querySelector(".relogin")) return;
  const modal = p.s.modalEl;
  if (modal) {
    // a modal is open: keys do not act behind it; Escape (and ? for the help) close it
    if (e.key === "Escape" || (e.key === "?" && modal.dataset.testid === "help")) {
      e.preventDefault();
      closeModal(p);
    }
    return;
  }
  const c = p.commands.forKey(keyOf(e));
  if (!c) return;
  e.preventDefault();
  c.run();
}

export function bindKeys(p: AnnotatePage): void {
  const keydown = (e: KeyboardEvent) => onKey(p, e);
  const send = () => {
    p.commitActivity();
    void p.queue.flush();
  };
  const onHidden = () => {
    if (document.visibilityState === "hidden") send();
  };
  document.addEventListener("keydown", keydown);
  document.addEventListener("visibilitychange", onHidden);
  window.addEventListener("beforeunload", send);
  p.cleanups.push(
    () => document.removeEventListener("keydown", keydown),
    () => {
      document.removeEventListener("visibilitychange", onHidden);
      window.removeEventListener("beforeunload", send);
    },
  );
}
