/** The worklist: the project's images, filtered and sorted, with the query kept in the URL. */
import type { AppContext } from "../app";
import { getImage, listImages } from "../api/images";
import { getProject } from "../api/projects";
import { listStrategies, type Strategy } from "../api/strategies";
import type { ImageListItem, LabelClass, ProjectCounts } from "../api/types";
import { clear, h, type Unmount } from "../components/dom";
import { topBar } from "../components/TopBar";
import { imagePath, modelsPath, worklistPath } from "../router";
import { framesText, imageAfter, rowDone, WORKLIST_GROUP } from "../worklist/rows";
import { orderOptions, strategyOf } from "../worklist/strategies";

export const STATUSES = ["unlabelled", "proposed", "in_progress", "done", "reviewed"];
export const SPLITS = ["train", "val", "test"];
export const MODALITIES = ["CT", "MR", "CR", "DX", "US", "MG", "PT", "NM", "XA", "OT"];
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
async function* worklistRows(slug: string, query: URLSearchParams): AsyncGenerator<ImageListItem> {
  const base = { ...Object.fromEntries([...query].filter(([k]) => k !== "page" && k !== "page_size")), group: WORKLIST_GROUP };
  for (let page = 1; page <= 20; page++) {
    const res = await listImages(slug, { ...base, page: String(page), page_size: "200" });
    yield* res.results;
    if (!res.next) return;
  }
}

/** The first image of the filter that is not done yet (else the first), to continue with. */
export async function continueImageId(slug: string, query: URLSearchParams): Promise<number | null> {
  let first: number | null = null;
  for await (const it of worklistRows(slug, query)) {
    if (!rowDone(it)) return it.id;
    first ??= it.id;
  }
  return first;
}

/** Rows the worklist showed last, so the annotate page can start loading before its own requests return. */
export const worklistItems = new Map<number, ImageListItem>();

function select(name: string, value: string, options: [string, string][]): HTMLSelectElement {
  const s = h("select", { name, "aria-label": name });
  for (const [v, label] of options) s.appendChild(h("option", { value: v, selected: v === value }, label));
  return s;
}

function fmt(n: number | null, digits = 2): string {
  return n == null ? "—" : n.toFixed(digits);
}

