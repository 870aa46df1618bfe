import { describe, expect, it } from "vitest";
import { wadouriImageIds } from "./imageIds";

const O = "http://app.test";
const item = (id: number, instance_number: number | null, frame_number: number, dicomId = id) => [
  id,
  { id, instance_number, frame_number, dicom_url: `/api/images/${dicomId}/dicom/` },
] as const;

describe("wadouriImageIds", () => {
  it("uses each single-frame instance's dicom_url, in the given order", () => {
    const known = new Map([item(3, 2, 1, 30), item(1, 1, 1, 10)]);
    expect(wadouriImageIds([1, 3], known, O)).toEqual({
      ids: [1, 3],
      imageIds: ["wadouri:http://app.test/api/images/10/dicom/", "wadouri:http://app.test/api/images/30/dicom/"],
    });
  });

  it("shares the first frame's URL between the frames of a multi-frame instance and names the frame", () => {
    const known = new Map([item(10, 1, 1), item(11, 1, 2), item(12, 1, 3)]);
    expect(wadouriImageIds([10, 11, 12], known, O).imageIds).toEqual([
      "wadouri:http://app.test/api/images/10/dicom/?frame=1",
      "wadouri:http://app.test/api/images/10/dicom/?frame=2",
      "wadouri:http://app.test/api/images/10/dicom/?frame=3",
    ]);
  });

  it("keeps a lone frame's number and leaves out ids the listing did not send", () => {
    const known = new Map([item(5, 4, 7)]);
    expect(wadouriImageIds([5, 6], known, O)).toEqual({
      ids: [5],
      imageIds: ["wadouri:http://app.test/api/images/5/dicom/?frame=7"],
    });
  });

  it("does not merge separate instances that share an instance number", () => {
    const known = new Map([item(1, 1, 1), item(2, 1, 1)]);
    expect(wadouriImageIds([1, 2], known, O).imageIds).toEqual([
      "wadouri:http://app.test/api/images/1/dicom/",
      "wadouri:http://app.test/api/images/2/dicom/",
    ]);
  });
});
