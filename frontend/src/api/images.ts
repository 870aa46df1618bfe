import { getJson, query, request } from "./http";
import type { ImageDetail, ImageListItem, ImageStatus, Page, TagSuggestion, WorklistQuery } from "./types";

export function listImages(slug: string, q: WorklistQuery, signal?: AbortSignal): Promise<Page<ImageListItem>> {
  return getJson(`/api/projects/${encodeURIComponent(slug)}/images/${query({ ...q })}`, signal);
}

export function getImage(id: number, signal?: AbortSignal): Promise<ImageDetail> {
  return getJson(`/api/images/${id}/`, signal);
}

export async function setImageStatus(id: number, status: Exclude<ImageStatus, "reviewed">) {
  return (await request<ImageDetail>(`/api/images/${id}/`, { method: "PATCH", body: { status } })).data;
}

export async function putTags(id: number, labelClassIds: number[]) {
  return (await request(`/api/images/${id}/tags/`, { method: "PUT", body: { label_class_ids: labelClassIds } })).data;
}

export async function postActivity(id: number, seconds: number, keepalive = false) {
  await request(`/api/images/${id}/activity/`, { method: "POST", body: { seconds }, keepalive });
}

/** Accept (the tag is set) or reject a pending tag suggestion; the image's suggestions after it. */
export async function decideTagSuggestion(id: number, labelClass: number, decision: "accepted" | "rejected"): Promise<TagSuggestion[]> {
  return (await request<TagSuggestion[]>(`/api/images/${id}/tag-suggestions/`, { method: "POST", body: { label_class: labelClass, decision } })).data;
}
