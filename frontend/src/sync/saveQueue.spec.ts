import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { setFetch } from "../api/http";
import type { Annotation } from "../api/types";
import { fromServer, type LocalAnnotation } from "../editing/document";
import { annotationRow } from "../testing/annotations";
import { createMask } from "../viewer/rle";
import { MemoryPendingStore } from "./pendingStore";
import { SaveQueue } from "./saveQueue";

type Item = { id: number; version: number } & Record<string, unknown>;

/** The batch route's body. */
interface BatchBody {
  create?: Record<string, unknown>[];
  update?: Item[];
  delete?: Item[];
}

interface Edit {
  method: string;
  path: string;
  body: any;
  id?: number;
  version?: number;
}

interface Call {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: any;
}

/** A tiny in-memory version of the annotation endpoints, with If-Match semantics. */
class FakeServer {
  rows = new Map<number, Annotation>();
  calls: Call[] = [];
  nextId = 100;
  mode: "up" | "down" | "expired" = "up";

  add(partial: Partial<Annotation> = {}): Annotation {
    const id = this.nextId++;
    const a = annotationRow({ id, client_key: `k${this.nextId}`, ...partial });
    this.rows.set(a.id, a);
    return a;
  }

  fetch = async (path: string, init: RequestInit = {}): Promise<Response> => {
    const method = init.method ?? "GET";
    const headers = (init.headers ?? {}) as Record<string, string>;
    const body = init.body ? JSON.parse(String(init.body)) : undefined;
    this.calls.push({ method, path, headers, body });
    if (this.mode === "down") throw new TypeError("Failed to fetch");
    if (this.mode === "expired") return json(401, { code: "not_authenticated", detail: "login" });
    let m = /^\/api\/annotations\/(\d+)\/$/.exec(path);
    if (m) {
      const row = this.rows.get(Number(m[1]));
      if (!row) return json(404, { code: "not_found", detail: "gone" });
      const ifMatch = headers["If-Match"];
      if (!ifMatch) return json(428, { code: "precondition_required", detail: "If-Match" });
      if (ifMatch !== `"${row.version}"`) return json(412, { code: "version_conflict", detail: "stale", current: row });
      if (method === "DELETE") {
        this.rows.delete(row.id);
        return new Response(null, { status: 204 });
      }
      Object.assign(row, body, { version: row.version + 1 });
      return json(200, row);
    }
    m = /^\/api\/images\/(\d+)\/annotations\/$/.exec(path);
    if (m && method === "POST") {
      const { row, created } = this.create(Number(m[1]), body);
      return json(created ? 201 : 200, row);
    }
    m = /^\/api\/images\/(\d+)\/annotations\/batch\/$/.exec(path);
    if (m && method === "POST") {
      const { create = [], update = [], delete: deletes = [] } = body as BatchBody;
      const conflicts = [...update, ...deletes]
        .filter((i) => this.rows.get(i.id)?.version !== i.version)
        .map((i) => ({ id: i.id, current: this.rows.get(i.id) ?? null }));
      if (conflicts.length) return json(412, { code: "version_conflict", detail: "stale", conflicts });
      if (this.refuse) return json(400, { code: "invalid", detail: this.refuse });
      const annotations: Annotation[] = [];
      const existed: string[] = [];
      for (const c of create) {
        const { row, created } = this.create(Number(m[1]), c);
        if (!created) existed.push(row.client_key);
        annotations.push(row);
      }
      for (const { id, ...fields } of update) {
        const row = this.rows.get(id)!;
        Object.assign(row, fields, { version: row.version + 1 });
        annotations.push({ ...row });
      }
      for (const d of deletes) this.rows.delete(d.id);
      return json(200, { annotations, existed, deleted: deletes.map((d) => d.id) });
    }
    if (/^\/api\/images\/\d+\/(activity|tags)\/$/.test(path) || /^\/api\/images\/\d+\/$/.test(path)) {
      return json(200, {});
    }
    return json(404, { code: "not_found", detail: path });
  };

  /** set: the batch route answers 400 with this detail (the single routes still work) */
  refuse: string | null = null;

  private create(image: number, body: any): { row: Annotation; created: boolean } {
    const existing = [...this.rows.values()].find((r) => r.client_key === body.client_key);
    if (existing) return { row: existing, created: false };
    return { row: this.add({ ...body, image, source: body.source ?? "human", score: null, version: 1 }), created: true };
  }

