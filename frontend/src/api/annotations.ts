import { getJson, request } from "./http";
import type { Annotation, AnnotationFields, SegmentRequest, SegmentResult } from "./types";

export function listAnnotations(imageId: number, signal?: AbortSignal): Promise<Annotation[]> {
  return getJson(`/api/images/${imageId}/annotations/`, signal);
}

/** Create a label; `created` is false when the server already had a row with this client key. */
export async function createAnnotation(
  imageId: number,
  body: Partial<AnnotationFields> & { client_key: string; label_class: number; box: AnnotationFields["box"] },
): Promise<{ annotation: Annotation; created: boolean }> {
  const res = await request<Annotation>(`/api/images/${imageId}/annotations/`, { method: "POST", body });
  return { annotation: res.data, created: res.status === 201 };
}

/** A mask fitted to what lies inside a box (the box → mask assist); nothing is stored. */
export async function segmentBox(imageId: number, body: SegmentRequest, signal?: AbortSignal): Promise<SegmentResult> {
  return (await request<SegmentResult>(`/api/images/${imageId}/segment/`, { method: "POST", body, signal })).data;
}

export async function patchAnnotation(id: number, version: number, patch: Partial<AnnotationFields>): Promise<Annotation> {
  return (
    await request<Annotation>(`/api/annotations/${id}/`, {
      method: "PATCH",
      body: patch,
      headers: { "If-Match": `"${version}"` },
    })
  ).data;
}

export async function deleteAnnotation(id: number, version: number): Promise<void> {
  await request(`/api/annotations/${id}/`, { method: "DELETE", headers: { "If-Match": `"${version}"` } });
}

export type BatchCreate = Partial<AnnotationFields> & { client_key: string; label_class: number; box: AnnotationFields["box"] };
export type BatchUpdate = Partial<AnnotationFields> & { id: number; version: number };

export interface BatchResult {
  /** the created rows (creates first, in order), then the edited ones */
  annotations: Annotation[];
  /** client keys whose create found its row already there (it holds what that first create sent) */
  existed: string[];
  deleted: number[];
}

/** An image's creates, edits and deletes in one request and one transaction: all or nothing (412 lists the stale ones). */
export async function saveBatch(
  imageId: number,
  body: { create: BatchCreate[]; update: BatchUpdate[]; delete: { id: number; version: number }[] },
): Promise<BatchResult> {
  return (await request<BatchResult>(`/api/images/${imageId}/annotations/batch/`, { method: "POST", body })).data;
}
