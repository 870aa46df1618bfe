import { beforeAll, describe, expect, it, vi } from "vitest";
import type { ImageRead, LabelClass } from "../api/types";
import { installFakeDocument } from "../testing/dom";
import { readsBox } from "./ReadsBox";

beforeAll(installFakeDocument);

const classes = new Map<number, LabelClass>([
  [1, { id: 1, name: "nodule", color: "#ff0000", kind: "instance" }],
  [7, { id: 7, name: "normal", color: "#00ff00", kind: "tag" }],
  [8, { id: 8, name: "emphysema", color: "#0000ff", kind: "tag" }],
]);
const read = (id: number, reader: string, boxes: number, tags: number[]): ImageRead => ({
  id,
  reader,
  submitted_at: "2026-12-04T00:00:00Z",
  annotations: Array.from({ length: boxes }, (_, n) => ({ label_class: 1, box: [n * 10, 0, 8, 6], mask: null })),
  tags,
});

describe("reads box", () => {
  it("lists each reader's labels and tags, nothing when there are no reads", () => {
    const box = readsBox({ adjudicate: vi.fn() });
    box.update({ reads: [], classes });
    expect(box.el.firstChild).toBeNull();
    box.update({ reads: [read(3, "ann", 1, [7]), read(4, "bob", 2, [7, 8])], classes });
    const heads = [...box.el.querySelectorAll("p")].map((p) => p.textContent);
    expect(heads.slice(0, 2)).toEqual([" Reader 1: ann · tags: normal", " Reader 2: bob · tags: normal, emphysema"]);
    expect(box.el.querySelectorAll('input[data-testid="read-pick"]').length).toBe(3);
  });

  it("sends the picked labels and keeps the tags every reader gave unless unticked", () => {
    const adjudicate = vi.fn();
    const box = readsBox({ adjudicate });
    const reads = [read(3, "ann", 1, [7]), read(4, "bob", 2, [7, 8])];
    box.update({ reads, classes });
    const tags = [...box.el.querySelectorAll('input[data-testid="read-tag"]')];
    expect(tags.map((t) => [t.getAttribute("data-tag-id"), (t as unknown as HTMLInputElement).checked])).toEqual([
      ["7", true],
      ["8", false],
    ]);
    const pick = box.el.querySelectorAll('input[data-label="1"]')[0] as unknown as HTMLInputElement;
    pick.checked = true;
    pick.dispatchEvent({ type: "change" } as Event);
    const normal = tags[0] as unknown as HTMLInputElement;
    normal.checked = false;
    normal.dispatchEvent({ type: "change" } as Event);
    (box.el.querySelector('button[data-testid="adjudicate"]') as unknown as HTMLButtonElement).click();
    expect(adjudicate).toHaveBeenCalledWith([{ read: 4, label: 1 }], []);
    // a redraw of the same reads keeps the choices
    box.update({ reads, classes });
    expect((box.el.querySelectorAll('input[data-label="1"]')[0] as unknown as HTMLInputElement).checked).toBe(true);
  });
});
