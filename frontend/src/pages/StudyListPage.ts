/** The worklist: the project's images, filtered and sorted, with the query kept in the URL. */
import type { AppContext } from "../app";
import { listImages } from "../api/images";
import { nextImage } from "../api/review";
import { getProject } from "../api/projects";
import { listStrategies } from "../api/strategies";
import type { ImageListItem, ProjectCounts } from "../api/types";
import { h, type Unmount } from "../components/dom";
import { topBar } from "../components/TopBar";
import { imagePath, modelsPath, worklistPath } from "../router";
import { WORKLIST_GROUP } from "../worklist/rows";
import { worklistFilters } from "./worklist/Filters";
import { pager } from "./worklist/Pager";
import { worklistTable } from "./worklist/WorklistTable";

const PAGE_SIZE = 50;

/** Where the radiologist's last worklist filter of a project is kept (this browser, this user). */
function lastFilterKey(user: number, slug: string): string {
  return `radlabel:worklist:${user}:${slug}`;
}

export function lastFilter(user: number, slug: string): URLSearchParams {
  try {
    return new URLSearchParams(localStorage.getItem(lastFilterKey(user, slug)) ?? "");
  } catch {
    return new URLSearchParams();
  }
}

/** Images done or reviewed, of a project's counts. */
export function doneCount(counts: ProjectCounts): number {
  return (counts.by_status.done ?? 0) + (counts.by_status.reviewed ?? 0);
}

/** The worklist's rows in its filter and order, page after page (at most 4000). */
/** The worklist's filter and order as Next's server call takes them (no paging). */
function nextFilters(query: URLSearchParams): Record<string, string> {
  return { ...Object.fromEntries([...query].filter(([k]) => k !== "page" && k !== "page_size")), group: WORKLIST_GROUP };
}

/** The first image of the filter that is not done yet (else the first), leased to this reader to continue with. */
export function continueImageId(slug: string, query: URLSearchParams): Promise<number | null> {
  return nextImage(slug, nextFilters(query), null);
}

/** Rows the worklist showed last, so the annotate page can start loading before its own requests return. */
export const worklistItems = new Map<number, ImageListItem>();

/** What the worklist shows of a project, one page of its filter. */
async function loadWorklist(slug: string, query: URLSearchParams, pageNo: number, signal: AbortSignal) {
  const [project, strategies, list] = await Promise.all([
    getProject(slug),
    listStrategies(),
    listImages(slug, { ...Object.fromEntries(query), group: WORKLIST_GROUP, page: String(pageNo), page_size: String(PAGE_SIZE) }, signal),
  ]);
  return { project, strategies, list };
}

/** Remember the filter (not the page) for Continue on the project list. */
function keepFilter(user: number, slug: string, query: URLSearchParams): void {
  try {
    const kept = new URLSearchParams([...query].filter(([k]) => k !== "page"));
    localStorage.setItem(lastFilterKey(user, slug), kept.toString());
  } catch {
    // storage refused (private mode): Continue then starts from the whole worklist
  }
}

/** The counts line over the worklist: done of all, with proposals, in progress, matching the filter. */
export function countsText(counts: ProjectCounts, matching: number): string {
  const by = counts.by_status;
  return `${doneCount(counts)} of ${counts.images} done · ${by.proposed ?? 0} with proposals · ${by.in_progress ?? 0} in progress · ${matching} match`;
}

export function mountStudyListPage(root: HTMLElement, ctx: AppContext, slug: string, query: URLSearchParams): Unmount {
  keepFilter(ctx.me.id, slug, query);
  const update = (changes: Record<string, string>) => {
    const q = new URLSearchParams(query);
    for (const [k, v] of Object.entries(changes)) {
      if (v) q.set(k, v);
      else q.delete(k);
    }
    if (!("page" in changes)) q.delete("page");
    ctx.navigate(worklistPath(slug, q), true);
  };
  const title = h("h1", {}, "Worklist");
  const counts = h("p", { class: "counts", "data-testid": "worklist-counts" });
  const filters = worklistFilters(update);
  const table = worklistTable((href) => ctx.navigate(href));
  const pages = pager((n) => update({ page: String(n) }));
  const status = h("p", { class: "muted" }, "Loading…");
  const adminLinks = h("span", { class: "admin-links" });
  const page = h(
    "div",
    { class: "page" },
    topBar(ctx, h("a", { href: "/", "data-link": true }, "Projects"), adminLinks),
    h("main", { class: "content" }, title, counts, filters.el, status, table.el, pages.el),
  );
  root.appendChild(page);
  const abort = new AbortController();

  const pageNo = Number(query.get("page") ?? "1") || 1;
  loadWorklist(slug, query, pageNo, abort.signal)
    .then(({ project: p, strategies, list }) => {
      title.textContent = `${p.name} — worklist`;
      if (p.role === "admin") {
        const kept = new URLSearchParams([...query].filter(([k]) => ["status", "split", "modality", "label_class", "suggested_tag"].includes(k)));
        adminLinks.appendChild(h("a", { href: modelsPath(slug, kept), "data-link": true, "data-testid": "models-link" }, "Models"));
      }
      document.title = `${p.name} · RadLabel`;
      counts.textContent = countsText(p.counts, list.count);
      filters.update({ query, classes: p.label_classes, strategies });
      status.textContent = list.count ? "" : "No images match these filters.";
      worklistItems.clear();
      for (const it of list.results) worklistItems.set(it.id, it);
      table.update({ items: list.results, classes: new Map(p.label_classes.map((c) => [c.id, c])), href: (id) => imagePath(slug, id, query) });
      pages.update({ page: pageNo, pages: Math.max(1, Math.ceil(list.count / PAGE_SIZE)), hasPrevious: !!list.previous, hasNext: !!list.next });
    })
    .catch((e) => {
      if (!abort.signal.aborted) status.textContent = `Could not load the worklist (${e instanceof Error ? e.message : String(e)}).`;
    });

  return () => {
    abort.abort();
    page.remove();
  };
}

/**
 * The image after `currentId` in the worklist's filter and strategy: the next row, also from any
 * frame of a multi-frame row. When the current image has left the filtered list (e.g. it is now
 * done, or done under a strategy that lists the images not done first), the first remaining
 * image is next.
 */
/** The image after `currentId` in the worklist's filter and order that no other reader holds, leased to this reader. */
export function nextImageId(slug: string, query: URLSearchParams, currentId: number): Promise<number | null> {
  return nextImage(slug, nextFilters(query), currentId);
}
