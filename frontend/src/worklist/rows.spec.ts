import { describe, expect, it } from "vitest";
import type { ImageListItem, ImageStatus } from "../api/types";
import { framesText, rowDone } from "./rows";

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

const grouped = row(14, 7, { frames: 10, frame_number: 4, frames_done: 3 });

describe("rowDone", () => {
  it("is done or reviewed", () => {
    const statuses: ImageStatus[] = ["unlabelled", "proposed", "in_progress", "returned", "done", "reviewed"];
    expect(statuses.map((status) => rowDone(row(1, 1, { status })))).toEqual([false, false, false, false, true, true]);
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
