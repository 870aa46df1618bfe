import { describe, expect, it } from "vitest";
import type { ImageListItem, ImageStatus } from "../api/types";
import { framesText, imageAfter, rowDone, rowHolds } from "./rows";

function row(id: number, instance_id: number, extra: Partial<ImageListItem> = {}): ImageListItem {
  return {
    id,
    study_id: 1,
    series_id: 1,
    instance_id,
    patient: "P",
    split: "train",
    modality: "MR",
    status: "unlabelled",
    instance_number: 1,
    series_number: 1,
    frame_number: 1,
    frames: 1,
    rows: 64,
    columns: 64,
    uncertainty: null,
    max_score: null,
    classes: [],
    proposed_count: 0,
    accepted_count: 0,
    top_suggestion: null,
    dicom_url: `/api/images/${id}/dicom/`,
    ...extra,
  };
}

async function* each(rows: ImageListItem[]): AsyncGenerator<ImageListItem> {
  yield* rows;
}

const grouped = row(14, 7, { frames: 10, frame_number: 4, frames_done: 3 });
const worklist = [row(1, 1), grouped, row(30, 9)];

describe("rowHolds", () => {
  it("holds its own frame and, when grouped, every frame of its instance", () => {
    expect(rowHolds(grouped, { id: 14, instance_id: 7 })).toBe(true);
    expect(rowHolds(grouped, { id: 18, instance_id: 7 })).toBe(true);
    expect(rowHolds(grouped, { id: 31, instance_id: 9 })).toBe(false);
  });

  it("holds only its own frame when every frame is a row", () => {
    const frame = row(14, 7, { frames: 10, frame_number: 4 });
    expect(rowHolds(frame, { id: 14, instance_id: 7 })).toBe(true);
    expect(rowHolds(frame, { id: 15, instance_id: 7 })).toBe(false);
  });
});

describe("imageAfter", () => {
  it("goes from any frame of a grouped instance to the next row", async () => {
    expect(await imageAfter(each(worklist), { id: 18, instance_id: 7 })).toBe(30);
    expect(await imageAfter(each(worklist), { id: 14, instance_id: 7 })).toBe(30);
    expect(await imageAfter(each(worklist), { id: 1, instance_id: 1 })).toBe(14);
  });

  it("ends after the last row", async () => {
    expect(await imageAfter(each(worklist), { id: 30, instance_id: 9 })).toBeNull();
  });

  it("starts over at the first row when the image has left the list", async () => {
    expect(await imageAfter(each(worklist), { id: 99, instance_id: 50 })).toBe(1);
    expect(await imageAfter(each([]), { id: 99, instance_id: 50 })).toBeNull();
  });

  it("under a strategy listing images not done first, goes from one now done to the first not done", async () => {
    // image 5 was just marked done: "First unlabelled" lists it among the done images now
    const listed = [row(2, 2), row(6, 6), row(1, 1, { status: "done" }), row(5, 5, { status: "done" }), row(8, 8, { status: "reviewed" })];
    expect(await imageAfter(each(listed), { id: 5, instance_id: 5 }, true)).toBe(2);
    expect(await imageAfter(each(listed), { id: 5, instance_id: 5 })).toBe(8);
    // not yet saved as done, or skipped: the next row
    expect(await imageAfter(each([row(5, 5), row(6, 6)]), { id: 5, instance_id: 5 }, true)).toBe(6);
    // all done: the next row
    const done = [row(1, 1, { status: "done" }), row(5, 5, { status: "done" }), row(8, 8, { status: "done" })];
    expect(await imageAfter(each(done), { id: 5, instance_id: 5 }, true)).toBe(8);
  });
});

describe("rowDone", () => {
  it("is done or reviewed", () => {
    const statuses: ImageStatus[] = ["unlabelled", "proposed", "in_progress", "done", "reviewed"];
    expect(statuses.map((status) => rowDone(row(1, 1, { status })))).toEqual([
      false,
      false,
      false,
      true,
      true,
    ]);
  });
});

describe("framesText", () => {
  it("shows a grouped instance's frame count and progress", () => {
    expect(framesText(grouped)).toBe("10 frames · 3 done");
  });

  it("shows one frame's place in its file, and a dash for a single frame", () => {
    expect(framesText(row(14, 7, { frames: 10, frame_number: 4 }))).toBe("4 / 10");
    expect(framesText(row(1, 1, { frames_done: 0 }))).toBe("—");
  });
});
