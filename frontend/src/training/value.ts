/**
 * The value of each model version (and of the box → mask assist) as table cells, a one-line
 * summary and plot series. Every figure shows what it rests on; a null one is "not measured".
 */
import type { FateFigures, ModelVersionValue, ValueFigure } from "../api/types";
import { duration } from "./format";
import type { Series } from "./metrics";
import { pct, plural, rate } from "./operatingPoint";

export const NOT_MEASURED = "not measured";

export interface ValueCell {
  text: string;
  /** what the figure rests on, e.g. "of 25 decided" (proposals) */
  basis: string;
  measured: boolean;
  /** when not measured: why (shown on hover) */
  why?: string;
}

function cell(f: ValueFigure, format: (x: number) => string, basis: string): ValueCell {
  return f.value == null ? { text: NOT_MEASURED, basis, measured: false } : { text: format(f.value), basis, measured: true };
}

export const shareCell = (f: ValueFigure) => cell(f, pct, `of ${f.n} decided`);
export const perImageCell = (f: ValueFigure) => cell(f, rate, plural(f.n, "image"));
export const secondsCell = (f: ValueFigure) => cell(f, duration, plural(f.n, "image"));
export const iouCell = (f: ValueFigure) => cell(f, (x) => x.toFixed(2), plural(f.n, "edit"));

export interface ValueColumn<T> {
  key: string;
  label: string;
  title: string;
  cell: (v: T) => ValueCell;
}

/** What people did with the proposals they decided on (accepted, edited, reclassed, rejected, deleted). */
export const FATE_COLUMNS: ValueColumn<FateFigures>[] = [
  { key: "accepted_unchanged", label: "Accepted unchanged", title: "accepted as proposed", cell: (v) => shareCell(v.accepted_unchanged) },
  { key: "accepted_edited", label: "Accepted after edit", title: "box or mask edited, then accepted", cell: (v) => shareCell(v.accepted_edited) },
  {
    key: "median_edit_iou",
    label: "Median edit IoU",
    title: "IoU of an edited proposal with what was accepted (masks; boxes where there is no mask)",
    cell: (v) => iouCell(v.median_edit_iou),
  },
  { key: "class_changed", label: "Class changed", title: "accepted with another class", cell: (v) => shareCell(v.class_changed) },
  { key: "rejected", label: "Rejected", title: "marked rejected", cell: (v) => shareCell(v.rejected) },
  { key: "deleted", label: "Deleted", title: "deleted", cell: (v) => shareCell(v.deleted) },
];

export const VERSION_COLUMNS: ValueColumn<ModelVersionValue>[] = [
  { key: "proposals_per_image", label: "Proposals / image", title: "on the images it pre-annotated", cell: (v) => perImageCell(v.proposals_per_image) },
  ...FATE_COLUMNS,
  {
    key: "misses_per_image",
    label: "Misses / image",
    title: "labels people drew themselves (by hand or box → mask) on the finished images it pre-annotated",
    cell: (v) => perImageCell(v.misses_per_image),
  },
  {
    key: "seconds_with",
    label: "Time / image with proposals",
    title: "active seconds per finished image it proposed on",
    cell: (v) => secondsCell(v.seconds_per_image_with_proposals),
  },
  {
    key: "seconds_without",
    label: "Time / image, none proposed",
    title: "active seconds per finished image it pre-annotated and proposed nothing on",
    cell: (v) => secondsCell(v.seconds_per_image_without_proposals),
  },
];

const measured = (v: ModelVersionValue) => v.images > 0 || v.proposals > 0;

/** "v2: 64 % accepted unchanged, 0.2 misses per image, 41 s per image (v1: 31 %, 0.9, 75 s)". */
export function valueSummary(versions: ModelVersionValue[]): string {
  const [latest, before] = [...versions].filter(measured).sort((a, b) => b.number - a.number);
  if (!latest) return "";
  const cells = (v: ModelVersionValue) => [
    shareCell(v.accepted_unchanged),
    perImageCell(v.misses_per_image),
    secondsCell(v.seconds_per_image_with_proposals),
  ];
  // after a figure, and before "not measured"
  const names = [
    ["accepted unchanged", "accepted unchanged"],
    ["misses per image", "misses per image"],
    ["per image", "time per image"],
  ];
  const text = cells(latest)
    .map((c, i) => (c.measured ? `${c.text} ${names[i][0]}` : `${names[i][1]} ${NOT_MEASURED}`))
    .join(", ");
  const earlier = before ? ` (v${before.number}: ${cells(before).map((c) => c.text).join(", ")})` : "";
  return `v${latest.number}: ${text}${earlier}`;
}

/** Over versions (oldest first): the shares of decided proposals, and misses per image. */
export function valueSeries(versions: ModelVersionValue[]): { shares: Series[]; misses: Series[] } {
  const sorted = [...versions].sort((a, b) => a.number - b.number);
  const series = (name: string, figure: (v: ModelVersionValue) => ValueFigure): Series => ({
    name,
    points: sorted.map((v) => [v.number, figure(v).value]),
  });
  return {
    shares: [
      series("accepted unchanged", (v) => v.accepted_unchanged),
      series("accepted after edit", (v) => v.accepted_edited),
      series("rejected", (v) => v.rejected),
      series("deleted", (v) => v.deleted),
    ],
    misses: [series("misses per image", (v) => v.misses_per_image)],
  };
}
