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

/** Newest first, each with what an admin may do with it. */
export function metricRows(versions: ModelVersion[]): MetricRow[] {
  const active = versions.find((v) => v.status === "active")?.number ?? null;
  return [...versions]
    .sort((a, b) => b.number - a.number)
    .map((v) => ({
      id: v.id,
      number: v.number,
      status: v.status,
      backbone: v.backbone,
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

