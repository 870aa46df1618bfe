/**
 * Augmentation: each op on or off with its strength and probability, saved for the project's
 * next retrains, and a preview grid of one labelled image augmented under the form's settings
 * (saved or not), so an admin sees that boxes and masks follow the pixels before a retrain.
 */
import { getAugmentation, previewAugmentation, putAugmentation } from "../../api/augmentation";
import { errorText } from "../../api/http";
import { listImages } from "../../api/images";
import type { AugmentationConfig, AugmentationOp, AugmentationOpSpec, AugmentationSettings, ImageListItem } from "../../api/types";
import { append, clear, h } from "../../components/dom";
import { errorLine, type Section } from "./common";

export const PREVIEW_SAMPLES = 8;

/** The form's problems in words, one per bad field; none: it can be saved. */
export function settingsProblems(ops: AugmentationOpSpec[], settings: AugmentationSettings): string[] {
  const problems: string[] = [];
  for (const spec of ops) {
    const op = settings[spec.name];
    if (!op) continue;
    if (spec.strength !== "none" && !(op.strength >= spec.low && op.strength <= spec.high)) {
      problems.push(`${spec.title}: strength is between ${spec.low} and ${spec.high}`);
    }
    if (!(op.probability >= 0 && op.probability <= 1)) problems.push(`${spec.title}: probability is between 0 and 1`);
  }
  return problems;
}

/** "3 of 12 ops on: Horizontal flip, Rotation, Noise". */
export function enabledText(ops: AugmentationOpSpec[], settings: AugmentationSettings): string {
  const on = ops.filter((o) => settings[o.name]?.enabled).map((o) => o.title);
  return `${on.length} of ${ops.length} ops on${on.length ? `: ${on.join(", ")}` : ""}`;
}

interface OpRow {
  el: HTMLTableRowElement;
  read(): AugmentationOp;
  set(op: AugmentationOp): void;
}

function opRow(spec: AugmentationOpSpec, onChange: () => void): OpRow {
  const enabled = h("input", { type: "checkbox", "aria-label": `${spec.title} on`, "data-testid": `aug-${spec.name}-enabled` });
  const fixed = spec.strength === "none";
  const step = spec.high - spec.low > 5 ? 1 : 0.01;
  const strength = h("input", {
    type: "number",
    class: "num",
    min: spec.low,
    max: spec.high,
    step,
    disabled: fixed,
    "aria-label": `${spec.title} strength`,
    "data-testid": `aug-${spec.name}-strength`,
  });
  const probability = h("input", { type: "number", class: "num", min: 0, max: 1, step: 0.05, "aria-label": `${spec.title} probability`, "data-testid": `aug-${spec.name}-probability` });
  for (const input of [enabled, strength, probability]) input.addEventListener("change", onChange);
  const el = h(
    "tr",
    { "data-op": spec.name },
    h("td", {}, h("label", {}, enabled, " ", spec.title)),
    h("td", {}, fixed ? h("span", { class: "muted" }, "–") : strength),
    h("td", { class: "muted small" }, fixed ? "" : `${spec.strength} (${spec.low}–${spec.high})`),
    h("td", {}, probability),
  );
  return {
    el,
    read: () => ({ enabled: enabled.checked, strength: fixed ? spec.default.strength : Number(strength.value), probability: Number(probability.value) }),
    set(op) {
      enabled.checked = op.enabled;
      strength.value = String(op.strength);
      probability.value = String(op.probability);
    },
  };
}

function imageLabel(image: ImageListItem): string {
  return `#${image.id} · ${image.accepted_count} label${image.accepted_count === 1 ? "" : "s"}`;
}

