/**
 * Adjudication in the annotate page's sidebar: the independent reads of an image, a colour per
 * reader (the same colour outlines that reader's boxes on the image), each label with a box to
 * pick it, the tags to keep (those every reader gave are ticked), and the button that makes the
 * picked labels and tags the image's final set.
 */
import type { ImageRead, LabelClass } from "../api/types";
import { clear, h } from "./dom";

/** A colour per reader, in the order they read the image. */
export const READER_COLOURS = ["#4cc9f0", "#f72585", "#b5e48c"];

export interface ReadsBoxState {
  reads: ImageRead[];
  classes: Map<number, LabelClass>;
}

export interface ReadsBoxHandlers {
  adjudicate: (picks: { read: number; label: number }[], tags: number[]) => void;
}

const pickKey = (read: number, label: number) => `${read}:${label}`;

export function readsBox(on: ReadsBoxHandlers): { el: HTMLElement; update(s: ReadsBoxState): void } {
  const el = h("section", { class: "reads-box", "data-testid": "reads-box" });
  const picked = new Set<string>();
  const tags = new Set<number>();
  let shown: ImageRead[] | null = null;
  const checkbox = (testId: string, checked: boolean, toggle: (on: boolean) => void, data: Record<string, string | number>) => {
    const input = h("input", { type: "checkbox", "data-testid": testId, ...data });
    input.checked = checked;
    input.addEventListener("change", () => toggle(input.checked));
    return input;
  };
  return {
    el,
    update(s) {
      clear(el);
      if (!s.reads.length) return;
      if (shown !== s.reads) {
        // new reads: nothing picked, the tags every reader gave kept
        shown = s.reads;
        picked.clear();
        tags.clear();
        const given = new Set(s.reads.flatMap((r) => r.tags));
        for (const tag of given) if (s.reads.every((r) => r.tags.includes(tag))) tags.add(tag);
      }
      const name = (id: number) => s.classes.get(id)?.name ?? String(id);
      el.appendChild(h("h2", {}, "Independent reads"));
      s.reads.forEach((read, i) => {
        const swatch = h("span", { class: "swatch" });
        swatch.style.background = READER_COLOURS[i % READER_COLOURS.length];
        const labels = h("ul", { class: "read-labels" });
        read.annotations.forEach((a, n) => {
          const key = pickKey(read.id, n);
          const toggle = (yes: boolean) => (yes ? picked.add(key) : picked.delete(key));
          const size = `${Math.round(a.box[2])}×${Math.round(a.box[3])} px${a.mask ? " · mask" : ""}`;
          labels.appendChild(h("li", {}, h("label", {}, checkbox("read-pick", picked.has(key), toggle, { "data-read": read.id, "data-label": n }), ` ${name(a.label_class)} `, h("span", { class: "muted" }, size))));
        });
        if (!read.annotations.length) labels.appendChild(h("li", { class: "muted" }, "no lesion"));
        const tagText = read.tags.length ? `tags: ${read.tags.map(name).join(", ")}` : "no tags";
        el.appendChild(h("div", { class: "read", "data-read-id": read.id }, h("p", { class: "read-head" }, swatch, ` Reader ${i + 1}: ${read.reader ?? "?"} · ${tagText}`), labels));
      });
      const allTags = [...new Set(s.reads.flatMap((r) => r.tags))];
      if (allTags.length) {
        const row = h("p", { class: "read-tags" }, "Keep tags: ");
        for (const tag of allTags) {
          const toggle = (yes: boolean) => (yes ? tags.add(tag) : tags.delete(tag));
          row.appendChild(h("label", {}, checkbox("read-tag", tags.has(tag), toggle, { "data-tag-id": tag }), ` ${name(tag)} `));
        }
        el.appendChild(row);
      }
      const make = () => {
        const picks = [...picked].map((k) => k.split(":").map(Number)).map(([read, label]) => ({ read, label }));
        on.adjudicate(picks, [...tags]);
      };
      el.appendChild(h("button", { type: "button", class: "primary", "data-testid": "adjudicate", title: "Replace the image's labels and tags by those picked", on: { click: make } }, "Make the picked labels the final set"));
    },
  };
}
