import { describe, expect, it } from "vitest";
import { trainingJob } from "../testing/jobs";
import { ago, duration, elapsed, etaText, isActive, optionsText, percent, retrainText, stepText, when, whenShort } from "./format";

const job = trainingJob;

describe("progress and time", () => {
  it("formats progress as a clamped whole percentage", () => {
    expect(percent(0)).toBe("0%");
    expect(percent(0.426)).toBe("42%");
    expect(percent(1)).toBe("100%");
    expect(percent(1.7)).toBe("100%");
    expect(percent(-1)).toBe("0%");
    expect(percent(NaN)).toBe("0%");
    expect(percent(null)).toBe("0%");
  });

  it("formats durations", () => {
    expect(duration(0)).toBe("0 s");
    expect(duration(44.6)).toBe("45 s");
    expect(duration(200)).toBe("3 min 20 s");
    expect(duration(180)).toBe("3 min");
    expect(duration(7500)).toBe("2 h 05 min");
    expect(duration(97200)).toBe("1 d 3 h");
    expect(duration(null)).toBe("—");
    expect(duration(-5)).toBe("—");
    expect(duration(Infinity)).toBe("—");
  });

  it("says what the ETA means in each state", () => {
    expect(etaText(job({ status: "queued" }))).toBe("waiting for a worker");
    expect(etaText(job({ status: "running" }))).toBe("starting…");
    expect(etaText(job({ status: "running", step: 10 }))).toBe("estimating time left…");
    expect(etaText(job({ status: "running", step: 10, eta_seconds: 200 }))).toBe("about 3 min 20 s left");
    expect(etaText(job({ status: "running", step: 10, eta_seconds: 0.2 }))).toBe("finishing…");
    expect(etaText(job({ status: "succeeded", eta_seconds: 0 }))).toBe("");
  });

  it("names epoch and step when known", () => {
    expect(stepText(job({}))).toBe("");
    expect(stepText(job({ epoch: 3, step: 120, total_steps: 400 }))).toBe("epoch 3 / 20 · step 120 / 400");
    expect(stepText(job({ epoch: 2, step: 7, options: { time_budget_s: 600, epochs: 20 } }))).toBe("epoch 2 · step 7");
    expect(stepText(job({ status: "succeeded", epoch: 4, step: 67, total_steps: 580, options: { time_budget_s: 600, epochs: null } }))).toBe(
      "epoch 4 · 67 steps, when its time budget was spent",
    );
    expect(stepText(job({ status: "succeeded", epoch: 20, step: 1200, total_steps: 1200 }))).toBe("epoch 20 / 20 · 1200 steps");
  });

  it("says how close the next automatic retrain is", () => {
    expect(retrainText({ accepted_since_last_version: 14, threshold: 20, due: false })).toBe(
      "14 labels accepted on train since the last version; the next retrain starts by itself at 20 (6 more)",
    );
    expect(retrainText({ accepted_since_last_version: 1, threshold: 1, due: true })).toContain("is due");
  });

  it("measures elapsed time to now while running", () => {
    const now = Date.parse("2026-01-01T10:01:05Z");
    expect(elapsed(job({}), now)).toBe(60);
    expect(elapsed(job({ finished_at: "2026-01-01T10:00:35Z" }), now)).toBe(30);
    expect(elapsed(job({ started_at: null }), now)).toBeNull();
    expect(ago("2026-01-01T10:00:05Z", now)).toBe("1 min ago");
    expect(ago("2026-01-01T10:01:00Z", now)).toBe("5 s ago");
    expect(ago(null, now)).toBe("—");
    expect(when("2026-03-04T05:06:00")).toBe("2026-03-04 05:06");
    expect(whenShort("2026-03-04T05:06:00")).toBe("03-04 05:06");
    expect(whenShort("not a date")).toBe("—");
  });

  it("knows active states and describes options", () => {
    expect(isActive(job({ status: "queued" }))).toBe(true);
    expect(isActive(job({ status: "cancelled" }))).toBe(false);
    expect(isActive(null)).toBe(false);
    expect(optionsText({ backbone: "resnet18_fpn", epochs: 20, image_size: 512, init: "scratch", time_budget_s: null })).toBe(
      "resnet18_fpn · 20 epochs · 512 px · scratch",
    );
    expect(optionsText({ backbone: "resnet50_fpn", epochs: 20, time_budget_s: 600, init: "active" })).toBe(
      "resnet50_fpn · 10 min · fine-tune",
    );
  });
});
