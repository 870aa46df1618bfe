/**
 * Reader agreement: each reader against the final set a reviewer accepted, and each pair of
 * readers over the images both submitted — lesions matched one to one at mask IoU ≥ 0.5
 * (detection F1, the mean Dice of the matches), Cohen's κ per tag, and Fleiss' κ where three
 * or more read an image — every figure over what it rests on; filtered by reader, lesion class
 * and submission date; and a plot of each reader's F1 against the final set.
 */
import { getAgreement } from "../../api/agreement";
import { errorText } from "../../api/http";
import { getProject } from "../../api/projects";
import type { AgreementFigures, AgreementFilters, FleissAgreement, LabelClass, ProjectAgreement, ReaderAgreement } from "../../api/types";
import { barChart, type Bar } from "../../components/BarChart";
import { clear, h } from "../../components/dom";
import { plural } from "../../training/operatingPoint";
import { NOT_MEASURED, type ValueCell, type ValueColumn } from "../../training/value";
import { errorLine, figureCell, figureHeads, PLOT_COLORS, type Section } from "./common";

/** Why a figure is not measured. */
export const WHY = {
  noFinal: "no reviewed image yet",
  noLesion: "no lesion on either side",
  noMatch: "no lesion matched at mask IoU ≥ 0.5",
  chance: "both sides gave every image the same answer; expected agreement is 1: κ undefined",
  fleiss: "every reading gave the same answer; expected agreement is 1: κ undefined",
};

/** Whose lesions are side a and side b, and why a figure over no image is missing. */
export interface Sides {
  a: string;
  b: string;
  none: string;
}

export const AGAINST_FINAL: Sides = { a: "reader's", b: "final's", none: WHY.noFinal };
export const PAIR: Sides = { a: "first's", b: "second's", none: "no image both read" };

/** A figure over what it rests on; null is "not measured", never 0 or 1, saying why. */
function figure(value: number | null, basis: string, why: string): ValueCell {
  return value == null ? { text: NOT_MEASURED, basis, measured: false, why } : { text: value.toFixed(2), basis, measured: true };
}

export function f1Cell(f: AgreementFigures, sides: Sides): ValueCell {
  const l = f.lesions;
  return figure(l.f1, `${plural(l.lesions_a + l.lesions_b, "lesion")} · ${plural(f.images, "image")}`, f.images ? WHY.noLesion : sides.none);
}

function diceCell(f: AgreementFigures, sides: Sides): ValueCell {
  const l = f.lesions;
  const why = !f.images ? sides.none : l.lesions_a + l.lesions_b ? WHY.noMatch : WHY.noLesion;
  return figure(l.mean_dice, plural(l.matched, "match", "matches"), why);
}

function kappaCell(f: AgreementFigures, tag: string, sides: Sides): ValueCell {
  const k = f.tags[tag] ?? { kappa: null, images: 0 };
  return figure(k.kappa, plural(k.images, "image"), k.images ? WHY.chance : sides.none);
}

/** The figure columns both tables share: lesions, F1, Dice, then κ per tag. */
export function figureColumns(tags: string[], sides: Sides): ValueColumn<AgreementFigures>[] {
  return [
    {
      key: "lesions",
      label: `Lesions matched / ${sides.a} / ${sides.b}`,
      title: "lesions matched one to one at mask IoU ≥ 0.5, then each side's lesions",
      cell: (f) => ({ text: `${f.lesions.matched} / ${f.lesions.lesions_a} / ${f.lesions.lesions_b}`, basis: plural(f.images, "image"), measured: true }),
    },
    { key: "f1", label: "Detection F1", title: "2 matched / (lesions of both sides)", cell: (f) => f1Cell(f, sides) },
    { key: "dice", label: "Mean Dice", title: "the mean Dice of the matched lesions", cell: (f) => diceCell(f, sides) },
    ...tags.map((tag) => ({
      key: `kappa-${tag}`,
      label: `κ ${tag}`,
      title: `Cohen's κ of the tag ${tag} (present or not) over the images both sides read`,
      cell: (f: AgreementFigures) => kappaCell(f, tag, sides),
    })),
  ];
}

/** The tags the figures name, in the answer's order. */
export function tagNames(a: ProjectAgreement): string[] {
  const all = [...a.readers.map((r) => r.against_final), ...a.pairs].flatMap((f) => Object.keys(f.tags));
  return [...new Set(all)];
}

