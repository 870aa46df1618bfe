/**
 * Sends edits to the server: debounced, one request at a time, each edit with
 * the version it is based on (If-Match). Every change is written to the
 * PendingStore before anything is sent, and stays there until the server has
 * acknowledged it, so nothing is lost to a dropped network, an expired
 * session or a closed tab. A stale version never overwrites: the edit waits
 * in a conflict until the user picks theirs or mine.
 */
import { createAnnotation, deleteAnnotation, patchAnnotation, saveBatch } from "../api/annotations";
import { ApiError } from "../api/http";
import { postActivity, putTags, setImageStatus } from "../api/images";
import type { Annotation, AnnotationFields, ImageStatus } from "../api/types";
import type { EditFields, LocalAnnotation } from "../editing/document";
import { encodeRle } from "../viewer/rle";
import type { ActivityOp, AnnotationOp, PendingOp } from "./ops";
import type { PendingStore } from "./pendingStore";

export type SaveMode = "saved" | "pending" | "saving" | "offline" | "auth";

export interface SaveState {
  mode: SaveMode;
  pending: number;
  conflicts: AnnotationOp[];
  errors: PendingOp[];
}

export interface SaveQueueOptions {
  store: PendingStore;
  user: number;
  debounceMs?: number;
  retryDelaysMs?: number[];
  /** the server now has this row for `key` (null: it was deleted) */
  onSaved?: (key: string, annotation: Annotation | null) => void;
}

export function toWireFields(a: Partial<EditFields>): Partial<AnnotationFields> {
  const out: Partial<AnnotationFields> = {};
  if (a.label_class !== undefined) out.label_class = a.label_class;
  if (a.box !== undefined) out.box = [...a.box] as AnnotationFields["box"];
  if (a.mask !== undefined) out.mask = a.mask ? encodeRle(a.mask) : null;
  if (a.status !== undefined) out.status = a.status;
  return out;
}

/** Everything a create sends; a label from the box → mask assist says so. */
function fullFields(a: LocalAnnotation): AnnotationFields {
  const fields = toWireFields({ label_class: a.label_class, box: a.box, mask: a.mask, status: a.status }) as AnnotationFields;
  return a.source === "assist" ? { ...fields, source: "assist" } : fields;
}

function changedFields(before: LocalAnnotation, after: LocalAnnotation): Partial<EditFields> {
  const out: Partial<EditFields> = {};
  if (before.label_class !== after.label_class) out.label_class = after.label_class;
  if (before.status !== after.status) out.status = after.status;
  if (before.box.some((v, i) => v !== after.box[i])) out.box = after.box;
  if (before.mask !== after.mask) out.mask = after.mask;
  return out;
}

/** The row holds every field `f` sets. */
function holds(row: Annotation, f: Partial<AnnotationFields>): boolean {
  return (
    (f.label_class === undefined || row.label_class === f.label_class) &&
    (f.status === undefined || row.status === f.status) &&
    (f.box === undefined || row.box.every((v, i) => v === f.box![i])) &&
    (f.mask === undefined || (row.mask?.counts ?? null) === (f.mask?.counts ?? null))
  );
}

/** What one annotation op asked of a batch request. */
interface BatchItem {
  op: AnnotationOp;
  rev: number;
  as: "create" | "update" | "delete";
  fields: Partial<AnnotationFields>;
  id?: number;
}

export class SaveQueue {
  readonly ops = new Map<string, PendingOp>();
  private readonly store: PendingStore;
  private readonly debounceMs: number;
  private readonly retryDelaysMs: number[];
  private user: number;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private running: Promise<void> | null = null;
  private rerun = false;
  private persisting: Promise<void> = Promise.resolve();
  private failures = 0;
  private offline = false;
  private authBlocked = false;
  private listeners = new Set<(s: SaveState) => void>();
  /** keys sent one request each: a batch holding them was refused as a whole (400) */
  private alone = new Set<string>();

  constructor(private readonly opts: SaveQueueOptions) {
    this.store = opts.store;
    this.user = opts.user;
    this.debounceMs = opts.debounceMs ?? 1000;
    this.retryDelaysMs = opts.retryDelaysMs ?? [1000, 2000, 5000, 10000, 30000];
  }

  /** Pick up what an earlier tab left unsent. */
  async load(): Promise<void> {
    for (const op of await this.opts.store.loadAll()) {
      if (!this.ops.has(op.key)) this.ops.set(op.key, op);
    }
    this.emit();
  }

  setOnSaved(fn: SaveQueueOptions["onSaved"]): void {
    this.opts.onSaved = fn;
  }

