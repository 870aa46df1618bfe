/** What a page shows of an image's labels: the server's, with this device's unsent edits on top. */
import type { AnnotationFields } from "../api/types";
import type { LocalAnnotation } from "../editing/document";
import { decodeRle } from "../viewer/rle";
import type { AnnotationOp } from "./ops";

/** Lay unsent local edits over what the server returned. */
export function applyPending(server: LocalAnnotation[], ops: AnnotationOp[]): LocalAnnotation[] {
  const byKey = new Map(server.map((a) => [a.key, a]));
  for (const op of ops) {
    if (op.want === "deleted") {
      byKey.delete(op.key);
      continue;
    }
    const f: Partial<AnnotationFields> = op.fields;
    const base: LocalAnnotation = byKey.get(op.key) ?? {
      key: op.key,
      id: null,
      version: null,
      label_class: f.label_class ?? 0,
      box: f.box ?? [0, 0, 0, 0],
      mask: null,
      status: f.status ?? "accepted",
      score: null,
      source: "human",
      model_version: null,
    };
    byKey.set(op.key, {
      ...base,
      ...(f.label_class !== undefined && { label_class: f.label_class }),
      ...(f.box !== undefined && { box: f.box }),
      ...(f.status !== undefined && { status: f.status }),
      ...(f.mask !== undefined && { mask: f.mask ? decodeRle(f.mask) : null }),
      id: op.server?.id ?? null,
      version: op.server?.version ?? null,
    });
  }
  return [...byKey.values()];
}
