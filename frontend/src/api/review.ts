/** Second reading: a reviewer's decision, comments, the reader's lease and Next. */
import { query, request } from "./http";
import type { ImageReview, ImageStatus, ReviewComment } from "./types";

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
