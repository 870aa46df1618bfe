/** Test data: an annotation row as the server returns it (a model's proposal by default). */
import type { Annotation } from "../api/types";

export function annotationRow(partial: Partial<Annotation> = {}): Annotation {
  return {
    id: 5,
    image: 1,
    client_key: "k5",
    label_class: 1,
    box: [10, 10, 20, 20],
    mask: null,
    score: 0.9,
    source: "model",
    status: "proposed",
    model_version: 1,
    version: 3,
    updated_at: "2024-01-01T00:00:00Z",
    updated_by: null,
    alternatives: [],
    ...partial,
  };
}
