/** The model loop: training jobs, model versions, pre-annotation jobs, worker status. */
import { getJson, request } from "./http";
import type { ModelValue, ModelVersion, Page, PreannotationJob, RetrainStatus, TrainingJob, TrainingOptions, WorkerStatus } from "./types";

const p = (slug: string) => `/api/projects/${encodeURIComponent(slug)}`;

export function retrainStatus(slug: string, signal?: AbortSignal): Promise<RetrainStatus> {
  return getJson(`${p(slug)}/retrain/`, signal);
}

export function listTrainingJobs(slug: string, signal?: AbortSignal): Promise<Page<TrainingJob>> {
  return getJson(`${p(slug)}/training-jobs/`, signal);
}

export function getTrainingJob(id: number, signal?: AbortSignal): Promise<TrainingJob> {
  return getJson(`/api/training-jobs/${id}/`, signal);
}

export async function startTraining(slug: string, options: TrainingOptions): Promise<TrainingJob> {
  return (await request<TrainingJob>(`${p(slug)}/training-jobs/`, { method: "POST", body: options })).data;
}

export async function cancelTraining(id: number): Promise<void> {
  await request(`/api/training-jobs/${id}/cancel/`, { method: "POST" });
}

export function listModelVersions(slug: string, signal?: AbortSignal): Promise<ModelVersion[]> {
  return getJson(`${p(slug)}/model-versions/`, signal);
}

/** How much each model version and the box → mask assist help (project admins). */
export function modelValue(slug: string, signal?: AbortSignal): Promise<ModelValue> {
  return getJson(`${p(slug)}/model-versions/value/`, signal);
}

export async function activateModelVersion(id: number): Promise<ModelVersion> {
  return (await request<ModelVersion>(`/api/model-versions/${id}/activate/`, { method: "POST" })).data;
}

export interface PreannotateTarget {
  image_ids?: number[];
  filters?: Record<string, string>;
}

export async function startPreannotation(slug: string, target: PreannotateTarget): Promise<PreannotationJob> {
  return (await request<PreannotationJob>(`${p(slug)}/preannotate/`, { method: "POST", body: target })).data;
}

export function listPreannotationJobs(slug: string, signal?: AbortSignal): Promise<Page<PreannotationJob>> {
  return getJson(`${p(slug)}/preannotation-jobs/`, signal);
}

export async function cancelPreannotation(id: number): Promise<void> {
  await request(`/api/preannotation-jobs/${id}/cancel/`, { method: "POST" });
}

export function workerStatus(slug: string, signal?: AbortSignal): Promise<WorkerStatus> {
  return getJson(`${p(slug)}/workers/`, signal);
}
