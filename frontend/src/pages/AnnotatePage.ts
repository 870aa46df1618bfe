/**
 * The annotate page: the image's series in a stack viewport, its proposals and
 * labels over it, editing tools, and saving that loses nothing.
 */
import type { AppContext } from "../app";
import type { Annotation } from "../api/types";
import type { Unmount } from "../components/dom";
import type { EditMode } from "../editing/controller";
import { AnnotationDoc, type Change } from "../editing/document";
import { ActivityTracker } from "../sync/activity";
import type { SaveQueue } from "../sync/saveQueue";
import { CommandRegistry } from "../viewer/commands";
import { setMeasureTool, type MeasureTool } from "../viewer/toolGroups";
import { annotateCommands } from "./annotate/commands";
import { renderSaveState } from "./annotate/conflicts";
import { bindKeys } from "./annotate/keys";
import { remove, setStatus } from "./annotate/labels";
import { openImage } from "./annotate/load";
import { reviewAccept, reviewAdjudicate, reviewEdit, reviewReopen, reviewReturn } from "./annotate/review";
import { initialState, type AnnotatePage } from "./annotate/page";
import { renderCorners, renderOverlay, renderSidebar } from "./annotate/render";
import { annotateSkeleton } from "./annotate/skeleton";
import { rejectSuggestion, setTags } from "./annotate/tags";

/** How often the time spent on the image is handed to the save queue. */
const ACTIVITY_EVERY_MS = 15_000;

/** Edits of a document go to the save queue; the first label edit puts the image in progress. */
function docSink(queue: SaveQueue) {
  return (change: Change, d: AnnotationDoc) => {
    if (change.kind === "annotation") {
      queue.recordAnnotation(d.imageId, change.key, change.before, change.after);
      if (d.status === "unlabelled" || d.status === "proposed") {
        d.status = "in_progress";
        queue.recordStatus(d.imageId, "in_progress");
      }
    } else if (change.kind === "tags") {
      queue.recordTags(d.imageId, change.after);
    } else {
      queue.recordStatus(d.imageId, change.after);
    }
  };
}

export function mountAnnotatePage(root: HTMLElement, ctx: AppContext, slug: string, openedId: number, query: URLSearchParams): Unmount {
  const abort = new AbortController();
  const queue = ctx.queue;
  const sink = docSink(queue);
  const activity = new ActivityTracker();
  const ui = annotateSkeleton(ctx, slug, query, openedId, {
    select: (key) => p.select(key),
    accept: (key) => setStatus(p, [key], "accepted"),
    reject: (key) => setStatus(p, [key], "rejected"),
    remove: (key) => remove(p, key),
    tags: { change: (next) => setTags(p, next), reject: (id) => void rejectSuggestion(p, id) },
    review: {
      accept: () => void reviewAccept(p),
      giveBack: () => reviewReturn(p),
      edit: () => reviewEdit(p),
      reopen: () => void reviewReopen(p),
      selectAnnotation: (id) => p.select(s.doc.list().find((a) => a.id === id)?.key ?? null),
    },
    reads: { adjudicate: (picks, tags) => void reviewAdjudicate(p, picks, tags) },
  });
  const newDoc = (id: number) => {
    const d = new AnnotationDoc(id, sink);
    d.onRefused = (why) => {
      p.status(why);
      ui.review.refused();
    };
    d.onChange(() => {
      if (s.selectedKey && !d.get(s.selectedKey)) s.selectedKey = null;
      p.render();
      p.renderSidebar();
    });
    return d;
  };
  const s = initialState(openedId, newDoc(openedId));
  const p: AnnotatePage = {
    ctx,
    slug,
    query,
    queue,
    signal: abort.signal,
    s,
    ui,
    commands: new CommandRegistry(),
    cleanups: [],
    render() {
      if (s.frame) return;
      s.frame = requestAnimationFrame(() => {
        s.frame = 0;
        renderOverlay(p);
      });
    },
    renderNow: () => renderOverlay(p),
    renderSidebar: () => renderSidebar(p),
    renderCorners: () => renderCorners(p),
    status: (text) => (ui.notice.textContent = text),
    select(key) {
      s.selectedKey = key;
      p.render();
      p.renderSidebar();
    },
    setMode(m: EditMode, tool: MeasureTool | null = null) {
      s.mode = m;
      s.measureTool = m === "measure" ? tool : null;
      setMeasureTool(s.measureTool);
      ui.wrap.dataset.mode = m;
      if (m !== "brush" && m !== "eraser") s.cursor = null;
      p.render();
      p.renderSidebar();
    },
    commitActivity: () => queue.addActivity(s.imageId, activity.take()),
    newDoc,
  };
  root.appendChild(ui.page);
  p.status("Loading…");

  queue.setOnSaved((key, saved: Annotation | null) => s.doc.acknowledge(key, saved?.id ?? null, saved?.version ?? null));
  p.cleanups.push(() => queue.setOnSaved(undefined));
  const activityTimer = setInterval(() => p.commitActivity(), ACTIVITY_EVERY_MS);
  p.cleanups.push(() => {
    clearInterval(activityTimer);
    p.commitActivity();
    activity.stop();
  });
  p.cleanups.push(queue.onState((state) => renderSaveState(p, state)));
  p.commands.register(...annotateCommands(p));
  bindKeys(p);

  openImage(p).catch((e) => {
    if (abort.signal.aborted) return;
    p.status(`Could not open this image (${String((e as Error).message ?? e)}).`);
  });

  return () => {
    abort.abort();
    if (s.frame) cancelAnimationFrame(s.frame);
    for (const c of p.cleanups.reverse()) c();
    s.overlay?.destroy();
    s.view?.destroy();
    ui.page.remove();
  };
}
