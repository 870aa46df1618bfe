/**
 * Opening the image: its project, details, labels and the viewer start together; then the
 * series' stack, the tools, editing, and the viewer's events are wired, and the stack is shown.
 */
import { listAnnotations } from "../../api/annotations";
import { getImage, listImages } from "../../api/images";
import { getProject } from "../../api/projects";
import type { ImageDetail, ImageListItem, Project } from "../../api/types";
import { maskEdited } from "../../components/AnnotationList";
import { labelPicker } from "../../components/LabelPicker";
import { toolbar } from "../../components/Toolbar";
import { EditController } from "../../editing/controller";
import { fromServer, newKey } from "../../editing/document";
import { applyPending } from "../../sync/applyPending";
import { applyAffine, invertAffine } from "../../viewer/coords";
import { wadouriImageIds } from "../../viewer/imageIds";
import { AnnotationOverlay } from "../../viewer/overlay";
import { percentilePresets, presetsFor } from "../../viewer/presets";
import type { Mask } from "../../viewer/rle";
import { clearMeasurements, type MeasureTool } from "../../viewer/toolGroups";
import { eventTarget, startViewer, ViewerEvents, type StackView } from "../../viewer/viewports";
import { worklistItems } from "../StudyListPage";
import { assist } from "./assist";
import { classCommands } from "./commands";
import { pickClass } from "./labels";
import type { AnnotatePage } from "./page";
import { visibleIn } from "./render";
import { labelSlice } from "./slices";
import { chooseWindow, keepWindow } from "./windowing";
import { applyLock, holdLease } from "./review";

/** How long scrolling must pause before the slice shown becomes the one being labelled. */
const SWITCH_AFTER_MS = 120;

/** Toolbar and class picker, for the project's classes and the image's presets. */
function mountTools(p: AnnotatePage, project: Project): void {
  const { s, ui } = p;
  s.toolbar = toolbar(p.commands, s.presets, s.hu, {
    brushRadius: (r) => ((s.brushRadius = r), p.renderSidebar(), p.render()),
    threshold: (t) => (Object.assign(s.threshold, t), p.renderSidebar()),
    preset: (w) => chooseWindow(p, w),
    measure: (choice) => {
      if (choice === "clear") {
        clearMeasurements();
        s.view?.viewport.render();
        p.setMode("select");
      } else p.setMode("measure", choice as MeasureTool);
    },
  });
  ui.toolbarSlot.appendChild(s.toolbar.el);
  s.picker = labelPicker(project.label_classes, (id) => pickClass(p, id));
  ui.pickerSlot.appendChild(s.picker.el);
}

/** The overlay the labels are drawn on and the editing tools over it. */
function mountEditing(p: AnnotatePage, detail: ImageDetail): void {
  const { s, ui } = p;
  s.overlay = new AnnotationOverlay(ui.wrap);
  const controller = new EditController(ui.wrap, {
    get doc() {
      return s.doc;
    },
    get width() {
      return s.image?.columns ?? detail.columns;
    },
    get height() {
      return s.image?.rows ?? detail.rows;
    },
    mode: () => s.mode,
    affine: () => (s.view && s.view.index === s.annotatedIndex ? s.view.pixelToCanvas() : null),
    selected: () => s.selectedKey,
    select: (key) => p.select(key),
    visible: visibleIn(s),
    brushRadius: () => s.brushRadius,
    paintFilter: () => {
      if (!s.hu || !s.threshold.enabled || !s.view) return undefined;
      const sample = s.view.valueSampler();
      if (!sample) return undefined;
      return (x, y) => {
        const v = sample(x, y);
        return v >= s.threshold.lower && v <= s.threshold.upper;
      };
    },
    newClass: () => s.activeClass,
    newKey,
    setCursor: (c) => (s.cursor = c),
    setDraft: (b) => (s.draft = b),
    maskChanged: (m: Mask) => {
      maskEdited(m);
      s.overlay?.invalidate(m);
    },
    render: () => p.render(),
    created: (key) => {
      p.select(key);
      if (s.mode === "box") p.setMode("select");
    },
    assist: (box, released) => void assist(p, box, released),
  });
  p.cleanups.push(() => controller.destroy());
}

/** Position and value of the pixel under the pointer, in the corner. */
function showHoverValue(p: AnnotatePage, view: StackView): void {
  const { s, ui } = p;
  const onMove = (e: MouseEvent) => {
    const m = view.pixelToCanvas();
    const sample = view.valueSampler();
    if (!m || !sample || !s.image) return ui.corners.setValue("");
    const rect = ui.wrap.getBoundingClientRect();
    const [px, py] = applyAffine(invertAffine(m), [e.clientX - rect.left, e.clientY - rect.top]);
    const x = Math.floor(px);
    const y = Math.floor(py);
    if (x < 0 || y < 0 || x >= s.image.columns || y >= s.image.rows) return ui.corners.setValue("");
    ui.corners.setValue(`x ${x}  y ${y} · ${Math.round(sample(x, y) * 10) / 10}${s.hu ? " HU" : ""}`);
  };
  ui.wrap.addEventListener("mousemove", onMove);
  p.cleanups.push(() => ui.wrap.removeEventListener("mousemove", onMove));
}

