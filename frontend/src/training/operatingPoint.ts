/**
 * What a model version does at its operating point, in words a radiologist reads: how many
 * lesions it finds, how many false marks it makes, on how many images, with 95 % intervals;
 * COCO AP beside it; and why the version was or was not promoted.
 */
import type { AtThreshold, Estimate, ModelVersion, SplitMetrics } from "../api/types";

export type Split = "val" | "test";

export type SplitSummary =
  | { kind: "not_measured"; text: string }
  | { kind: "unrecorded"; text: string }
  | { kind: "measured"; headline: string; detail: string; basis: string };

function split(v: ModelVersion, name: Split): SplitMetrics | null {
  const m = v.metrics?.[name];
  return m && typeof m === "object" ? m : null;
}

const finite = (x: unknown): x is number => typeof x === "number" && Number.isFinite(x);

/** 0.7 → "70 %". */
export function pct(x: number): string {
  return `${Math.round(x * 100)} %`;
}

/** " (95 % interval 45–90 %)", or "" when the interval is unknown. */
export function intervalText(e: Estimate, format: (x: number) => string): string {
  if (!finite(e.low) || !finite(e.high)) return "";
  return ` (95 % interval ${format(e.low)}–${format(e.high)})`;
}

export const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
export const rate = (x: number) => (x < 10 ? x.toFixed(1) : x.toFixed(0));

/** "finds 7 of 10 lesions …, 0.4 false marks per image …", with what they rest on. */
export function figuresText(f: AtThreshold): { headline: string; detail: string; basis: string } {
  const finds = `finds ${f.found} of ${plural(f.lesions, "lesion")}${intervalText(f.recall, pct)}`;
  const fp = finite(f.fp_per_image.value)
    ? `${rate(f.fp_per_image.value)} false marks per image${intervalText(f.fp_per_image, rate)}`
    : "";
  const detail = [
    finite(f.all_found.value) ? `all lesions found on ${pct(f.all_found.value)} of the images with lesions` : "",
    finite(f.precision.value) ? `${pct(f.precision.value)} of its marks are lesions` : "no marks",
    finite(f.f1.value) ? `F1 ${f.f1.value.toFixed(2)}${intervalText(f.f1, (x) => x.toFixed(2))}` : "",
  ].filter(Boolean);
  const units = f.bootstrap?.unit === "patient" ? `, ${plural(f.bootstrap.units, "patient")}` : "";
  return {
    headline: [finds, fp].filter(Boolean).join(", "),
    detail: detail.join(" · "),
    basis: `on ${plural(f.images, "image")}${units}, at score ≥ ${f.threshold.toFixed(2)}`,
  };
}

/** The lesion-level summary of a split, or why there is none. */
export function splitSummary(v: ModelVersion, name: Split): SplitSummary {
  const m = split(v, name);
  if (m?.not_measured) return { kind: "not_measured", text: `not measured: ${m.not_measured}` };
  if (!m?.at_threshold) {
    return { kind: "unrecorded", text: "no lesion-level figures (recorded only for versions trained since they exist)" };
  }
  return { kind: "measured", ...figuresText(m.at_threshold) };
}

/** "segm AP 0.41 (0.30–0.52) · AP50 0.70 (0.55–0.82)", "" when not measured. */
export function apText(v: ModelVersion, name: Split): string {
  const m = split(v, name);
  if (!m || m.not_measured) return "";
  const parts: string[] = [];
  for (const [key, label] of [
    ["segm_AP", "segm AP"],
    ["segm_AP50", "AP50"],
  ] as const) {
    const x = m[key];
    if (!finite(x)) continue;
    const iv = m.ap_interval?.[key];
    parts.push(`${label} ${x.toFixed(2)}${iv ? ` (${iv[0].toFixed(2)}–${iv[1].toFixed(2)})` : ""}`);
  }
  return parts.join(" · ");
}

/** "nodule_ggo 0.57 · nodule_solid 0.63": each class's COCO mask AP by class name, "" when none. */
export function perClassText(v: ModelVersion, name: Split): string {
  const m = split(v, name);
  if (!m || m.not_measured) return "";
  const prefix = "segm_AP/";
  return Object.entries(m)
    .filter((e): e is [string, number] => e[0].startsWith(prefix) && finite(e[1]))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, x]) => `${key.slice(prefix.length)} ${x.toFixed(2)}`)
    .join(" · ");
}

/** Why the version is, or is not, the active one. */
export function promotionText(v: ModelVersion): string {
  const p = v.promotion ?? {};
  if (p.activated_by) return `promoted by ${p.activated_by}${p.reason && !p.automatic ? ` (the rule said: ${p.reason})` : ""}`;
  if (p.automatic && p.reason) return `promoted automatically: ${p.reason}`;
  if (p.reason) return `${v.status === "candidate" ? "not promoted" : "was not promoted automatically"}: ${p.reason}`;
  return "";
}
