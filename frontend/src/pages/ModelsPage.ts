/**
 * The model loop for project admins: train (with options) and watch the run, compare model
 * versions (detector and tag classifier), promote or roll back, see how much each version helps the people labelling,
 * pre-annotate, see which workers serve which queue, set and preview the augmentation, and see how
 * far the readers agree with the final set and with each other.
 * Polls every 2 s while a job is queued or running, every 15 s otherwise.
 */
import type { AppContext } from "../app";
import {
  getTrainingJob,
  listModelVersions,
  listPreannotationJobs,
  listTrainingJobs,
  modelValue,
  retrainStatus,
  workerStatus,
} from "../api/models";
import { errorText } from "../api/http";
import { getProject } from "../api/projects";
import { h, type Unmount } from "../components/dom";
import { topBar } from "../components/TopBar";
import { worklistPath } from "../router";
import { isActive } from "../training/format";
import { agreementSection } from "./models/AgreementSection";
import { augmentationSection } from "./models/AugmentationSection";
import { classifierSection } from "./models/ClassifierSection";
import { EMPTY_STATE, type ModelsState, type RunAction, type Section } from "./models/common";
import { FILTER_KEYS, preannotationSection } from "./models/PreannotationSection";
import { activeJob, trainingSection } from "./models/TrainingSection";
import { valueSection } from "./models/ValueSection";
import { versionsSection } from "./models/VersionsSection";
import { workersSection } from "./models/WorkersSection";

const POLL_ACTIVE_MS = 2000;
const POLL_IDLE_MS = 15000;

const busy = (s: ModelsState) => !!activeJob(s.jobs) || s.preJobs.some((j) => isActive(j));

/** Everything the page shows. */
async function loadAll(slug: string, signal: AbortSignal): Promise<ModelsState> {
  const [versions, t, p, workers, retrain, value] = await Promise.all([
    listModelVersions(slug, signal),
    listTrainingJobs(slug, signal),
    listPreannotationJobs(slug, signal),
    workerStatus(slug, signal),
    retrainStatus(slug, signal),
    modelValue(slug, signal),
  ]);
  return { versions, jobs: t.results, preJobs: p.results, workers, value, retrain };
}

/**
 * While something runs: the running training job, the pre-annotation jobs, the workers; null
 * when the training job has just finished (a version may have been registered or promoted).
 */
async function loadActive(slug: string, s: ModelsState, signal: AbortSignal): Promise<ModelsState | null> {
  const running = activeJob(s.jobs);
  const [t, p, workers] = await Promise.all([
    running ? getTrainingJob(running.id, signal) : null,
    s.preJobs.some((j) => isActive(j)) ? listPreannotationJobs(slug, signal) : null,
    workerStatus(slug, signal),
  ]);
  if (t && !isActive(t)) return null;
  return { ...s, workers, preJobs: p ? p.results : s.preJobs, jobs: t ? s.jobs.map((j) => (j.id === t.id ? t : j)) : s.jobs };
}

function crumbs(slug: string, worklistQuery: URLSearchParams): HTMLElement {
  return h(
    "nav",
    { class: "crumbs" },
    h("a", { href: "/", "data-link": true }, "Projects"),
    " / ",
    h("a", { href: worklistPath(slug, worklistQuery), "data-link": true }, "Worklist"),
    " / ",
    h("span", {}, "Models"),
  );
}

export function mountModelsPage(root: HTMLElement, ctx: AppContext, slug: string, query: URLSearchParams): Unmount {
  const worklistQuery = new URLSearchParams([...query].filter(([k]) => FILTER_KEYS.includes(k)));
  const title = h("h1", {}, "Models");
  const notice = h("p", { class: "muted" }, "Loading…");
  const body = h("div", { class: "models-grid" });
  const page = h("div", { class: "page models-page" }, topBar(ctx, crumbs(slug, worklistQuery)), h("main", { class: "content" }, title, notice, body));
  root.appendChild(page);

  const abort = new AbortController();
  let timer: ReturnType<typeof setTimeout> | null = null;
  let state = EMPTY_STATE;

  const run: RunAction = async (error, work) => {
    error.textContent = "";
    try {
      await work();
    } catch (e) {
      error.textContent = errorText(e);
    }
    await refreshAll().catch(() => {});
    schedule();
  };
  const sections: Section[] = [
    trainingSection(slug, run),
    versionsSection(run),
    classifierSection(),
    valueSection(),
    preannotationSection(slug, worklistQuery, run),
    workersSection(),
    augmentationSection(slug),
    agreementSection(slug),
  ];
  const show = (s: ModelsState) => {
    state = s;
    for (const section of sections) section.update(s);
  };

  async function refreshAll() {
    show(await loadAll(slug, abort.signal));
  }

  async function refreshActive() {
    const next = await loadActive(slug, state, abort.signal);
    if (next) show(next);
    else await refreshAll();
  }

  function schedule() {
    if (timer) clearTimeout(timer);
    if (abort.signal.aborted) return;
    const active = busy(state);
    timer = setTimeout(() => {
      (active ? refreshActive() : refreshAll())
        .catch((e) => {
          if (!abort.signal.aborted) notice.textContent = `Could not refresh (${errorText(e)}); retrying.`;
        })
        .finally(schedule);
    }, active ? POLL_ACTIVE_MS : POLL_IDLE_MS);
  }

  (async () => {
    const project = await getProject(slug);
    if (abort.signal.aborted) return;
    title.textContent = `${project.name} — models`;
    document.title = `Models · ${project.name} · RadLabel`;
    if (project.role !== "admin") {
      notice.textContent = "Only the project's admins can train, promote and pre-annotate.";
      notice.className = "muted";
      notice.dataset.testid = "not-admin";
      return;
    }
    body.replaceChildren(...sections.map((s) => s.el));
    await refreshAll();
    notice.textContent = "";
    schedule();
  })().catch((e) => {
    if (!abort.signal.aborted) {
      notice.textContent = `Could not load the model loop (${errorText(e)}).`;
      notice.className = "error";
    }
  });

  return () => {
    abort.abort();
    if (timer) clearTimeout(timer);
    page.remove();
  };
}
