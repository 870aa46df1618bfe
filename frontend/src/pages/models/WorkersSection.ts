/** Workers and queues: which queue has a live worker (and a GPU), what waits, each worker. */
import type { WorkerStatus } from "../../api/types";
import { clear, h } from "../../components/dom";
import { ago, duration, elapsed, when } from "../../training/format";
import { card, type Section } from "./common";

function queueSummary(workers: WorkerStatus): HTMLElement[] {
  const queues = Object.entries(workers.queues).map(([name, q]) => {
    const ok = q.workers > 0;
    return h(
      "div",
      { class: `queue ${ok ? "ok" : "down"}`, "data-queue": name },
      h("strong", {}, `${name} queue`),
      h("span", {}, ok ? `${q.workers} worker${q.workers === 1 ? "" : "s"} alive` : "no worker alive"),
      name === "gpu" ? h("span", { class: q.gpu ? "cuda" : "muted" }, q.gpu ? "CUDA device" : "no CUDA device (CPU)") : null,
      name === "interactive" ? h("span", { class: "muted" }, ok ? "box → mask with the active model" : "box → mask falls back to the classical engine") : null,
    );
  });
  const waiting = h(
    "div",
    { class: "queue" },
    h("strong", {}, "Waiting"),
    h("span", {}, `${workers.queued_jobs.training} training · ${workers.queued_jobs.preannotation} pre-annotation`),
  );
  return [...queues, waiting];
}

function workerRows(workers: WorkerStatus): HTMLElement {
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
  return tb;
}

export function workersSection(): Section {
  const summary = h("div", { class: "worker-summary", "data-testid": "worker-summary" });
  const table = h("table", { class: "data workers", "data-testid": "workers" });
  return {
    el: card("Workers and queues", "workers-section", summary, table),
    update({ workers }) {
      clear(summary);
      clear(table);
      if (!workers) return;
      summary.append(...queueSummary(workers));
      table.append(h("thead", {}, h("tr", {}, ...["Worker", "Queues", "Accelerator", "State", "Last seen", "Up for"].map((t) => h("th", {}, t)))), workerRows(workers));
    },
  };
}
