/** Pre-annotation: run the active model over the project or the worklist's filter; its jobs. */
import { cancelPreannotation, startPreannotation } from "../../api/models";
import type { PreannotationJob } from "../../api/types";
import { clear, h } from "../../components/dom";
import { isActive, when } from "../../training/format";
import { cancelButton, card, errorLine, progressBar, statusBadge, versionNumber, type ModelsState, type RunAction, type Section } from "./common";

/** the worklist filters that pre-annotation understands */
export const FILTER_KEYS = ["status", "split", "modality", "label_class", "suggested_tag"];

/** "status = in progress · split = val": the worklist filter, read aloud. */
export function filterText(worklistQuery: URLSearchParams): string {
  return [...worklistQuery].map(([k, v]) => `${k.replace("_", " ")} = ${v.replace("_", " ")}`).join(" · ");
}

function jobCard(j: PreannotationJob, s: ModelsState, cancel: () => void): HTMLElement {
  return h(
    "div",
    { class: "pre-job", "data-job-id": j.id, "data-status": j.status },
    h(
      "div",
      { class: "job-head" },
      h("strong", {}, `Job #${j.id}`),
      statusBadge(j.status),
      h("span", { class: "muted" }, `model v${versionNumber(s.versions, j.model_version)} · ${j.done} / ${j.total} images · ${when(j.created_at)}`),
      isActive(j) ? cancelButton(j, "cancel-preannotation", cancel) : null,
    ),
    progressBar(j.total ? j.done / j.total : j.progress, `pre-annotation job ${j.id}`, "preannotation-progress"),
    j.error ? h("p", { class: j.status === "failed" ? "error" : "muted" }, j.error) : null,
  );
}

export function preannotationSection(slug: string, worklistQuery: URLSearchParams, run: RunAction): Section {
  const error = errorLine("preannotate-error");
  const filter = filterText(worklistQuery);
  const all = h("button", { type: "button", "data-testid": "preannotate-all" }, "Pre-annotate the whole project");
  const filtered = h("button", { type: "button", "data-testid": "preannotate-filtered", disabled: !filter }, "Pre-annotate the worklist filter");
  const list = h("div", { class: "pre-jobs", "data-testid": "preannotation-jobs" });
  const preannotate = (filters: Record<string, string>) =>
    void run(error, () => {
      all.disabled = filtered.disabled = true;
      return startPreannotation(slug, { filters });
    });
  all.addEventListener("click", () => preannotate({}));
  filtered.addEventListener("click", () => preannotate(Object.fromEntries(worklistQuery)));
  const el = card(
    "Pre-annotation",
    "preannotation-section",
    h("p", { class: "muted" }, "Runs the active model and replaces only untouched proposals; labels people accepted, edited or rejected stay."),
    h("div", { class: "actions" }, all, filtered),
    h("p", { class: "muted small" }, filter ? `Worklist filter: ${filter}` : "Open this page from a filtered worklist to pre-annotate only its images."),
    error,
    list,
  );
  return {
    el,
    update(s) {
      clear(list);
      const hasActive = s.versions.some((v) => v.status === "active");
      all.disabled = !hasActive;
      filtered.disabled = !hasActive || !filter;
      all.title = hasActive ? "" : "No active model yet";
      for (const j of s.preJobs.slice(0, 5)) list.appendChild(jobCard(j, s, () => void run(error, () => cancelPreannotation(j.id))));
      if (!s.preJobs.length) list.appendChild(h("p", { class: "muted" }, hasActive ? "No pre-annotation run yet." : "Promote a model version to pre-annotate."));
      if (s.preJobs.some((j) => isActive(j))) all.title = "A pre-annotation job is running; a new one queues after it";
    },
  };
}
