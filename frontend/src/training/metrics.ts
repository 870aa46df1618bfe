/** Model versions as a table and as plot series; metrics may be missing or null. */
import type { ModelVersion } from "../api/types";
import type { Point } from "./chart";

export interface MetricColumn {
  split: "val" | "test";
  key: string;
  label: string;
}

export const METRIC_COLUMNS: MetricColumn[] = [
  { split: "val", key: "segm_AP", label: "val segm AP" },
  { split: "val", key: "segm_AP50", label: "val AP50" },
  { split: "val", key: "bbox_AP", label: "val bbox AP" },
  { split: "test", key: "segm_AP", label: "test segm AP" },
  { split: "test", key: "segm_AP50", label: "test AP50" },
  { split: "test", key: "bbox_AP", label: "test bbox AP" },
];

export type VersionAction = "promote" | "rollback" | null;

export interface MetricRow {
  id: number;
  number: number;
  status: ModelVersion["status"];
  backbone: string;
  values: (number | null)[];
  /** per column: this version has the column's best value */
  best: boolean[];
  action: VersionAction;
  version: ModelVersion;
}

export function metricValue(v: ModelVersion, split: string, key: string): number | null {
  const m = (v.metrics as Record<string, unknown> | null | undefined)?.[split];
  if (!m || typeof m !== "object") return null;
  const x = (m as Record<string, unknown>)[key];
  return typeof x === "number" && Number.isFinite(x) ? x : null;
}

/** Promote a newer version than the active one, roll back to an older one, nothing for the active one. */
export function versionAction(v: Pick<ModelVersion, "number" | "status">, activeNumber: number | null): VersionAction {
  if (v.status === "active") return null;
  if (activeNumber == null || v.number > activeNumber) return "promote";
  return "rollback";
}

/** Newest first, with the best value of each column marked (ties all marked). */
export function metricRows(versions: ModelVersion[], columns: MetricColumn[] = METRIC_COLUMNS): MetricRow[] {
  const active = versions.find((v) => v.status === "active")?.number ?? null;
  const sorted = [...versions].sort((a, b) => b.number - a.number);
  const values = sorted.map((v) => columns.map((c) => metricValue(v, c.split, c.key)));
  const best = columns.map((_, i) => {
    const xs = values.map((row) => row[i]).filter((x): x is number => x != null);
    return xs.length ? Math.max(...xs) : null;
  });
  return sorted.map((v, r) => ({
    id: v.id,
    number: v.number,
    status: v.status,
    backbone: v.backbone,
    values: values[r],
    best: values[r].map((x, i) => x != null && best[i] != null && sorted.length > 1 && x === best[i]),
    action: versionAction(v, active),
    version: v,
  }));
}

export interface Series {
  name: string;
  points: Point[];
}

/** One series per column, x = version number (oldest first), y = value or null. */
export function metricSeries(versions: ModelVersion[], columns: MetricColumn[]): Series[] {
  const sorted = [...versions].sort((a, b) => a.number - b.number);
  return columns.map((c) => ({
    name: c.label,
    points: sorted.map((v): Point => [v.number, metricValue(v, c.split, c.key)]),
  }));
}

/** 0.41234 → "0.412"; null → "—". */
export function formatMetric(x: number | null): string {
  return x == null ? "—" : x.toFixed(3);
}
