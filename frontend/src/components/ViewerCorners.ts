/**
 * The texts over the viewer's corners and edges: modality and series, slice, window (and its
 * preset), patient · split · status, the pixel under the pointer, and the patient-orientation
 * letters at the four edges.
 */
import type { ImageDetail, ImageStatus } from "../api/types";
import { orientationMarkers, type ImagePlane } from "../viewer/coords";
import { presetNamed, type WindowPreset } from "../viewer/presets";
import { h } from "./dom";

const SIDES = ["left", "right", "top", "bottom"] as const;
const CORNERS = ["tl", "tr", "bl", "br"] as const;

export interface CornerFacts {
  image: ImageDetail;
  index: number;
  count: number;
  window: { center: number; width: number } | null;
  presets: WindowPreset[];
  status: ImageStatus;
  plane: ImagePlane | null;
}

export type CornerTexts = Record<(typeof CORNERS)[number] | (typeof SIDES)[number], string>;

export function cornerTexts({ image, index, count, window: w, presets, status, plane }: CornerFacts): CornerTexts {
  const named = presetNamed(presets, w);
  const marks = plane ? orientationMarkers(plane) : null;
  return {
    tl: `${image.series.modality || image.modality} · Series ${image.series.series_number ?? "—"}`,
    tr: `Slice ${index + 1}/${count}`,
    bl: w ? `W ${Math.round(w.width)} / L ${Math.round(w.center)}${named ? ` · ${named.label}` : ""}` : "",
    br: `${image.patient} · ${image.split} · ${status.replace("_", " ")}`,
    left: marks?.left ?? "",
    right: marks?.right ?? "",
    top: marks?.top ?? "",
    bottom: marks?.bottom ?? "",
  };
}

export interface ViewerCorners {
  /** the corner and edge elements, to lay over the viewport */
  els: HTMLElement[];
  update(f: CornerFacts): void;
  /** position and value of the pixel under the pointer (HU on CT); "" hides it */
  setValue(text: string): void;
}

export function viewerCorners(): ViewerCorners {
  const at = new Map<keyof CornerTexts, HTMLElement>();
  for (const c of CORNERS) at.set(c, h("div", { class: `corner ${c}`, "data-testid": `overlay-${c}` }));
  for (const s of SIDES) at.set(s, h("div", { class: `orient ${s}`, "data-testid": `orient-${s}` }));
  const value = h("div", { class: "corner bc", "data-testid": "overlay-value" });
  return {
    els: [...CORNERS.map((c) => at.get(c)!), value, ...SIDES.map((s) => at.get(s)!)],
    update(f) {
      const texts = cornerTexts(f);
      for (const [k, el] of at) el.textContent = texts[k];
    },
    setValue(text) {
      value.textContent = text;
    },
  };
}
