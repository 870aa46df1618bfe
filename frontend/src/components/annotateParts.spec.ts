import { beforeAll, describe, expect, it, vi } from "vitest";
import type { ImageDetail, LabelClass, TagSuggestion } from "../api/types";
import type { SaveState } from "../sync/saveQueue";
import { installFakeDocument } from "../testing/dom";
import { saveStatus, saveStatusText } from "./SaveStatus";
import { tagsBox, topSuggestion } from "./TagsBox";
import { cornerTexts } from "./ViewerCorners";

beforeAll(installFakeDocument);

const state = (over: Partial<SaveState>): SaveState => ({ mode: "saved", pending: 0, conflicts: [], errors: [], ...over });

describe("save status", () => {
  it("says what is kept where, and when a decision is needed", () => {
    expect(saveStatusText(state({}))).toBe("All changes saved");
    expect(saveStatusText(state({ mode: "pending", pending: 2 }))).toBe("2 unsaved edit(s)");
    expect(saveStatusText(state({ mode: "saving", pending: 2 }))).toBe("Saving…");
    expect(saveStatusText(state({ mode: "offline", pending: 3 }))).toBe("Offline — 3 edit(s) kept on this device, retrying");
    expect(saveStatusText(state({ mode: "auth", pending: 1 }))).toBe("Session expired — 1 edit(s) kept on this device");
    expect(saveStatusText(state({ errors: [{} as never] }))).toBe("Needs your decision");
  });

  it("publishes the mode", () => {
    const s = saveStatus();
    s.update(state({ mode: "offline" }));
    expect(s.el.getAttribute("data-mode")).toBe("offline");
  });
});

describe("corner texts", () => {
  const image = { modality: "OT", series: { modality: "CT", series_number: 4 }, patient: "P-7", split: "val" } as ImageDetail;

  it("names series, slice, window and its preset, patient and status, and the orientation", () => {
    const t = cornerTexts({
      image,
      index: 2,
      count: 10,
      window: { center: 40.2, width: 399.7 },
      presets: [{ key: "soft", label: "Soft tissue", center: 40, width: 400 }],
      status: "in_progress",
      plane: { rowCosines: [1, 0, 0], columnCosines: [0, 1, 0] } as never,
    });
    expect([t.tl, t.tr, t.bl, t.br]).toEqual(["CT · Series 4", "Slice 3/10", "W 400 / L 40 · Soft tissue", "P-7 · val · in progress"]);
    expect([t.left, t.right, t.top, t.bottom]).toEqual(["R", "L", "A", "P"]);
  });

  it("leaves out what is not known", () => {
    const t = cornerTexts({ image: { ...image, series: { ...image.series, modality: "", series_number: null } }, index: 0, count: 1, window: null, presets: [], status: "done", plane: null });
    expect([t.tl, t.bl, t.left]).toEqual(["OT · Series —", "", ""]);
  });
});

describe("image tags", () => {
  const classes = new Map<number, LabelClass>([
    [1, { id: 1, name: "nodule", color: "#f00", kind: "instance" }],
    [4, { id: 4, name: "normal", color: "#0f0", kind: "tag" }],
  ]);

  const handlers = () => ({ change: vi.fn(), reject: vi.fn() });
  const suggestion = (over: Partial<TagSuggestion> = {}): TagSuggestion => ({
    label_class: 4,
    probability: 0.87,
    threshold: 0.4,
    suggested: true,
    decision: "pending",
    model_version: 3,
    ...over,
  });

  it("offers a checkbox per tag class, checked when the image has it", () => {
    const t = tagsBox(handlers());
    t.update({ classes, tags: [4], suggestions: [] });
    const boxes = [...t.el.querySelectorAll("input")];
    expect(boxes.map((b) => [b.getAttribute("data-tag-id"), (b).checked])).toEqual([["4", true]]);
    expect(t.el.textContent).toBe(" normal");
  });

  it("says when the project has no tags", () => {
    const t = tagsBox(handlers());
    t.update({ classes: new Map([[1, classes.get(1)!]]), tags: [], suggestions: [] });
    expect(t.el.textContent).toBe("This project has no image tags.");
  });

  it("shows a pending suggestion beside a tag not set, accepted or rejected with a button", () => {
    const on = handlers();
    const t = tagsBox(on);
    t.update({ classes, tags: [], suggestions: [suggestion()] });
    const chip = t.el.querySelector('span[data-testid="tag-suggestion"]')!;
    expect(chip.textContent).toBe("suggested 87 %✓✗");
    (chip.querySelector('button[data-action="accept-tag"]') as unknown as HTMLButtonElement).click();
    expect(on.change).toHaveBeenCalledWith([4]);
    (chip.querySelector('button[data-action="reject-tag"]') as unknown as HTMLButtonElement).click();
    expect(on.reject).toHaveBeenCalledWith(4);
    for (const over of [{ suggested: false }, { decision: "rejected" as const }]) {
      t.update({ classes, tags: [], suggestions: [suggestion(over)] });
      expect(t.el.querySelector('span[data-testid="tag-suggestion"]')).toBeNull();
    }
    t.update({ classes, tags: [4], suggestions: [suggestion()] });
    expect(t.el.querySelector('span[data-testid="tag-suggestion"]')).toBeNull();
  });

  it("acts on the most probable open suggestion", () => {
    const list = [suggestion({ label_class: 5, probability: 0.6 }), suggestion({ probability: 0.9 }), suggestion({ label_class: 6, probability: 0.95, suggested: false })];
    expect(topSuggestion(list, [])?.label_class).toBe(4);
    expect(topSuggestion(list, [4])?.label_class).toBe(5);
    expect(topSuggestion(list, [4, 5])).toBeNull();
  });
});
