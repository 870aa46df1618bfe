/**
 * The one fetch wrapper. Only same-origin `/api/` paths are ever requested;
 * the session cookie rides along (HttpOnly, never read here) and unsafe
 * methods carry the CSRF token read from the `csrftoken` cookie.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly body: unknown,
  ) {
    super(`${status} ${code}: ${detail}`);
    this.name = "ApiError";
  }

  /** The session is gone or the CSRF token is stale: re-authenticate, then retry. */
  get isAuth(): boolean {
    return this.status === 401 || this.status === 403;
  }
}

/** Thrown when the request never got an HTTP answer (offline, DNS, reset). */
export class NetworkError extends Error {
  constructor(cause: unknown) {
    super(`network error: ${String(cause)}`);
    this.name = "NetworkError";
  }
}

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

let fetchImpl: FetchLike = (input, init) => globalThis.fetch(input, init);

/** Tests swap fetch here. */
export function setFetch(f: FetchLike): void {
  fetchImpl = f;
}

export function readCookie(name: string): string | null {
  if (typeof document === "undefined") return null;
  for (const part of document.cookie.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return decodeURIComponent(v.join("="));
  }
  return null;
}

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export interface RequestOptions {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  keepalive?: boolean;
}

export interface ApiResponse<T> {
  status: number;
  data: T;
  etag: string | null;
}

export function assertApiPath(path: string): void {
  if (!path.startsWith("/api/") || path.startsWith("//") || path.includes("://")) {
    throw new Error(`refusing to fetch ${path}: only same-origin /api/ paths`);
  }
}

export async function request<T>(path: string, opts: RequestOptions = {}): Promise<ApiResponse<T>> {
  assertApiPath(path);
  const method = (opts.method ?? "GET").toUpperCase();
  const headers: Record<string, string> = { Accept: "application/json", ...opts.headers };
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  if (UNSAFE.has(method)) {
    const token = readCookie("csrftoken");
    if (token) headers["X-CSRFToken"] = token;
  }
  let res: Response;
  try {
    res = await fetchImpl(path, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      credentials: "same-origin",
      redirect: "error",
      signal: opts.signal,
      keepalive: opts.keepalive,
    });
  } catch (e) {
    if ((e as Error)?.name === "AbortError") throw e;
    throw new NetworkError(e);
  }
  const text = res.status === 204 ? "" : await res.text();
  let data: unknown = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const obj = (data ?? {}) as { code?: string; detail?: string };
    throw new ApiError(res.status, obj.code ?? `http_${res.status}`, obj.detail ?? res.statusText, data);
  }
  return { status: res.status, data: data as T, etag: res.headers.get("ETag") };
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  return (await request<T>(path, { signal })).data;
}

const onceCache = new Map<string, Promise<unknown>>();

/** A GET whose answer changes only with the server: asked for once per page load (again after a failure). */
export function getJsonOnce<T>(path: string): Promise<T> {
  let answer = onceCache.get(path) as Promise<T> | undefined;
  if (!answer) {
    answer = getJson<T>(path).catch((e: unknown) => {
      onceCache.delete(path);
      throw e;
    });
    onceCache.set(path, answer);
  }
  return answer;
}

export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

/** The message to show for a failed request: the server's `detail` when there is one. */
export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.detail || `${e.status} ${e.code}`;
  return e instanceof Error ? e.message : String(e);
}
