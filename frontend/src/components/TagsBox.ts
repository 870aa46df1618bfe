/**
 * The image's tags: a checkbox per tag class of the project; each change hands on the new set.
 * Beside a tag the image does not have, the classifier's pending suggestion of it: dashed, with
 * its probability, accepted (the tag is set, as ticking it) or rejected with a button or a key.
 */
import type { LabelClass, TagSuggestion } from "../api/types";
import { clear, h } from "./dom";

export interface TagsBoxState {
  classes: Map<number, LabelClass>;
  tags: number[];
  suggestions: TagSuggestion[];
}

export interface TagsBox {
  el: HTMLElement;
  update(s: TagsBoxState): void;
}

export interface TagsBoxHandlers {
  change(tags: number[]): void;
  reject(labelClass: number): void;
}

/** The suggestion the accept and reject keys act on: pending, suggested, of a tag not set, most probable. */
export function topSuggestion(suggestions: TagSuggestion[], tags: number[]): TagSuggestion | null {
  const open = suggestions.filter((x) => x.decision === "pending" && x.suggested && !tags.includes(x.label_class));
  return open.sort((a, b) => b.probability - a.probability)[0] ?? null;
}

const percent = (p: number) => `${Math.round(p * 100)} %`;

function suggestionChip(x: TagSuggestion, accept: () => void, reject: () => void): HTMLElement {
  const yes = h("button", { type: "button", class: "small", title: "Accept the suggested tag (y)", "data-action": "accept-tag" }, "✓");
  const no = h("button", { type: "button", class: "small", title: "Reject the suggested tag (shift+y)", "data-action": "reject-tag" }, "✗");
  yes.addEventListener("click", accept);
  no.addEventListener("click", reject);
  return h(
    "span",
    {
      class: "tag-suggestion",
      "data-testid": "tag-suggestion",
      "data-tag-id": x.label_class,
      title: `suggested by model v${x.model_version ?? "?"}: probability ${percent(x.probability)}, its threshold ${percent(x.threshold)}`,
    },
    `suggested ${percent(x.probability)}`,
    yes,
    no,
  );
}

export function tagsBox(on: TagsBoxHandlers): TagsBox {
  const el = h("div", { class: "tags", "data-testid": "tags" });
  return {
    el,
    update({ classes, tags, suggestions }) {
      clear(el);
      const tagClasses = [...classes.values()].filter((c) => c.kind === "tag");
      for (const c of tagClasses) {
        const box = h("input", { type: "checkbox", checked: tags.includes(c.id), "data-tag-id": c.id });
        box.addEventListener("change", () => on.change(box.checked ? [...tags, c.id] : tags.filter((t) => t !== c.id)));
        const pending = suggestions.find((x) => x.label_class === c.id && x.decision === "pending" && x.suggested);
        const chip = pending && !tags.includes(c.id) ? suggestionChip(pending, () => on.change([...tags, c.id]), () => on.reject(c.id)) : null;
        el.appendChild(h("div", { class: "tag-row" }, h("label", {}, box, " ", c.name), chip));
      }
      if (!tagClasses.length) el.appendChild(h("p", { class: "muted" }, "This project has no image tags."));
    },
  };
}
