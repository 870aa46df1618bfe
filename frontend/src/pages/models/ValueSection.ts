/** Value of each model version: what people did with its proposals, and their time per image. */
import type { FateFigures, ModelValue } from "../../api/types";
import { clear, h } from "../../components/dom";
import { lineChart } from "../../components/LineChart";
import { niceTicks } from "../../training/chart";
import { FATE_COLUMNS, VERSION_COLUMNS, secondsCell, valueSeries, valueSummary } from "../../training/value";
import { figureCell, figureHeads, PLOT_COLORS, type Section } from "./common";

function valuePlots(value: ModelValue): Element[] {
  const { shares, misses } = valueSeries(value.versions);
  const hi = Math.max(0.5, ...misses[0].points.map((p) => p[1] ?? 0));
  const axes = { xIntegers: true, xLabel: "model version", empty: "No model versions yet", height: 200 };
  return [
    lineChart({
      ...axes,
      series: shares.map((s, i) => ({ ...s, color: PLOT_COLORS[i % PLOT_COLORS.length], dots: true, width: 1.8 })),
      yDomain: [0, 1],
      yLabel: "share of decided",
      testid: "value-shares-plot",
    }),
    lineChart({
      ...axes,
      series: misses.map((s) => ({ ...s, color: PLOT_COLORS[4], dots: true, width: 1.8 })),
      yDomain: [0, niceTicks(0, hi, 4).domain[1]],
      yLabel: "misses / image",
      testid: "value-misses-plot",
    }),
  ];
}

/** How many proposals, over how many nobody acted on yet. */
function proposalsCell(f: FateFigures): HTMLElement {
  return h("td", { class: "num" }, h("div", {}, f.proposals), h("div", { class: "muted small" }, `${f.counts.proposed} not acted on`));
}

function versionTable(table: HTMLElement, value: ModelValue) {
  const columns = 3 + VERSION_COLUMNS.length;
  table.appendChild(h("thead", {}, h("tr", {}, h("th", {}, "Version"), h("th", { class: "num" }, "Images"), h("th", { class: "num" }, "Proposals"), ...figureHeads(VERSION_COLUMNS))));
  const tb = h("tbody");
  for (const v of value.versions) {
    tb.appendChild(
      h(
        "tr",
        { "data-version": v.number },
        h("td", {}, h("strong", {}, `v${v.number}`), h("div", { class: `muted small version-${v.status}` }, v.status)),
        h("td", { class: "num" }, v.images),
        proposalsCell(v),
        ...VERSION_COLUMNS.map((c) => figureCell(c.cell(v), c.key)),
      ),
    );
  }
  if (!value.versions.length) tb.appendChild(h("tr", {}, h("td", { colspan: columns, class: "muted" }, "No model versions yet.")));
  table.appendChild(tb);
}

function assistTable(table: HTMLElement, assist: FateFigures) {
  table.appendChild(h("thead", {}, h("tr", {}, h("th", { class: "num" }, "Results saved"), ...figureHeads(FATE_COLUMNS))));
  table.appendChild(h("tbody", {}, h("tr", { "data-source": "assist" }, proposalsCell(assist), ...FATE_COLUMNS.map((c) => figureCell(c.cell(assist), c.key)))));
}

export function valueSection(): Section {
  const summary = h("p", { "data-testid": "value-summary" });
  const plots = h("div", { class: "value-plots", "data-testid": "value-plots" });
  const versions = h("table", { class: "data value", "data-testid": "model-value" });
  const assist = h("table", { class: "data value", "data-testid": "assist-value" });
  const withoutModel = h("p", { class: "muted small", "data-testid": "without-model" });
  const el = h(
    "section",
    { class: "card wide", "data-testid": "value-section" },
    h("h2", {}, "Value of each model version"),
    h(
      "p",
      { class: "muted small" },
      "What people did with each version's proposals (shares of those they decided on), what they drew that it missed, and their active time per finished image.",
    ),
    summary,
    plots,
    versions,
    h("h3", {}, "Box → mask"),
    assist,
    withoutModel,
  );
  return {
    el,
    update({ value }) {
      clear(plots);
      clear(versions);
      clear(assist);
      if (!value) return;
      summary.textContent = valueSummary(value.versions) || "No proposal decided on yet.";
      plots.append(...valuePlots(value));
      versionTable(versions, value);
      assistTable(assist, value.assist);
      const alone = secondsCell(value.without_model.seconds_per_image);
      withoutModel.textContent = `Without model proposals: ${alone.text} per finished image (${alone.basis}).`;
    },
  };
}
