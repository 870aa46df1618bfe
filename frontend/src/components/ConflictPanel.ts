/** Their version next to mine for each conflicting save; the user picks which one stays. */
import type { Annotation, LabelClass } from "../api/types";
import type { LocalAnnotation } from "../editing/document";
import type { AnnotationOp } from "../sync/ops";
import { maskArea } from "../viewer/rle";
import { h } from "./dom";

function describe(
  a: { label_class: number; status: string; box: number[] } | null,
  classes: Map<number, LabelClass>,
  extra: string,
): HTMLElement {
  if (!a) return h("p", { class: "muted" }, "Deleted");
  return h(
    "dl",
    {},
    h("dt", {}, "Class"),
    h("dd", {}, classes.get(a.label_class)?.name ?? String(a.label_class)),
    h("dt", {}, "Status"),
    h("dd", {}, a.status),
    h("dt", {}, "Box"),
    h("dd", {}, a.box.map((v) => Math.round(v * 10) / 10).join(", ")),
    h("dt", {}, "Mask"),
    h("dd", {}, extra),
  );
}

export function conflictPanel(
  ops: AnnotationOp[],
  mine: (key: string) => LocalAnnotation | undefined,
  classes: Map<number, LabelClass>,
  choose: (key: string, choice: "mine" | "theirs") => void,
): HTMLElement | null {
  if (!ops.length) return null;
  const panel = h(
    "section",
    { class: "conflicts", role: "alert", "data-testid": "conflict-panel" },
    h("h2", {}, "Someone else changed these labels"),
    h("p", {}, "Your edit was not saved over theirs. Choose which version to keep."),
  );
  for (const op of ops) {
    const theirs: Annotation | null = op.conflict?.theirs ?? null;
    const local = mine(op.key) ?? null;
    const theirArea = theirs?.mask ? `${theirs.mask.size[1]}×${theirs.mask.size[0]} RLE` : "none";
    const myArea = local?.mask ? `${maskArea(local.mask)} px` : "none";
    panel.appendChild(
      h(
        "div",
        { class: "conflict", "data-key": op.key },
        h(
          "div",
          { class: "versions" },
          h("div", {}, h("h3", {}, `Theirs${theirs ? ` (v${theirs.version})` : ""}`), describe(theirs, classes, theirArea)),
          h("div", {}, h("h3", {}, "Yours"), describe(op.want === "deleted" ? null : local, classes, myArea)),
        ),
        h(
          "div",
          { class: "actions" },
          h("button", { type: "button", "data-choice": "theirs", on: { click: () => choose(op.key, "theirs") } }, "Take theirs"),
          h("button", { type: "button", class: "primary", "data-choice": "mine", on: { click: () => choose(op.key, "mine") } }, "Keep mine"),
        ),
      ),
    );
  }
  return panel;
}