/** Each reader's F1 against the final set as a bar: none when not measured. */
export function f1Bars(readers: ReaderAgreement[]): Bar[] {
  return readers.map((r) => {
    const c = f1Cell(r.against_final, AGAINST_FINAL);
    const l = r.against_final.lesions;
    return {
      key: r.reader,
      label: `${r.reader} (n = ${plural(r.against_final.images, "image")})`,
      value: l.f1,
      text: c.text,
      title: c.why ?? `${r.reader}: F1 ${c.text}, ${l.matched} matched of ${l.lesions_a} + ${l.lesions_b} lesions`,
    };
  });
}

/** Fleiss' κ in words: per tag, or why it is not measured. */
export function fleissParts(f: FleissAgreement): { lead: string; tags: { tag: string; text: string; why?: string }[] } {
  if ("not_measured" in f) return { lead: `Fleiss' κ: ${NOT_MEASURED} (${f.not_measured}).`, tags: [] };
  return {
    lead: `Fleiss' κ over ${plural(f.images, "image")} read by ${f.readers_per_image} readers each:`,
    tags: Object.entries(f.tags).map(([tag, k]) => (k == null ? { tag, text: `${tag} ${NOT_MEASURED}`, why: WHY.fleiss } : { tag, text: `${tag} ${k.toFixed(2)}` })),
  };
}

function emptyRow(columns: number, text: string): HTMLElement {
  return h("tr", {}, h("td", { colspan: columns, class: "muted" }, text));
}

function readersTable(table: HTMLElement, a: ProjectAgreement, tags: string[], filtered: boolean) {
  const columns = figureColumns(tags, AGAINST_FINAL);
  clear(table);
  table.appendChild(
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", {}, "Reader"),
        h("th", { class: "num", title: "images the reader submitted (marked done)" }, "Reads submitted"),
        h("th", { class: "num", title: "of those, images accepted in review: the final set" }, "Images reviewed"),
        ...figureHeads(columns),
      ),
    ),
  );
  const body = h("tbody");
  for (const r of a.readers) {
    body.appendChild(
      h(
        "tr",
        { "data-reader": r.reader },
        h("td", {}, r.reader),
        h("td", { class: "num", "data-figure": "reads" }, r.reads),
        h("td", { class: "num", "data-figure": "images" }, r.against_final.images),
        ...columns.map((c) => figureCell(c.cell(r.against_final), c.key)),
      ),
    );
  }
  if (!a.readers.length) body.appendChild(emptyRow(3 + columns.length, filtered ? "No submitted read matches the filters." : "No submitted read yet."));
  table.appendChild(body);
}

function pairsTable(table: HTMLElement, a: ProjectAgreement, tags: string[]) {
  const columns = figureColumns(tags, PAIR);
  clear(table);
  table.appendChild(h("thead", {}, h("tr", {}, h("th", {}, "Readers"), h("th", { class: "num", title: "images both readers submitted" }, "Images both read"), ...figureHeads(columns))));
  const body = h("tbody");
  for (const p of a.pairs) {
    body.appendChild(
      h(
        "tr",
        { "data-pair": p.readers.join(" · ") },
        h("td", {}, p.readers.join(" · ")),
        h("td", { class: "num", "data-figure": "images" }, p.images),
        ...columns.map((c) => figureCell(c.cell(p), c.key)),
      ),
    );
  }
  if (!a.pairs.length) body.appendChild(emptyRow(2 + columns.length, "No two readers submitted the same image."));
  table.appendChild(body);
}

function option(value: string, text: string, selected: string): HTMLOptionElement {
  return h("option", { value, selected: value === selected }, text);
}

