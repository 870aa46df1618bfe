import type { AppContext } from "../app";
import { listProjects } from "../api/projects";
import type { ProjectSummary } from "../api/types";
import { h, type Unmount } from "../components/dom";
import { topBar } from "../components/TopBar";

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
      list.appendChild(
        h(
          "li",
          {},
          h("a", { href: `/projects/${encodeURIComponent(p.slug)}/images`, "data-link": true }, p.name),
          h("span", { class: "role" }, p.role),
          h("p", { class: "muted" }, p.description),
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
