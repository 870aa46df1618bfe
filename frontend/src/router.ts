/** History-API routing over the paths Django hands to index.html. */
export type Route =
  | { name: "login"; next: string | null }
  | { name: "projects" }
  | { name: "worklist"; slug: string; query: URLSearchParams }
  | { name: "annotate"; slug: string; imageId: number; query: URLSearchParams }
  | { name: "models"; slug: string; query: URLSearchParams }
  | { name: "notFound" };

export function parseRoute(pathname: string, search: string): Route {
  const query = new URLSearchParams(search);
  if (pathname === "/login" || pathname === "/login/") return { name: "login", next: safeNext(query.get("next")) };
  if (pathname === "/" || pathname === "/projects" || pathname === "/projects/") return { name: "projects" };
  let m = /^\/projects\/([-\w]+)\/images\/?$/.exec(pathname);
  if (m) return { name: "worklist", slug: m[1], query };
  m = /^\/projects\/([-\w]+)\/images\/(\d+)\/?$/.exec(pathname);
  if (m) return { name: "annotate", slug: m[1], imageId: Number(m[2]), query };
  m = /^\/projects\/([-\w]+)\/models\/?$/.exec(pathname);
  if (m) return { name: "models", slug: m[1], query };
  return { name: "notFound" };
}

/** Only same-site paths are followed after login (no open redirect). */
export function safeNext(next: string | null): string | null {
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return null;
  return next;
}

export function worklistPath(slug: string, query: URLSearchParams): string {
  const q = query.toString();
  return `/projects/${encodeURIComponent(slug)}/images${q ? `?${q}` : ""}`;
}

export function imagePath(slug: string, id: number, query: URLSearchParams): string {
  const q = query.toString();
  return `/projects/${encodeURIComponent(slug)}/images/${id}${q ? `?${q}` : ""}`;
}

/** The Models page; the worklist's filters ride along (pre-annotate "the worklist filter"). */
export function modelsPath(slug: string, query: URLSearchParams): string {
  const q = query.toString();
  return `/projects/${encodeURIComponent(slug)}/models${q ? `?${q}` : ""}`;
}
