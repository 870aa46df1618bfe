import { beforeAll, describe, expect, it, vi } from "vitest";
import type { ImageListItem, LabelClass } from "../../api/types";
import { installFakeDocument } from "../../testing/dom";
import { framesText } from "../../worklist/rows";
import { countsText } from "../StudyListPage";
import { worklistFilters } from "./Filters";
import { pager } from "./Pager";
import { worklistTable } from "./WorklistTable";

beforeAll(installFakeDocument);

const classes: LabelClass[] = [
  { id: 1, name: "nodule", color: "#ff0000", kind: "instance" },
  { id: 2, name: "normal", color: "#00ff00", kind: "tag" },
];

const item = (over: Partial<ImageListItem>) =>
  ({
    id: 5,
    patient: "P-1",
    status: "in_progress",
    split: "train",
    modality: "CT",
    series_number: 3,
    frame_number: 1,
    classes: [1, 9],
    proposed_count: 2,
    accepted_count: 1,
    max_score: 0.912,
    uncertainty: null,
    ...over,
  }) as ImageListItem;

describe("worklist", () => {
  it("counts done, proposed, in progress and matching images", () => {
    const counts = { images: 10, by_status: { done: 2, reviewed: 1, proposed: 4, in_progress: 3 } };
    expect(countsText(counts as never, 4)).toBe("3 of 10 done · 4 with proposals · 3 in progress · 4 match");
  });

  it("offers the filters with the query's values chosen, instance classes only, tags for suggestions", () => {
    const f = worklistFilters(vi.fn());
    f.update({ query: new URLSearchParams("status=done&label_class=1&suggested_tag=2&readers_disagree=true"), classes, strategies: [] });
    const names = [...f.el.querySelectorAll("select")].map((s) => s.getAttribute("name"));
    expect(names).toEqual(["status", "split", "modality", "label_class", "suggested_tag", "readers_disagree", "ordering"]);
    const chosen = (name: string) =>
      [...f.el.querySelectorAll(`select[name="${name}"]`)[0].querySelectorAll("option")].filter((o) => (o).selected);
    expect(chosen("status").map((o) => o.textContent)).toEqual(["done (submitted)"]);
    expect(chosen("label_class").map((o) => o.textContent)).toEqual(["nodule"]);
    expect(f.el.querySelectorAll('select[name="label_class"]')[0].textContent).not.toContain("normal");
    expect(chosen("suggested_tag").map((o) => o.textContent)).toEqual(["suggested: normal"]);
    expect(chosen("readers_disagree").map((o) => o.textContent)).toEqual(["Readers disagree"]);
  });

  it("shows a row per image with its link, facts, class chips and top tag suggestion", () => {
    const t = worklistTable(vi.fn());
    t.update({ items: [item({ top_suggestion: { label_class: 2, probability: 0.874 } })], classes: new Map(classes.map((c) => [c.id, c])), href: (id) => `/images/${id}` });
    const rows = [...t.el.querySelectorAll("tr[data-image-id]")];
    expect(rows.map((r) => r.getAttribute("data-image-id"))).toEqual(["5"]);
    const cells = [...rows[0].querySelectorAll("td")].map((c) => c.textContent);
    expect(cells.slice(1)).toEqual(["5", "P-1", "in progress", "train", "CT", "3", framesText(item({})), "nodule9", "normal 87 %", "2", "1", "0.91", "—"]);
    expect(rows[0].querySelector("a")?.getAttribute("href")).toBe("/images/5");
  });

  it("pages only when there is more than one page", () => {
    const go = vi.fn();
    const p = pager(go);
    p.update({ page: 1, pages: 1, hasPrevious: false, hasNext: false });
    expect(p.el.textContent).toBe("");
    p.update({ page: 2, pages: 3, hasPrevious: true, hasNext: true });
    expect(p.el.textContent).toBe("‹ PreviousPage 2 of 3Next ›");
    p.el.querySelectorAll("button")[1].click();
    expect(go).toHaveBeenCalledWith(3);
  });
});