  // ---- recording -----------------------------------------------------------

  /** Record one annotation change (before/after as the document applied it). */
  recordAnnotation(imageId: number, key: string, before: LocalAnnotation | null, after: LocalAnnotation | null): void {
    let op = this.ops.get(key) as AnnotationOp | undefined;
    if (!op) {
      const base = before ?? after;
      op = {
        kind: "annotation",
        key,
        user: this.user,
        imageId,
        server: before && base && base.id != null && base.version != null ? { id: base.id, version: base.version } : null,
        want: "exists",
        fields: {},
        rev: 0,
      };
      this.ops.set(key, op);
    }
    op.rev++;
    if (!after) {
      // what a create would send, kept for a delete whose row's create went unanswered
      op.want = "deleted";
      op.fields = before ? fullFields(before) : {};
    } else if (!before || !op.server || op.want === "deleted") {
      // (re)creation, or an edit of a row the server does not have yet: send everything
      op.want = "exists";
      op.fields = fullFields(after);
    } else {
      Object.assign(op.fields, toWireFields(changedFields(before, after)));
    }
    this.persist(op);
    this.schedule();
  }

  recordTags(imageId: number, labelClassIds: number[]): void {
    const key = `tags:${imageId}`;
    const prev = this.ops.get(key);
    this.put({ kind: "tags", key, user: this.user, imageId, labelClassIds: [...labelClassIds], rev: (prev?.rev ?? 0) + 1 });
  }

  recordStatus(imageId: number, status: ImageStatus): void {
    if (status === "reviewed") return;
    const key = `status:${imageId}`;
    const prev = this.ops.get(key);
    this.put({ kind: "status", key, user: this.user, imageId, status, rev: (prev?.rev ?? 0) + 1 });
  }

  addActivity(imageId: number, seconds: number): void {
    if (!(seconds > 0)) return;
    const key = `activity:${imageId}`;
    const prev = this.ops.get(key) as ActivityOp | undefined;
    this.put({
      kind: "activity",
      key,
      user: this.user,
      imageId,
      seconds: Math.round(((prev?.seconds ?? 0) + seconds) * 1000) / 1000,
      rev: (prev?.rev ?? 0) + 1,
    });
  }

  private put(op: PendingOp): void {
    this.ops.set(op.key, op);
    this.persist(op);
    this.schedule();
  }

  private persist(op: PendingOp): void {
    const copy = structuredClone(op);
    this.persisting = this.persisting.then(() => this.store.put(copy)).catch(() => {});
    this.emit();
  }

  private forget(key: string): void {
    this.ops.delete(key);
    this.alone.delete(key);
    this.persisting = this.persisting.then(() => this.store.delete(key)).catch(() => {});
  }

  /** Unsent annotation edits of one image, to lay over what the server returned. */
  pendingAnnotations(imageId: number): AnnotationOp[] {
    return [...this.ops.values()].filter(
      (o): o is AnnotationOp => o.kind === "annotation" && o.imageId === imageId && o.user === this.user,
    );
  }

  // ---- sending -------------------------------------------------------------

