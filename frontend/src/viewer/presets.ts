import type { ImageDetail } from "../api/types";

export interface WindowPreset {
  key: string;
  label: string;
  center: number;
  width: number;
}

export const CT_PRESETS: WindowPreset[] = [
  { key: "lung", label: "Lung", center: -600, width: 1500 },
  { key: "mediastinum", label: "Mediastinum", center: 50, width: 350 },
  { key: "abdomen", label: "Abdomen", center: 40, width: 400 },
  { key: "bone", label: "Bone", center: 400, width: 1800 },
  { key: "brain", label: "Brain", center: 40, width: 80 },
];

/** Presets offered for an image: CT's anatomy windows; for MR, CR/DX, US, … the image's own. */
export function presetsFor(image: Pick<ImageDetail, "modality" | "window_center" | "window_width">): WindowPreset[] {
  const own: WindowPreset[] =
    image.window_center != null && image.window_width != null && image.window_width > 0
      ? [{ key: "default", label: "Image default", center: image.window_center, width: image.window_width }]
      : [];
  return image.modality === "CT" ? [...own, ...CT_PRESETS] : own;
}

/**
 * Windows taken from the image's own values, for modalities without standard windows (MR,
 * radiographs, US): the central 98 % and 99.8 % of the values (percentiles, so a few extreme
 * pixels — collimator edges, a marker — do not set the contrast). Rounded to integers.
 */
export function percentilePresets(values: ArrayLike<number>): WindowPreset[] {
  const n = values.length;
  if (!n) return [];
  // a histogram over the value range: linear time, whatever the bit depth
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!(hi > lo)) return [];
  const bins = 4096;
  const counts = new Uint32Array(bins);
  const scale = (bins - 1) / (hi - lo);
  for (let i = 0; i < n; i++) counts[Math.round((values[i] - lo) * scale)]++;
  const at = (q: number): number => {
    const target = q * n;
    let seen = 0;
    for (let b = 0; b < bins; b++) {
      seen += counts[b];
      if (seen >= target) return lo + b / scale;
    }
    return hi;
  };
  const window = (key: string, label: string, q: number): WindowPreset | null => {
    const lower = at(q);
    const upper = at(1 - q);
    if (!(upper > lower)) return null;
    const { center, width } = fromRange(lower, upper);
    return { key, label, center: Math.round(center), width: Math.max(1, Math.round(width)) };
  };
  return [window("p1", "Auto 1–99 %", 0.01), window("p01", "Wide 0.1–99.9 %", 0.001)].filter((p): p is WindowPreset => !!p);
}

/** The preset a window is (within a rounding unit), for the overlay to name it. */
export function presetNamed(presets: WindowPreset[], w: { center: number; width: number } | null): WindowPreset | null {
  if (!w) return null;
  return presets.find((p) => Math.abs(p.center - w.center) < 1 && Math.abs(p.width - w.width) < 1) ?? null;
}

export function toRange(center: number, width: number): { lower: number; upper: number } {
  return { lower: center - width / 2, upper: center + width / 2 };
}

export function fromRange(lower: number, upper: number): { center: number; width: number } {
  return { center: (lower + upper) / 2, width: upper - lower };
}
