/** Test data: job rows as the server returns them (running, just started). */
import type { JobBase, PreannotationJob, TrainingJob } from "../api/types";

const base = (): JobBase => ({
  id: 1,
  status: "running",
  progress: 0,
  error: "",
  attempts: 1,
  cancel_requested: false,
  created_at: "2026-01-01T10:00:00Z",
  started_at: "2026-01-01T10:00:05Z",
  finished_at: null,
});

export function trainingJob(over: Partial<TrainingJob> = {}): TrainingJob {
  return {
    ...base(),
    options: { epochs: 20, image_size: 512, backbone: "resnet18_fpn", init: "scratch", time_budget_s: null },
    epoch: 0,
    step: 0,
    total_steps: 0,
    eta_seconds: null,
    loss_curve: [],
    model_version: null,
    ...over,
  };
}

export function preannotationJob(over: Partial<PreannotationJob> = {}): PreannotationJob {
  return { ...base(), model_version: 7, done: 5, total: 20, ...over };
}
