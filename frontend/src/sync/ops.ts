import type { Annotation, AnnotationFields, ImageStatus } from "../api/types";

/** One annotation's unsent state: what the server has (if anything) and what we want. */
export interface AnnotationOp {
  kind: "annotation";
  key: string;
  user: number;
  imageId: number;
  /** the server row we edit, with the version our edit is based on; null = not on the server */
  server: { id: number; version: number } | null;
  /** a create (client_key = key) was sent and its answer never came: the row may exist */
  createSent?: boolean;
  want: "exists" | "deleted";
  /** fields to write; all four when the row must be created */
  fields: Partial<AnnotationFields>;
  rev: number;
  /** set on 412/409/404: the server's row (null when it is gone); sending waits for a choice */
  conflict?: { theirs: Annotation | null };
  /** a 4xx the server gave for this edit; sending waits for a choice */
  error?: string;
}

export interface TagsOp {
  kind: "tags";
  key: string;
  user: number;
  imageId: number;
  labelClassIds: number[];
  rev: number;
  error?: string;
}

export interface StatusOp {
  kind: "status";
  key: string;
  user: number;
  imageId: number;
  /** what a labeller sets: in progress, done, or (undoing Done) the untouched status it had */
  status: Exclude<ImageStatus, "reviewed">;
  rev: number;
  error?: string;
}

export interface ActivityOp {
  kind: "activity";
  key: string;
  user: number;
  imageId: number;
  seconds: number;
  rev: number;
  error?: string;
}

export type PendingOp = AnnotationOp | TagsOp | StatusOp | ActivityOp;
