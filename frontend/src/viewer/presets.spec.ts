import { describe, expect, it } from "vitest";
import { percentilePresets, presetNamed, presetsFor } from "./presets";

describe("window presets", () => {
  it("CT gets anatomy windows, other modalities only their own", () => {
    expect(presetsFor({ modality: "CT", window_center: 40, window_width: 400 }).map((p) => p.key)).toEqual([
      "default",
      "lung",
      "mediastinum",
      "abdomen",
      "bone",
      "brain",
    ]);
    expect(presetsFor({ modality: "MR", window_center: null, window_width: null })).toEqual([]);
  });

  it("percentile windows ignore a few extreme pixels", () => {
    // a radiograph-like spread of 1000..3000 with a handful of saturated marker pixels
    const values = new Float32Array(100_000);
    for (let i = 0; i < values.length; i++) values[i] = 1000 + (2000 * i) / values.length;
    for (let i = 0; i < 20; i++) values[i * 37] = 65535;
    const [auto, wide] = percentilePresets(values);
    expect(auto.key).toBe("p1");
    expect(auto.center).toBeGreaterThan(1900);
    expect(auto.center).toBeLessThan(2100);
    expect(auto.width).toBeGreaterThan(1800);
    expect(auto.width).toBeLessThan(2000);
    expect(wide.width).toBeGreaterThan(auto.width);
    expect(wide.width).toBeLessThan(2500);
  });

  it("a flat image has no percentile window", () => {
    expect(percentilePresets(new Float32Array(100).fill(7))).toEqual([]);
    expect(percentilePresets([])).toEqual([]);
  });

  it("names the preset a window is", () => {
    const presets = presetsFor({ modality: "CT", window_center: 40, window_width: 400 });
    expect(presetNamed(presets, { center: -600, width: 1500 })?.label).toBe("Lung");
    expect(presetNamed(presets, { center: -610, width: 1500 })).toBeNull();
  });
});