export function mountStudyListPage(root: HTMLElement, ctx: AppContext, slug: string, query: URLSearchParams): Unmount {
  try {
    const kept = new URLSearchParams([...query].filter(([k]) => k !== "page"));
    localStorage.setItem(lastFilterKey(ctx.me.id, slug), kept.toString());
  } catch {
    // storage refused (private mode): Continue then starts from the whole worklist
  }
  const title = h("h1", {}, "Worklist");
  const counts = h("p", { class: "counts", "data-testid": "worklist-counts" });
  const filters = h("form", { class: "filters" });
  const table = h("table", { class: "worklist", "data-testid": "worklist" });
  const pager = h("div", { class: "pager" });
  const status = h("p", { class: "muted" }, "Loading…");
  const adminLinks = h("span", { class: "admin-links" });
  const page = h(
    "div",
    { class: "page" },
    topBar(ctx, h("a", { href: "/", "data-link": true }, "Projects"), adminLinks),
    h("main", { class: "content" }, title, counts, filters, status, table, pager),
  );
  root.appendChild(page);
  const abort = new AbortController();

  const update = (changes: Record<string, string>) => {
    const q = new URLSearchParams(query);
    for (const [k, v] of Object.entries(changes)) {
      if (v) q.set(k, v);
      else q.delete(k);
    }
    if (!("page" in changes)) q.delete("page");
    ctx.navigate(worklistPath(slug, q), true);
  };

  function renderFilters(classes: LabelClass[], strategies: Strategy[]) {
    clear(filters);
    const g = (k: string) => query.get(k) ?? "";
    const strategy = strategyOf(strategies, query);
    const order = select("ordering", strategy?.name ?? "", orderOptions(strategies));
    order.title = strategy?.description ?? "";
    const controls: HTMLSelectElement[] = [
      select("status", g("status"), [["", "Any status"], ...STATUSES.map((s): [string, string] => [s, s.replace("_", " ")])]),
      select("split", g("split"), [["", "Any split"], ...SPLITS.map((s): [string, string] => [s, s])]),
      select("modality", g("modality"), [["", "Any modality"], ...MODALITIES.map((s): [string, string] => [s, s])]),
      select("label_class", g("label_class"), [
        ["", "Any class"],
        ...classes.filter((c) => c.kind === "instance").map((c): [string, string] => [String(c.id), c.name]),
      ]),
      order,
    ];
    for (const c of controls) {
      c.addEventListener("change", () => update({ [c.name]: c.value }));
      filters.appendChild(c);
    }
  }

  function renderRows(items: ImageListItem[], classes: Map<number, LabelClass>) {
    clear(table);
    table.appendChild(
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ...["", "#", "Patient", "Status", "Split", "Modality", "Series", "Frames", "Classes", "Proposed", "Accepted", "Max score", "Uncertainty"].map(
            (t) => h("th", {}, t),
          ),
        ),
      ),
    );
    const body = h("tbody");
    for (const it of items) {
      const href = imagePath(slug, it.id, query);
      const chips = h("span", { class: "chips" });
      for (const id of it.classes) {
        const c = classes.get(id);
        const chip = h("span", { class: "chip" }, c?.name ?? String(id));
        if (c) chip.style.borderColor = c.color;
        chips.appendChild(chip);
      }
      const row = h(
        "tr",
        { "data-image-id": it.id, tabindex: 0 },
        h(
          "td",
          { class: "thumb" },
          h("img", { src: `/api/images/${it.id}/preview.png`, alt: "", loading: "lazy", width: 40, height: 40, "data-testid": "thumbnail" }),
        ),
        h("td", {}, h("a", { href, "data-link": true }, String(it.id))),
        h("td", {}, it.patient),
        h("td", {}, h("span", { class: `status status-${it.status}` }, it.status.replace("_", " "))),
        h("td", {}, it.split),
        h("td", {}, it.modality),
        h("td", { class: "num" }, it.series_number ?? "—"),
        h("td", { class: "num", "data-testid": "frame" }, framesText(it)),
        h("td", {}, chips),
        h("td", { class: "num" }, it.proposed_count),
        h("td", { class: "num" }, it.accepted_count),
        h("td", { class: "num" }, fmt(it.max_score)),
        h("td", { class: "num" }, fmt(it.uncertainty, 3)),
      );
      row.addEventListener("click", (e) => {
        if ((e.target as Element).closest("a")) return;
        performance.mark("radlabel:open-image");
        ctx.navigate(href);
      });
      row.addEventListener("keydown", (e) => {
        if (e.key === "Enter") ctx.navigate(href);
      });
      body.appendChild(row);
    }
    table.appendChild(body);
  }

  (async () => {
    const pageNo = Number(query.get("page") ?? "1") || 1;
    const [p, strategies, list] = await Promise.all([
      getProject(slug),
      listStrategies(),
      listImages(
        slug,
        { ...Object.fromEntries(query), group: WORKLIST_GROUP, page: String(pageNo), page_size: String(PAGE_SIZE) },
        abort.signal,
      ),
    ]);
    title.textContent = `${p.name} — worklist`;
    if (p.role === "admin") {
      const filters = new URLSearchParams([...query].filter(([k]) => ["status", "split", "modality", "label_class"].includes(k)));
      adminLinks.appendChild(h("a", { href: modelsPath(slug, filters), "data-link": true, "data-testid": "models-link" }, "Models"));
    }
    document.title = `${p.name} · RadLabel`;
    const by = p.counts.by_status;
    const done = doneCount(p.counts);
    counts.textContent = `${done} of ${p.counts.images} done · ${by.proposed ?? 0} with proposals · ${by.in_progress ?? 0} in progress · ${list.count} match`;
    renderFilters(p.label_classes, strategies);
    status.textContent = list.count ? "" : "No images match these filters.";
    worklistItems.clear();
    for (const it of list.results) worklistItems.set(it.id, it);
    renderRows(list.results, new Map(p.label_classes.map((c) => [c.id, c])));
    clear(pager);
    const pages = Math.max(1, Math.ceil(list.count / PAGE_SIZE));
    if (pages > 1) {
      pager.appendChild(
        h("button", { type: "button", disabled: !list.previous, on: { click: () => update({ page: String(pageNo - 1) }) } }, "‹ Previous"),
      );
      pager.appendChild(h("span", {}, `Page ${pageNo} of ${pages}`));
      pager.appendChild(
        h("button", { type: "button", disabled: !list.next, on: { click: () => update({ page: String(pageNo + 1) }) } }, "Next ›"),
      );
    }
  })().catch((e) => {
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
export async function nextImageId(slug: string, query: URLSearchParams, currentId: number): Promise<number | null> {
  const [current, strategies] = await Promise.all([worklistItems.get(currentId) ?? getImage(currentId), listStrategies()]);
  return imageAfter(worklistRows(slug, query), current, strategyOf(strategies, query)?.not_done_first);
}
