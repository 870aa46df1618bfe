/** Training: the options form, the run shown (progress, loss curve) and the recent runs. */
import { cancelTraining, startTraining } from "../../api/models";
import { ApiError } from "../../api/http";
import { listBackbones } from "../../api/backbones";
import type { TrainingInit, TrainingJob, TrainingOptions } from "../../api/types";
import { append, clear, h } from "../../components/dom";
import { lineChart } from "../../components/LineChart";
import { downsample, ema } from "../../training/chart";
import { duration, elapsed, etaText, isActive, optionsText, percent, retrainText, stepText, when, whenShort } from "../../training/format";
import { cancelButton, card, EMPTY_STATE, errorLine, progressBar, statusBadge, versionNumber, type ModelsState, type RunAction, type Section } from "./common";

export const IMAGE_SIZES = [256, 384, 512, 768, 1024];

export const activeJob = (jobs: TrainingJob[]) => jobs.find((j) => isActive(j)) ?? null;

/** The run shown: the one picked, else the one running, else the latest with a loss curve. */
export function shownJob(jobs: TrainingJob[], picked: number | null): TrainingJob | null {
  return jobs.find((j) => j.id === picked) ?? activeJob(jobs) ?? jobs.find((j) => j.loss_curve.length) ?? jobs[0] ?? null;
}

interface TrainForm {
  el: HTMLFormElement;
  options(): TrainingOptions;
  startButton: HTMLButtonElement;
  init: HTMLSelectElement;
}

function trainForm(submit: () => void): TrainForm {
  const byEpochs = h("input", { type: "radio", name: "stop", value: "epochs", checked: true });
  const byBudget = h("input", { type: "radio", name: "stop", value: "budget" });
  const epochs = h("input", { type: "number", name: "epochs", min: 1, max: 1000, value: "20", class: "num" });
  const budget = h("input", { type: "number", name: "budget_min", min: 1, max: 10080, value: "10", class: "num", disabled: true });
  const syncStop = () => {
    epochs.disabled = !byEpochs.checked;
    budget.disabled = !byBudget.checked;
  };
  byEpochs.addEventListener("change", syncStop);
  byBudget.addEventListener("change", syncStop);
  const imageSize = h("select", { name: "image_size", "aria-label": "image size" });
  for (const s of IMAGE_SIZES) imageSize.appendChild(h("option", { value: String(s), selected: s === 512 }, `${s} px`));
  const backbone = h("select", { name: "backbone", "aria-label": "backbone" });
  // The server's order: its default first.
  void listBackbones().then(
    (list) => append(backbone, ...list.map((b) => h("option", { value: b.name }, b.title))),
    () => undefined,
  );
  const init = h("select", { name: "init", "aria-label": "initial weights" });
  init.appendChild(h("option", { value: "scratch" }, "from scratch"));
  init.appendChild(h("option", { value: "active" }, "fine-tune the active model"));
  const startButton = h("button", { type: "submit", class: "primary", "data-testid": "start-training" }, "Start training");
  const el = h(
    "form",
    { class: "train-form", "data-testid": "train-form" },
    h(
      "fieldset",
      {},
      h("legend", {}, "Stop after"),
      h("label", {}, byEpochs, " ", epochs, " epochs"),
      h("label", {}, byBudget, " ", budget, " minutes"),
      h("p", { class: "muted small" }, "Epochs: exactly that many passes over train. Minutes: as many passes as fit in that training time."),
    ),
    h("label", {}, "Image size ", imageSize),
    h("label", {}, "Backbone ", backbone),
    h("label", {}, "Start ", init),
    h("div", { class: "actions" }, startButton),
  );
  el.addEventListener("submit", (e) => {
    e.preventDefault();
    submit();
  });
  const options = (): TrainingOptions => {
    const o: TrainingOptions = { image_size: Number(imageSize.value), backbone: backbone.value || undefined, init: init.value as TrainingInit };
    if (byBudget.checked) o.time_budget_s = Math.max(10, Math.round(Number(budget.value) * 60));
    else o.epochs = Math.round(Number(epochs.value));
    return o;
  };
  return { el, options, startButton, init };
}

/** The run shown: its head (status, options, cancel), progress and timing. */
function jobPanelContent(job: TrainingJob, s: ModelsState, cancel: () => void): HTMLElement[] {
  const info = [stepText(job), etaText(job)].filter(Boolean).join(" · ");
  const took = elapsed(job);
  return [
    h(
      "div",
      { class: "job-head" },
      h("strong", {}, `Run #${job.id}`),
      statusBadge(job.status),
      h("span", { class: "muted" }, optionsText(job.options)),
      isActive(job) ? cancelButton(job, "cancel-training", cancel) : null,
    ),
    progressBar(job.progress, "training progress", "training-progress"),
    h(
      "div",
      { class: "job-meta" },
      h("span", { "data-testid": "training-percent" }, percent(job.progress)),
      info ? h("span", { "data-testid": "training-eta" }, info) : null,
      took != null ? h("span", { class: "muted" }, `${isActive(job) ? "running for" : "took"} ${duration(took)}`) : null,
      job.model_version != null ? h("span", {}, `→ version ${versionNumber(s.versions, job.model_version)}`) : null,
    ),
    job.error ? h("p", { class: job.status === "failed" ? "error" : "muted" }, job.error) : null,
  ].filter((e): e is HTMLElement => !!e);
}

