/** The top bar's save state: saved, saving, unsaved, offline, signed out, or waiting on a decision. */
import type { SaveState } from "../sync/saveQueue";
import { h } from "./dom";

export interface SaveStatus {
  el: HTMLElement;
  update(s: SaveState): void;
}

export function saveStatusText(s: SaveState): string {
  const here = s.pending;
  if (s.mode === "auth") return `Session expired — ${here} edit(s) kept on this device`;
  if (s.mode === "offline") return `Offline — ${here} edit(s) kept on this device, retrying`;
  if (s.mode === "saving") return "Saving…";
  if (s.mode === "pending") return `${here} unsaved edit(s)`;
  return s.conflicts.length || s.errors.length ? "Needs your decision" : "All changes saved";
}

export function saveStatus(): SaveStatus {
  const el = h("span", { class: "save-status", "data-testid": "save-status", role: "status" }, "");
  return {
    el,
    update(s) {
      el.textContent = saveStatusText(s);
      el.dataset.mode = s.mode;
    },
  };
}
