/** Worklist rows: a multi-frame instance is one row (the image list's `group=instance`). */
import type { ImageListItem } from "../api/types";

/** The image list's grouping the worklist asks for. */
export const WORKLIST_GROUP = "instance";

/** An image as far as finding its row goes. */
export interface ImageRef {
  id: number;
  instance_id: number;
}

/** Whether the row stands for the image: it is the row's frame, or a frame of the row's grouped instance. */
export function rowHolds(row: ImageListItem, image: ImageRef): boolean {
  return row.id === image.id || (row.frames_done !== undefined && row.instance_id === image.instance_id);
}

/** Whether a row's image (every frame, when grouped) is done or reviewed. */
export function rowDone(row: ImageListItem): boolean {
  return row.status === "done" || row.status === "reviewed";
}

/**
 * The image to open after `image`: the row after the one holding it (so Next from any frame of
 * a grouped instance goes to the next row); when no row holds it any more (it left the filter,
 * e.g. now done), the first row; null after the last row. With `notDoneFirst` (a strategy that
 * lists the images not yet done first), a done row holding it has left that part too: the
 * first row is next while it is not done.
 */
export async function imageAfter(rows: AsyncIterable<ImageListItem>, image: ImageRef, notDoneFirst = false): Promise<number | null> {
  let firstOther: ImageListItem | null = null;
  let takeNext = false;
  for await (const row of rows) {
    if (takeNext) return row.id;
    if (rowHolds(row, image)) {
      if (notDoneFirst && rowDone(row) && firstOther && !rowDone(firstOther)) return firstOther.id;
      takeNext = true;
    } else firstOther ??= row;
  }
  return takeNext ? null : (firstOther?.id ?? null);
}

/** The frame column: a grouped instance's frame count and progress, one frame's place in its file, or a dash. */
export function framesText(row: ImageListItem): string {
  if (row.frames <= 1) return "—";
  if (row.frames_done === undefined) return `${row.frame_number} / ${row.frames}`;
  return `${row.frames} frames · ${row.frames_done} done`;
}
