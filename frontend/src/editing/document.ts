/**
 * The annotations of one image as the radiologist sees them, and every edit
 * to them as an undoable command. The document knows nothing about the
 * network: each applied change goes to a sink (the save queue).
 */
import type { Annotation, AnnotationStatus, Box, ImageStatus } from "../api/types";
import { decodeRle, type Mask } from "../viewer/rle";
import { History } from "./history";

export interface EditFields {
  label_class: number;
  box: Box;
  mask: Mask | null;
  status: AnnotationStatus;
}

export interface LocalAnnotation extends EditFields {
  key: string;
  id: number | null;
  version: number | null;
  score: number | null;
  /** the model's runner-up classes for this finding (proposals only) */
  alternatives?: { label_class: number; score: number }[];
  source: Annotation["source"];
  model_version: number | null;
}

/** What an annotation looks like before/after a change; null = absent. */
export type AnnSnapshot = LocalAnnotation | null;

export type Change =
  | { kind: "annotation"; key: string; before: AnnSnapshot; after: AnnSnapshot }
  | { kind: "tags"; before: number[]; after: number[] }
  | { kind: "status"; before: ImageStatus; after: ImageStatus };

export interface Command {
  label: string;
  changes: Change[];
}

/** Receives every change as applied (forwards or backwards), with the resulting state. */
export type ChangeSink = (change: Change, doc: AnnotationDoc) => void;

export function fromServer(a: Annotation): LocalAnnotation {
  return {
    key: a.client_key,
    id: a.id,
    version: a.version,
    label_class: a.label_class,
    box: [...a.box] as Box,
    mask: a.mask ? decodeRle(a.mask) : null,
    status: a.status,
    score: a.score,
    alternatives: a.alternatives,
    source: a.source,
    model_version: a.model_version,
  };
}

function invert(c: Change): Change {
  return { ...c, before: c.after, after: c.before } as Change;
}

export class AnnotationDoc {
  readonly annotations = new Map<string, LocalAnnotation>();
  readonly history = new History<Command>();
  tags: number[] = [];
  status: ImageStatus = "unlabelled";
  /** why the labels cannot be edited now (accepted in review, or shown to a reviewer to read); null: editable */
  locked: string | null = null;
  /** told why an edit was refused while the document is locked */
  onRefused: (why: string) => void = () => {};
  private listeners = new Set<() => void>();

  constructor(
    readonly imageId: number,
    private sink: ChangeSink = () => {},
  ) {}

  setSink(sink: ChangeSink): void {
    this.sink = sink;
  }

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(): void {
    for (const fn of this.listeners) fn();
  }

  get(key: string): LocalAnnotation | undefined {
    return this.annotations.get(key);
  }

  list(): LocalAnnotation[] {
    return [...this.annotations.values()];
  }

  /** Load or replace state from the server; not undoable, not sent. */
  load(annotations: LocalAnnotation[], tags: number[], status: ImageStatus): void {
    this.annotations.clear();
    for (const a of annotations) this.annotations.set(a.key, a);
    this.tags = [...tags];
    this.status = status;
    this.emit();
  }

  replace(a: LocalAnnotation | null, key: string): void {
    if (a) this.annotations.set(key, a);
    else this.annotations.delete(key);
    this.emit();
  }

  /** The server accepted a write: remember its id and version. */
  acknowledge(key: string, id: number | null, version: number | null): void {
    const a = this.annotations.get(key);
    if (a) {
      a.id = id;
      a.version = version;
    }
  }

  /** Apply a command and record it for undo. Changes that change nothing are dropped. */
  execute(cmd: Command): void {
    if (this.refused()) return;
    const changes = cmd.changes.filter((c) => !sameChange(c));
    if (!changes.length) return;
    const real = { label: cmd.label, changes };
    this.history.push(real);
    this.applyAll(real.changes);
  }

  /** Whether the document is locked (the edit is refused, and told why). */
  refused(): boolean {
    if (this.locked) this.onRefused(this.locked);
    return this.locked != null;
  }

  undo(): Command | null {
    if (this.refused()) return null;
    const cmd = this.history.undo();
    if (cmd) this.applyAll([...cmd.changes].reverse().map(invert));
    return cmd;
  }

  redo(): Command | null {
    if (this.refused()) return null;
    const cmd = this.history.redo();
    if (cmd) this.applyAll(cmd.changes);
    return cmd;
  }

  private applyAll(changes: Change[]): void {
    for (const c of changes) {
      if (c.kind === "annotation") {
        this.sink(this.applyAnnotation(c), this);
        continue;
      }
      if (c.kind === "tags") this.tags = [...c.after];
      else this.status = c.after;
      this.sink(c, this);
    }
    this.emit();
  }

  /**
   * Apply one annotation change. A command's snapshots carry the server identity (id, version)
   * of when it was recorded; the server may have acknowledged newer versions since (an autosave
   * between the edit and its undo), so the change is re-based on the identity the document
   * holds now, and the sink gets the re-based change: an undo edits the current version.
   */
  private applyAnnotation(c: Extract<Change, { kind: "annotation" }>): Change {
    const existing = this.annotations.get(c.key);
    const identity = existing ? { id: existing.id, version: existing.version } : null;
    const before = c.before && identity ? { ...c.before, ...identity } : c.before;
    const after = c.after && identity ? { ...c.after, ...identity } : c.after;
    if (after) this.annotations.set(c.key, after);
    else this.annotations.delete(c.key);
    return { kind: "annotation", key: c.key, before, after };
  }

  // ---- command builders -------------------------------------------------

  /** A change from an annotation's current state to `patch` applied on it. */
  update(key: string, patch: Partial<EditFields>): Change | null {
    const a = this.annotations.get(key);
    if (!a) return null;
    return { kind: "annotation", key, before: { ...a }, after: { ...a, ...patch } };
  }

  create(a: LocalAnnotation): Change {
    return { kind: "annotation", key: a.key, before: null, after: a };
  }

  remove(key: string): Change | null {
    const a = this.annotations.get(key);
    return a ? { kind: "annotation", key, before: { ...a }, after: null } : null;
  }

  setTags(tags: number[]): Change {
    return { kind: "tags", before: [...this.tags], after: [...tags].sort((x, y) => x - y) };
  }

  setStatus(status: ImageStatus): Change {
    return { kind: "status", before: this.status, after: status };
  }
}

function sameChange(c: Change): boolean {
  if (c.kind === "tags") return c.before.join() === c.after.join();
  if (c.kind === "status") return c.before === c.after;
  if (!c.before || !c.after) return c.before === c.after;
  const b = c.before;
  const a = c.after;
  return (
    b.label_class === a.label_class &&
    b.status === a.status &&
    b.box.every((v, i) => v === a.box[i]) &&
    b.mask === a.mask
  );
}

export function newKey(): string {
  return crypto.randomUUID();
}
