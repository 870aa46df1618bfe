import { describeKey, type NamedCommand } from "../viewer/commands";
import { h } from "./dom";

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
  return h(
    "div",
    { class: "modal-backdrop", "data-testid": "help" },
    h("div", { class: "modal help", role: "dialog", "aria-label": "Keyboard shortcuts" }, h("h2", {}, "Keyboard shortcuts"), body, close),
  );
}
