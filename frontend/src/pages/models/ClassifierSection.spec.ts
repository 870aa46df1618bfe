import { describe, expect, it } from "vitest";
import type { ModelVersion, TagFigures } from "../../api/types";
import { estimateText, tagCell, tagRows } from "./ClassifierSection";

const est = (value: number | null, low: number | null = null, high: number | null = null) => ({ value, low, high });
const figures = (over: Partial<TagFigures> = {}): TagFigures => ({
  threshold: 0.23,
  images: 22,
  positives: 14,
  negatives: 8,
  confusion: { tp: 13, fp: 1, fn: 1, tn: 7 },
  bootstrap: { samples: 2000, confidence: 0.95, unit: "patient", units: 11 },
  auroc: est(0.973, 0.91, 1.0),
  average_precision: est(0.98, 0.93, 1.0),
  f1: est(0.93, 0.82, 1.0),
  accuracy: est(0.91, 0.8, 1.0),
  ...over,
});
const version = (number: number, classifier: ModelVersion["classifier"]) => ({ id: number, number, classifier }) as ModelVersion;

describe("classifier section", () => {
  it("writes a figure with its interval, and not measured without one", () => {
    expect(estimateText(est(0.973, 0.91, 1))).toBe("0.97 (0.91–1.00)");
    expect(estimateText(est(0.5))).toBe("0.50");
    expect(estimateText(est(null))).toBe("not measured");
  });

  it("says what a tag's figures rest on, and why one is not measured", () => {
    const cell = tagCell("test", figures());
    expect(cell).toEqual({
      measured: true,
      headline: "AUROC 0.97 (0.91–1.00)",
      detail: "AP 0.98 (0.93–1.00) · at p ≥ 0.23: F1 0.93 (0.82–1.00), accuracy 0.91 (0.80–1.00)",
      counts: "TP 13 · FP 1 · FN 1 · TN 7",
      basis: "on 22 images (14 with the tag); intervals drawing 11 patients",
    });
    expect(tagCell("val", { not_measured: "no labelled images in val", images: 0 })).toMatchObject({ measured: false, basis: "no labelled images in val" });
    expect(tagCell("val", figures({ auroc: est(null), positives: 0 })).measured).toBe(false);
  });

  it("has a row per version and tag, newest first, and says why a version has none", () => {
    const rows = tagRows([
      version(1, {}),
      version(3, { metrics: { val: { images: 8, mean_auroc: 1, tags: { "nodule present": figures(), normal: figures() } }, test: { images: 22, mean_auroc: 0.97, tags: { "nodule present": figures(), normal: figures() } } } }),
      version(2, { not_trained: "train holds no tagged image and no finished image without it" }),
    ]);
    expect(rows.map((r) => [r.version, r.tag])).toEqual([
      [3, "nodule present"],
      [3, "normal"],
      [2, null],
      [1, null],
    ]);
    expect(rows[2].note).toBe("no tag classifier: train holds no tagged image and no finished image without it");
    expect(rows[3].note).toMatch(/^no tag classifier/);
  });
});