export function augmentationSection(slug: string): Section {
  const error = errorLine("augmentation-error");
  const summary = h("p", { class: "muted", "data-testid": "augmentation-summary" }, "Loading…");
  const rows = h("tbody", {});
  const table = h("table", { class: "data augmentation-ops" }, h("thead", {}, h("tr", {}, h("th", {}, "Op"), h("th", {}, "Strength"), h("th", {}, ""), h("th", {}, "Probability"))), rows);
  const save = h("button", { type: "button", class: "primary", "data-testid": "augmentation-save", disabled: true }, "Save");
  const defaults = h("button", { type: "button", "data-testid": "augmentation-defaults", disabled: true }, "Defaults");
  const saved = h("span", { class: "muted small", "data-testid": "augmentation-saved" });
  const image = h("select", { "aria-label": "preview image", "data-testid": "augmentation-image" });
  const preview = h("button", { type: "button", "data-testid": "augmentation-preview", disabled: true }, "Preview");
  const grid = h("div", { class: "augmentation-grid", "data-testid": "augmentation-samples" });
  let config: AugmentationConfig | null = null;
  let opRows: OpRow[] = [];

  const current = (): AugmentationSettings => Object.fromEntries(opRows.map((r, i) => [config!.ops[i].name, r.read()]));
  const show = (settings: AugmentationSettings) => opRows.forEach((r, i) => r.set(settings[config!.ops[i].name] ?? config!.ops[i].default));
  const changed = () => {
    if (!config) return;
    const problems = settingsProblems(config.ops, current());
    error.textContent = problems.join("; ");
    save.disabled = preview.disabled = problems.length > 0;
    preview.disabled ||= !image.value;
    summary.textContent = enabledText(config.ops, current());
    saved.textContent = JSON.stringify(current()) === JSON.stringify(config.settings) ? "Saved: the next retrain augments with these." : "Not saved yet.";
  };

  async function load() {
    const [c, images] = await Promise.all([getAugmentation(slug), listImages(slug, { split: "train", page_size: "100" })]);
    config = c;
    opRows = c.ops.map((spec) => opRow(spec, changed));
    clear(rows);
    append(rows, ...opRows.map((r) => r.el));
    show(c.settings);
    const labelled = images.results.filter((i) => i.accepted_count > 0);
    clear(image);
    for (const i of labelled.length ? labelled : images.results) image.appendChild(h("option", { value: String(i.id) }, imageLabel(i)));
    if (!image.options.length) image.appendChild(h("option", { value: "" }, "no train image yet"));
    defaults.disabled = false;
    changed();
  }

  save.addEventListener("click", () => {
    error.textContent = "";
    save.disabled = true;
    putAugmentation(slug, current())
      .then((c) => {
        config = c;
        show(c.settings);
      })
      .catch((e) => (error.textContent = errorText(e)))
      .finally(changed);
  });
  defaults.addEventListener("click", () => {
    if (!config) return;
    show(Object.fromEntries(config.ops.map((o) => [o.name, o.default])));
    changed();
  });
  image.addEventListener("change", changed);
  preview.addEventListener("click", () => {
    error.textContent = "";
    preview.disabled = true;
    grid.setAttribute("aria-busy", "true");
    previewAugmentation(slug, Number(image.value), PREVIEW_SAMPLES, current())
      .then((p) => {
        clear(grid);
        p.samples.forEach((png, i) => grid.appendChild(h("img", { src: `data:image/png;base64,${png}`, alt: `augmented sample ${i + 1}`, width: p.size, height: p.size })));
      })
      .catch((e) => (error.textContent = errorText(e)))
      .finally(() => {
        grid.removeAttribute("aria-busy");
        changed();
      });
  });
  void load().catch((e) => {
    summary.textContent = "";
    error.textContent = `Could not load the augmentation settings (${errorText(e)}).`;
  });

  const el = h(
    "section",
    { class: "card wide", "data-testid": "augmentation-section" },
    h("h2", {}, "Augmentation"),
    h("p", { class: "muted" }, "What each retrain does to its training images; a model version records the settings it was trained with."),
    summary,
    table,
    h("div", { class: "actions" }, save, defaults, saved),
    h("h3", {}, "Preview"),
    h("p", { class: "muted small" }, `${PREVIEW_SAMPLES} samples of one train image under the settings above, saved or not, with its accepted labels drawn.`),
    h("div", { class: "actions" }, image, preview),
    error,
    grid,
  );
  return { el, update() {} };
}
