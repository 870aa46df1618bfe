import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { setFetch } from "../api/http";
import type { Annotation } from "../api/types";
import { fromServer, type LocalAnnotation } from "../editing/document";
import { annotationRow } from "../testing/annotations";
import { createMask } from "../viewer/rle";
import { MemoryPendingStore } from "./pendingStore";
import { SaveQueue } from "./saveQueue";

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
      const existing = [...this.rows.values()].find((r) => r.client_key === body.client_key);
      if (existing) return json(200, existing);
      return json(201, this.add({ ...body, image: Number(m[1]), source: "human", score: null, version: 1 }));
    }
    if (/^\/api\/images\/\d+\/(activity|tags)\/$/.test(path) || /^\/api\/images\/\d+\/$/.test(path)) {
      return json(200, {});
    }
    return json(404, { code: "not_found", detail: path });
  };

  writes(): Call[] {
    return this.calls.filter((c) => c.method !== "GET");
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

describe("SaveQueue", () => {
  it("debounces edits into one PATCH that carries If-Match and only the changed fields", async () => {
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
    const writes = server.writes();
    expect(writes).toHaveLength(1);
    expect(writes[0].method).toBe("PATCH");
    expect(writes[0].headers["If-Match"]).toBe('"3"');
    expect(writes[0].body).toEqual({ status: "accepted", box: [11, 12, 20, 20] });
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
    expect(server.writes()[1].headers["If-Match"]).toBe('"4"');
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
    expect(server.writes()[0].body.mask).toEqual({ size: [3, 4], counts: "01;" });
  });

  it("a create that finds its row already there sends what is wanted now", async () => {
    // the first POST went through but its answer was lost; the label changed before the retry
    const first = server.add({ client_key: "k-lost", source: "human", status: "accepted", box: [1, 1, 5, 5], version: 1 });
    const q = queue();
    const now: LocalAnnotation = { ...fromServer(first), id: null, version: null, box: [2, 2, 9, 9] };
    q.recordAnnotation(1, "k-lost", null, now);
    await q.flush();
    const writes = server.writes();
    expect(writes.map((w) => w.method)).toEqual(["POST", "PATCH"]);
    expect(writes[1].headers["If-Match"]).toBe('"1"');
    expect(server.rows.get(first.id)).toMatchObject({ box: [2, 2, 9, 9], version: 2 });
    expect(q.state().mode).toBe("saved");
  });

  it("a create that finds the same row already there sends nothing more", async () => {
    const first = server.add({ client_key: "k-same", source: "human", status: "accepted", version: 1 });
    const q = queue();
    q.recordAnnotation(1, "k-same", null, { ...fromServer(first), id: null, version: null });
    await q.flush();
    expect(server.writes().map((w) => w.method)).toEqual(["POST"]);
  });

  it("turns a 412 into a conflict and never overwrites silently", async () => {
    const row = server.add();
    const q = queue();
    const a = fromServer(row);
    // someone else saves first
    Object.assign(row, { label_class: 5, version: 4 });
    q.recordAnnotation(1, a.key, ...edit(a, { status: "rejected" }));
    await q.flush();
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
    const row = server.add();
    const q = queue();
    const a = fromServer(row);
    Object.assign(row, { label_class: 5, version: 4 });
    q.recordAnnotation(1, a.key, ...edit(a, { status: "rejected" }));
    await q.flush();
    q.keepMine(a.key, null);
    await q.flush();
    const last = server.writes().at(-1)!;
    expect(last.headers["If-Match"]).toBe('"4"');
    expect(last.body).toEqual({ status: "rejected" });
    expect(server.rows.get(row.id)).toMatchObject({ status: "rejected", label_class: 5, version: 5 });
    expect(q.state().conflicts).toHaveLength(0);
  });

  it("takes theirs by dropping my edit", async () => {
    const row = server.add();
    const q = queue();
    const a = fromServer(row);
    Object.assign(row, { label_class: 5, version: 4 });
    q.recordAnnotation(1, a.key, ...edit(a, { status: "rejected" }));
    await q.flush();
    const theirs = q.takeTheirs(a.key);
    expect(theirs).toMatchObject({ label_class: 5, version: 4 });
    await vi.advanceTimersByTimeAsync(5000);
    expect(server.writes()).toHaveLength(1);
    expect(store.ops.size).toBe(0);
  });

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
    const writes = server.writes();
    expect(writes).toHaveLength(1);
    expect(writes[0].method).toBe("POST");
    expect(writes[0].body).toMatchObject({ client_key: "new-1", box: [5, 6, 7, 8], label_class: 2, status: "accepted" });
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
    const [post, patch] = server.writes();
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
    expect(server.writes()[0]).toMatchObject({ method: "DELETE", headers: { "If-Match": '"3"' } });
    expect(server.rows.size).toBe(0);
    q.recordAnnotation(1, a.key, null, a);
    await q.flush();
    const post = server.writes()[1];
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
    expect(server.writes().map((w) => w.method)).toEqual(["POST", "POST", "DELETE"]);
    expect(server.rows.size).toBe(0);
    expect(q.state()).toMatchObject({ mode: "saved", pending: 0 });
  });

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
