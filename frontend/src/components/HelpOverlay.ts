import { describeKey, type NamedCommand } from "../viewer/commands";
import { h } from "./dom";

/**
 * A modal over the page: a click on the backdrop closes it; the page sends it Escape (and
 * keeps every other key from acting behind it).
 */
export function modal(testId: string, label: string, onClose: () => void, ...content: (Node | string)[]): HTMLElement {
  const dialog = h("div", { class: "modal", role: "dialog", "aria-modal": "true", "aria-label": label }, ...content);
  const backdrop = h("div", { class: "modal-backdrop", "data-testid": testId }, dialog);
  backdrop.addEventListener("mousedown", (e) => {
    if (e.target === backdrop) onClose();
  });
  return backdrop;
}

/** Every shortcut, grouped, built from the command registry. */
export function helpOverlay(commands: NamedCommand[], onClose: () => void): HTMLElement {
  const groups = new Map<string, NamedCommand[]>();
  for (const c of commands) {
    if (!c.keys.length) continue;
    groups.set(c.group, [...(groups.get(c.group) ?? []), c]);
  }
  const body = h("div", { class: "help-grid" });
  for (const [group, cmds] of groups) {
    const dl = h("dl", {});
    for (const c of cmds) {
      dl.appendChild(h("dt", {}, ...c.keys.flatMap((k, i) => [i ? " / " : "", h("kbd", {}, describeKey(k))])));
      dl.appendChild(h("dd", {}, c.label));
    }
    body.appendChild(h("section", {}, h("h3", {}, group), dl));
  }
  const mouse = h(
    "section",
    {},
    h("h3", {}, "Mouse"),
    h(
      "dl",
      {},
      h("dt", {}, "Left drag"),
      h("dd", {}, "Move / resize the selected label; window/level on empty image"),
      h("dt", {}, "Right drag / Shift+left"),
      h("dd", {}, "Zoom"),
      h("dt", {}, "Middle drag / Ctrl+left"),
      h("dd", {}, "Pan"),
      h("dt", {}, "Wheel"),
      h("dd", {}, "Scroll slices"),
    ),
  );
  body.appendChild(mouse);
  const close = h("button", { type: "button", class: "primary", on: { click: onClose } }, "Close");
  const el = modal("help", "Keyboard shortcuts", onClose, h("h2", {}, "Keyboard shortcuts"), body, close);
  el.querySelector(".modal")!.classList.add("help");
  return el;
}

/** Asks before an image with unreviewed proposals is marked done. */
export function confirmDone(
  open: number,
  choices: { rejectRest: () => void; anyway: () => void; cancel: () => void },
): HTMLElement {
  const s = open === 1 ? "" : "s";
  return modal(
    "confirm-done",
    "Mark done",
    choices.cancel,
    h("h2", {}, "Mark this image done?"),
    h("p", {}, `${open} proposal${s} on this image ${open === 1 ? "is" : "are"} not reviewed yet.`),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", class: "primary", "data-choice": "reject-rest", on: { click: choices.rejectRest } }, `Reject the ${open} and mark done`),
      h("button", { type: "button", "data-choice": "anyway", on: { click: choices.anyway } }, "Mark done, keep them as proposals"),
      h("button", { type: "button", "data-choice": "cancel", on: { click: choices.cancel } }, "Cancel (Esc)"),
    ),
  );
}
