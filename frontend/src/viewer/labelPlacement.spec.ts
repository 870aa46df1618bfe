import { describe, expect, it } from "vitest";
import { placeTags, readableOn, type Rect } from "./labelPlacement";

const overlap = (a: Rect, b: Rect) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

describe("placeTags", () => {
  it("puts a tag above its box when the spot is free", () => {
    const [tag] = placeTags([{ box: { x: 50, y: 100, w: 40, h: 40 }, w: 60, h: 15 }], 500, 500);
    expect(tag).toEqual({ x: 50, y: 84, w: 60, h: 15 });
  });

  it("never lays two tags of neighbouring boxes over each other", () => {
    const boxes = [0, 1, 2, 3, 4].map((i) => ({ box: { x: 100 + i * 8, y: 200 + i * 4, w: 30, h: 30 }, w: 80, h: 15 }));
    const tags = placeTags(boxes, 500, 500);
    for (let i = 0; i < tags.length; i++) for (let j = i + 1; j < tags.length; j++) expect(overlap(tags[i], tags[j])).toBe(false);
  });

  it("keeps tags inside the canvas: below a box at the top edge, left of the right edge", () => {
    const [top, right] = placeTags(
      [
        { box: { x: 10, y: 2, w: 20, h: 20 }, w: 50, h: 15 },
        { box: { x: 480, y: 300, w: 15, h: 15 }, w: 60, h: 15 },
      ],
      500,
      500,
    );
    expect(top.y).toBe(23);
    expect(right.x).toBe(440);
  });
});

describe("readableOn", () => {
  it("writes black on light class colours and white on dark ones", () => {
    expect(readableOn("#ffcc00")).toBe("#000");
    expect(readableOn("#00ff00")).toBe("#000");
    expect(readableOn("#1f3a93")).toBe("#fff");
    expect(readableOn("#000000")).toBe("#fff");
  });
});
