/**
 * Classification: each version's tag classifier, per tag and split — AUROC, average precision,
 * F1 and accuracy at the threshold chosen on val (95 % intervals), the confusion counts and
 * the images behind them — and the mean AUROC over versions.
 */
import type { Estimate, ModelVersion, TagFigures, TagSplitMetrics } from "../../api/types";
import { clear, h } from "../../components/dom";
import { lineChart } from "../../components/LineChart";
import { PLOT_COLORS, type Section } from "./common";

const SPLITS = ["val", "test"] as const;
type Split = (typeof SPLITS)[number];

const two = (x: number) => x.toFixed(2);

/** "0.97 (0.91–1.00)", or "not measured" when undefined. */
export function estimateText(e: Estimate | undefined): string {
  if (!e || e.value == null) return "not measured";
  return e.low != null && e.high != null ? `${two(e.value)} (${two(e.low)}–${two(e.high)})` : two(e.value);
}

export interface TagCell {
  measured: boolean;
  headline: string;
  detail: string;
  counts: string;
  basis: string;
}

/** One tag on one split, in words. */
export function tagCell(split: Split, figures: TagSplitMetrics["tags"][string] | undefined): TagCell {
  if (!figures) return { measured: false, headline: "not measured", detail: "", counts: "", basis: `not in ${split}` };
  if ("not_measured" in figures) return { measured: false, headline: "not measured", detail: "", counts: "", basis: figures.not_measured };
  const f: TagFigures = figures;
  const c = f.confusion;
  return {
    measured: f.auroc.value != null,
    headline: `AUROC ${estimateText(f.auroc)}`,
    detail: `AP ${estimateText(f.average_precision)} · at p ≥ ${two(f.threshold)}: F1 ${estimateText(f.f1)}, accuracy ${estimateText(f.accuracy)}`,
    counts: `TP ${c.tp} · FP ${c.fp} · FN ${c.fn} · TN ${c.tn}`,
    basis: `on ${f.images} images (${f.positives} with the tag); intervals drawing ${f.bootstrap.units} ${f.bootstrap.unit}s`,
  };
}

export interface TagRow {
  version: number;
  tag: string | null;
  /** when there is no figure: why */
  note?: string;
  cells?: Record<Split, TagCell>;
}

/** A row per version and tag, newest version first; a version without a classifier says why. */
export function tagRows(versions: ModelVersion[]): TagRow[] {
  const rows: TagRow[] = [];
  for (const v of [...versions].sort((a, b) => b.number - a.number)) {
    const c = v.classifier ?? {};
    if (c.not_trained) rows.push({ version: v.number, tag: null, note: `no tag classifier: ${c.not_trained}` });
    else if (!c.metrics) rows.push({ version: v.number, tag: null, note: "no tag classifier (the project had no tag classes, or the version is older)" });
    else {
      const tags = Object.keys(c.metrics.val?.tags ?? c.metrics.test?.tags ?? {});
      for (const tag of tags) {
        rows.push({
          version: v.number,
          tag,
          cells: { val: tagCell("val", c.metrics.val?.tags[tag]), test: tagCell("test", c.metrics.test?.tags[tag]) },
        });
      }
    }
  }
  return rows;
}

function aurocPlot(versions: ModelVersion[]): Element {
  const sorted = [...versions].sort((a, b) => a.number - b.number);
  const series = SPLITS.map((split, i) => ({
    name: `${split} mean AUROC`,
    color: PLOT_COLORS[i],
    dots: true,
    width: 1.8,
    points: sorted.flatMap((v): [number, number][] => {
      const m = v.classifier?.metrics?.[split]?.mean_auroc;
      return m == null ? [] : [[v.number, m]];
    }),
  }));
  return lineChart({
    series: series.filter((s) => s.points.length),
    yDomain: [0, 1],
    xIntegers: true,
    xLabel: "model version",
    yLabel: "AUROC",
    empty: "No version has a tag classifier yet",
    testid: "tag-auroc-plot",
  });
}

export function classifierSection(): Section {
  const plot = h("div", { class: "chart-box tag-plot" });
  const body = h("tbody", {});
  const table = h(
    "table",
    { class: "data tag-metrics", "data-testid": "tag-metrics" },
    h("thead", {}, h("tr", {}, h("th", {}, "Version"), h("th", {}, "Tag"), ...SPLITS.map((s) => h("th", {}, s)))),
    body,
  );
  const el = h(
    "section",
    { class: "card wide", "data-testid": "classifier-section" },
    h("h2", {}, "Classification (tags)"),
    h("p", { class: "muted" }, "The tag classifier trained with each version: how well it ranks images with the tag above those without (AUROC), and what it proposes at the threshold chosen on val."),
    plot,
    table,
  );
  return {
    el,
    update(s) {
      clear(plot);
      plot.appendChild(aurocPlot(s.versions));
      clear(body);
      for (const r of tagRows(s.versions)) {
        const cells = r.cells
          ? SPLITS.map((sp) =>
              h(
                "td",
                { class: r.cells![sp].measured ? "figures" : "figures muted", "data-split": sp },
                h("div", {}, r.cells![sp].headline),
                h("div", { class: "muted small" }, r.cells![sp].detail),
                h("div", { class: "muted small" }, r.cells![sp].counts),
                h("div", { class: "muted small" }, r.cells![sp].basis),
              ),
            )
          : [h("td", { class: "muted", colspan: SPLITS.length }, r.note ?? "")];
        body.appendChild(h("tr", { "data-version": r.version, "data-tag": r.tag ?? "" }, h("td", {}, `v${r.version}`), h("td", {}, r.tag ?? "—"), ...cells));
      }
      if (!s.versions.length) body.appendChild(h("tr", {}, h("td", { colspan: 2 + SPLITS.length, class: "muted" }, "No model versions yet.")));
    },
  };
}
