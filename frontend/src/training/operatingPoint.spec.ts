import { describe, expect, it } from "vitest";
import type { AtThreshold, ModelVersion } from "../api/types";
import { modelVersion } from "../testing/modelVersions";
import { apText, figuresText, intervalText, pct, perClassText, promotionText, splitSummary } from "./operatingPoint";

const est = (value: number | null, low: number | null = null, high: number | null = null) => ({ value, low, high });

const figures: AtThreshold = {
  threshold: 0.62,
  images: 12,
  lesions: 10,
  found: 7,
  false_marks: 5,
  precision: est(0.58, 0.3, 0.8),
  recall: est(0.7, 0.45, 0.9),
  f1: est(0.64, 0.4, 0.8),
  all_found: est(0.625, 0.3, 0.9),
  fp_per_image: est(0.4167, 0.1, 0.8),
  bootstrap: { samples: 2000, confidence: 0.95, unit: "patient", units: 4 },
};

const version = (over: Partial<ModelVersion>): ModelVersion =>
  modelVersion({ number: 3, score_threshold: 0.62, ...over });

describe("figures at the operating point", () => {
  it("says how many lesions are found and how many false marks, with intervals", () => {
    const t = figuresText(figures);
    expect(t.headline).toBe("finds 7 of 10 lesions (95 % interval 45 %–90 %), 0.4 false marks per image (95 % interval 0.1–0.8)");
    expect(t.detail).toBe("all lesions found on 63 % of the images with lesions · 58 % of its marks are lesions · F1 0.64 (95 % interval 0.40–0.80)");
    expect(t.basis).toBe("on 12 images, 4 patients, at score ≥ 0.62");
  });

  it("leaves out what is unknown", () => {
    expect(intervalText(est(0.5), pct)).toBe("");
    const none = figuresText({
      ...figures,
      found: 0,
      lesions: 1,
      images: 1,
      precision: est(null),
      f1: est(0),
      recall: est(0, 0, 0),
      bootstrap: { ...figures.bootstrap, unit: "image", units: 1 },
    });
    expect(none.headline.startsWith("finds 0 of 1 lesion (95 % interval 0 %–0 %)")).toBe(true);
    expect(none.detail).toContain("no marks");
    expect(none.basis).toBe("on 1 image, at score ≥ 0.62");
  });

  it("says why a split was not measured, never a blank", () => {
    const v = version({
      metrics: {
        val: { segm_AP: 0.41, segm_AP50: 0.7, ap_interval: { segm_AP: [0.3, 0.52], segm_AP50: null }, at_threshold: figures },
        test: { not_measured: "no labels in test", images: 3, lesions: 0 },
      },
    });
    expect(splitSummary(v, "test")).toEqual({ kind: "not_measured", text: "not measured: no labels in test" });
    expect(splitSummary(v, "val").kind).toBe("measured");
    expect(apText(v, "val")).toBe("segm AP 0.41 (0.30–0.52) · AP50 0.70");
    expect(apText(v, "test")).toBe("");
    const legacy = version({ metrics: { val: { segm_AP: 0.2 } } });
    expect(splitSummary(legacy, "val").kind).toBe("unrecorded");
    expect(splitSummary(version({}), "test").kind).toBe("unrecorded");
  });

  it("gives each class its own mask AP, skipping classes with none", () => {
    const v = version({
      metrics: {
        val: { segm_AP: 0.5, "segm_AP/nodule_solid": 0.634, "segm_AP/nodule_ggo": 0.571, "segm_AP/mass": null, "bbox_AP/nodule_ggo": 0.2 },
        test: { not_measured: "no labels in test", "segm_AP/nodule_solid": 0.1 },
      },
    });
    expect(perClassText(v, "val")).toBe("nodule_ggo 0.57 · nodule_solid 0.63");
    expect(perClassText(v, "test")).toBe("");
  });

  it("says why a version was or was not promoted", () => {
    const reason = "val has 3 lesions: too few to decide (at least 10); promote by hand if you trust it.";
    expect(promotionText(version({ promotion: { automatic: false, reason } }))).toBe(`not promoted: ${reason}`);
    expect(promotionText(version({ status: "active", promotion: { automatic: true, reason: "better", activated_by: null } }))).toBe(
      "promoted automatically: better",
    );
    expect(promotionText(version({ status: "active", promotion: { automatic: false, reason, activated_by: "ada" } }))).toBe(
      `promoted by ada (the rule said: ${reason})`,
    );
    expect(promotionText(version({}))).toBe("");
  });
});