  writes(): Call[] {
    return this.calls.filter((c) => c.method !== "GET");
  }

  /** The writes one edit at a time: a batch request's creates, edits and deletes, in that order. */
  edits(): Edit[] {
    return this.writes().flatMap((c): Edit[] => {
      if (!c.path.endsWith("/batch/")) {
        const version = c.headers["If-Match"] ? Number(c.headers["If-Match"].replaceAll('"', "")) : undefined;
        return [{ method: c.method, path: c.path, body: c.body, version }];
      }
      const batch = c.body as BatchBody;
      return [
        ...(batch.create ?? []).map((body) => ({ method: "POST", path: c.path, body })),
        ...(batch.update ?? []).map(({ id, version, ...body }) => ({ method: "PATCH", path: c.path, body, id, version })),
        ...(batch.delete ?? []).map(({ id, version }) => ({ method: "DELETE", path: c.path, body: undefined, id, version })),
      ];
    });
  }
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

let server: FakeServer;
let store: MemoryPendingStore;
function queue(): SaveQueue {
  return new SaveQueue({
    store,
    user: 7,
    debounceMs: 1000,
    retryDelaysMs: [500, 1000],
  });
}

function edit(a: LocalAnnotation, patch: Partial<LocalAnnotation>): [LocalAnnotation, LocalAnnotation] {
  return [{ ...a }, { ...a, ...patch }];
}

beforeEach(() => {
  vi.useFakeTimers();
  server = new FakeServer();
  store = new MemoryPendingStore();
  setFetch(server.fetch);
});

afterEach(() => {
  vi.useRealTimers();
});

describe("SaveQueue: edits", () => {
  it("debounces edits into one request that names the version and carries only the changed fields", async () => {
    const row = server.add();
    const q = queue();
    const a = fromServer(row);
    const [b1, a1] = edit(a, { status: "accepted" });
    q.recordAnnotation(1, a.key, b1, a1);
    await vi.advanceTimersByTimeAsync(600);
    const [b2, a2] = edit(a1, { box: [11, 12, 20, 20] });
    q.recordAnnotation(1, a.key, b2, a2);
    await vi.advanceTimersByTimeAsync(900);
    expect(server.writes()).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(200);
    expect(server.writes()).toHaveLength(1);
    const edits = server.edits();
    expect(edits).toHaveLength(1);
    expect(edits[0]).toMatchObject({ method: "PATCH", id: row.id, version: 3, body: { status: "accepted", box: [11, 12, 20, 20] } });
    expect(server.rows.get(row.id)!.version).toBe(4);
    expect(q.ops.size).toBe(0);
    expect(store.ops.size).toBe(0);
    expect(q.state().mode).toBe("saved");
  });

  it("bases the next edit on the version the server returned", async () => {
    const row = server.add();
    const onSaved = vi.fn();
    const q = queue();
    q.setOnSaved(onSaved);
    const a = fromServer(row);
    const [b1, a1] = edit(a, { status: "accepted" });
    q.recordAnnotation(1, a.key, b1, a1);
    await q.flush();
    expect(onSaved).toHaveBeenCalledWith(a.key, expect.objectContaining({ version: 4 }));
    const [b2, a2] = edit({ ...a1, version: 4 }, { label_class: 2 });
    q.recordAnnotation(1, a.key, b2, a2);
    await q.flush();
    expect(server.edits()[1].version).toBe(4);
    expect(server.rows.get(row.id)!.label_class).toBe(2);
  });

  it("sends masks as COCO RLE", async () => {
    const row = server.add();
    const q = queue();
    const a = fromServer(row);
    const mask = createMask(4, 3);
    mask.data[0] = 1;
    q.recordAnnotation(1, a.key, ...edit(a, { mask }));
    await q.flush();
    expect(server.edits()[0].body.mask).toEqual({ size: [3, 4], counts: "01;" });
  });

  it("a create that finds its row already there sends what is wanted now", async () => {
    // the first POST went through but its answer was lost; the label changed before the retry
    const first = server.add({ client_key: "k-lost", source: "human", status: "accepted", box: [1, 1, 5, 5], version: 1 });
    const q = queue();
    const now: LocalAnnotation = { ...fromServer(first), id: null, version: null, box: [2, 2, 9, 9] };
    q.recordAnnotation(1, "k-lost", null, now);
    await q.flush();
    const edits = server.edits();
    expect(edits.map((w) => w.method)).toEqual(["POST", "PATCH"]);
    expect(edits[1].version).toBe(1);
    expect(server.rows.get(first.id)).toMatchObject({ box: [2, 2, 9, 9], version: 2 });
    expect(q.state().mode).toBe("saved");
  });

  it("a create that finds the same row already there sends nothing more", async () => {
    const first = server.add({ client_key: "k-same", source: "human", status: "accepted", version: 1 });
    const q = queue();
    q.recordAnnotation(1, "k-same", null, { ...fromServer(first), id: null, version: null });
    await q.flush();
    expect(server.edits().map((w) => w.method)).toEqual(["POST"]);
  });
});

describe("SaveQueue: conflicts", () => {
  /** My edit of a label someone else saved first, sent and answered with a conflict. */
  async function conflicted(): Promise<{ row: Annotation; q: SaveQueue; a: LocalAnnotation }> {
    const row = server.add();
    const q = queue();
    const a = fromServer(row);
    Object.assign(row, { label_class: 5, version: 4 });
    q.recordAnnotation(1, a.key, ...edit(a, { status: "rejected" }));
    await q.flush();
    return { row, q, a };
  }

  it("turns a 412 into a conflict and never overwrites silently", async () => {
    const { row, q, a } = await conflicted();
    const s = q.state();
    expect(s.conflicts).toHaveLength(1);
    expect(s.conflicts[0].conflict!.theirs!.label_class).toBe(5);
    expect(server.rows.get(row.id)!.status).toBe("proposed");
    // the conflicting edit is not retried on its own
    await vi.advanceTimersByTimeAsync(60_000);
    expect(server.writes()).toHaveLength(1);
    expect(store.ops.get(a.key)!.kind).toBe("annotation");
  });

  it("keeps mine by re-sending on top of their version", async () => {
    const { row, q, a } = await conflicted();
    q.keepMine(a.key, null);
    await q.flush();
    const last = server.edits().at(-1)!;
    expect(last.version).toBe(4);
    expect(last.body).toEqual({ status: "rejected" });
    expect(server.rows.get(row.id)).toMatchObject({ status: "rejected", label_class: 5, version: 5 });
    expect(q.state().conflicts).toHaveLength(0);
  });

  it("takes theirs by dropping my edit", async () => {
    const { q, a } = await conflicted();
    const theirs = q.takeTheirs(a.key);
    expect(theirs).toMatchObject({ label_class: 5, version: 4 });
    await vi.advanceTimersByTimeAsync(5000);
    expect(server.writes()).toHaveLength(1);
    expect(store.ops.size).toBe(0);
  });
});

describe("SaveQueue: offline, expired sessions and reloads", () => {
  it("keeps edits while offline and sends them when the network is back", async () => {
    const row = server.add();
    const q = queue();
    const a = fromServer(row);
    server.mode = "down";
    q.recordAnnotation(1, a.key, ...edit(a, { status: "accepted" }));
    await q.flush();
    expect(q.state().mode).toBe("offline");
    expect(store.ops.has(a.key)).toBe(true);
    server.mode = "up";
    await vi.advanceTimersByTimeAsync(600);
    expect(server.rows.get(row.id)!.status).toBe("accepted");
    expect(store.ops.size).toBe(0);
    expect(q.state().mode).toBe("saved");
  });

  it("stops on an expired session, keeps the edits, and resends after login", async () => {
    const row = server.add();
    const q = queue();
    const a = fromServer(row);
    server.mode = "expired";
    q.recordAnnotation(1, a.key, ...edit(a, { status: "accepted" }));
    await q.flush();
    expect(q.state().mode).toBe("auth");
    await vi.advanceTimersByTimeAsync(30_000);
    expect(server.writes()).toHaveLength(1);
    expect(store.ops.has(a.key)).toBe(true);
    server.mode = "up";
    q.resume();
    await vi.advanceTimersByTimeAsync(0);
    await q.flush();
    expect(server.rows.get(row.id)!.status).toBe("accepted");
    expect(server.rows.get(row.id)!.version).toBe(4);
    expect(q.state().mode).toBe("saved");
  });

  it("survives a reload: a new queue on the same store sends what was left", async () => {
    const row = server.add();
    const q1 = queue();
    const a = fromServer(row);
    q1.recordAnnotation(1, a.key, ...edit(a, { status: "accepted" }));
    // the tab dies before the debounce fires
    await vi.advanceTimersByTimeAsync(10);
    expect(server.writes()).toHaveLength(0);
    const q2 = queue();
    await q2.load();
    expect(q2.pendingAnnotations(1)).toHaveLength(1);
    await q2.flush();
    expect(server.rows.get(row.id)!.status).toBe("accepted");
    expect(store.ops.size).toBe(0);
  });

  it("does not send another user's leftover edits", async () => {
    const row = server.add();
    const q1 = queue();
    const a = fromServer(row);
    q1.recordAnnotation(1, a.key, ...edit(a, { status: "accepted" }));
    await vi.advanceTimersByTimeAsync(10);
    const other = new SaveQueue({ store, user: 8 });
    await other.load();
    await other.flush();
    expect(server.writes()).toHaveLength(0);
  });
});

describe("SaveQueue: creates and deletes", () => {
  it("creates with the client key once, merging edits made before the POST", async () => {
    const q = queue();
    const created: LocalAnnotation = {
      key: "new-1",
      id: null,
      version: null,
      label_class: 2,
      box: [1, 2, 3, 4],
      mask: null,
      status: "accepted",
      score: null,
      source: "human",
      model_version: null,
    };
    q.recordAnnotation(1, "new-1", null, created);
    q.recordAnnotation(1, "new-1", ...edit(created, { box: [5, 6, 7, 8] }));
    await q.flush();
    expect(server.writes()).toHaveLength(1);
    const edits = server.edits();
    expect(edits).toHaveLength(1);
    expect(edits[0].method).toBe("POST");
    expect(edits[0].body).toMatchObject({ client_key: "new-1", box: [5, 6, 7, 8], label_class: 2, status: "accepted" });
    expect(server.rows.size).toBe(1);
  });

  it("creates a box → mask label as coming from the assist, and never patches its source", async () => {
    const q = queue();
    const created: LocalAnnotation = {
      key: "assist-1",
      id: null,
      version: null,
      label_class: 2,
      box: [1, 2, 3, 4],
      mask: null,
      status: "proposed",
      score: null,
      source: "assist",
      model_version: null,
    };
    q.recordAnnotation(1, "assist-1", null, created);
    await q.flush();
    q.recordAnnotation(1, "assist-1", ...edit({ ...created, id: 100, version: 1 }, { status: "accepted" }));
    await q.flush();
    const [post, patch] = server.edits();
    expect(post.method).toBe("POST");
    expect(post.body).toMatchObject({ client_key: "assist-1", source: "assist", status: "proposed" });
    expect(patch.method).toBe("PATCH");
    expect(patch.body).toEqual({ status: "accepted" });
  });

  it("sends nothing for an annotation created and removed before saving", async () => {
    const q = queue();
    const created = { ...fromServer(server.add()), key: "tmp", id: null, version: null };
    server.rows.clear();
    q.recordAnnotation(1, "tmp", null, created);
    q.recordAnnotation(1, "tmp", created, null);
    await q.flush();
    expect(server.writes()).toHaveLength(0);
    expect(store.ops.size).toBe(0);
  });

  it("deletes with If-Match and re-creates under the same client key when undone", async () => {
    const row = server.add({ source: "human" });
    const q = queue();
    const a = fromServer(row);
    q.recordAnnotation(1, a.key, a, null);
    await q.flush();
    expect(server.edits()[0]).toMatchObject({ method: "DELETE", id: row.id, version: 3 });
    expect(server.rows.size).toBe(0);
    q.recordAnnotation(1, a.key, null, a);
    await q.flush();
    const post = server.edits()[1];
    expect(post.method).toBe("POST");
    expect(post.body.client_key).toBe(a.key);
    expect(server.rows.size).toBe(1);
  });

  it("deletes a label whose create was answered by nothing: the row it may have made goes too", async () => {
    const q = queue();
    const drawn: LocalAnnotation = { ...fromServer(server.add({ client_key: "k-new", source: "human" })), id: null, version: null };
    server.rows.clear();
    const realFetch = server.fetch;
    // the POST reaches the server, its answer is lost
    setFetch(async (path, init) => {
      await realFetch(path, init);
      throw new TypeError("Failed to fetch");
    });
    q.recordAnnotation(1, "k-new", null, drawn);
    await q.flush();
    expect(server.rows.size).toBe(1);
    setFetch(server.fetch);
    q.recordAnnotation(1, "k-new", drawn, null);
    await q.flush();
    expect(server.edits().map((w) => w.method)).toEqual(["POST", "POST", "DELETE"]);
    expect(server.rows.size).toBe(0);
    expect(q.state()).toMatchObject({ mode: "saved", pending: 0 });
  });
});

describe("SaveQueue: an image's edits in one batch", () => {
  it("saves an image's edits in one request, and a stale one does not hold the others back", async () => {
    const [r1, r2, r3] = [server.add(), server.add(), server.add()];
    const q = queue();
    const seen = [r1, r2, r3].map(fromServer);
    Object.assign(r2, { label_class: 5, version: 4 }); // someone else edits r2 first
    for (const a of seen) q.recordAnnotation(1, a.key, ...edit(a, { status: "accepted" }));
    q.recordAnnotation(1, "new-1", null, { ...fromServer(r1), key: "new-1", id: null, version: null, box: [1, 1, 4, 4] });
    await q.flush();
    const writes = server.writes();
    expect(writes.map((w) => w.path)).toEqual(["/api/images/1/annotations/batch/", "/api/images/1/annotations/batch/"]);
    const [first, second] = writes.map((w) => w.body as BatchBody);
    expect(first.update).toHaveLength(3);
    expect(first.create).toHaveLength(1);
    // the first answer was 412 for r2 only: the rest went again, r2 waits for a choice
    expect(second.update!.map((u) => u.id)).toEqual([r1.id, r3.id]);
    expect(server.rows.get(r1.id)!.status).toBe("accepted");
    expect(server.rows.get(r2.id)!.status).toBe("proposed");
    expect(q.state().conflicts.map((c) => c.key)).toEqual([r2.client_key]);
    expect([...server.rows.values()].some((r) => r.client_key === "new-1")).toBe(true);
  });

  it("an edit whose answer was lost is saved when the server already holds it, not a conflict", async () => {
    const row = server.add();
    const q = queue();
    const realFetch = server.fetch;
    setFetch(async (path, init) => {
      await realFetch(path, init);
      throw new TypeError("Failed to fetch");
    });
    q.recordAnnotation(1, row.client_key, ...edit(fromServer(row), { status: "accepted" }));
    await q.flush();
    expect(server.rows.get(row.id)).toMatchObject({ status: "accepted", version: 4 });
    setFetch(server.fetch);
    await vi.advanceTimersByTimeAsync(600);
    expect(q.state()).toMatchObject({ mode: "saved", pending: 0, conflicts: [] });
  });

  it("a batch the server refuses is sent edit by edit, so the error lands on the edit it is about", async () => {
    const [good, bad] = [server.add(), server.add()];
    const q = queue();
    server.refuse = "a field is wrong";
    q.recordAnnotation(1, good.client_key, ...edit(fromServer(good), { status: "accepted" }));
    q.recordAnnotation(1, bad.client_key, ...edit(fromServer(bad), { label_class: 999 }));
    const single = server.fetch;
    setFetch(async (path, init) =>
      init?.method === "PATCH" && path === `/api/annotations/${bad.id}/` ? json(400, { code: "invalid", detail: "unknown class" }) : single(path, init),
    );
    await q.flush();
    expect(server.rows.get(good.id)!.status).toBe("accepted");
    expect(q.state().errors.map((o) => o.key)).toEqual([bad.client_key]);
  });
});

describe("SaveQueue: activity and refused edits", () => {
  it("accumulates active time and sends it once", async () => {
    const q = queue();
    q.addActivity(1, 2.5);
    q.addActivity(1, 3);
    await q.flush();
    const writes = server.writes();
    expect(writes).toHaveLength(1);
    expect(writes[0]).toMatchObject({ path: "/api/images/1/activity/", body: { seconds: 5.5 } });
  });

  it("shows a refused edit as an error instead of retrying it forever", async () => {
    const q = queue();
    q.recordTags(999, [1]);
    server.fetch = async () => json(400, { code: "invalid", detail: "unknown class" });
    setFetch(server.fetch);
    await q.flush();
    expect(q.state().errors).toHaveLength(1);
    q.discard("tags:999");
    expect(q.state().pending).toBe(0);
  });
});
