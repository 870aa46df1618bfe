/** The annotate page's toolbar: buttons that run named commands, plus brush and window controls. */
import type { WindowPreset } from "../viewer/presets";
import { describeKey, type CommandRegistry } from "../viewer/commands";
import { h } from "./dom";

export interface ToolbarState {
  mode: string;
  brushRadius: number;
  threshold: { enabled: boolean; lower: number; upper: number };
  showProposals: boolean;
  showAccepted: boolean;
  canUndo: boolean;
  canRedo: boolean;
  done: boolean;
  outline: boolean;
  measure: string | null;
}

export interface Toolbar {
  el: HTMLElement;
  update(s: ToolbarState): void;
  /** the presets offered (the image's own ones are known once its pixels are) */
  setPresets(presets: WindowPreset[]): void;
}

export const MEASURE_CHOICES: [string, string][] = [
  ["length", "Length (mm)"],
  ["probe", "Value probe"],
  ["ellipse", "Ellipse ROI stats"],
  ["clear", "Clear measurements"],
];

/** `hu`: the image's values are Hounsfield units (CT), so the threshold brush applies. */
export function toolbar(
  commands: CommandRegistry,
  presets: WindowPreset[],
  hu: boolean,
  handlers: {
    brushRadius(r: number): void;
    threshold(t: { enabled: boolean; lower: number; upper: number }): void;
    preset(p: WindowPreset): void;
    measure(choice: string): void;
  },
): Toolbar {
  const buttons = new Map<string, HTMLButtonElement>();
  /** `icon`: the text is a symbol, so the button is named by its command */
  const button = (id: string, text: string, icon = false) => {
    const cmd = commands.list().find((c) => c.id === id);
    const keys = cmd?.keys.map(describeKey).join(" / ");
    const b = h(
      "button",
      { type: "button", "data-command": id, title: keys ? `${cmd!.label} (${keys})` : text, "aria-label": icon ? (cmd?.label ?? id) : null },
      text,
    );
    b.addEventListener("click", () => commands.run(id));
    buttons.set(id, b);
    return b;
  };
  const radius = h("input", { type: "range", min: 1, max: 40, step: 1, "aria-label": "Brush size" });
  const radiusText = h("span", { class: "brush-size" });
  radius.addEventListener("input", () => handlers.brushRadius(Number(radius.value)));
  const thrOn = h("input", { type: "checkbox", "aria-label": "Threshold brush" });
  const lower = h("input", { type: "number", step: 10, class: "hu", "aria-label": "Lower HU" });
  const upper = h("input", { type: "number", step: 10, class: "hu", "aria-label": "Upper HU" });
  const thr = () => handlers.threshold({ enabled: thrOn.checked, lower: Number(lower.value), upper: Number(upper.value) });
  for (const i of [thrOn, lower, upper]) i.addEventListener("change", thr);
  const measure = h("select", { "aria-label": "Measure", name: "measure" }, h("option", { value: "" }, "Measure…"));
  for (const [v, label] of MEASURE_CHOICES) measure.appendChild(h("option", { value: v }, label));
  measure.addEventListener("change", () => {
    if (measure.value) handlers.measure(measure.value);
    measure.blur();
  });
  const preset = h("select", { "aria-label": "Window preset" });
  const setPresets = (list: WindowPreset[]) => {
    presets = list;
    preset.replaceChildren(h("option", { value: "" }, "W/L preset…"));
    list.forEach((p, i) => preset.appendChild(h("option", { value: i }, `${p.label} (${p.center}/${p.width})`)));
  };
  setPresets(presets);
  preset.addEventListener("change", () => {
    const p = presets[Number(preset.value)];
    if (p) handlers.preset(p);
    preset.value = "";
    preset.blur();
  });
  const el = h(
    "div",
    { class: "toolbar", role: "toolbar" },
    h("div", { class: "group" }, button("mode.select", "Select"), button("mode.box", "Box"), button("mode.assist", "Box→mask"), button("mode.brush", "Brush"), button("mode.eraser", "Eraser"), measure),
    h("div", { class: "group" }, h("label", { title: "Brush size ([ and ])" }, radius, radiusText)),
    hu ? h("div", { class: "group" }, h("label", { title: "Threshold brush (T)" }, thrOn, " HU "), lower, h("span", {}, "–"), upper) : null,
    h("div", { class: "group" }, preset, button("view.invert", "Invert"), button("view.reset", "Reset")),
    h("div", { class: "group" }, button("toggle.proposals", "Proposals"), button("toggle.accepted", "Accepted"), button("toggle.outline", "Outline")),
    h("div", { class: "group" }, button("edit.undo", "↶", true), button("edit.redo", "↷", true)),
    h("div", { class: "group" }, button("label.acceptAll", "Accept all"), button("image.done", "Done"), button("image.doneNext", "Done & next"), button("image.next", "Next"), button("help", "?")),
  );
  return {
    el,
    setPresets,
    update(s) {
      for (const m of ["select", "box", "assist", "brush", "eraser"]) buttons.get(`mode.${m}`)?.classList.toggle("active", s.mode === m);
      measure.classList.toggle("active", s.mode === "measure");
      if (s.mode !== "measure") measure.value = "";
      else if (s.measure) measure.value = s.measure;
      if (document.activeElement !== radius) radius.value = String(s.brushRadius);
      radiusText.textContent = `${s.brushRadius}px`;
      thrOn.checked = s.threshold.enabled;
      if (document.activeElement !== lower) lower.value = String(s.threshold.lower);
      if (document.activeElement !== upper) upper.value = String(s.threshold.upper);
      buttons.get("toggle.proposals")?.classList.toggle("active", s.showProposals);
      buttons.get("toggle.accepted")?.classList.toggle("active", s.showAccepted);
      buttons.get("toggle.proposals")?.setAttribute("aria-pressed", String(s.showProposals));
      buttons.get("toggle.accepted")?.setAttribute("aria-pressed", String(s.showAccepted));
      buttons.get("edit.undo")!.disabled = !s.canUndo;
      buttons.get("edit.redo")!.disabled = !s.canRedo;
      buttons.get("toggle.outline")?.classList.toggle("active", s.outline);
      buttons.get("toggle.outline")?.setAttribute("aria-pressed", String(s.outline));
      const done = buttons.get("image.done");
      done?.classList.toggle("active", s.done);
      done?.setAttribute("aria-pressed", String(s.done));
      if (done) done.textContent = s.done ? "Done ✓" : "Done";
    },
  };
}
