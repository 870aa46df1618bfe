/**
 * The annotate page's list of the image's labels, most confident first: class, status, score,
 * the model's runner-up class, accept and reject/delete buttons. Each row publishes its label's
 * key, status, class, source, id, box and mask (area and COCO RLE counts) as data attributes.
 */
import type { LabelClass, ReviewComment } from "../api/types";
import type { LocalAnnotation } from "../editing/document";
import { encodeRle, maskArea, type Mask } from "../viewer/rle";
import { h } from "./dom";

export interface AnnotationListState {
  annotations: LocalAnnotation[];
  classes: Map<number, LabelClass>;
  selectedKey: string | null;
  /** the reviewers' comments: one about a label shows beside it */
  comments?: ReviewComment[];
}

export interface AnnotationListHandlers {
  select: (key: string) => void;
  accept: (key: string) => void;
  /** a model's label is rejected */
  reject: (key: string) => void;
  /** a label a person drew or imported is deleted */
  remove: (key: string) => void;
}

const maskFacts = new WeakMap<Mask, { area: number; rle: string }>();
function factsOf(mask: Mask): { area: number; rle: string } {
  let f = maskFacts.get(mask);
  if (!f) maskFacts.set(mask, (f = { area: maskArea(mask), rle: encodeRle(mask).counts }));
  return f;
}

/** A mask was painted in place: its published area and RLE are computed again. */
export function maskEdited(mask: Mask): void {
  maskFacts.delete(mask);
}

/** The model's best other class for this finding, unless it is the class shown now. */
export function runnerUp(a: LocalAnnotation, classes: Map<number, LabelClass>): { label_class: number; score: number } | undefined {
  return a.alternatives?.find((alt) => alt.label_class !== a.label_class && classes.has(alt.label_class));
}

function row(a: LocalAnnotation, s: AnnotationListState, on: AnnotationListHandlers): HTMLElement {
  const cls = s.classes.get(a.label_class);
  const sw = h("span", { class: "swatch" });
  sw.style.background = cls?.color ?? "#888";
  const alt = runnerUp(a, s.classes);
  const button = (title: string, action: string | null, run: (key: string) => void, text: string) =>
    h("button", { type: "button", title, "data-action": action, on: { click: (e) => (e.stopPropagation(), run(a.key)) } }, text);
  const li = h(
    "li",
    {
      class: `ann ${a.status}${a.key === s.selectedKey ? " selected" : ""}`,
      "data-key": a.key,
      "data-status": a.status,
      "data-class": a.label_class,
      "data-source": a.source,
      "data-annotation-id": a.id ?? "",
      "data-box": a.box.map((v) => Math.round(v * 100) / 100).join(","),
      "data-area": a.mask ? factsOf(a.mask).area : 0,
      "data-rle": a.mask ? factsOf(a.mask).rle : "",
    },
    sw,
    h("span", { class: "name" }, cls?.name ?? String(a.label_class)),
    alt ? h("span", { class: "runner-up", "data-testid": "runner-up", title: "Switch to it (X)" }, `or ${s.classes.get(alt.label_class)?.name ?? "?"} ${alt.score.toFixed(2)}`) : null,
    h("span", { class: "status" }, a.status),
    h("span", { class: "score" }, a.score != null ? a.score.toFixed(2) : a.source),
    button("Accept (A)", null, on.accept, "✓"),
    a.source !== "model" ? button("Delete (Del)", "delete", on.remove, "✕") : button("Reject (R)", "reject", on.reject, "✕"),
    ...(s.comments ?? [])
      .filter((c) => a.id != null && c.annotation === a.id)
      .map((c) => h("p", { class: "ann-comment", "data-testid": "label-comment" }, h("strong", {}, c.author ?? "someone"), `: ${c.body}`)),
  );
  li.addEventListener("click", () => on.select(a.key));
  return li;
}

export function annotationList(on: AnnotationListHandlers): { el: HTMLElement; update(s: AnnotationListState): void } {
  const el = h("ul", { class: "ann-list", "data-testid": "annotation-list" });
  return {
    el,
    update(s) {
      const shown = s.annotations.filter((a) => a.status !== "rejected").sort((a, b) => (b.score ?? 2) - (a.score ?? 2));
      el.replaceChildren(...shown.map((a) => row(a, s, on)));
      if (!shown.length) el.appendChild(h("li", { class: "muted" }, "No labels yet. Draw a box (B) or paint (P)."));
      const rejected = s.annotations.length - shown.length;
      if (rejected) el.appendChild(h("li", { class: "muted" }, `${rejected} rejected`));
    },
  };
}
