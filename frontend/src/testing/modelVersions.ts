/** Test data: a model version row as the server returns it (a candidate with no figures). */
import type { ModelVersion } from "../api/types";

export function modelVersion(over: Partial<ModelVersion> = {}): ModelVersion {
  return {
    id: 1,
    number: 1,
    status: "candidate",
    backbone: "resnet18_fpn",
    config: {},
    score_threshold: 0.5,
    metrics: {},
    promotion: {},
    training_data: {},
    classifier: {},
    sha256: "0".repeat(64),
    training_job: null,
    created_at: "2026-01-01T00:00:00Z",
    promoted_at: null,
    ...over,
  };
}
