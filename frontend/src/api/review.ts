/** Second reading: a reviewer's decision, comments, the reader's lease and Next. */
import { getJson, query, request } from "./http";
import type { ImageRead, ImageReview, ImageStatus, ReviewComment } from "./types";

export async function reviewImage(id: number, decision: "accept" | "return", comment?: string, annotation?: number | null) {
  const body = decision === "return" ? { decision, comment, annotation: annotation ?? null } : { decision };
  return (await request<ImageReview & { status: ImageStatus }>(`/api/images/${id}/review/`, { method: "POST", body })).data;
}

export async function postComment(id: number, body: string, annotation: number | null = null) {
  return (await request<ReviewComment[]>(`/api/images/${id}/comments/`, { method: "POST", body: { body, annotation } })).data;
}

/** Take or renew the lease (an ApiError 409 `image_leased` while another reader holds it). */
export async function leaseImage(id: number) {
  return (await request<Pick<ImageReview, "leased_to" | "lease_expires_at">>(`/api/images/${id}/lease/`, { method: "PUT" })).data;
}

/** The next image of the worklist's filter for this reader, leased to them; null at the end. */
export async function nextImage(slug: string, filters: Record<string, string>, after: number | null): Promise<number | null> {
  const q = query({ ...filters, ...(after != null ? { after: String(after) } : {}) });
  const res = await request<{ image: number | null }>(`/api/projects/${encodeURIComponent(slug)}/next/${q}`, { method: "POST" });
  return res.data.image;
}

/** Each reader's latest read of the image (reviewers and admins). */
export function getReads(id: number, signal?: AbortSignal): Promise<ImageRead[]> {
  return getJson(`/api/images/${id}/reads/`, signal);
}

/** The image's final set: the labels picked from its reads and the tags chosen. */
export async function adjudicate(id: number, picks: { read: number; label: number }[], tags: number[]) {
  return (await request<ImageRead[]>(`/api/images/${id}/adjudicate/`, { method: "POST", body: { picks, tags } })).data;
}
