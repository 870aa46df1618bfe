/**
 * Sends edits to the server: debounced, one request at a time, each edit with
 * the version it is based on (If-Match). Every change is written to the
 * PendingStore before anything is sent, and stays there until the server has
 * acknowledged it, so nothing is lost to a dropped network, an expired
 * session or a closed tab. A stale version never overwrites: the edit waits
 * in a conflict until the user picks theirs or mine.
 */
import { createAnnotation, deleteAnnotation, patchAnnotation } from "../api/annotations";
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

function sameContent(row: Annotation, f: AnnotationFields): boolean {
  return (
    row.label_class === f.label_class &&
    row.status === f.status &&
    row.box.every((v, i) => v === f.box[i]) &&
    (row.mask?.counts ?? null) === (f.mask?.counts ?? null)
  );
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

  private async drain(): Promise<void> {
    while (!this.authBlocked) {
      await this.persisting;
      const op = this.nextSendable();
      if (!op) break;
      const rev = op.rev;
      try {
        await this.send(op, rev);
        this.failures = 0;
        this.offline = false;
      } catch (e) {
        if (e instanceof ApiError && e.isAuth) {
          this.authBlocked = true;
        } else if (e instanceof ApiError && e.status < 500) {
          this.reject(op, e);
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

  private async send(op: PendingOp, rev: number): Promise<void> {
    const done = () => {
      if (this.ops.get(op.key) === op && op.rev === rev) this.forget(op.key);
      else this.persist(op);
    };
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
    if (!res.created && !sameContent(res.annotation, f)) return patchAnnotation(res.annotation.id, res.annotation.version, f);
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
