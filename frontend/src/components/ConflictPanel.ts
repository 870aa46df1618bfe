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

/** Who wrote the server's version, in words: a name, or the user themself elsewhere. */
export function writerText(theirs: Annotation | null, me: string): string {
  if (!theirs) return "Deleted on the server";
  if (!theirs.updated_by) return "Changed on the server";
  return theirs.updated_by === me ? "Changed by you, in another tab or device" : `Changed by ${theirs.updated_by}`;
}

export interface ConflictPanelOptions {
  ops: AnnotationOp[];
  me: string;
  mine: (key: string) => LocalAnnotation | undefined;
  classes: Map<number, LabelClass>;
  /** a small picture of one version on the image, the same region for both */
  picture: (key: string, version: { box: number[]; mask: Annotation["mask"] | LocalAnnotation["mask"] } | null, label_class: number) => HTMLElement | null;
  choose: (key: string, choice: "mine" | "theirs") => void;
}

export function conflictPanel({ ops, me, mine, classes, picture, choose }: ConflictPanelOptions): HTMLElement | null {
  if (!ops.length) return null;
  const panel = h(
    "section",
    { class: "conflicts", role: "alert", "data-testid": "conflict-panel" },
    h("h2", {}, ops.length === 1 ? "This label changed elsewhere" : "These labels changed elsewhere"),
    h("p", {}, "Your edit was not saved over the other version. Choose which one to keep; the label is marked on the image."),
  );
  for (const op of ops) {
    const theirs: Annotation | null = op.conflict?.theirs ?? null;
    const local = mine(op.key) ?? null;
    const yours = op.want === "deleted" ? null : local;
    const cls = theirs?.label_class ?? local?.label_class ?? 0;
    const theirArea = theirs?.mask ? `${theirs.mask.size[1]}×${theirs.mask.size[0]} RLE` : "none";
    const myArea = local?.mask ? `${maskArea(local.mask)} px` : "none";
    panel.appendChild(
      h(
        "div",
        { class: "conflict", "data-key": op.key },
        h("p", { class: "writer", "data-testid": "conflict-writer" }, writerText(theirs, me)),
        h(
          "div",
          { class: "versions" },
          h(
            "div",
            { "data-version": "theirs" },
            h("h3", {}, `Theirs${theirs ? ` (v${theirs.version})` : ""}`),
            picture(op.key, theirs, theirs?.label_class ?? cls),
            describe(theirs, classes, theirArea),
          ),
          h(
            "div",
            { "data-version": "mine" },
            h("h3", {}, "Yours"),
            picture(op.key, yours, yours?.label_class ?? cls),
            describe(yours, classes, myArea),
          ),
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
