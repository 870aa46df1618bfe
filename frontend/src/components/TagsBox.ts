/** The image's tags: a checkbox per tag class of the project; each change hands on the new set. */
import type { LabelClass } from "../api/types";
import { clear, h } from "./dom";

export interface TagsBoxState {
  classes: Map<number, LabelClass>;
  tags: number[];
}

export interface TagsBox {
  el: HTMLElement;
  update(s: TagsBoxState): void;
}

export function tagsBox(change: (tags: number[]) => void): TagsBox {
  const el = h("div", { class: "tags", "data-testid": "tags" });
  return {
    el,
    update({ classes, tags }) {
      clear(el);
      const tagClasses = [...classes.values()].filter((c) => c.kind === "tag");
      for (const c of tagClasses) {
        const box = h("input", { type: "checkbox", checked: tags.includes(c.id), "data-tag-id": c.id });
        box.addEventListener("change", () => change(box.checked ? [...tags, c.id] : tags.filter((t) => t !== c.id)));
        el.appendChild(h("label", {}, box, " ", c.name));
      }
      if (!tagClasses.length) el.appendChild(h("p", { class: "muted" }, "This project has no image tags."));
    },
  };
}
