/**
 * The save state on the page: the top bar's text, the conflict panel (each stale edit shown
 * as the two versions over the image region they are about) and the edits the server refused.
 */
import type { Annotation, Box } from "../../api/types";
import { conflictPanel } from "../../components/ConflictPanel";
import { clear, h } from "../../components/dom";
import { fromServer, type LocalAnnotation } from "../../editing/document";
import type { SaveState } from "../../sync/saveQueue";
import { applyAffine } from "../../viewer/coords";
import { decodeRle } from "../../viewer/rle";
import type { AnnotatePage } from "./page";

/** The smallest box holding every given box. */
export function unionBox(boxes: (readonly number[] | undefined)[]): Box | null {
  const present = boxes.filter((b): b is readonly number[] => !!b);
  if (!present.length) return null;
  const x0 = Math.min(...present.map((b) => b[0]));
  const y0 = Math.min(...present.map((b) => b[1]));
  const x1 = Math.max(...present.map((b) => b[0] + b[2]));
  const y1 = Math.max(...present.map((b) => b[1] + b[3]));
  return [x0, y0, x1 - x0, y1 - y0];
}

type Version = { box: number[]; mask: Annotation["mask"] | LocalAnnotation["mask"] } | null;

/**
 * One version of a label drawn over the image region it is about: the viewer's own pixels
 * (as windowed now) cropped to `region`, the mask and box in the class colour on top.
 */
function versionPicture({ s, ui }: AnnotatePage, region: Box | null, version: Version, cls: number): HTMLElement | null {
  const { view } = s;
  const affine = view && view.index === s.annotatedIndex ? view.pixelToCanvas() : null;
  const source = ui.viewportEl.querySelector("canvas");
  if (!region || !affine || !source || !s.image) return null;
  const size = 128;
  const side = Math.max(region[2], region[3]) + 24;
  const x0 = Math.max(0, region[0] + region[2] / 2 - side / 2);
  const y0 = Math.max(0, region[1] + region[3] / 2 - side / 2);
  const out = h("canvas", { class: "version-picture", width: size, height: size });
  const c = out.getContext("2d");
  if (!c) return out;
  const scaleX = source.width / (source.clientWidth || source.width);
  const scaleY = source.height / (source.clientHeight || source.height);
  const [sx, sy] = applyAffine(affine, [x0, y0]);
  const [ex, ey] = applyAffine(affine, [x0 + side, y0 + side]);
  c.imageSmoothingEnabled = false;
  c.drawImage(source, sx * scaleX, sy * scaleY, (ex - sx) * scaleX, (ey - sy) * scaleY, 0, 0, size, size);
  const color = s.classes.get(cls)?.color ?? "#ffcc00";
  const k = size / side;
  if (!version) {
    c.fillStyle = "rgba(0,0,0,0.6)";
    c.fillRect(0, 0, size, size);
    c.fillStyle = "#fff";
    c.font = "13px system-ui, sans-serif";
    c.fillText("deleted", 8, size / 2);
    return out;
  }
  const mask = version.mask ? ("counts" in version.mask ? decodeRle(version.mask) : version.mask) : null;
  if (mask) {
    c.fillStyle = color;
    c.globalAlpha = 0.45;
    for (let y = Math.floor(y0); y < Math.min(mask.height, y0 + side); y++) {
      for (let x = Math.floor(x0); x < Math.min(mask.width, x0 + side); x++) {
        if (mask.data[y * mask.width + x]) c.fillRect((x - x0) * k, (y - y0) * k, Math.ceil(k), Math.ceil(k));
      }
    }
    c.globalAlpha = 1;
  }
  const [bx, by, bw, bh] = version.box;
  c.strokeStyle = color;
  c.lineWidth = 2;
  c.strokeRect((bx - x0) * k, (by - y0) * k, bw * k, bh * k);
  return out;
}

export function renderSaveState(p: AnnotatePage, state: SaveState): void {
  const { s, ui, queue, ctx } = p;
  ui.saveStatus.update(state);
  clear(ui.conflictSlot);
  const conflicts = state.conflicts.filter((o) => o.imageId === s.imageId);
  const regions = new Map(conflicts.map((o) => [o.key, unionBox([o.conflict?.theirs?.box, s.doc.get(o.key)?.box])]));
  const panel = conflictPanel({
    ops: conflicts,
    me: ctx.me.username,
    mine: (k) => s.doc.get(k),
    classes: s.classes,
    picture: (key, version, cls) => versionPicture(p, regions.get(key) ?? null, version, cls),
    choose: (key, choice) => {
      if (choice === "mine") queue.keepMine(key, s.doc.get(key) ?? null);
      else {
        const theirs = queue.takeTheirs(key);
        s.doc.replace(theirs ? fromServer(theirs) : null, key);
      }
    },
  });
  if (panel) ui.conflictSlot.appendChild(panel);
  p.render();
  clear(ui.errorSlot);
  for (const op of state.errors.filter((o) => o.imageId === s.imageId)) {
    ui.errorSlot.appendChild(
      h(
        "div",
        { class: "save-error", role: "alert" },
        h("p", {}, `The server refused an edit: ${op.error}`),
        h("button", { type: "button", on: { click: () => queue.discard(op.key) } }, "Discard that edit"),
      ),
    );
  }
  if (state.mode === "auth") void ctx.relogin();
}
