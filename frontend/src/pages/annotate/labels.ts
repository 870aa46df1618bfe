/** Deciding on labels: accept, reject, delete, change class, in the order the radiologist reviews them. */
import type { Change, LocalAnnotation } from "../../editing/document";
import { runnerUp } from "../../components/AnnotationList";
import type { AnnotatePage } from "./page";
import { visibleIn } from "./render";

/** The visible labels, most confident first (a person's labels, with no score, lead). */
export function ordered({ s }: AnnotatePage): LocalAnnotation[] {
  return s.doc
    .list()
    .filter(visibleIn(s))
    .sort((a, b) => (b.score ?? 2) - (a.score ?? 2));
}

export function proposedKeys({ s }: AnnotatePage): string[] {
  return s.doc
    .list()
    .filter((a) => a.status === "proposed")
    .map((a) => a.key);
}

export function setStatus({ s }: AnnotatePage, keys: string[], status: "accepted" | "rejected", label = status === "accepted" ? "Accept" : "Reject"): void {
  const changes = keys.map((k) => s.doc.update(k, { status })).filter((c): c is Change => !!c);
  s.doc.execute({ label, changes });
}

/** Delete a label a person drew or imported (audited); rejecting is for the model's labels. */
export function remove({ s }: AnnotatePage, key: string): void {
  const change = s.doc.remove(key);
  if (change) s.doc.execute({ label: "Delete", changes: [change] });
}

/**
 * A / R act on the selected label, or the most confident proposal; then move to the next
 * proposal. Only the model's labels are rejected: R skips a label a person drew.
 */
export function decide(p: AnnotatePage, status: "accepted" | "rejected"): void {
  const selected = p.s.selectedKey ? p.s.doc.get(p.s.selectedKey) : undefined;
  const target =
    (selected && (status === "accepted" || selected.source === "model") ? selected : undefined) ??
    ordered(p).find((a) => a.status === "proposed");
  if (!target) return;
  setStatus(p, [target.key], status);
  const next = ordered(p).find((a) => a.status === "proposed" && a.key !== target.key);
  p.select(next ? next.key : status === "accepted" ? target.key : null);
}

/** The class for new labels; the selected label takes it too. */
export function pickClass(p: AnnotatePage, id: number): void {
  const { s } = p;
  s.activeClass = id;
  const a = s.selectedKey ? s.doc.get(s.selectedKey) : undefined;
  if (a && a.label_class !== id) {
    const c = s.doc.update(a.key, { label_class: id });
    if (c) s.doc.execute({ label: "Change class", changes: [c] });
  }
  p.renderSidebar();
}

/** The selected label (or the top proposal) switched to the model's runner-up class. */
export function takeRunnerUp(p: AnnotatePage): void {
  const { s } = p;
  const a = (s.selectedKey && s.doc.get(s.selectedKey)) || ordered(p).find((x) => x.status === "proposed");
  const alt = a && runnerUp(a, s.classes);
  if (!a || !alt) return;
  const change = s.doc.update(a.key, { label_class: alt.label_class });
  if (change) s.doc.execute({ label: "Runner-up class", changes: [change] });
  p.select(a.key);
}

/** Delete the selected label a person drew; for a model's label (or none selected), reject. */
export function deleteSelected(p: AnnotatePage): void {
  const a = p.s.selectedKey ? p.s.doc.get(p.s.selectedKey) : undefined;
  if (a && a.source !== "model") remove(p, a.key);
  else decide(p, "rejected");
}

export function selectNext(p: AnnotatePage): void {
  const list = ordered(p);
  if (!list.length) return;
  const i = list.findIndex((a) => a.key === p.s.selectedKey);
  p.select(list[(i + 1) % list.length].key);
}
