import { describe, expect, it } from "vitest";
import type { ModelVersion } from "../api/types";
import { modelVersion } from "../testing/modelVersions";
import { METRIC_COLUMNS, metricRows, metricSeries, metricValue, versionAction } from "./metrics";

const v = (number: number, status: ModelVersion["status"], metrics: ModelVersion["metrics"]): ModelVersion =>
  modelVersion({ id: number * 10, number, status, metrics });

const versions = [
  v(1, "retired", { val: { segm_AP: 0.2, segm_AP50: 0.5, bbox_AP: 0.25 }, test: { segm_AP: 0.18, segm_AP50: null, bbox_AP: 0.2 } }),
  v(3, "candidate", { val: { segm_AP: 0.45, segm_AP50: null, bbox_AP: 0.4 }, test: null }),
  v(2, "active", { val: { segm_AP: 0.4, segm_AP50: 0.7, bbox_AP: 0.4 }, test: { segm_AP: 0.38 } }),
];

describe("model version metrics", () => {
  it("reads metrics that may be missing, null or not numbers", () => {
    expect(metricValue(versions[0], "val", "segm_AP")).toBe(0.2);
    expect(metricValue(versions[0], "test", "segm_AP50")).toBeNull();
    expect(metricValue(versions[1], "test", "segm_AP")).toBeNull();
    expect(metricValue(v(9, "candidate", {}), "val", "segm_AP")).toBeNull();
    expect(metricValue(v(9, "candidate", { val: { segm_AP: "n/a" as unknown as number } }), "val", "segm_AP")).toBeNull();
  });

  it("shapes table rows newest first, with the right action", () => {
    const rows = metricRows(versions);
    expect(rows.map((r) => r.number)).toEqual([3, 2, 1]);
    expect(rows.map((r) => r.action)).toEqual(["promote", null, "rollback"]);
  });

  it("with no active version every version can be promoted", () => {
    expect(versionAction({ number: 1, status: "candidate" }, null)).toBe("promote");
    expect(versionAction({ number: 1, status: "retired" }, 2)).toBe("rollback");
    expect(versionAction({ number: 2, status: "active" }, 2)).toBeNull();
    expect(metricRows([v(1, "candidate", {})])[0].action).toBe("promote");
  });

  it("gives plot series oldest first with nulls kept as gaps", () => {
    const s = metricSeries(versions, METRIC_COLUMNS.slice(3, 4));
    expect(s).toEqual([{ name: "test segm AP", points: [[1, 0.18], [2, 0.38], [3, null]] }]);
  });
});
