import { beforeAll, describe, expect, it, vi } from "vitest";
import type { LabelClass } from "../api/types";
import { fromServer } from "../editing/document";
import { annotationRow } from "../testing/annotations";
import { installFakeDocument } from "../testing/dom";
import { encodeRle } from "../viewer/rle";
import { annotationList } from "./AnnotationList";

const classes = new Map<number, LabelClass>([
  [1, { id: 1, name: "nodule", color: "#ff0000", kind: "instance" }],
  [2, { id: 2, name: "mass", color: "#00ff00", kind: "instance" }],
]);
const mask = encodeRle({ width: 4, height: 2, data: new Uint8Array([0, 1, 1, 0, 0, 1, 1, 0]) });

beforeAll(installFakeDocument);

function rendered() {
  const on = { select: vi.fn(), accept: vi.fn(), reject: vi.fn(), remove: vi.fn() };
  const list = annotationList(on);
  list.update({
    annotations: [
      fromServer(annotationRow({ client_key: "low", score: 0.4, alternatives: [{ label_class: 2, score: 0.3 }] })),
      fromServer(annotationRow({ client_key: "drawn", id: 8, score: null, source: "human", status: "accepted", mask, box: [1.004, 0, 2, 2] })),
      fromServer(annotationRow({ client_key: "high", score: 0.95 })),
      fromServer(annotationRow({ client_key: "gone", status: "rejected" })),
    ],
    classes,
    selectedKey: "high",
  });
  return { el: list.el, on, rows: [...list.el.querySelectorAll("li[data-key]")] };
}

describe("annotation list", () => {
  it("lists the labels not rejected, a person's first, then by score, and counts the rejected", () => {
    const { el, rows } = rendered();
    expect(rows.map((r) => r.getAttribute("data-key"))).toEqual(["drawn", "high", "low"]);
    expect(rows[1].getAttribute("class")).toBe("ann proposed selected");
    expect(el.textContent).toContain("1 rejected");
  });

  it("publishes each label's facts as data attributes", () => {
    const drawn = rendered().rows[0];
    expect(drawn.getAttribute("data-status")).toBe("accepted");
    expect(drawn.getAttribute("data-source")).toBe("human");
    expect(drawn.getAttribute("data-annotation-id")).toBe("8");
    expect(drawn.getAttribute("data-box")).toBe("1,0,2,2");
    expect(drawn.getAttribute("data-area")).toBe("4");
    expect(drawn.getAttribute("data-rle")).toBe(mask.counts);
  });

  it("names the model's runner-up class", () => {
    const { rows } = rendered();
    expect(rows[2].querySelector('span[data-testid="runner-up"]')?.textContent).toBe("or mass 0.30");
    expect(rows[1].querySelector('span[data-testid="runner-up"]')).toBeNull();
  });

  it("rejects a model's label, deletes a person's, and selects on a click of the row", () => {
    const { on, rows } = rendered();
    (rows[0].querySelector('button[data-action="delete"]') as unknown as HTMLButtonElement).click();
    (rows[1].querySelector('button[data-action="reject"]') as unknown as HTMLButtonElement).click();
    (rows[2] as unknown as HTMLElement).click();
    expect(on.remove).toHaveBeenCalledWith("drawn");
    expect(on.reject).toHaveBeenCalledWith("high");
    expect(on.select).toHaveBeenCalledWith("low");
    expect(on.select).toHaveBeenCalledTimes(1);
  });

  it("shows a reviewer's comment beside the label it is about", () => {
    const list = annotationList({ select: vi.fn(), accept: vi.fn(), reject: vi.fn(), remove: vi.fn() });
    const comment = { id: 1, annotation: 8, author: "reviewer", body: "Misses the lower edge.", created_at: "2026-12-04T00:00:00Z" };
    list.update({
      annotations: [fromServer(annotationRow({ client_key: "drawn", id: 8, source: "human", status: "accepted" })), fromServer(annotationRow({ client_key: "other", id: 9 }))],
      classes,
      selectedKey: null,
      comments: [comment, { ...comment, id: 2, annotation: null, body: "On the image." }],
    });
    const rows = [...list.el.querySelectorAll("li[data-key]")];
    expect(rows.map((r) => r.querySelector('p[data-testid="label-comment"]')?.textContent ?? null)).toEqual(["reviewer: Misses the lower edge.", null]);
  });

  it("says how to start when the image has no labels", () => {
    const list = annotationList({ select: vi.fn(), accept: vi.fn(), reject: vi.fn(), remove: vi.fn() });
    list.update({ annotations: [], classes, selectedKey: null });
    expect(list.el.textContent).toBe("No labels yet. Draw a box (B) or paint (P).");
  });
});
