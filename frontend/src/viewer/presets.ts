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

export function toRange(center: number, width: number): { lower: number; upper: number } {
  return { lower: center - width / 2, upper: center + width / 2 };
}

export function fromRange(lower: number, upper: number): { center: number; width: number } {
  return { center: (lower + upper) / 2, width: upper - lower };
}