/** The filter row: reader, lesion class, submitted from / to (whole days, UTC). */
function filterRow(change: () => void) {
  const reader = h("select", { name: "reader", "aria-label": "reader", "data-testid": "agreement-reader" });
  const labelClass = h("select", { name: "label_class", "aria-label": "lesion class", "data-testid": "agreement-class" });
  const from = h("input", { type: "date", name: "from", "aria-label": "submitted from", "data-testid": "agreement-from" });
  const to = h("input", { type: "date", name: "to", "aria-label": "submitted to", "data-testid": "agreement-to" });
  for (const c of [reader, labelClass, from, to]) c.addEventListener("change", change);
  const fill = (select: HTMLSelectElement, any: string, options: [string, string][]) => {
    const current = select.value;
    clear(select);
    for (const [v, text] of [["", any], ...options]) select.appendChild(option(v, text, current));
    select.value = current;
  };
  return {
    el: h(
      "div",
      { class: "filters agreement-filters", "data-testid": "agreement-filters" },
      reader,
      labelClass,
      h("label", { class: "muted small" }, "submitted from ", from),
      h("label", { class: "muted small" }, "to ", to),
    ),
    setReaders: (names: string[]) => fill(reader, "Any reader", names.map((n) => [n, n])),
    setClasses: (classes: LabelClass[]) =>
      fill(
        labelClass,
        "Any lesion class",
        classes.filter((c) => c.kind === "instance").map((c) => [String(c.id), c.name]),
      ),
    read: (): AgreementFilters => ({
      reader: reader.value,
      label_class: labelClass.value,
      from: from.value,
      // the whole last day
      to: to.value && `${to.value}T23:59:59.999999`,
    }),
  };
}

export function agreementSection(slug: string): Section {
  const error = errorLine("agreement-error");
  const summary = h("p", { class: "muted", "data-testid": "agreement-summary" }, "Loading…");
  const readers = h("table", { class: "data value agreement", "data-testid": "agreement-readers" });
  const pairs = h("table", { class: "data value agreement", "data-testid": "agreement-pairs" });
  const fleiss = h("p", { "data-testid": "agreement-fleiss" });
  const matching = h("p", { class: "muted small", "data-testid": "agreement-matching" });
  const plot = h("div", { class: "chart-box agreement-plot" });
  const known = new Set<string>();
  let asked = 0;
  let started = false;
  const filterControls = filterRow(() => void load());

  const show = (a: ProjectAgreement, filters: AgreementFilters) => {
    for (const r of a.readers) known.add(r.reader);
    filterControls.setReaders([...known].sort());
    const tags = tagNames(a);
    summary.textContent = `${plural(a.readers.length, "reader")}; ${plural(a.final_images, "image")} of their reads accepted in review (the final set).`;
    readersTable(readers, a, tags, Object.values(filters).some(Boolean));
    pairsTable(pairs, a, tags);
    const f = fleissParts(a.fleiss);
    clear(fleiss);
    fleiss.appendChild(h("span", {}, f.lead));
    for (const t of f.tags) fleiss.append(" ", h("span", { class: t.why ? "muted" : "", title: t.why, "data-tag": t.tag }, t.text));
    matching.textContent = `Matching: ${a.matching}.`;
    clear(plot);
    plot.appendChild(
      barChart({
        bars: f1Bars(a.readers),
        domain: [0, 1],
        xLabel: "detection F1 against the final set",
        color: PLOT_COLORS[0],
        empty: "No reader yet",
        testid: "agreement-f1-plot",
        barTestid: "agreement-bar",
      }),
    );
  };

  async function load() {
    const n = ++asked;
    const filters = filterControls.read();
    error.textContent = "";
    el.dataset.state = "loading";
    try {
      const a = await getAgreement(slug, filters);
      if (n !== asked) return;
      show(a, filters);
      el.dataset.state = "loaded";
    } catch (e) {
      if (n !== asked) return;
      summary.textContent = "";
      error.textContent = `Could not load the agreement figures (${errorText(e)}).`;
      el.dataset.state = "failed";
    }
  }

  const el = h(
    "section",
    { class: "card wide", "data-testid": "agreement-section" },
    h("h2", {}, "Reader agreement"),
    h(
      "p",
      { class: "muted small" },
      "Each reader's submitted labels against the final set accepted in review, and each pair of readers over the images both submitted; every figure with the images it rests on.",
    ),
    filterControls.el,
    summary,
    error,
    plot,
    h("h3", {}, "Each reader against the final set"),
    readers,
    h("h3", {}, "Pairs of readers"),
    pairs,
    fleiss,
    matching,
  );
  return {
    el,
    // loads once shown (the page shows its sections to admins only), then on each filter change
    update() {
      if (started) return;
      started = true;
      getProject(slug)
        .then((p) => filterControls.setClasses(p.label_classes))
        .catch(() => {});
      void load();
    },
  };
}
