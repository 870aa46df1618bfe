/** Text for job progress on the Models page: percentages, durations, ETAs, status lines. */
import type { JobStatus, TrainingJob } from "../api/types";

export const ACTIVE: ReadonlySet<JobStatus> = new Set(["queued", "running"]);

export function isActive(job: { status: JobStatus } | null | undefined): boolean {
  return !!job && ACTIVE.has(job.status);
}

/** 0..1 → "42%" (clamped; NaN reads as 0). */
export function percent(progress: number | null | undefined): string {
  const p = Number.isFinite(progress) ? Math.min(1, Math.max(0, progress as number)) : 0;
  return `${Math.floor(p * 100)}%`;
}

/** Seconds → "45 s", "3 min 20 s", "2 h 05 min", "1 d 3 h". */
export function duration(seconds: number | null | undefined): string {
  if (seconds == null || !Number.isFinite(seconds) || seconds < 0) return "—";
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) {
    const m = Math.floor(s / 60);
    const r = s % 60;
    return r ? `${m} min ${r} s` : `${m} min`;
  }
  if (s < 86400) {
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    return `${h} h ${String(m).padStart(2, "0")} min`;
  }
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  return h ? `${d} d ${h} h` : `${d} d`;
}

/** What to say about the remaining time of a job. */
export function etaText(job: Pick<TrainingJob, "status" | "eta_seconds" | "step">): string {
  if (job.status === "queued") return "waiting for a worker";
  if (job.status !== "running") return "";
  if (job.eta_seconds == null || !Number.isFinite(job.eta_seconds)) return job.step ? "estimating time left…" : "starting…";
  if (job.eta_seconds < 1) return "finishing…";
  return `about ${duration(job.eta_seconds)} left`;
}

/**
 * "epoch 3 · step 120 / 400" (the parts that are known). A run that ended before its planned
 * steps (its time budget was spent) says so instead of "100 % · step 67 / 580".
 */
export function stepText(job: Pick<TrainingJob, "epoch" | "step" | "total_steps" | "options"> & { status?: TrainingJob["status"] }): string {
  const parts: string[] = [];
  const epochs = job.options?.epochs;
  const ended = job.status === "succeeded" || job.status === "failed" || job.status === "cancelled";
  if (job.epoch) parts.push(typeof epochs === "number" && !job.options?.time_budget_s ? `epoch ${job.epoch} / ${epochs}` : `epoch ${job.epoch}`);
  if (ended && job.step) {
    const short = job.total_steps && job.step < job.total_steps;
    parts.push(short && job.status === "succeeded" && job.options?.time_budget_s ? `${job.step} steps, when its time budget was spent` : `${job.step} steps`);
  } else if (job.total_steps) parts.push(`step ${job.step} / ${job.total_steps}`);
  else if (job.step) parts.push(`step ${job.step}`);
  return parts.join(" · ");
}

/** "14 labels accepted on train since the last version; the next retrain starts at 20 (6 more)". */
export function retrainText(r: { accepted_since_last_version: number; threshold: number; due: boolean }): string {
  const n = r.accepted_since_last_version;
  const head = `${n} label${n === 1 ? "" : "s"} accepted on train since the last version`;
  if (r.due) return `${head}: the next retrain is due (at ${r.threshold}) and starts within a minute`;
  const more = r.threshold - n;
  return `${head}; the next retrain starts by itself at ${r.threshold} (${more} more)`;
}

/** Elapsed run time of a job (to `now` while it runs). */
export function elapsed(job: { started_at: string | null; finished_at: string | null }, now = Date.now()): number | null {
  if (!job.started_at) return null;
  const start = Date.parse(job.started_at);
  const end = job.finished_at ? Date.parse(job.finished_at) : now;
  return Number.isFinite(start) && Number.isFinite(end) ? Math.max(0, (end - start) / 1000) : null;
}

/** The options of a training run, as one line. */
export function optionsText(o: Record<string, unknown> | null | undefined): string {
  if (!o) return "";
  const parts: string[] = [];
  if (typeof o.backbone === "string") parts.push(o.backbone);
  if (o.time_budget_s != null) parts.push(duration(Number(o.time_budget_s)));
  else if (typeof o.epochs === "number") parts.push(`${o.epochs} epochs`);
  if (typeof o.image_size === "number") parts.push(`${o.image_size} px`);
  if (typeof o.init === "string") parts.push(o.init === "active" ? "fine-tune" : "scratch");
  return parts.join(" · ");
}

/** A local date-time without seconds, or "—". */
export function when(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "—";
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** "11-25 22:08": month, day and time, for tables. */
export function whenShort(iso: string | null | undefined): string {
  const full = when(iso);
  return full === "—" ? full : full.slice(5);
}

/** How long ago, coarse: "12 s ago", "4 min ago". */
export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "—";
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return "—";
  const s = Math.max(0, (now - t) / 1000);
  if (s < 60) return `${Math.round(s)} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}