/** The first pixels are up: the page is ready, the rest of the series loads, presets from the image's values. */
function firstRendered(p: AnnotatePage, view: StackView): void {
  const { s, ui } = p;
  s.rendered = true;
  ui.wrap.dataset.ready = "true";
  performance.mark("radlabel:first-image");
  p.status("");
  setTimeout(() => view.prefetch(), 0);
  // radiographs, MR, US: windows from the image's own values, besides its default
  if (!s.hu) {
    const values = view.values();
    if (values) s.presets = [...s.presets, ...percentilePresets(values)];
    s.toolbar?.setPresets(s.presets);
  }
}

function bindViewer(p: AnnotatePage, view: StackView, imageIds: string[]): void {
  const { s, cleanups } = p;
  for (const ev of [ViewerEvents.IMAGE_RENDERED, ViewerEvents.CAMERA_MODIFIED]) cleanups.push(view.on(ev, () => p.renderNow()));
  for (const ev of [ViewerEvents.VOI_MODIFIED, ViewerEvents.STACK_NEW_IMAGE]) cleanups.push(view.on(ev, () => p.renderCorners()));
  showHoverValue(p, view);
  keepWindow(p, view);
  // the slice scrolled to becomes the one being labelled, once scrolling pauses
  let switchTimer: ReturnType<typeof setTimeout> | undefined;
  cleanups.push(
    view.on(ViewerEvents.STACK_NEW_IMAGE, () => {
      clearTimeout(switchTimer);
      switchTimer = setTimeout(() => void labelSlice(p), SWITCH_AFTER_MS);
    }),
    () => clearTimeout(switchTimer),
    view.on(ViewerEvents.IMAGE_RENDERED, () => {
      p.renderCorners();
      if (!s.rendered) firstRendered(p, view);
    }),
  );
  const onLoadError = (e: Event) => {
    const detail = (e as CustomEvent<{ imageId?: string; error?: unknown }>).detail;
    console.error("image load failed", detail?.imageId, detail?.error);
    if (detail?.imageId === imageIds[s.annotatedIndex]) p.status("This image could not be decoded.");
  };
  eventTarget.addEventListener(ViewerEvents.IMAGE_LOAD_ERROR, onLoadError);
  cleanups.push(() => eventTarget.removeEventListener(ViewerEvents.IMAGE_LOAD_ERROR, onLoadError));
}

/**
 * The ids of the series' images, and their viewer image ids with frame numbers (so multi-frame
 * instances share one download); `early` is the series list asked for from the worklist's hint.
 */
async function seriesStack(p: AnnotatePage, detail: ImageDetail, early: Promise<{ results: ImageListItem[] } | null> | null) {
  const known = new Map<number, ImageListItem>([[detail.id, detail]]);
  const ids = detail.series.image_ids.length ? detail.series.image_ids : [detail.id];
  if (ids.length > 1) {
    const res = await (early ?? seriesList(p, detail.series.id));
    for (const it of res?.results ?? []) known.set(it.id, it);
  }
  return wadouriImageIds(ids, known, location.origin);
}

const seriesList = (p: AnnotatePage, seriesId: number) =>
  listImages(p.slug, { series: String(seriesId), page_size: "1000" }, p.signal).catch(() => null);

export async function openImage(p: AnnotatePage): Promise<void> {
  const { s, signal, queue } = p;
  const imageId = s.imageId;
  // Everything that does not depend on the image's details starts at once: the viewer's
  // rendering engine, the DICOM download (into the HTTP cache the loader reads from) and,
  // when the worklist told us the series, the frame numbers of the stack.
  const hint = worklistItems.get(imageId);
  if (hint?.frame_number === 1) {
    void fetch(hint.dicom_url, { credentials: "same-origin", signal }).catch(() => {});
  }
  const earlySeries = hint ? seriesList(p, hint.series_id) : null;
  const [project, detail, anns, view] = await Promise.all([
    getProject(p.slug),
    getImage(imageId, signal),
    listAnnotations(imageId, signal),
    startViewer(p.ui.viewportEl, signal),
  ]);
  if (signal.aborted || !view) {
    view?.destroy();
    return;
  }
  s.view = view;
  s.image = detail;
  document.title = `Image ${imageId} · ${project.name} · RadLabel`;
  s.classes = new Map(project.label_classes.map((c) => [c.id, c]));
  p.commands.register(...classCommands(p));
  s.activeClass = project.label_classes.find((c) => c.kind === "instance")?.id ?? null;
  s.presets = presetsFor(detail);
  const { ids, imageIds } = await seriesStack(p, detail, hint?.series_id === detail.series.id ? earlySeries : null);
  s.annotatedIndex = Math.max(0, ids.indexOf(detail.id));
  s.sliceIds = ids;
  s.doc.load(applyPending(anns.map(fromServer), queue.pendingAnnotations(imageId)), detail.tags, detail.status);
  applyLock(p);
  holdLease(p);
  s.hu = (detail.series.modality || detail.modality) === "CT";
  mountTools(p, project);
  mountEditing(p, detail);
  bindViewer(p, view, imageIds);
  p.ui.wrap.dataset.imageId = String(imageId);
  await view.setStack(imageIds, s.annotatedIndex);
  if (signal.aborted) return;
  if (detail.window_center != null && detail.window_width != null && detail.window_width > 0) {
    view.setWindow(detail.window_center, detail.window_width);
  }
  p.renderSidebar();
  p.render();
  if (queue.pendingAnnotations(imageId).length) void queue.flush();
}
