/**
 * The model loop for project admins: train (with options) and watch the run, compare model
 * versions, promote or roll back, see how much each version helps the people labelling,
 * pre-annotate, and see which workers serve which queue.
 * Polls every 2 s while a job is queued or running, every 15 s otherwise.
 */
import type { AppContext } from "../app";
import { ApiError } from "../api/http";
import {
  activateModelVersion,
  cancelPreannotation,
  cancelTraining,
  getTrainingJob,
  listModelVersions,
  listPreannotationJobs,
  listTrainingJobs,
  modelValue,
  retrainStatus,
  startPreannotation,
  startTraining,
  workerStatus,
} from "../api/models";
import { getProject } from "../api/projects";
import type {
  Backbone,
  FateFigures,
  ModelValue,
  ModelVersion,
  PreannotationJob,
  Project,
  TrainingInit,
  TrainingJob,
  TrainingOptions,
  WorkerStatus,
} from "../api/types";
import { append, clear, h, type Unmount } from "../components/dom";
import { lineChart } from "../components/LineChart";
import { topBar } from "../components/TopBar";
import { worklistPath } from "../router";
import { downsample, ema, extent, niceTicks } from "../training/chart";
import { ago, duration, elapsed, etaText, isActive, optionsText, percent, retrainText, stepText, when, whenShort } from "../training/format";
import { METRIC_COLUMNS, metricRows, metricSeries } from "../training/metrics";
import { apText, perClassText, promotionText, splitSummary } from "../training/operatingPoint";
import { FATE_COLUMNS, VERSION_COLUMNS, secondsCell, valueSeries, valueSummary, type ValueCell, type ValueColumn } from "../training/value";

/** The server's default (EfficientNet-Lite0, ImageNet-pretrained) comes first. */
export const BACKBONES: [Backbone, string][] = [
  ["efficientnet_lite0_fpn", "EfficientNet-Lite0 FPN (ImageNet-pretrained)"],
  ["resnet18_fpn", "ResNet-18 FPN (from scratch, fast on CPU)"],
  ["mobilenet_v3_fpn", "MobileNetV3 FPN (lightest)"],
  ["resnet50_fpn", "ResNet-50 FPN (GPU)"],
];
export const IMAGE_SIZES = [256, 384, 512, 768, 1024];
/** the worklist filters that pre-annotation understands */
export const FILTER_KEYS = ["status", "split", "modality", "label_class"];
const POLL_ACTIVE_MS = 2000;
const POLL_IDLE_MS = 15000;
const PLOT_COLORS = ["#4aa3ff", "#3ecf8e", "#ffd166", "#c792ea", "#ff8a65", "#80cbc4"];

/** The message to show for a failed request: the server's `detail` when there is one. */
export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.detail || `${e.status} ${e.code}`;
  return e instanceof Error ? e.message : String(e);
}

function statusBadge(status: string): HTMLElement {
  return h("span", { class: `job-status job-${status}`, "data-testid": "job-status" }, status);
}

