import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { setFetch } from "../api/http";
import type { Annotation } from "../api/types";
import { MemoryPendingStore } from "../sync/pendingStore";
import { SaveQueue } from "../sync/saveQueue";
import { annotationRow } from "../testing/annotations";
import { AnnotationDoc, fromServer } from "./document";

/** One annotation row behind the batch route's edits, as the server keeps it. */
function fakeServer(row: Annotation) {
  const calls: { method: string; version: number }[] = [];
  setFetch(async (_path: string, init: RequestInit = {}) => {
    const { id, version, ...fields } = (JSON.parse(String(init.body)) as { update: ({ id: number; version: number } & Partial<Annotation>)[] }).update[0];
    calls.push({ method: init.method ?? "GET", version });
    const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
    if (id !== row.id || version !== row.version) return json(412, { code: "version_conflict", detail: "stale", conflicts: [{ id: row.id, current: row }] });
    Object.assign(row, fields, { version: row.version + 1 });
    return json(200, { annotations: [row], existed: [], deleted: [] });
  });
  return calls;
}

/** The document and the queue wired as the annotate page wires them. */
function wired(row: Annotation): { doc: AnnotationDoc; queue: SaveQueue } {
  const queue = new SaveQueue({ store: new MemoryPendingStore(), user: 7, debounceMs: 1000 });
  const doc = new AnnotationDoc(1, (change) => {
    if (change.kind === "annotation") queue.recordAnnotation(1, change.key, change.before, change.after);
  });
  queue.setOnSaved((key, saved) => doc.acknowledge(key, saved?.id ?? null, saved?.version ?? null));
  doc.load([fromServer(row)], [], "proposed");
  return { doc, queue };
}

const proposal = (): Annotation => annotationRow({ box: [10.4, 10.6, 20.2, 20.1] });

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe("AnnotationDoc with the save queue", () => {
  it("an undo after the autosave edits the saved version: no conflict", async () => {
    const row = proposal();
    const calls = fakeServer(row);
    const { doc, queue } = wired(row);
    doc.execute({ label: "Accept", changes: [doc.update("k5", { status: "accepted" })!] });
    await vi.advanceTimersByTimeAsync(1500);
    expect(row).toMatchObject({ status: "accepted", version: 4 });
    doc.undo();
    await vi.advanceTimersByTimeAsync(1500);
    expect(calls.map((c) => c.version)).toEqual([3, 4]);
    expect(row).toMatchObject({ status: "proposed", version: 5 });
    expect(queue.state().conflicts).toHaveLength(0);
    doc.redo();
    await vi.advanceTimersByTimeAsync(1500);
    expect(row).toMatchObject({ status: "accepted", version: 6 });
    expect(queue.state()).toMatchObject({ mode: "saved", conflicts: [], errors: [] });
  });

  it("a second writer's change is still a conflict", async () => {
    const row = proposal();
    fakeServer(row);
    const { doc, queue } = wired(row);
    Object.assign(row, { label_class: 2, version: 4 }); // someone else, in between
    doc.execute({ label: "Accept", changes: [doc.update("k5", { status: "accepted" })!] });
    await vi.advanceTimersByTimeAsync(1500);
    expect(queue.state().conflicts).toHaveLength(1);
    expect(row.status).toBe("proposed");
  });
});
