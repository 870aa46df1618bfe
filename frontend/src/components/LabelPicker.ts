/** Instance classes with their number keys (1–9); the chosen one is used for new labels. */
import type { LabelClass } from "../api/types";
import { h } from "./dom";

export interface LabelPicker {
  el: HTMLElement;
  setActive(id: number | null): void;
}

export function labelPicker(classes: LabelClass[], onPick: (id: number) => void): LabelPicker {
  const el = h("div", { class: "label-picker", role: "radiogroup", "aria-label": "Label class" });
  const buttons = new Map<number, HTMLButtonElement>();
  classes
    .filter((c) => c.kind === "instance")
    .forEach((c, i) => {
      const swatch = h("span", { class: "swatch" });
      swatch.style.background = c.color;
      const b = h(
        "button",
        { type: "button", role: "radio", "aria-checked": "false", "data-class-id": c.id, title: i < 9 ? `Key ${i + 1}` : "" },
        swatch,
        h("span", { class: "key" }, i < 9 ? String(i + 1) : ""),
        h("span", { class: "name" }, c.name),
      );
      b.addEventListener("click", () => onPick(c.id));
      buttons.set(c.id, b);
      el.appendChild(b);
    });
  return {
    el,
    setActive(id) {
      for (const [cid, b] of buttons) {
        b.classList.toggle("active", cid === id);
        b.setAttribute("aria-checked", String(cid === id));
      }
    },
  };
}