  schedule(delay = this.debounceMs): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, delay);
  }

  /** Send everything sendable now; resolves when the queue is idle again. */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.running) {
      this.rerun = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.rerun = false;
        await this.drain();
      } while (this.rerun && !this.authBlocked && !this.offline);
    })();
    this.emit();
    try {
      await this.running;
    } finally {
      this.running = null;
      this.emit();
    }
  }

  private nextSendable(): PendingOp | undefined {
    for (const op of this.ops.values()) {
      if (op.user !== this.user || op.error) continue;
      if (op.kind === "annotation" && op.conflict) continue;
      return op;
    }
    return undefined;
  }

  /** Annotation edits go in one request per image; a delete whose row's create went unanswered goes alone. */
  private batchable(op: PendingOp): op is AnnotationOp {
    return op.kind === "annotation" && !this.alone.has(op.key) && (op.want === "exists" || !!op.server);
  }

  private async drain(): Promise<void> {
    while (!this.authBlocked) {
      await this.persisting;
      const op = this.nextSendable();
      if (!op) break;
      const batch = this.batchable(op)
        ? [...this.ops.values()].filter(
            (o): o is AnnotationOp =>
              o.user === this.user && !o.error && o.kind === "annotation" && !o.conflict && o.imageId === op.imageId && this.batchable(o),
          )
        : null;
      try {
        if (batch) await this.sendBatch(op.imageId, batch);
        else await this.send(op, op.rev);
        this.failures = 0;
        this.offline = false;
      } catch (e) {
        if (e instanceof ApiError && e.isAuth) {
          this.authBlocked = true;
        } else if (e instanceof ApiError && e.status < 500) {
          // a refused batch: send its edits one by one, so the refusal lands on the edit it is about
          if (batch) for (const o of batch) this.alone.add(o.key);
          else this.reject(op, e);
          continue;
        } else {
          this.offline = true;
          const delay = this.retryDelaysMs[Math.min(this.failures, this.retryDelaysMs.length - 1)];
          this.failures++;
          this.schedule(delay);
        }
        break;
      }
    }
  }

  /** Forget an op the server now holds, unless it changed while it was being sent. */
  private settle(op: PendingOp, rev: number): void {
    if (this.ops.get(op.key) === op && op.rev === rev) this.forget(op.key);
    else this.persist(op);
  }

  private async sendBatch(imageId: number, ops: AnnotationOp[]): Promise<void> {
    const items: BatchItem[] = ops.map((op) => {
      const as = op.want === "deleted" ? "delete" : op.server ? "update" : "create";
      if (as === "create") op.createSent = true;
      return { op, rev: op.rev, as, fields: { ...op.fields }, id: op.server?.id };
    });
    for (const op of ops) if (op.createSent) this.persist(op);
    let result;
    try {
      result = await saveBatch(imageId, {
        create: items.filter((i) => i.as === "create").map((i) => ({ ...(i.fields as AnnotationFields), client_key: i.op.key })),
        // a label's source is set when it is created: an edit never sends it
        update: items.filter((i) => i.as === "update").map(({ fields: { source: _, ...fields }, id, op }) => ({ ...fields, id: id!, version: op.server!.version })),
        delete: items.filter((i) => i.as === "delete").map((i) => ({ id: i.id!, version: i.op.server!.version })),
      });
    } catch (e) {
      if (e instanceof ApiError && e.status === 412) return this.batchConflicts(items, e);
      throw e;
    }
    const rows = new Map(result.annotations.map((a) => [a.client_key, a]));
    const existed = new Set(result.existed);
    for (const item of items) {
      const { op } = item;
      if (item.as === "delete") {
        this.saved(op, null, item.rev);
        continue;
      }
      const row = rows.get(op.key)!;
      delete op.createSent;
      if (item.as === "create" && existed.has(op.key) && !holds(row, item.fields)) {
        // the row a first, unanswered create made: it holds what that create sent; edit it
        op.server = { id: row.id, version: row.version };
        this.persist(op);
      } else this.saved(op, row, item.rev);
    }
  }

  /** The server holds `row` for this op now (null: it deleted it). */
  private saved(op: AnnotationOp, row: Annotation | null, rev: number): void {
    op.server = row && { id: row.id, version: row.version };
    this.opts.onSaved?.(op.key, row);
    this.settle(op, rev);
  }

  /**
   * A batch with stale edits saved nothing. An edit the row already holds (our own save whose
   * answer was lost) and a delete of a row already gone are saved; the rest wait in a conflict;
   * the batch's other edits go again.
   */
  private batchConflicts(items: BatchItem[], e: ApiError): void {
    const conflicts = (e.body as { conflicts?: { id: number; current: Annotation | null }[] } | null)?.conflicts ?? [];
    const stale = conflicts.filter((c) => items.some((i) => i.id === c.id));
    if (!stale.length) throw e;
    for (const item of items) if (item.as === "create") delete item.op.createSent;
    for (const { id, current } of stale) {
      const item = items.find((i) => i.id === id)!;
      if (item.as === "delete" ? !current : current && holds(current, item.fields)) this.saved(item.op, current, item.rev);
      else {
        item.op.conflict = { theirs: current };
        this.persist(item.op);
      }
    }
  }

  private async send(op: PendingOp, rev: number): Promise<void> {
    const done = () => this.settle(op, rev);
    switch (op.kind) {
      case "tags":
        await putTags(op.imageId, op.labelClassIds);
        return done();
      case "status":
        await setImageStatus(op.imageId, op.status);
        return done();
      case "activity": {
        const seconds = op.seconds;
        await postActivity(op.imageId, seconds);
        op.seconds = Math.round((op.seconds - seconds) * 1000) / 1000;
        if (op.seconds <= 0 && op.rev === rev) this.forget(op.key);
        else this.persist(op);
        return;
      }
      case "annotation":
        return this.sendAnnotation(op, done);
    }
  }

  /**
   * A label keeps its client key for life: the server deletes rows outright, so re-creating a
   * deleted label (an undo) posts the same key again, and what the screen lists under a key is
   * what the server holds under it.
   */
  private async sendAnnotation(op: AnnotationOp, done: () => void): Promise<void> {
    if (op.want === "deleted" && !op.server && op.createSent) {
      // the create may have landed: find its row (a create with a used key returns it), then delete it
      const res = await createAnnotation(op.imageId, { ...(op.fields as AnnotationFields), client_key: op.key });
      op.server = { id: res.annotation.id, version: res.annotation.version };
      delete op.createSent;
    }
    if (op.want === "deleted") {
      if (!op.server) return done();
      try {
        await deleteAnnotation(op.server.id, op.server.version);
      } catch (e) {
        if (!(e instanceof ApiError && e.status === 404)) throw e;
      }
      op.server = null;
      this.opts.onSaved?.(op.key, null);
      return done();
    }
    const saved = op.server
      ? await patchAnnotation(op.server.id, op.server.version, op.fields)
      : await this.create(op, op.fields as AnnotationFields);
    op.server = { id: saved.id, version: saved.version };
    this.opts.onSaved?.(op.key, saved);
    done();
  }

  private async create(op: AnnotationOp, f: AnnotationFields): Promise<Annotation> {
    op.createSent = true;
    this.persist(op);
    const res = await createAnnotation(op.imageId, { ...f, client_key: op.key });
    delete op.createSent;
    // The server already had this row (a retried create whose first answer was lost): it
    // holds what that first request sent, not necessarily what we send now.
    if (!res.created && !holds(res.annotation, f)) return patchAnnotation(res.annotation.id, res.annotation.version, f);
    return res.annotation;
  }

  /** A 4xx for this op: a conflict waits for the user's choice, anything else is shown as an error. */
  private reject(op: PendingOp, e: ApiError): void {
    if (op.kind === "annotation" && (e.status === 412 || e.status === 409 || e.status === 404)) {
      const current = (e.body as { current?: Annotation } | null)?.current;
      if (e.status === 404) op.conflict = { theirs: null };
      else if (current) op.conflict = { theirs: current };
      else op.error = `${e.code}: ${e.detail}`;
    } else {
      op.error = `${e.code}: ${e.detail}`;
    }
    this.persist(op);
  }

  // ---- choices ---------------------------------------------------------------

  /** Keep my edit: re-send it on top of their version (re-create it if they deleted it). */
  keepMine(key: string, local: LocalAnnotation | null): void {
    const op = this.ops.get(key);
    if (!op || op.kind !== "annotation" || !op.conflict) return;
    const theirs = op.conflict.theirs;
    delete op.conflict;
    op.rev++;
    if (theirs) {
      op.server = { id: theirs.id, version: theirs.version };
    } else {
      op.server = null;
      if (op.want === "deleted" || !local) {
        this.forget(key);
        this.emit();
        return;
      }
      op.fields = fullFields(local);
    }
    this.persist(op);
    void this.flush();
  }

  /** Drop my edit and return the server's row (null: it is gone) for the caller to show. */
  takeTheirs(key: string): Annotation | null {
    const op = this.ops.get(key);
    if (!op || op.kind !== "annotation" || !op.conflict) return null;
    const theirs = op.conflict.theirs;
    this.forget(key);
    this.emit();
    return theirs;
  }

  /** Give up an edit the server refused. */
  discard(key: string): void {
    if (this.ops.has(key)) this.forget(key);
    this.emit();
  }

  /** Logged in again: carry on sending (as `user`). */
  resume(user = this.user): void {
    this.user = user;
    this.authBlocked = false;
    this.failures = 0;
    void this.flush();
  }

  // ---- state -----------------------------------------------------------------

  onState(fn: (s: SaveState) => void): () => void {
    this.listeners.add(fn);
    fn(this.state());
    return () => this.listeners.delete(fn);
  }

  state(): SaveState {
    const mine = [...this.ops.values()].filter((o) => o.user === this.user);
    const conflicts = mine.filter((o): o is AnnotationOp => o.kind === "annotation" && !!o.conflict);
    const errors = mine.filter((o) => !!o.error);
    let mode: SaveMode = "saved";
    if (this.authBlocked) mode = "auth";
    else if (this.offline) mode = "offline";
    else if (this.running) mode = "saving";
    else if (mine.length > conflicts.length + errors.length) mode = "pending";
    return { mode, pending: mine.length, conflicts, errors };
  }

  private emit(): void {
    const s = this.state();
    for (const fn of this.listeners) fn(s);
  }
}
