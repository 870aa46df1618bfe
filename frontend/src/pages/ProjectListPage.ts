import type { AppContext } from "../app";
import { listProjects } from "../api/projects";
import type { ProjectSummary } from "../api/types";
import { h, type Unmount } from "../components/dom";
import { topBar } from "../components/TopBar";
import { imagePath, worklistPath } from "../router";
import { continueImageId, doneCount, lastFilter } from "./StudyListPage";

/** "12 of 40 done · 5 with proposals waiting". */
function progressText(p: Pick<ProjectSummary, "counts">): string {
  return `${doneCount(p.counts)} of ${p.counts.images} done · ${p.counts.by_status.proposed ?? 0} with proposals waiting`;
}

export function mountProjectListPage(root: HTMLElement, ctx: AppContext): Unmount {
  const list = h("ul", { class: "project-list" });
  const status = h("p", { class: "muted" }, "Loading…");
  const page = h("div", { class: "page" }, topBar(ctx), h("main", { class: "content" }, h("h1", {}, "Projects"), status, list));
  root.appendChild(page);
  let alive = true;

  (async () => {
    const all: ProjectSummary[] = [];
    for (let p = 1; ; p++) {
      const res = await listProjects(p);
      all.push(...res.results);
      if (!res.next) break;
    }
    if (!alive) return;
    status.textContent = all.length ? "" : "You are not a member of any project yet.";
    for (const p of all) {
      const bar = h("progress", { max: Math.max(1, p.counts.images), value: doneCount(p.counts), "aria-label": "done" });
      const resume = h("button", { type: "button", class: "primary", "data-testid": "continue" }, "Continue");
      resume.addEventListener("click", () => {
        resume.disabled = true;
        const query = lastFilter(ctx.me.id, p.slug);
        void continueImageId(p.slug, query).then(
          (id) => ctx.navigate(id != null ? imagePath(p.slug, id, query) : worklistPath(p.slug, query)),
          () => (resume.disabled = false),
        );
      });
      list.appendChild(
        h(
          "li",
          { "data-project": p.slug },
          h("a", { href: worklistPath(p.slug, new URLSearchParams()), "data-link": true }, p.name),
          h("span", { class: "role" }, p.role),
          h("p", { class: "muted" }, p.description),
          h("div", { class: "project-progress" }, bar, h("span", { "data-testid": "progress" }, progressText(p)), resume),
        ),
      );
    }
  })().catch((e) => {
    if (alive) status.textContent = `Could not load projects (${e instanceof Error ? e.message : String(e)}).`;
  });

  return () => {
    alive = false;
    page.remove();
  };
}
