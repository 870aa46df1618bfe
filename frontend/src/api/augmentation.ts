/** A project's augmentation settings (what its retrains augment with) and their preview. */
import { getJson, query, request } from "./http";
import type { AugmentationConfig, AugmentationPreview, AugmentationSettings } from "./types";

const path = (slug: string) => `/api/projects/${encodeURIComponent(slug)}/augmentation/`;

export function getAugmentation(slug: string, signal?: AbortSignal): Promise<AugmentationConfig> {
  return getJson(path(slug), signal);
}

export async function putAugmentation(slug: string, settings: AugmentationSettings): Promise<AugmentationConfig> {
  return (await request<AugmentationConfig>(path(slug), { method: "PUT", body: { settings } })).data;
}

/** `n` augmented samples of an image under `settings` (saved or not). */
export function previewAugmentation(slug: string, image: number, n: number, settings: AugmentationSettings, signal?: AbortSignal): Promise<AugmentationPreview> {
  return getJson(`${path(slug)}preview/${query({ image, n, settings: JSON.stringify(settings) })}`, signal);
}
