import { describe, expect, it } from "vitest";
import type { AugmentationOpSpec } from "../../api/types";
import { enabledText, settingsProblems } from "./AugmentationSection";

const op = (enabled: boolean, strength: number, probability: number) => ({ enabled, strength, probability });
const OPS: AugmentationOpSpec[] = [
  { name: "hflip", title: "Horizontal flip", strength: "none", low: 1, high: 1, default: op(true, 1, 0.5) },
  { name: "rotation", title: "Rotation", strength: "max degrees either way", low: 0, high: 180, default: op(true, 10, 0.7) },
];

describe("augmentation section", () => {
  it("names each field out of range, and nothing for settings in range", () => {
    expect(settingsProblems(OPS, { hflip: op(true, 1, 0.5), rotation: op(false, 0, 1) })).toEqual([]);
    expect(settingsProblems(OPS, { hflip: op(true, 1, 1.5), rotation: op(true, 200, 0.5) })).toEqual([
      "Horizontal flip: probability is between 0 and 1",
      "Rotation: strength is between 0 and 180",
    ]);
    expect(settingsProblems(OPS, { rotation: op(true, Number.NaN, 0.5) })).toEqual(["Rotation: strength is between 0 and 180"]);
  });

  it("says which ops are on", () => {
    expect(enabledText(OPS, { hflip: op(true, 1, 0.5), rotation: op(false, 10, 0.7) })).toBe("1 of 2 ops on: Horizontal flip");
    expect(enabledText(OPS, { hflip: op(false, 1, 0.5), rotation: op(false, 10, 0.7) })).toBe("0 of 2 ops on");
  });
});
