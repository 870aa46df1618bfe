import { describe, expect, it } from "vitest";
import type { FateFigures, ModelVersionValue, ValueFigure } from "../api/types";
import { FATE_COLUMNS, NOT_MEASURED, VERSION_COLUMNS, iouCell, perImageCell, secondsCell, shareCell, valueSeries, valueSummary } from "./value";

const f = (value: number | null, n: number): ValueFigure => ({ value, n });
const none = f(null, 0);

const fates = (decided: number, unchanged: number | null): FateFigures => ({
  proposals: decided,
  counts: { proposed: 0, accepted_unchanged: 0, accepted_edited: 0, class_changed: 0, rejected: 0, deleted: 0 },
  accepted_unchanged: f(unchanged, decided),
  accepted_edited: f(decided ? 0.2 : null, decided),
  class_changed: f(decided ? 0 : null, decided),
  rejected: f(decided ? 0.1 : null, decided),
  deleted: f(decided ? 0.05 : null, decided),
  median_edit_iou: decided ? f(0.8123, 3) : none,
});

const version = (number: number, unchanged: number | null, misses: ValueFigure, seconds: ValueFigure, decided = 25): ModelVersionValue => ({
  ...fates(decided, unchanged),
  number,
  status: "retired",
  images: decided ? 10 : 0,
  proposals_per_image: f(decided ? 2.5 : null, decided ? 10 : 0),
  misses_per_image: misses,
  seconds_per_image_with_proposals: seconds,
  seconds_per_image_without_proposals: none,
});

const v1 = version(1, 0.31, f(0.9, 8), f(75, 8));
const v2 = version(2, 0.64, f(0.2, 9), f(41.4, 9));
const v3 = version(3, null, none, none, 0);

describe("the value of each model version", () => {
  it("shows each figure with what it rests on, and not measured where there is nothing", () => {
    expect(shareCell(f(0.64, 25))).toEqual({ text: "64 %", basis: "of 25 decided", measured: true });
    expect(shareCell(f(null, 0))).toEqual({ text: NOT_MEASURED, basis: "of 0 decided", measured: false });
    expect(perImageCell(f(0.25, 1))).toEqual({ text: "0.3", basis: "1 image", measured: true });
    expect(secondsCell(f(75.4, 8)).text).toBe("1 min 15 s");
    expect(iouCell(f(0.8123, 3))).toEqual({ text: "0.81", basis: "3 edits", measured: true });
    expect(VERSION_COLUMNS.map((c) => c.cell(v3).text)).toEqual(VERSION_COLUMNS.map(() => NOT_MEASURED));
    expect(FATE_COLUMNS.map((c) => c.cell(v2).text)).toEqual(["64 %", "20 %", "0.81", "0 %", "10 %", "5 %"]);
  });

  it("sums up the newest measured version against the one before", () => {
    expect(valueSummary([v3, v2, v1])).toBe("v2: 64 % accepted unchanged, 0.2 misses per image, 41 s per image (v1: 31 %, 0.9, 1 min 15 s)");
    expect(valueSummary([v1])).toBe("v1: 31 % accepted unchanged, 0.9 misses per image, 1 min 15 s per image");
    expect(valueSummary([version(4, 0.5, none, none)])).toBe(
      "v4: 50 % accepted unchanged, misses per image not measured, time per image not measured",
    );
    expect(valueSummary([v3])).toBe("");
  });

  it("plots the shares and the misses over versions, oldest first, with gaps", () => {
    const { shares, misses } = valueSeries([v3, v1, v2]);
    expect(shares.map((s) => s.name)).toEqual(["accepted unchanged", "accepted after edit", "rejected", "deleted"]);
    expect(shares[0].points).toEqual([
      [1, 0.31],
      [2, 0.64],
      [3, null],
    ]);
    expect(misses[0].points).toEqual([
      [1, 0.9],
      [2, 0.2],
      [3, null],
    ]);
  });
});
