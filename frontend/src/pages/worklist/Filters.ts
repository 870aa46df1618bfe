/** The worklist's filter and order controls; each change is handed on as `{name: value}`. */
import type { Strategy } from "../../api/strategies";
import type { LabelClass } from "../../api/types";
import { clear, h } from "../../components/dom";
import { orderOptions, strategyOf } from "../../worklist/strategies";

export const STATUSES = ["unlabelled", "proposed", "in_progress", "returned", "done", "reviewed"];
/** What a status means in review: done is submitted, reviewed is accepted. */
const STATUS_TITLES: Record<string, string> = { done: "done (submitted)", reviewed: "reviewed (accepted)", returned: "returned to its annotator" };
export const SPLITS = ["train", "val", "test"];
export const MODALITIES = ["CT", "MR", "CR", "DX", "US", "MG", "PT", "NM", "XA", "OT"];

export interface FiltersState {
  query: URLSearchParams;
  classes: LabelClass[];
  strategies: Strategy[];
}

function select(name: string, value: string, options: [string, string][]): HTMLSelectElement {
  const s = h("select", { name, "aria-label": name });
  for (const [v, label] of options) s.appendChild(h("option", { value: v, selected: v === value }, label));
  return s;
}

export function worklistFilters(change: (changes: Record<string, string>) => void): { el: HTMLFormElement; update(s: FiltersState): void } {
  const el = h("form", { class: "filters" });
  const update = ({ query, classes, strategies }: FiltersState) => {
    clear(el);
    const g = (k: string) => query.get(k) ?? "";
    const strategy = strategyOf(strategies, query);
    const order = select("ordering", strategy?.name ?? "", orderOptions(strategies));
    order.title = strategy?.description ?? "";
    const controls: HTMLSelectElement[] = [
      select("status", g("status"), [["", "Any status"], ...STATUSES.map((s): [string, string] => [s, STATUS_TITLES[s] ?? s.replace("_", " ")])]),
      select("split", g("split"), [["", "Any split"], ...SPLITS.map((s): [string, string] => [s, s])]),
      select("modality", g("modality"), [["", "Any modality"], ...MODALITIES.map((s): [string, string] => [s, s])]),
      select("label_class", g("label_class"), [
        ["", "Any class"],
        ...classes.filter((c) => c.kind === "instance").map((c): [string, string] => [String(c.id), c.name]),
      ]),
      select("suggested_tag", g("suggested_tag"), [
        ["", "Any suggested tag"],
        ...classes.filter((c) => c.kind === "tag").map((c): [string, string] => [String(c.id), `suggested: ${c.name}`]),
      ]),
      select("readers_disagree", g("readers_disagree"), [
        ["", "Any readers"],
        ["true", "Readers disagree"],
        ["false", "Readers agree"],
      ]),
      order,
    ];
    for (const c of controls) {
      c.addEventListener("change", () => change({ [c.name]: c.value }));
      el.appendChild(c);
    }
  };
  return { el, update };
}
