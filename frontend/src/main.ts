import "./styles.css";
import type { AppContext } from "./app";
import { ensureCsrf, logout, me } from "./api/auth";
import { ApiError } from "./api/http";
import type { Me } from "./api/types";
import { h, type Unmount } from "./components/dom";
import { loginForm, mountLoginPage } from "./pages/LoginPage";
import { mountModelsPage } from "./pages/ModelsPage";
import { mountProjectListPage } from "./pages/ProjectListPage";
import { mountStudyListPage } from "./pages/StudyListPage";
import { parseRoute } from "./router";
import { IdbPendingStore } from "./sync/pendingStore";
import { SaveQueue } from "./sync/saveQueue";

const root = document.getElementById("app")!;
let unmount: Unmount | null = null;
let ctx: AppContext | null = null;
let relogin: Promise<void> | null = null;
const store = new IdbPendingStore();

export const loadAnnotatePage = () => import("./pages/AnnotatePage");

function navigate(path: string, replace = false): void {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  void render();
}

/** A modal sign-in over the current page: edits stay where they are and are sent afterwards. */
function showRelogin(user: Me): Promise<void> {
  relogin ??= new Promise<void>((resolve) => {
    const backdrop = h("div", { class: "modal-backdrop relogin", "data-testid": "relogin" });
    const form = loginForm({
      title: "Your session expired",
      username: user.username,
      onSuccess: (id) => void (async () => {
        backdrop.remove();
        relogin = null;
        const fresh = await me();
        if (ctx) ctx.me = fresh;
        ctx?.queue.resume(id);
        resolve();
      })(),
    });
    form.insertBefore(h("p", {}, "Your edits are kept on this device. Sign in again to save them."), form.children[1]);
    backdrop.appendChild(h("div", { class: "modal" }, form));
    document.body.appendChild(backdrop);
  });
  return relogin;
}

async function context(): Promise<AppContext | null> {
  if (ctx) return ctx;
  let user: Me;
  try {
    user = await me();
  } catch (e) {
    if (e instanceof ApiError && e.isAuth) return null;
    throw e;
  }
  const queue = new SaveQueue({ store, user: user.id });
  await queue.load();
  void queue.flush();
  window.addEventListener("online", () => void queue.flush());
  ctx = {
    me: user,
    queue,
    navigate,
    relogin: () => showRelogin(ctx!.me),
    async logout() {
      await queue.flush();
      await logout().catch(() => {});
      ctx = null;
      navigate("/login");
    },
  };
  return ctx;
}

let renderSeq = 0;

async function render(): Promise<void> {
  const seq = ++renderSeq;
  const route = parseRoute(location.pathname, location.search);
  unmount?.();
  unmount = null;
  if (route.name === "login") {
    await ensureCsrf().catch(() => {});
    unmount = mountLoginPage(root, route.next, (next) => {
      ctx = null;
      navigate(next, true);
    });
    return;
  }
  let c: AppContext | null;
  try {
    c = await context();
  } catch {
    root.replaceChildren(h("p", { class: "content error" }, "The server cannot be reached. Reload to try again."));
    return;
  }
  if (seq !== renderSeq) return;
  if (!c) {
    navigate(`/login?next=${encodeURIComponent(location.pathname + location.search)}`, true);
    return;
  }
  if (route.name === "projects") unmount = mountProjectListPage(root, c);
  else if (route.name === "worklist") unmount = mountStudyListPage(root, c, route.slug, route.query);
  else if (route.name === "models") unmount = mountModelsPage(root, c, route.slug, route.query);
  else if (route.name === "annotate") {
    // the viewer (Cornerstone) is its own chunk, fetched only when an image is opened
    const { mountAnnotatePage } = await loadAnnotatePage();
    if (seq !== renderSeq) return;
    unmount = mountAnnotatePage(root, c, route.slug, route.imageId, route.query);
  }
  else {
    const el = h("div", { class: "content" }, h("h1", {}, "Not found"), h("a", { href: "/", "data-link": true }, "Back to projects"));
    root.appendChild(el);
    unmount = () => el.remove();
  }
}

document.addEventListener("click", (e) => {
  const a = (e.target as Element).closest?.<HTMLAnchorElement>("a[data-link]");
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
  if (a.origin !== location.origin) return;
  e.preventDefault();
  if (a.closest("tr[data-image-id]")) performance.mark("radlabel:open-image");
  navigate(a.pathname + a.search);
});
window.addEventListener("popstate", () => void render());
void render();
