/**
 * Where unsent edits wait: IndexedDB in the browser, a Map in tests.
 * Written before any request is sent, so a reload, a crash or an expired
 * session loses nothing.
 */
import type { PendingOp } from "./ops";

export interface PendingStore {
  loadAll(): Promise<PendingOp[]>;
  put(op: PendingOp): Promise<void>;
  delete(key: string): Promise<void>;
}

export class MemoryPendingStore implements PendingStore {
  readonly ops = new Map<string, PendingOp>();

  loadAll(): Promise<PendingOp[]> {
    return Promise.resolve([...this.ops.values()].map((o) => structuredClone(o)));
  }

  put(op: PendingOp): Promise<void> {
    this.ops.set(op.key, structuredClone(op));
    return Promise.resolve();
  }

  delete(key: string): Promise<void> {
    this.ops.delete(key);
    return Promise.resolve();
  }
}

const DB_NAME = "radlabel";
const STORE = "pending";

export class IdbPendingStore implements PendingStore {
  private db: Promise<IDBDatabase>;

  constructor() {
    this.db = new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: "key" });
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error ?? new Error("IndexedDB open failed"));
    });
  }

  private async tx<T>(mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest<T> | void): Promise<T> {
    const db = await this.db;
    return new Promise<T>((resolve, reject) => {
      const t = db.transaction(STORE, mode, { durability: "strict" });
      const req = fn(t.objectStore(STORE));
      t.oncomplete = () => resolve(req ? req.result : (undefined as T));
      t.onerror = () => reject(t.error ?? new Error("IndexedDB transaction failed"));
      t.onabort = () => reject(t.error ?? new Error("IndexedDB transaction aborted"));
    });
  }

  loadAll(): Promise<PendingOp[]> {
    return this.tx<PendingOp[]>("readonly", (s) => s.getAll() as IDBRequest<PendingOp[]>);
  }

  async put(op: PendingOp): Promise<void> {
    await this.tx("readwrite", (s) => {
      s.put(op);
    });
  }

  async delete(key: string): Promise<void> {
    await this.tx("readwrite", (s) => {
      s.delete(key);
    });
  }
}
