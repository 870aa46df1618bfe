import { describe, expect, it } from "vitest";
import { fromServer } from "../editing/document";
import { annotationRow } from "../testing/annotations";
import { encodeRle } from "../viewer/rle";
import { applyPending } from "./applyPending";
import type { AnnotationOp } from "./ops";

const op = (over: Partial<AnnotationOp>): AnnotationOp => ({
  kind: "annotation",
  key: "k5",
  user: 1,
  imageId: 1,
  server: { id: 5, version: 3 },
  want: "exists",
  fields: {},
  rev: 1,
  ...over,
});

describe("applyPending", () => {
  const server = [fromServer(annotationRow()), fromServer(annotationRow({ id: 6, client_key: "k6", status: "accepted", source: "human" }))];

  it("shows the server's labels as they are when nothing is pending", () => {
    expect(applyPending(server, [])).toEqual(server);
  });

  it("lays an unsent edit's fields over the server's row and keeps the rest", () => {
    const [a] = applyPending(server, [op({ fields: { status: "accepted", box: [1, 2, 3, 4] } })]);
    expect(a).toMatchObject({ key: "k5", status: "accepted", box: [1, 2, 3, 4], label_class: 1, score: 0.9, source: "model", id: 5, version: 3 });
  });

  it("hides a label deleted here but not yet on the server", () => {
    expect(applyPending(server, [op({ want: "deleted" })]).map((a) => a.key)).toEqual(["k6"]);
  });

  it("adds a label drawn here that the server has not got, mask decoded", () => {
    const mask = { width: 4, height: 2, data: new Uint8Array([0, 1, 1, 0, 0, 1, 1, 0]) };
    const fields = { label_class: 2, box: [1, 0, 2, 2] as [number, number, number, number], status: "accepted" as const, mask: encodeRle(mask) };
    const added = applyPending(server, [op({ key: "new", server: null, fields })]).find((a) => a.key === "new");
    expect(added).toMatchObject({ id: null, version: null, label_class: 2, box: [1, 0, 2, 2], status: "accepted", source: "human", score: null });
    expect([...added!.mask!.data]).toEqual([...mask.data]);
  });

  it("takes the server row an earlier save of this edit answered with", () => {
    const [a] = applyPending(server, [op({ server: { id: 5, version: 4 }, fields: { label_class: 3 } })]);
    expect(a).toMatchObject({ id: 5, version: 4, label_class: 3 });
  });
});
