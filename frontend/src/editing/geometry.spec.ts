import { describe, expect, it } from "vitest";
import { createMask, maskArea, maskBbox } from "../viewer/rle";
import { boxFromPoints, clampBox, dab, hitHandle, moveBox, resizeBox, stroke } from "./geometry";

describe("box editing", () => {
  it("moves within the image", () => {
    expect(moveBox([10, 10, 20, 20], 5, -3, 100, 100)).toEqual([15, 7, 20, 20]);
    expect(moveBox([10, 10, 20, 20], 500, -30, 100, 100)).toEqual([80, 0, 20, 20]);
  });

  it("resizes by a handle, keeping the opposite side", () => {
    expect(resizeBox([10, 10, 20, 20], "se", 40, 50, 100, 100)).toEqual([10, 10, 30, 40]);
    expect(resizeBox([10, 10, 20, 20], "w", 0, 99, 100, 100)).toEqual([0, 10, 30, 20]);
    // dragging past the opposite side flips instead of going negative
    expect(resizeBox([10, 10, 20, 20], "n", 0, 40, 100, 100)).toEqual([10, 30, 20, 10]);
  });

  it("finds handles and builds boxes from corners", () => {
    expect(hitHandle([10, 10, 20, 20], 30.5, 19, 2)).toBe("e");
    expect(hitHandle([10, 10, 20, 20], 20, 20, 2)).toBeNull();
    expect(boxFromPoints(5, 9, 1, 2)).toEqual([1, 2, 4, 7]);
    expect(clampBox([-5, 90, 20, 20], 100, 100)).toEqual([0, 90, 15, 10]);
  });
});

describe("brush", () => {
  it("paints a disc and erases it again", () => {
    const m = createMask(20, 20);
    expect(dab(m, 10, 10, 3, 1)).toBe(true);
    const area = maskArea(m);
    expect(area).toBeGreaterThan(20);
    expect(area).toBeLessThan(36);
    expect(maskBbox(m)).toEqual([7, 7, 6, 6]);
    expect(dab(m, 10, 10, 3, 1)).toBe(false);
    dab(m, 10, 10, 4, 0);
    expect(maskArea(m)).toBe(0);
  });

  it("only paints accepted pixels (threshold brush)", () => {
    const m = createMask(20, 20);
    dab(m, 10, 10, 5, 1, (x) => x < 10);
    expect(maskBbox(m)![0] + maskBbox(m)![2]).toBe(10);
  });

  it("fills the gaps of a fast stroke", () => {
    const m = createMask(50, 10);
    stroke(m, [2, 5], [48, 5], 2, 1);
    for (let x = 2; x < 48; x++) expect(m.data[5 * 50 + x]).toBe(1);
  });
});
