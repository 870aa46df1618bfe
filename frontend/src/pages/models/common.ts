/** What the Models page's sections share: the page's data, its action runner, small widgets. */
import type { ModelValue, ModelVersion, PreannotationJob, RetrainStatus, TrainingJob, WorkerStatus } from "../../api/types";
import { h } from "../../components/dom";
import { percent } from "../../training/format";
import type { ValueCell, ValueColumn } from "../../training/value";

/** Everything the page loads; each section shows its part. */
export interface ModelsState {
  versions: ModelVersion[];
  jobs: TrainingJob[];
  preJobs: PreannotationJob[];
  workers: WorkerStatus | null;
  value: ModelValue | null;
  retrain: RetrainStatus | null;
}

export const EMPTY_STATE: ModelsState = { versions: [], jobs: [], preJobs: [], workers: null, value: null, retrain: null };

/** A section of the page: its element, redrawn from the page's data. */
export interface Section {
  el: HTMLElement;
  update(s: ModelsState): void;
}

/**
 * How a section runs an action: `work` with `error` cleared first and the failure's message
 * shown there, then the page reloaded (and its polling rescheduled), whatever happened.
 */
export type RunAction = (error: HTMLElement, work: () => Promise<unknown>) => Promise<void>;

export const PLOT_COLORS = ["#4aa3ff", "#3ecf8e", "#ffd166", "#c792ea", "#ff8a65", "#80cbc4"];

export function card(heading: string, testid: string, ...children: (Node | string)[]): HTMLElement {
  return h("section", { class: "card", "data-testid": testid }, h("h2", {}, heading), ...children);
}

export function errorLine(testid?: string): HTMLElement {
  return h("p", { class: "error", role: "alert", "data-testid": testid });
}

/** A version's number from its id, as jobs name the version they use or made. */
export function versionNumber(versions: ModelVersion[], id: number): string {
  const v = versions.find((x) => x.id === id);
  return v ? String(v.number) : `#${id}`;
}

export function statusBadge(status: string): HTMLElement {
  return h("span", { class: `job-status job-${status}`, "data-testid": "job-status" }, status);
}

export function progressBar(progress: number, label: string, testid: string): HTMLElement {
  const bar = h("div", { class: "bar" });
  bar.style.width = percent(progress);
  return h(
    "div",
    {
      class: "progress",
      role: "progressbar",
      "aria-valuemin": 0,
      "aria-valuemax": 100,
      "aria-valuenow": Math.floor(Math.min(1, Math.max(0, progress || 0)) * 100),
      "aria-label": label,
      "data-testid": testid,
    },
    bar,
  );
}

/** A job's cancel button: "Cancelling…" (and disabled) once a cancel is asked for. */
export function cancelButton(job: { cancel_requested: boolean }, testid: string, cancel: () => void): HTMLButtonElement {
  const b = h("button", { type: "button", "data-testid": testid, disabled: job.cancel_requested }, job.cancel_requested ? "Cancelling…" : "Cancel");
  b.addEventListener("click", cancel);
  return b;
}

/** One figure: its value (or "not measured") over what it rests on. */
export function figureCell(c: ValueCell, key: string): HTMLElement {
  return h(
    "td",
    { class: c.measured ? "num" : "num muted", "data-figure": key, "data-measured": String(c.measured), title: c.why },
    h("div", {}, c.text),
    h("div", { class: "muted small" }, c.basis),
  );
}

export function figureHeads<T>(columns: ValueColumn<T>[]): HTMLElement[] {
  return columns.map((c) => h("th", { class: "num", title: c.title }, c.label));
}