const finiteCurve = (job: TrainingJob | null) => (job?.loss_curve ?? []).filter((p) => Number.isFinite(p[0]) && Number.isFinite(p[1]));

function lossChart(job: TrainingJob | null): Element[] {
  const curve = finiteCurve(job);
  const raw = downsample(curve, 600);
  const trend = downsample(ema(curve, curve.length > 50 ? 0.05 : 0.3), 300);
  return [
    h("h3", {}, job ? `Loss, run #${job.id}` : "Loss"),
    lineChart({
      series: [
        { name: "loss", points: raw, color: "#4aa3ff", width: 1, opacity: 0.45 },
        { name: "trend (EMA)", points: trend, color: "#ffd166", width: 2 },
      ],
      xLabel: "step",
      yLabel: "loss",
      empty: job && isActive(job) ? "Waiting for the first steps…" : "No loss recorded",
      testid: "loss-chart",
    }),
  ];
}

function jobRow(j: TrainingJob, s: ModelsState, selected: boolean, pick: () => void): HTMLElement {
  const last = j.loss_curve.length ? j.loss_curve[j.loss_curve.length - 1][1] : null;
  const took = elapsed(j);
  const row = h(
    "tr",
    { "data-job-id": j.id, class: selected ? "selected" : "", tabindex: 0 },
    h("td", {}, `#${j.id}`),
    h("td", {}, statusBadge(j.status)),
    h("td", {}, optionsText(j.options)),
    h("td", { title: when(j.started_at ?? j.created_at) }, whenShort(j.started_at ?? j.created_at)),
    h("td", { class: "num" }, took != null ? duration(took) : "—"),
    h("td", { class: "num" }, last != null ? last.toFixed(3) : "—"),
    h("td", {}, j.model_version != null ? `v${versionNumber(s.versions, j.model_version)}` : "—"),
  );
  row.addEventListener("click", pick);
  row.addEventListener("keydown", (e) => e.key === "Enter" && pick());
  return row;
}

export function trainingSection(slug: string, run: RunAction): Section {
  let state = EMPTY_STATE;
  let picked: number | null = null;
  const error = errorLine("train-error");
  const retrainLine = h("p", { class: "muted small", "data-testid": "retrain-status" });
  const form = trainForm(() => void start());
  const jobPanel = h("div", { class: "job-panel", "data-testid": "training-job" });
  const lossBox = h("div", { class: "chart-box", "data-testid": "loss-chart-box" });
  const jobTable = h("table", { class: "data jobs", "data-testid": "training-jobs" });

  const pick = (id: number) => {
    picked = id;
    update(state);
  };

  const start = () =>
    run(error, async () => {
      form.startButton.disabled = true;
      try {
        const job = await startTraining(slug, form.options());
        picked = job.id;
        update({ ...state, jobs: [job, ...state.jobs.filter((j) => j.id !== job.id)] });
      } catch (e) {
        const id = e instanceof ApiError && e.code === "training_in_progress" ? (e.body as { job?: number } | null)?.job : undefined;
        if (typeof id === "number") picked = id;
        throw e;
      }
    });

  function update(s: ModelsState) {
    state = s;
    if (s.retrain) retrainLine.textContent = retrainText(s.retrain);
    const running = activeJob(s.jobs);
    form.startButton.disabled = !!running;
    form.startButton.textContent = running ? "A run is in progress" : "Start training";
    const hasActive = s.versions.some((v) => v.status === "active");
    form.init.options[1].textContent = hasActive ? "fine-tune the active model" : "fine-tune the active model (none yet)";

    clear(jobPanel);
    const job = shownJob(s.jobs, picked);
    if (!job) jobPanel.appendChild(h("p", { class: "muted" }, "No training run yet."));
    else {
      jobPanel.dataset.jobId = String(job.id);
      jobPanel.dataset.status = job.status;
      append(jobPanel, ...jobPanelContent(job, s, () => void run(error, () => cancelTraining(job.id))));
    }
    clear(lossBox);
    append(lossBox, ...lossChart(job));
    lossBox.dataset.points = String(finiteCurve(job).length);

    clear(jobTable);
    jobTable.appendChild(h("thead", {}, h("tr", {}, ...["Run", "Status", "Options", "Started", "Took", "Loss", "Model"].map((t) => h("th", {}, t)))));
    const tb = h("tbody");
    for (const j of s.jobs.slice(0, 8)) tb.appendChild(jobRow(j, s, j.id === job?.id, () => pick(j.id)));
    if (!s.jobs.length) tb.appendChild(h("tr", {}, h("td", { colspan: 7, class: "muted" }, "No runs yet.")));
    jobTable.appendChild(tb);
  }

  const el = card("Training", "training-section", retrainLine, form.el, error, jobPanel, lossBox, h("h3", {}, "Recent runs"), jobTable);
  return { el, update };
}
