/** Previous / next page buttons under the worklist, shown when there is more than one page. */
import { clear, h } from "../../components/dom";

export interface PagerState {
  page: number;
  pages: number;
  hasPrevious: boolean;
  hasNext: boolean;
}

export function pager(go: (page: number) => void): { el: HTMLElement; update(s: PagerState): void } {
  const el = h("div", { class: "pager" });
  const update = ({ page, pages, hasPrevious, hasNext }: PagerState) => {
    clear(el);
    if (pages <= 1) return;
    el.appendChild(h("button", { type: "button", disabled: !hasPrevious, on: { click: () => go(page - 1) } }, "‹ Previous"));
    el.appendChild(h("span", {}, `Page ${page} of ${pages}`));
    el.appendChild(h("button", { type: "button", disabled: !hasNext, on: { click: () => go(page + 1) } }, "Next ›"));
  };
  return { el, update };
}
