import { beforeAll, describe, expect, it, vi } from "vitest";
import type { ImageReview, ImageStatus } from "../api/types";
import { installFakeDocument } from "../testing/dom";
import { reviewBox, type ReviewBoxState } from "./ReviewBox";

beforeAll(installFakeDocument);

const review: ImageReview = {
  submitted_by: "ann",
  reviewed_by: "rev",
  leased_to: null,
  lease_expires_at: null,
  comments: [
    { id: 1, annotation: 8, author: "rev", body: "Misses the lower edge.", created_at: "2026-12-04T00:00:00Z" },
    { id: 2, annotation: null, author: "rev", body: "Check the apex too.", created_at: "2026-12-04T00:00:01Z" },
  ],
};

function shown(status: ImageStatus, extra: Partial<ReviewBoxState> = {}) {
  const on = { accept: vi.fn(), giveBack: vi.fn(), edit: vi.fn(), reopen: vi.fn(), selectAnnotation: vi.fn() };
  const box = reviewBox(on);
  box.update({ status, review, reviews: true, editing: false, heldBy: null, locked: null, labelName: (id) => (id === 8 ? "nodule" : null), ...extra });
  const buttons = [...box.el.querySelectorAll("button[data-testid]")].map((b) => b.getAttribute("data-testid"));
  return { box, on, buttons };
}

describe("review box", () => {
  it("says who submitted and who returned the image, and lists the comments", () => {
    const { box, on } = shown("returned", { reviews: false });
    expect(box.el.querySelector('p[data-testid="review-facts"]')?.textContent).toBe("Submitted by ann · Returned by rev");
    const items = [...(box.el.querySelector('ul[data-testid="review-comments"]')?.querySelectorAll("li") ?? [])];
    expect(items.map((i) => i.textContent)).toEqual(["rev on nodule: Misses the lower edge.", "rev: Check the apex too."]);
    (items[0].querySelector("button") as unknown as HTMLButtonElement).click();
    expect(on.selectAnnotation).toHaveBeenCalledWith(8);
  });

  it("offers a reviewer accept, return and edit on a submitted image, reopen on an accepted one, nothing otherwise", () => {
    expect(shown("done").buttons).toEqual(["review-accept", "review-return", "review-edit"]);
    expect(shown("done", { editing: true }).buttons).toEqual(["review-accept", "review-return"]);
    expect(shown("reviewed").buttons).toEqual(["review-reopen", "review-return"]);
    expect(shown("in_progress").buttons).toEqual([]);
    expect(shown("done", { reviews: false }).buttons).toEqual([]);
  });

  it("says why the labels are read-only", () => {
    const { box } = shown("reviewed", { locked: "Accepted in review." });
    expect(box.el.querySelector('p[data-testid="review-locked"]')?.textContent).toBe("Accepted in review.");
    box.refused();
    expect(box.el.querySelector('p[data-testid="review-locked"]')?.classList.contains("flash")).toBe(true);
  });

  it("tells who else is reading the image", () => {
    expect(shown("in_progress", { heldBy: "other" }).box.el.querySelector('p[data-testid="review-held"]')?.textContent).toBe("other is reading this image now.");
  });
});
