/** Worklist rows: a multi-frame instance is one row (the image list's `group=instance`). */
import type { ImageListItem } from "../api/types";

/** The image list's grouping the worklist asks for. */
export const WORKLIST_GROUP = "instance";

/** Whether a row's image (every frame, when grouped) is done or reviewed. */
export function rowDone(row: ImageListItem): boolean {
  return row.status === "done" || row.status === "reviewed";
}

/** The frame column: a grouped instance's frame count and progress, one frame's place in its file, or a dash. */
export function framesText(row: ImageListItem): string {
  if (row.frames <= 1) return "—";
  if (row.frames_done === undefined) return `${row.frame_number} / ${row.frames}`;
  return `${row.frames} frames · ${row.frames_done} done`;
}
