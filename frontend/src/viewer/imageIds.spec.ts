import { describe, expect, it } from "vitest";
import { wadouriImageIds } from "./imageIds";

const O = "http://app.test";

describe("wadouriImageIds", () => {
  it("uses one plain URL per single-frame instance, in the given order", () => {
    const known = new Map([
      [3, { id: 3, instance_number: 2, frame_number: 1 }],
      [1, { id: 1, instance_number: 1, frame_number: 1 }],
    ]);
    expect(wadouriImageIds([1, 3], known, O)).toEqual([
      "wadouri:http://app.test/api/images/1/dicom/",
      "wadouri:http://app.test/api/images/3/dicom/",
    ]);
  });

  it("shares one URL between the frames of a multi-frame instance and names the frame", () => {
    const known = new Map([
      [10, { id: 10, instance_number: 1, frame_number: 1 }],
      [11, { id: 11, instance_number: 1, frame_number: 2 }],
      [12, { id: 12, instance_number: 1, frame_number: 3 }],
    ]);
    expect(wadouriImageIds([10, 11, 12], known, O)).toEqual([
      "wadouri:http://app.test/api/images/10/dicom/?frame=1",
      "wadouri:http://app.test/api/images/10/dicom/?frame=2",
      "wadouri:http://app.test/api/images/10/dicom/?frame=3",
    ]);
  });

  it("keeps a lone frame's number and falls back to one URL per id when nothing is known", () => {
    const known = new Map([[5, { id: 5, instance_number: 4, frame_number: 7 }]]);
    expect(wadouriImageIds([5, 6], known, O)).toEqual([
      "wadouri:http://app.test/api/images/5/dicom/?frame=7",
      "wadouri:http://app.test/api/images/6/dicom/",
    ]);
  });

  it("does not merge separate instances that share an instance number", () => {
    const known = new Map([
      [1, { id: 1, instance_number: 1, frame_number: 1 }],
      [2, { id: 2, instance_number: 1, frame_number: 1 }],
    ]);
    expect(wadouriImageIds([1, 2], known, O)).toEqual([
      "wadouri:http://app.test/api/images/1/dicom/",
      "wadouri:http://app.test/api/images/2/dicom/",
    ]);
  });
});