function progressBar(progress: number, label: string, testid: string): HTMLElement {
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

/** One figure: its value (or "not measured") over what it rests on. */
function figureCell(c: ValueCell, key: string): HTMLElement {
  return h(
    "td",
    { class: c.measured ? "num" : "num muted", "data-figure": key, "data-measured": String(c.measured) },
    h("div", {}, c.text),
    h("div", { class: "muted small" }, c.basis),
  );
}

function figureHeads<T>(columns: ValueColumn<T>[]): HTMLElement[] {
  return columns.map((c) => h("th", { class: "num", title: c.title }, c.label));
}

export function mountModelsPage(root: HTMLElement, ctx: AppContext, slug: string, query: URLSearchParams): Unmount {
  const worklistQuery = new URLSearchParams([...query].filter(([k]) => FILTER_KEYS.includes(k)));
  const title = h("h1", {}, "Models");
  const notice = h("p", { class: "muted" }, "Loading…");
  const body = h("div", { class: "models-grid" });
  const crumbs = h(
    "nav",
    { class: "crumbs" },
    h("a", { href: "/", "data-link": true }, "Projects"),
    " / ",
    h("a", { href: worklistPath(slug, worklistQuery), "data-link": true }, "Worklist"),
    " / ",
    h("span", {}, "Models"),
  );
  const page = h("div", { class: "page models-page" }, topBar(ctx, crumbs), h("main", { class: "content" }, title, notice, body));
  root.appendChild(page);

  const abort = new AbortController();
  let timer: ReturnType<typeof setTimeout> | null = null;
  let project: Project | null = null;
  let versions: ModelVersion[] = [];
  let jobs: TrainingJob[] = [];
  let preJobs: PreannotationJob[] = [];
  let workers: WorkerStatus | null = null;
  let value: ModelValue | null = null;
  let selectedJob: number | null = null;

  // ---- training ----
  const trainError = h("p", { class: "error", role: "alert", "data-testid": "train-error" });
  const retrainLine = h("p", { class: "muted small", "data-testid": "retrain-status" });
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
  for (const [v, label] of BACKBONES) backbone.appendChild(h("option", { value: v }, label));
  const init = h("select", { name: "init", "aria-label": "initial weights" });
  init.appendChild(h("option", { value: "scratch" }, "from scratch"));
  init.appendChild(h("option", { value: "active" }, "fine-tune the active model"));
  const startBtn = h("button", { type: "submit", class: "primary", "data-testid": "start-training" }, "Start training");
  const trainForm = h(
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
    h("div", { class: "actions" }, startBtn),
  );
  trainForm.addEventListener("submit", (e) => {
    e.preventDefault();
    void start();
  });
  const jobPanel = h("div", { class: "job-panel", "data-testid": "training-job" });
  const lossBox = h("div", { class: "chart-box", "data-testid": "loss-chart-box" });
  const jobTable = h("table", { class: "data jobs", "data-testid": "training-jobs" });

  // ---- versions ----
  const versionError = h("p", { class: "error", role: "alert" });
  const versionTable = h("table", { class: "data versions", "data-testid": "model-versions" });
  const versionPlot = h("div", { class: "chart-box", "data-testid": "metrics-plot-box" });

  // ---- value of each version ----
  const valueLine = h("p", { "data-testid": "value-summary" });
  const valuePlots = h("div", { class: "value-plots", "data-testid": "value-plots" });
  const valueTable = h("table", { class: "data value", "data-testid": "model-value" });
  const assistTable = h("table", { class: "data value", "data-testid": "assist-value" });
  const withoutModel = h("p", { class: "muted small", "data-testid": "without-model" });
  const valueSection = h(
    "section",
    { class: "card wide", "data-testid": "value-section" },
    h("h2", {}, "Value of each model version"),
    h(
      "p",
      { class: "muted small" },
      "What people did with each version's proposals (shares of those they decided on), what they drew that it missed, and their active time per finished image.",
    ),
    valueLine,
    valuePlots,
    valueTable,
    h("h3", {}, "Box → mask"),
    assistTable,
    withoutModel,
  );

  // ---- pre-annotation ----
  const preError = h("p", { class: "error", role: "alert", "data-testid": "preannotate-error" });
  const filterText = [...worklistQuery].map(([k, v]) => `${k.replace("_", " ")} = ${v.replace("_", " ")}`).join(" · ");
  const preAll = h("button", { type: "button", "data-testid": "preannotate-all" }, "Pre-annotate the whole project");
  const preFiltered = h(
    "button",
    { type: "button", "data-testid": "preannotate-filtered", disabled: !filterText },
    "Pre-annotate the worklist filter",
  );
  preAll.addEventListener("click", () => void preannotate({}));
  preFiltered.addEventListener("click", () => void preannotate(Object.fromEntries(worklistQuery)));
  const preList = h("div", { class: "pre-jobs", "data-testid": "preannotation-jobs" });

  // ---- workers ----
  const workerSummary = h("div", { class: "worker-summary", "data-testid": "worker-summary" });
  const workerTable = h("table", { class: "data workers", "data-testid": "workers" });

  const section = (heading: string, testid: string, ...children: (Node | string)[]) =>
    h("section", { class: "card", "data-testid": testid }, h("h2", {}, heading), ...children);

  function layout() {
    clear(body);
    body.append(
      section("Training", "training-section", retrainLine, trainForm, trainError, jobPanel, lossBox, h("h3", {}, "Recent runs"), jobTable),
      section(
        "Model versions",
        "versions-section",
        versionError,
        versionPlot,
        versionTable,
      ),
      valueSection,
      section(
        "Pre-annotation",
        "preannotation-section",
        h("p", { class: "muted" }, "Runs the active model and replaces only untouched proposals; labels people accepted, edited or rejected stay."),
        h("div", { class: "actions" }, preAll, preFiltered),
        h("p", { class: "muted small" }, filterText ? `Worklist filter: ${filterText}` : "Open this page from a filtered worklist to pre-annotate only its images."),
        preError,
        preList,
      ),
      section("Workers and queues", "workers-section", workerSummary, workerTable),
    );
  }

  // ---- rendering ----
  const activeJob = () => jobs.find((j) => isActive(j)) ?? null;
  const shownJob = () => jobs.find((j) => j.id === selectedJob) ?? activeJob() ?? jobs.find((j) => j.loss_curve.length) ?? jobs[0] ?? null;

  function renderTraining() {
    const running = activeJob();
    startBtn.disabled = !!running;
    startBtn.textContent = running ? "A run is in progress" : "Start training";
    const hasActive = versions.some((v) => v.status === "active");
    init.options[1].textContent = hasActive ? "fine-tune the active model" : "fine-tune the active model (none yet)";

    clear(jobPanel);
    const job = shownJob();
    if (!job) {
      jobPanel.appendChild(h("p", { class: "muted" }, "No training run yet."));
    } else {
      jobPanel.dataset.jobId = String(job.id);
      jobPanel.dataset.status = job.status;
      const cancel = h(
        "button",
        { type: "button", "data-testid": "cancel-training", disabled: job.cancel_requested },
        job.cancel_requested ? "Cancelling…" : "Cancel",
      );
      cancel.addEventListener("click", () => void cancelJob(job));
      const info = [stepText(job), etaText(job)].filter(Boolean).join(" · ");
      const took = elapsed(job);
      append(
        jobPanel,
        h(
          "div",
          { class: "job-head" },
          h("strong", {}, `Run #${job.id}`),
          statusBadge(job.status),
          h("span", { class: "muted" }, optionsText(job.options)),
          isActive(job) ? cancel : null,
        ),
        progressBar(job.progress, "training progress", "training-progress"),
        h(
          "div",
          { class: "job-meta" },
          h("span", { "data-testid": "training-percent" }, percent(job.progress)),
          info ? h("span", { "data-testid": "training-eta" }, info) : null,
          took != null ? h("span", { class: "muted" }, `${isActive(job) ? "running for" : "took"} ${duration(took)}`) : null,
          job.model_version != null ? h("span", {}, `→ version ${versionNumber(job.model_version)}`) : null,
        ),
        job.error ? h("p", { class: job.status === "failed" ? "error" : "muted" }, job.error) : null,
      );
    }
    renderLoss(job);
    renderJobTable();
  }

  function renderLoss(job: TrainingJob | null) {
    clear(lossBox);
    const curve = (job?.loss_curve ?? []).filter((p) => Number.isFinite(p[0]) && Number.isFinite(p[1]));
    const raw = downsample(curve, 600);
    const trend = downsample(ema(curve, curve.length > 50 ? 0.05 : 0.3), 300);
    lossBox.appendChild(h("h3", {}, job ? `Loss, run #${job.id}` : "Loss"));
    lossBox.appendChild(
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
    );
    lossBox.dataset.points = String(curve.length);
  }

  function renderJobTable() {
    clear(jobTable);
    jobTable.appendChild(h("thead", {}, h("tr", {}, ...["Run", "Status", "Options", "Started", "Took", "Loss", "Model"].map((t) => h("th", {}, t)))));
    const tb = h("tbody");
    for (const j of jobs.slice(0, 8)) {
      const last = j.loss_curve.length ? j.loss_curve[j.loss_curve.length - 1][1] : null;
      const took = elapsed(j);
      const row = h(
        "tr",
        { "data-job-id": j.id, class: j.id === shownJob()?.id ? "selected" : "", tabindex: 0 },
        h("td", {}, `#${j.id}`),
        h("td", {}, statusBadge(j.status)),
        h("td", {}, optionsText(j.options)),
        h("td", { title: when(j.started_at ?? j.created_at) }, whenShort(j.started_at ?? j.created_at)),
        h("td", { class: "num" }, took != null ? duration(took) : "—"),
        h("td", { class: "num" }, last != null ? last.toFixed(3) : "—"),
        h("td", {}, j.model_version != null ? `v${versionNumber(j.model_version)}` : "—"),
      );
      const pick = () => {
        selectedJob = j.id;
        renderTraining();
      };
      row.addEventListener("click", pick);
      row.addEventListener("keydown", (e) => e.key === "Enter" && pick());
      tb.appendChild(row);
    }
    if (!jobs.length) tb.appendChild(h("tr", {}, h("td", { colspan: 7, class: "muted" }, "No runs yet.")));
    jobTable.appendChild(tb);
  }

  function versionNumber(id: number): string {
    const v = versions.find((x) => x.id === id);
    return v ? String(v.number) : `#${id}`;
  }

  function renderVersions() {
    clear(versionPlot);
    clear(versionTable);
    const plotted = METRIC_COLUMNS.filter((c) => c.key !== "segm_AP50");
    const series = metricSeries(versions, plotted);
    const hi = extent(series.flatMap((s) => s.points.map((p) => p[1])))?.[1] ?? 1;
    versionPlot.appendChild(
      lineChart({
        series: series.map((s, i) => ({ ...s, color: PLOT_COLORS[i % PLOT_COLORS.length], dots: true, width: 1.8 })),
        yDomain: [0, niceTicks(0, Math.max(hi, 0.05), 4).domain[1]],
        xIntegers: true,
        xLabel: "model version",
        yLabel: "AP",
        empty: "No model versions yet",
        testid: "metrics-plot",
      }),
    );
    const rows = metricRows(versions);
    const splits = ["val", "test"] as const;
    const columns = 2 + splits.length * 2 + 1;
    versionTable.appendChild(
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", {}, "Version"),
          h("th", {}, "Status"),
          ...splits.flatMap((sp) => [
            h("th", { title: "lesion-level figures at the version's score threshold, the proposals radiologists get" }, `${sp}: what radiologists get`),
            h("th", { title: "COCO mask AP over all thresholds, 95 % interval" }, `${sp} AP`),
          ]),
          h("th", {}, ""),
        ),
      ),
    );
    const tb = h("tbody");
    for (const r of rows) {
      let action: HTMLElement | string = r.status === "active" ? h("span", { class: "muted" }, "serving") : "";
      if (r.action) {
        const btn = h(
          "button",
          { type: "button", "data-action": r.action, class: r.action === "promote" ? "primary small" : "small" },
          r.action === "promote" ? "Promote" : "Roll back",
        );
        btn.addEventListener("click", () => void activate(r.version, btn));
        action = btn;
      }
      const cells = splits.flatMap((sp) => {
        const summary = splitSummary(r.version, sp);
        const figures =
          summary.kind === "measured"
            ? h(
                "td",
                { class: "figures", "data-split": sp },
                h("div", {}, summary.headline),
                h("div", { class: "muted small" }, summary.detail),
                h("div", { class: "muted small" }, summary.basis),
              )
            : h("td", { class: "figures muted", "data-split": sp }, summary.text);
        const perClass = perClassText(r.version, sp);
        return [
          figures,
          h(
            "td",
            { class: "small" },
            apText(r.version, sp) || "—",
            perClass ? h("div", { class: "muted small", "data-testid": "per-class", title: "COCO mask AP of each class" }, perClass) : null,
          ),
        ];
      });
      tb.appendChild(
        h(
          "tr",
          { "data-version": r.number, "data-status": r.status },
          h(
            "td",
            { title: `created ${when(r.version.created_at)}${r.version.sha256 ? ` · sha256 ${r.version.sha256.slice(0, 12)}…` : ""}` },
            h("strong", {}, `v${r.number}`),
            h("div", { class: "muted small" }, r.backbone),
            h(
              "div",
              { class: "muted small", title: r.version.metrics?.operating_point?.rule ?? "set before operating points were chosen on val" },
              `proposes at score ≥ ${r.version.score_threshold.toFixed(2)}`,
            ),
          ),
          h("td", {}, h("span", { class: `version-status version-${r.status}` }, r.status)),
          ...cells,
          h("td", {}, action),
        ),
      );
      const why = promotionText(r.version);
      if (why) {
        tb.appendChild(
          h(
            "tr",
            { class: "promotion", "data-version": r.number },
            h("td", {}),
            h("td", { colspan: columns - 1, class: "muted small", "data-testid": "promotion-reason" }, why),
          ),
        );
      }
    }
    if (!rows.length) tb.appendChild(h("tr", {}, h("td", { colspan: columns, class: "muted" }, "No model versions yet: train one.")));
    versionTable.appendChild(tb);
  }

  function renderValue() {
    clear(valuePlots);
    clear(valueTable);
    clear(assistTable);
    if (!value) return;
    valueLine.textContent = valueSummary(value.versions) || "No proposal decided on yet.";
    const { shares, misses } = valueSeries(value.versions);
    const hi = Math.max(0.5, ...misses[0].points.map((p) => p[1] ?? 0));
    valuePlots.append(
      lineChart({
        series: shares.map((s, i) => ({ ...s, color: PLOT_COLORS[i % PLOT_COLORS.length], dots: true, width: 1.8 })),
        yDomain: [0, 1],
        xIntegers: true,
        xLabel: "model version",
        yLabel: "share of decided",
        empty: "No model versions yet",
        testid: "value-shares-plot",
        height: 200,
      }),
      lineChart({
        series: misses.map((s) => ({ ...s, color: PLOT_COLORS[4], dots: true, width: 1.8 })),
        yDomain: [0, niceTicks(0, hi, 4).domain[1]],
        xIntegers: true,
        xLabel: "model version",
        yLabel: "misses / image",
        empty: "No model versions yet",
        testid: "value-misses-plot",
        height: 200,
      }),
    );
    const columns = 3 + VERSION_COLUMNS.length;
    valueTable.appendChild(h("thead", {}, h("tr", {}, h("th", {}, "Version"), h("th", { class: "num" }, "Images"), h("th", { class: "num" }, "Proposals"), ...figureHeads(VERSION_COLUMNS))));
    const tb = h("tbody");
    for (const v of value.versions) {
      tb.appendChild(
        h(
          "tr",
          { "data-version": v.number },
          h("td", {}, h("strong", {}, `v${v.number}`), h("div", { class: `muted small version-${v.status}` }, v.status)),
          h("td", { class: "num" }, v.images),
          h("td", { class: "num" }, h("div", {}, v.proposals), h("div", { class: "muted small" }, `${v.counts.proposed} not acted on`)),
          ...VERSION_COLUMNS.map((c) => figureCell(c.cell(v), c.key)),
        ),
      );
    }
    if (!value.versions.length) tb.appendChild(h("tr", {}, h("td", { colspan: columns, class: "muted" }, "No model versions yet.")));
    valueTable.appendChild(tb);
    renderAssist(value.assist);
    const alone = secondsCell(value.without_model.seconds_per_image);
    withoutModel.textContent = `Without model proposals: ${alone.text} per finished image (${alone.basis}).`;
  }

  function renderAssist(assist: FateFigures) {
    assistTable.appendChild(h("thead", {}, h("tr", {}, h("th", { class: "num" }, "Results saved"), ...figureHeads(FATE_COLUMNS))));
    assistTable.appendChild(
      h(
        "tbody",
        {},
        h(
          "tr",
          { "data-source": "assist" },
          h("td", { class: "num" }, h("div", {}, assist.proposals), h("div", { class: "muted small" }, `${assist.counts.proposed} not acted on`)),
          ...FATE_COLUMNS.map((c) => figureCell(c.cell(assist), c.key)),
        ),
      ),
    );
  }

  function renderPre() {
    clear(preList);
    const hasActive = versions.some((v) => v.status === "active");
    const running = preJobs.some((j) => isActive(j));
    preAll.disabled = !hasActive;
    preFiltered.disabled = !hasActive || !filterText;
    preAll.title = hasActive ? "" : "No active model yet";
    for (const j of preJobs.slice(0, 5)) {
      const cancel = h("button", { type: "button", disabled: j.cancel_requested, "data-testid": "cancel-preannotation" }, j.cancel_requested ? "Cancelling…" : "Cancel");
      cancel.addEventListener("click", () => void cancelPre(j));
      preList.appendChild(
        h(
          "div",
          { class: "pre-job", "data-job-id": j.id, "data-status": j.status },
          h(
            "div",
            { class: "job-head" },
            h("strong", {}, `Job #${j.id}`),
            statusBadge(j.status),
            h("span", { class: "muted" }, `model v${versionNumber(j.model_version)} · ${j.done} / ${j.total} images · ${when(j.created_at)}`),
            isActive(j) ? cancel : null,
          ),
          progressBar(j.total ? j.done / j.total : j.progress, `pre-annotation job ${j.id}`, "preannotation-progress"),
          j.error ? h("p", { class: j.status === "failed" ? "error" : "muted" }, j.error) : null,
        ),
      );
    }
    if (!preJobs.length) preList.appendChild(h("p", { class: "muted" }, hasActive ? "No pre-annotation run yet." : "Promote a model version to pre-annotate."));
    if (running) preAll.title = "A pre-annotation job is running; a new one queues after it";
  }

  function renderWorkers() {
    clear(workerSummary);
    clear(workerTable);
    if (!workers) return;
    for (const [name, q] of Object.entries(workers.queues)) {
      const ok = q.workers > 0;
      workerSummary.appendChild(
        h(
          "div",
          { class: `queue ${ok ? "ok" : "down"}`, "data-queue": name },
          h("strong", {}, `${name} queue`),
          h("span", {}, ok ? `${q.workers} worker${q.workers === 1 ? "" : "s"} alive` : "no worker alive"),
          name === "gpu" ? h("span", { class: q.gpu ? "cuda" : "muted" }, q.gpu ? "CUDA device" : "no CUDA device (CPU)") : null,
          name === "interactive" ? h("span", { class: "muted" }, ok ? "box → mask with the active model" : "box → mask falls back to the classical engine") : null,
        ),
      );
    }
    workerSummary.appendChild(
      h("div", { class: "queue" }, h("strong", {}, "Waiting"), h("span", {}, `${workers.queued_jobs.training} training · ${workers.queued_jobs.preannotation} pre-annotation`)),
    );
    workerTable.appendChild(h("thead", {}, h("tr", {}, ...["Worker", "Queues", "Accelerator", "State", "Last seen", "Up for"].map((t) => h("th", {}, t)))));
    const tb = h("tbody");
    for (const w of workers.workers) {
      tb.appendChild(
        h(
          "tr",
          { "data-hostname": w.hostname, "data-alive": String(w.alive) },
          h("td", {}, w.hostname),
          h("td", {}, w.queues.join(", ")),
          h("td", {}, w.accelerator || "—"),
          h("td", {}, h("span", { class: w.alive ? "alive" : "dead" }, w.alive ? "alive" : "silent")),
          h("td", {}, ago(w.last_seen)),
          h("td", { title: when(w.started_at) }, duration(elapsed({ started_at: w.started_at, finished_at: null }))),
        ),
      );
    }
    if (!workers.workers.length) tb.appendChild(h("tr", {}, h("td", { colspan: 6, class: "muted" }, "No worker has reported in the last day.")));
    workerTable.appendChild(tb);
  }

  function renderAll() {
    renderTraining();
    renderVersions();
    renderValue();
    renderPre();
    renderWorkers();
  }

  // ---- data ----
  async function refreshAll() {
    const s = abort.signal;
    const [v, t, p, w, r, m] = await Promise.all([
      listModelVersions(slug, s),
      listTrainingJobs(slug, s),
      listPreannotationJobs(slug, s),
      workerStatus(slug, s),
      retrainStatus(slug, s),
      modelValue(slug, s),
    ]);
    retrainLine.textContent = retrainText(r);
    versions = v;
    value = m;
    jobs = t.results;
    preJobs = p.results;
    workers = w;
    renderAll();
  }

  /** While something runs: the running training job, the pre-annotation jobs, the workers. */
  async function refreshActive() {
    const s = abort.signal;
    const running = activeJob();
    const [t, p, w] = await Promise.all([
      running ? getTrainingJob(running.id, s) : null,
      preJobs.some((j) => isActive(j)) ? listPreannotationJobs(slug, s) : null,
      workerStatus(slug, s),
    ]);
    workers = w;
    if (p) preJobs = p.results;
    if (t && running) {
      jobs = jobs.map((j) => (j.id === t.id ? t : j));
      if (!isActive(t)) {
        await refreshAll(); // finished: a version may have been registered or promoted
        return;
      }
    }
    renderAll();
  }

  function schedule() {
    if (timer) clearTimeout(timer);
    if (abort.signal.aborted) return;
    const busy = !!activeJob() || preJobs.some((j) => isActive(j));
    timer = setTimeout(() => {
      const work = busy ? refreshActive() : refreshAll();
      work
        .catch((e) => {
          if (!abort.signal.aborted) notice.textContent = `Could not refresh (${errorText(e)}); retrying.`;
        })
        .finally(schedule);
    }, busy ? POLL_ACTIVE_MS : POLL_IDLE_MS);
  }

  // ---- actions ----
  async function start() {
    trainError.textContent = "";
    const options: TrainingOptions = {
      image_size: Number(imageSize.value),
      backbone: backbone.value as Backbone,
      init: init.value as TrainingInit,
    };
    if (byBudget.checked) options.time_budget_s = Math.max(10, Math.round(Number(budget.value) * 60));
    else options.epochs = Math.round(Number(epochs.value));
    startBtn.disabled = true;
    try {
      const job = await startTraining(slug, options);
      jobs = [job, ...jobs.filter((j) => j.id !== job.id)];
      selectedJob = job.id;
      renderTraining();
    } catch (e) {
      trainError.textContent = errorText(e);
      if (e instanceof ApiError && e.code === "training_in_progress") {
        const id = (e.body as { job?: number } | null)?.job;
        if (typeof id === "number") selectedJob = id;
      }
    }
    await refreshAll().catch(() => {});
    schedule();
  }

  async function cancelJob(job: TrainingJob) {
    trainError.textContent = "";
    try {
      await cancelTraining(job.id);
    } catch (e) {
      trainError.textContent = errorText(e);
    }
    await refreshAll().catch(() => {});
    schedule();
  }

  async function activate(v: ModelVersion, btn: HTMLButtonElement) {
    versionError.textContent = "";
    btn.disabled = true;
    try {
      await activateModelVersion(v.id); // the new active version also pre-annotates untouched images
    } catch (e) {
      versionError.textContent = errorText(e);
    }
    await refreshAll().catch(() => {});
    schedule();
  }

  async function preannotate(filters: Record<string, string>) {
    preError.textContent = "";
    preAll.disabled = preFiltered.disabled = true;
    try {
      await startPreannotation(slug, { filters });
    } catch (e) {
      preError.textContent = errorText(e);
    }
    await refreshAll().catch(() => {});
    schedule();
  }

  async function cancelPre(job: PreannotationJob) {
    preError.textContent = "";
    try {
      await cancelPreannotation(job.id);
    } catch (e) {
      preError.textContent = errorText(e);
    }
    await refreshAll().catch(() => {});
    schedule();
  }

  // ---- start ----
  (async () => {
    project = await getProject(slug);
    if (abort.signal.aborted) return;
    title.textContent = `${project.name} — models`;
    document.title = `Models · ${project.name} · RadLabel`;
    if (project.role !== "admin") {
      notice.textContent = "Only the project's admins can train, promote and pre-annotate.";
      notice.className = "muted";
      notice.dataset.testid = "not-admin";
      return;
    }
    layout();
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
