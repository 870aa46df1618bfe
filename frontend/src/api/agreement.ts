/** Reader agreement: each reader against the final set accepted in review, each pair of readers. */
import { getJson, query } from "./http";
import type { AgreementFilters, ProjectAgreement } from "./types";

export function getAgreement(slug: string, filters: AgreementFilters = {}, signal?: AbortSignal): Promise<ProjectAgreement> {
  return getJson(`/api/projects/${encodeURIComponent(slug)}/agreement/${query(filters)}`, signal);
}
