/** Model versions: their metrics over versions, and a row each with promote or roll back. */
import { activateModelVersion } from "../../api/models";
import type { ModelVersion } from "../../api/types";
import { clear, h } from "../../components/dom";
import { lineChart } from "../../components/LineChart";
import { extent, niceTicks } from "../../training/chart";
import { when } from "../../training/format";
import { METRIC_COLUMNS, metricRows, metricSeries } from "../../training/metrics";
import { apText, perClassText, promotionText, splitSummary } from "../../training/operatingPoint";
import { card, errorLine, PLOT_COLORS, type RunAction, type Section } from "./common";

const SPLITS = ["val", "test"] as const;
const COLUMNS = 2 + SPLITS.length * 2 + 1;
type Row = ReturnType<typeof metricRows>[number];

function metricsPlot(versions: ModelVersion[]): Element {
  const plotted = METRIC_COLUMNS.filter((c) => c.key !== "segm_AP50");
  const series = metricSeries(versions, plotted);
  const hi = extent(series.flatMap((s) => s.points.map((p) => p[1])))?.[1] ?? 1;
  return lineChart({
    series: series.map((s, i) => ({ ...s, color: PLOT_COLORS[i % PLOT_COLORS.length], dots: true, width: 1.8 })),
    yDomain: [0, niceTicks(0, Math.max(hi, 0.05), 4).domain[1]],
    xIntegers: true,
    xLabel: "model version",
    yLabel: "AP",
    empty: "No model versions yet",
    testid: "metrics-plot",
  });
}

function head(): HTMLElement {
  return h(
    "thead",
    {},
    h(
      "tr",
      {},
      h("th", {}, "Version"),
      h("th", {}, "Status"),
      ...SPLITS.flatMap((sp) => [
        h("th", { title: "lesion-level figures at the version's score threshold, the proposals radiologists get" }, `${sp}: what radiologists get`),
        h("th", { title: "COCO mask AP over all thresholds, 95 % interval" }, `${sp} AP`),
      ]),
      h("th", {}, ""),
    ),
  );
}

/** Per split: what radiologists get at the version's threshold, and its AP (per class too). */
function splitCells(v: ModelVersion): HTMLElement[] {
  return SPLITS.flatMap((sp) => {
    const summary = splitSummary(v, sp);
    const figures =
      summary.kind === "measured"
        ? h(
            "td",
            { class: "figures", "data-split": sp },
            h("div", {}, summary.headline),
            h("div", { class: "muted small" }, summary.detail),
            h("div", { class: "muted small" }, summary.basis),
          )
        : h("td", { class: "figures muted", "data-split": sp }, summary.text);
    const perClass = perClassText(v, sp);
    return [
      figures,
      h(
        "td",
        { class: "small" },
        apText(v, sp) || "—",
        perClass ? h("div", { class: "muted small", "data-testid": "per-class", title: "COCO mask AP of each class" }, perClass) : null,
      ),
    ];
  });
}

function versionRows(r: Row, activate: (v: ModelVersion, btn: HTMLButtonElement) => void): HTMLElement[] {
  let action: HTMLElement | string = r.status === "active" ? h("span", { class: "muted" }, "serving") : "";
  if (r.action) {
    const btn = h(
      "button",
      { type: "button", "data-action": r.action, class: r.action === "promote" ? "primary small" : "small" },
      r.action === "promote" ? "Promote" : "Roll back",
    );
    btn.addEventListener("click", () => activate(r.version, btn));
    action = btn;
  }
  const row = h(
    "tr",
    { "data-version": r.number, "data-status": r.status },
    h(
      "td",
      { title: `created ${when(r.version.created_at)}${r.version.sha256 ? ` · sha256 ${r.version.sha256.slice(0, 12)}…` : ""}` },
      h("strong", {}, `v${r.number}`),
      h("div", { class: "muted small" }, r.backbone),
      h(
        "div",
        { class: "muted small", title: r.version.metrics?.operating_point?.rule ?? "set before operating points were chosen on val" },
        `proposes at score ≥ ${r.version.score_threshold.toFixed(2)}`,
      ),
    ),
    h("td", {}, h("span", { class: `version-status version-${r.status}` }, r.status)),
    ...splitCells(r.version),
    h("td", {}, action),
  );
  const why = promotionText(r.version);
  if (!why) return [row];
  return [
    row,
    h(
      "tr",
      { class: "promotion", "data-version": r.number },
      h("td", {}),
      h("td", { colspan: COLUMNS - 1, class: "muted small", "data-testid": "promotion-reason" }, why),
    ),
  ];
}

export function versionsSection(run: RunAction): Section {
  const error = errorLine();
  const table = h("table", { class: "data versions", "data-testid": "model-versions" });
  const plot = h("div", { class: "chart-box", "data-testid": "metrics-plot-box" });
  const activate = (v: ModelVersion, btn: HTMLButtonElement) =>
    void run(error, () => {
      btn.disabled = true;
      return activateModelVersion(v.id); // the new active version also pre-annotates untouched images
    });
  return {
    el: card("Model versions", "versions-section", error, plot, table),
    update(s) {
      clear(plot);
      plot.appendChild(metricsPlot(s.versions));
      clear(table);
      table.appendChild(head());
      const rows = metricRows(s.versions);
      const tb = h("tbody");
      for (const r of rows) tb.append(...versionRows(r, activate));
      if (!rows.length) tb.appendChild(h("tr", {}, h("td", { colspan: COLUMNS, class: "muted" }, "No model versions yet: train one.")));
      table.appendChild(tb);
    },
  };
}
