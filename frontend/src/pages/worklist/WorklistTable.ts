/** The worklist's rows: thumbnail, id link, facts and counts; a row opens its image on click or Enter. */
import type { ImageListItem, LabelClass } from "../../api/types";
import { clear, h } from "../../components/dom";
import { framesText } from "../../worklist/rows";

const HEADINGS = ["", "#", "Patient", "Status", "Split", "Modality", "Series", "Frames", "Classes", "Suggested tag", "Proposed", "Accepted", "Max score", "Uncertainty"];

export interface WorklistTableState {
  items: ImageListItem[];
  classes: Map<number, LabelClass>;
  /** where a row leads */
  href: (id: number) => string;
}

function fmt(n: number | null, digits = 2): string {
  return n == null ? "—" : n.toFixed(digits);
}

function chips(it: ImageListItem, classes: Map<number, LabelClass>): HTMLElement {
  const el = h("span", { class: "chips" });
  for (const id of it.classes) {
    const c = classes.get(id);
    const chip = h("span", { class: "chip" }, c?.name ?? String(id));
    if (c) chip.style.borderColor = c.color;
    el.appendChild(chip);
  }
  return el;
}

/** "nodule present 87 %": the image's top pending tag suggestion, or a dash. */
export function suggestionText(it: ImageListItem, classes: Map<number, LabelClass>): string {
  const top = it.top_suggestion;
  if (!top) return "—";
  return `${classes.get(top.label_class)?.name ?? `#${top.label_class}`} ${Math.round(top.probability * 100)} %`;
}

function row(it: ImageListItem, href: string, classes: Map<number, LabelClass>): HTMLTableRowElement {
  return h(
    "tr",
    { "data-image-id": it.id, tabindex: 0 },
    h(
      "td",
      { class: "thumb" },
      h("img", { src: `/api/images/${it.id}/preview.png`, alt: "", loading: "lazy", width: 40, height: 40, "data-testid": "thumbnail" }),
    ),
    h("td", {}, h("a", { href, "data-link": true }, String(it.id))),
    h("td", {}, it.patient),
    h("td", {}, h("span", { class: `status status-${it.status}` }, it.status.replace("_", " "))),
    h("td", {}, it.split),
    h("td", {}, it.modality),
    h("td", { class: "num" }, it.series_number ?? "—"),
    h("td", { class: "num", "data-testid": "frame" }, framesText(it)),
    h("td", {}, chips(it, classes)),
    h("td", { class: "muted", "data-testid": "top-suggestion" }, suggestionText(it, classes)),
    h("td", { class: "num" }, it.proposed_count),
    h("td", { class: "num" }, it.accepted_count),
    h("td", { class: "num" }, fmt(it.max_score)),
    h("td", { class: "num" }, fmt(it.uncertainty, 3)),
  );
}

export function worklistTable(open: (href: string) => void): { el: HTMLTableElement; update(s: WorklistTableState): void } {
  const el = h("table", { class: "worklist", "data-testid": "worklist" });
  const update = ({ items, classes, href }: WorklistTableState) => {
    clear(el);
    el.appendChild(h("thead", {}, h("tr", {}, ...HEADINGS.map((t) => h("th", {}, t)))));
    const body = h("tbody");
    for (const it of items) {
      const to = href(it.id);
      const tr = row(it, to, classes);
      tr.addEventListener("click", (e) => {
        if ((e.target as Element).closest("a")) return;
        performance.mark("radlabel:open-image");
        open(to);
      });
      tr.addEventListener("keydown", (e) => {
        if (e.key === "Enter") open(to);
      });
      body.appendChild(tr);
    }
    el.appendChild(body);
  };
  return { el, update };
}
