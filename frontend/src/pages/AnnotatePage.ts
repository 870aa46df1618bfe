/**
 * The annotate page: the image's series in a stack viewport, its proposals and
 * labels over it, editing tools, and saving that loses nothing.
 */
import type { AppContext } from "../app";
import { listAnnotations, segmentBox } from "../api/annotations";
import { ApiError } from "../api/http";
import { getImage, listImages } from "../api/images";
import { getProject } from "../api/projects";
import type { Annotation, Box, ImageDetail, ImageListItem, LabelClass } from "../api/types";
import { annotationList, maskEdited, runnerUp } from "../components/AnnotationList";
import { conflictPanel } from "../components/ConflictPanel";
import { clear, h, type Unmount } from "../components/dom";
import { confirmDone, helpOverlay } from "../components/HelpOverlay";
import { labelPicker } from "../components/LabelPicker";
import { toolbar } from "../components/Toolbar";
import { topBar } from "../components/TopBar";
import { EditController, type EditMode } from "../editing/controller";
import { AnnotationDoc, fromServer, newKey, type Change, type LocalAnnotation } from "../editing/document";
import { imagePath, worklistPath } from "../router";
import { ActivityTracker } from "../sync/activity";
import { applyPending } from "../sync/applyPending";
import type { SaveState } from "../sync/saveQueue";
import { CommandRegistry, keyOf, type NamedCommand } from "../viewer/commands";
import { wadouriImageIds } from "../viewer/imageIds";
import { applyAffine, invertAffine, orientationMarkers } from "../viewer/coords";
import { percentilePresets, presetNamed, presetsFor, type WindowPreset } from "../viewer/presets";
import { cloneMask, decodeRle, maskBbox, type Mask } from "../viewer/rle";
import { AnnotationOverlay, isVisible, type OverlayState } from "../viewer/overlay";
import { clearMeasurements, setMeasureTool, type MeasureTool } from "../viewer/toolGroups";
import { startViewer, ViewerEvents, eventTarget, type StackView } from "../viewer/viewports";
import { nextImageId, worklistItems } from "./StudyListPage";

/** The smallest box holding every given box. */
export function unionBox(boxes: (readonly number[] | undefined)[]): Box | null {
  const present = boxes.filter((b): b is readonly number[] => !!b);
  if (!present.length) return null;
  const x0 = Math.min(...present.map((b) => b[0]));
  const y0 = Math.min(...present.map((b) => b[1]));
  const x1 = Math.max(...present.map((b) => b[0] + b[2]));
  const y1 = Math.max(...present.map((b) => b[1] + b[3]));
  return [x0, y0, x1 - x0, y1 - y0];
}

export function mountAnnotatePage(
  root: HTMLElement,
  ctx: AppContext,
  slug: string,
  openedId: number,
  query: URLSearchParams,
): Unmount {
  /** the image being labelled: the slice shown, once its labels are loaded */
  let imageId = openedId;
  const abort = new AbortController();
  const cleanups: (() => void)[] = [];
  const queue = ctx.queue;

  // ---- skeleton ----
  const crumbImage = h("span", { "data-testid": "crumb-image" }, `Image ${imageId}`);
  const crumbs = h(
    "nav",
    { class: "crumbs" },
    h("a", { href: "/", "data-link": true }, "Projects"),
    " / ",
    h("a", { href: worklistPath(slug, query), "data-link": true, "data-testid": "back-to-worklist" }, "Worklist"),
    " / ",
    crumbImage,
  );
  const saveStatus = h("span", { class: "save-status", "data-testid": "save-status", role: "status" }, "");
  const viewportEl = h("div", { class: "viewport" });
  viewportEl.addEventListener("contextmenu", (e) => e.preventDefault());
  const corners = {
    tl: h("div", { class: "corner tl", "data-testid": "overlay-tl" }),
    tr: h("div", { class: "corner tr", "data-testid": "overlay-tr" }),
    bl: h("div", { class: "corner bl", "data-testid": "overlay-bl" }),
    br: h("div", { class: "corner br", "data-testid": "overlay-br" }),
    // the pixel under the pointer: position and value (HU on CT)
    bc: h("div", { class: "corner bc", "data-testid": "overlay-value" }),
  };
  const orient = {
    left: h("div", { class: "orient left", "data-testid": "orient-left" }),
    right: h("div", { class: "orient right", "data-testid": "orient-right" }),
    top: h("div", { class: "orient top", "data-testid": "orient-top" }),
    bottom: h("div", { class: "orient bottom", "data-testid": "orient-bottom" }),
  };
  const notice = h("div", { class: "viewer-notice" });
  /** what the box → mask assist last did (engine, time, why it fell back) */
  const assistInfo = h("div", { class: "assist-info", "data-testid": "assist-info" });
  const wrap = h("div", { class: "viewer-wrap", "data-testid": "viewer" }, viewportEl, corners.tl, corners.tr, corners.bl, corners.br, corners.bc, orient.left, orient.right, orient.top, orient.bottom, notice, assistInfo);
  const toolbarSlot = h("div", { class: "toolbar-slot" });
  const pickerSlot = h("div", {});
  const annList = annotationList({
    select: (key) => select(key),
    accept: (key) => setStatus([key], "accepted"),
    reject: (key) => setStatus([key], "rejected"),
    remove: (key) => remove(key),
  });
  const imageStatus = h("p", { class: "image-status", "data-testid": "image-status" });
  const tagsBox = h("div", { class: "tags", "data-testid": "tags" });
  const conflictSlot = h("div", {});
  const errorSlot = h("div", {});
  const sidebar = h(
    "aside",
    { class: "sidebar" },
    conflictSlot,
    errorSlot,
    imageStatus,
    h("h2", {}, "Class for new labels"),
    pickerSlot,
    h("h2", {}, "Labels on this image"),
    annList.el,
    h("h2", {}, "Image tags"),
    tagsBox,
  );
  const page = h(
    "div",
    { class: "page annotate" },
    topBar(ctx, crumbs, saveStatus),
    toolbarSlot,
    h("main", { class: "stage" }, wrap, sidebar),
  );
  root.appendChild(page);
  const status = (text: string) => (notice.textContent = text);
  status("Loading…");

  // ---- state ----
  let image: ImageDetail | null = null;
  let view: StackView | null = null;
  let overlay: AnnotationOverlay | null = null;
  let annotatedIndex = 0;
  let classes = new Map<number, LabelClass>();
  let mode: EditMode = "select";
  let selectedKey: string | null = null;
  let activeClass: number | null = null;
  let brushRadius = 6;
  const threshold = { enabled: false, lower: -500, upper: 500 };
  let showProposals = true;
  let showAccepted = true;
  let outline = false;
  let opacity = 1;
  let measureTool: MeasureTool | null = null;
  /** the image's values are Hounsfield units: the threshold brush applies */
  let hu = false;
  let cursor: OverlayState["cursor"] = null;
  let draft: OverlayState["draft"] = null;
  let presets: WindowPreset[] = [];
  let presetIndex = -1;
  /** the window the radiologist chose (a drag or a preset): it stays while scrolling the series */
  let userWindow: { center: number; width: number } | null = null;
  let windowDrag = false;
  let modalEl: HTMLElement | null = null;
  let tb: ReturnType<typeof toolbar> | null = null;
  let picker: ReturnType<typeof labelPicker> | null = null;
  let rendered = false;

  const sink = (change: Change, d: AnnotationDoc) => {
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
  /** One document per image: its labels, its undo history. */
  function newDoc(id: number): AnnotationDoc {
    const d = new AnnotationDoc(id, sink);
    d.onChange(() => {
      if (selectedKey && !d.get(selectedKey)) selectedKey = null;
      render();
      renderSidebar();
    });
    return d;
  }
  let doc = newDoc(imageId);
  queue.setOnSaved((key, saved: Annotation | null) => doc.acknowledge(key, saved?.id ?? null, saved?.version ?? null));
  cleanups.push(() => queue.setOnSaved(undefined));

  const activity = new ActivityTracker();
  const commitActivity = () => queue.addActivity(imageId, activity.take());
  const activityTimer = setInterval(commitActivity, 15_000);
  cleanups.push(() => {
    clearInterval(activityTimer);
    commitActivity();
    activity.stop();
  });

  // ---- rendering ----
  const visible = (a: LocalAnnotation) => isVisible(a, { showProposals, showAccepted });
  let frame = 0;
  function render() {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      renderNow();
    });
  }
  function renderNow() {
    if (!overlay || !view) return;
    const onSlice = view.index === annotatedIndex;
    const affine = onSlice ? view.pixelToCanvas() : null;
    // where image pixels are on screen, for tests and measurements
    wrap.dataset.pixelToCanvas = affine ? affine.map((v) => v.toFixed(4)).join(",") : "";
    const t0 = performance.now();
    overlay.render({
      affine,
      annotations: doc.list(),
      classes,
      selectedKey,
      showProposals,
      showAccepted,
      outline,
      opacity,
      mmPerPixel: image?.pixel_spacing ? image.pixel_spacing[1] : null,
      highlight: queue
        .state()
        .conflicts.filter((o) => o.imageId === imageId)
        .map((o) => o.key),
      cursor,
      draft,
    });
    wrap.dataset.overlayMs = (performance.now() - t0).toFixed(2);
    notice.textContent = onSlice ? "" : "Loading this slice's labels…";
  }

  function renderCorners() {
    if (!view || !image) return;
    corners.tl.textContent = `${image.series.modality || image.modality} · Series ${image.series.series_number ?? "—"}`;
    corners.tr.textContent = `Slice ${view.index + 1}/${view.count}`;
    const w = view.getWindow();
    const named = presetNamed(presets, w);
    corners.bl.textContent = w ? `W ${Math.round(w.width)} / L ${Math.round(w.center)}${named ? ` · ${named.label}` : ""}` : "";
    corners.br.textContent = `${image.patient} · ${image.split} · ${doc.status.replace("_", " ")}`;
    const plane = view.plane();
    const marks = plane ? orientationMarkers(plane) : null;
    for (const side of ["left", "right", "top", "bottom"] as const) orient[side].textContent = marks?.[side] ?? "";
  }

  function renderSidebar() {
    annList.update({ annotations: doc.list(), classes, selectedKey });

    clear(tagsBox);
    const tagClasses = [...classes.values()].filter((c) => c.kind === "tag");
    for (const c of tagClasses) {
      const box = h("input", { type: "checkbox", checked: doc.tags.includes(c.id), "data-tag-id": c.id });
      box.addEventListener("change", () => {
        const next = box.checked ? [...doc.tags, c.id] : doc.tags.filter((t) => t !== c.id);
        doc.execute({ label: "Tags", changes: [doc.setTags(next)] });
      });
      tagsBox.appendChild(h("label", {}, box, " ", c.name));
    }
    if (!tagClasses.length) tagsBox.appendChild(h("p", { class: "muted" }, "This project has no image tags."));
    picker?.setActive(activeClass);
    tb?.update({
      mode,
      brushRadius,
      threshold,
      showProposals,
      showAccepted,
      canUndo: doc.history.canUndo,
      canRedo: doc.history.canRedo,
      done: doc.status === "done",
      outline,
      measure: measureTool,
    });
    imageStatus.textContent = doc.status === "done" ? "Done ✓" : `Status: ${doc.status.replace("_", " ")}`;
    imageStatus.dataset.status = doc.status;
    renderCorners();
  }

  function renderSaveState(s: SaveState) {
    const here = s.pending;
    const text =
      s.mode === "auth"
        ? `Session expired — ${here} edit(s) kept on this device`
        : s.mode === "offline"
          ? `Offline — ${here} edit(s) kept on this device, retrying`
          : s.mode === "saving"
            ? "Saving…"
            : s.mode === "pending"
              ? `${here} unsaved edit(s)`
              : s.conflicts.length || s.errors.length
                ? "Needs your decision"
                : "All changes saved";
    saveStatus.textContent = text;
    saveStatus.dataset.mode = s.mode;
    clear(conflictSlot);
    const conflicts = s.conflicts.filter((o) => o.imageId === imageId);
    const regions = new Map(conflicts.map((o) => [o.key, unionBox([o.conflict?.theirs?.box, doc.get(o.key)?.box])]));
    const panel = conflictPanel({
      ops: conflicts,
      me: ctx.me.username,
      mine: (k) => doc.get(k),
      classes,
      picture: (key, version, cls) => versionPicture(regions.get(key) ?? null, version, cls),
      choose: (key, choice) => {
        if (choice === "mine") queue.keepMine(key, doc.get(key) ?? null);
        else {
          const theirs = queue.takeTheirs(key);
          doc.replace(theirs ? fromServer(theirs) : null, key);
        }
      },
    });
    if (panel) conflictSlot.appendChild(panel);
    render();
    clear(errorSlot);
    for (const op of s.errors.filter((o) => o.imageId === imageId)) {
      errorSlot.appendChild(
        h(
          "div",
          { class: "save-error", role: "alert" },
          h("p", {}, `The server refused an edit: ${op.error}`),
          h("button", { type: "button", on: { click: () => queue.discard(op.key) } }, "Discard that edit"),
        ),
      );
    }
    if (s.mode === "auth") void ctx.relogin();
  }
  cleanups.push(queue.onState(renderSaveState));

  // ---- actions ----
  /** Selection is looking: it saves nothing and leaves the class for new labels as it is. */
  function select(key: string | null) {
    selectedKey = key;
    render();
    renderSidebar();
  }

  function ordered(): LocalAnnotation[] {
    return doc
      .list()
      .filter(visible)
      .sort((a, b) => (b.score ?? 2) - (a.score ?? 2));
  }

  function setStatus(keys: string[], s: "accepted" | "rejected", label = s === "accepted" ? "Accept" : "Reject") {
    const changes = keys.map((k) => doc.update(k, { status: s })).filter((c): c is Change => !!c);
    doc.execute({ label, changes });
  }

  /** Delete a label a person drew or imported (audited); rejecting is for the model's labels. */
  function remove(key: string) {
    const change = doc.remove(key);
    if (change) doc.execute({ label: "Delete", changes: [change] });
  }

  /**
   * A / R act on the selected label, or the most confident proposal; then move to the next
   * proposal. Only the model's labels are rejected: R skips a label a person drew.
   */
  function decide(s: "accepted" | "rejected") {
    const selected = selectedKey ? doc.get(selectedKey) : undefined;
    const target =
      (selected && (s === "accepted" || selected.source === "model") ? selected : undefined) ??
      ordered().find((a) => a.status === "proposed");
    if (!target) return;
    setStatus([target.key], s);
    const next = ordered().find((a) => a.status === "proposed" && a.key !== target.key);
    select(next ? next.key : s === "accepted" ? target.key : null);
  }

  function pickClass(id: number) {
    activeClass = id;
    const a = selectedKey ? doc.get(selectedKey) : undefined;
    if (a && a.label_class !== id) {
      const c = doc.update(a.key, { label_class: id });
      if (c) doc.execute({ label: "Change class", changes: [c] });
    }
    renderSidebar();
  }

  function setMode(m: EditMode, tool: MeasureTool | null = null) {
    mode = m;
    measureTool = m === "measure" ? tool : null;
    setMeasureTool(measureTool);
    wrap.dataset.mode = m;
    if (m !== "brush" && m !== "eraser") cursor = null;
    render();
    renderSidebar();
  }

  async function goNext() {
    commitActivity();
    void queue.flush();
    const next = await nextImageId(slug, query, imageId);
    ctx.navigate(next != null ? imagePath(slug, next, query) : worklistPath(slug, query));
  }

  function openModal(el: HTMLElement) {
    closeModal();
    modalEl = el;
    page.appendChild(el);
  }

  function closeModal() {
    modalEl?.remove();
    modalEl = null;
  }

  function toggleHelp() {
    if (modalEl?.dataset.testid === "help") return closeModal();
    openModal(helpOverlay(commands.list(), closeModal));
  }

  /** Done (and on to the next image); asks first while proposals are still unreviewed. */
  function markDone(thenNext: boolean) {
    const open = doc.list().filter((a) => a.status === "proposed").map((a) => a.key);
    const finish = () => {
      closeModal();
      commitActivity();
      if (doc.status !== "done") doc.execute({ label: "Done", changes: [doc.setStatus("done")] });
      void queue.flush();
      if (thenNext) void goNext();
    };
    if (!open.length) return finish();
    openModal(
      confirmDone(open.length, {
        rejectRest: () => {
          setStatus(open, "rejected", "Reject the rest");
          finish();
        },
        anyway: finish,
        cancel: closeModal,
      }),
    );
  }

  /** The class keys, named after the project's classes (once they are known). */
  function classCommands(): NamedCommand[] {
    return [...classes.values()]
      .filter((k) => k.kind === "instance")
      .slice(0, 9)
      .map((c, i) => cmd(`class.${i + 1}`, `${c.name} (for new labels and the selected one)`, "Classes", [String(i + 1)], () => pickClass(c.id)));
  }

  const commands = new CommandRegistry();
  const cmd = (id: string, label: string, group: string, keys: string[], run: () => void): NamedCommand => ({ id, label, group, keys, run });
  commands.register(
    cmd("label.accept", "Accept the selected label (or the top proposal)", "Labels", ["a", "enter"], () => decide("accepted")),
    cmd("label.acceptAll", "Accept all proposals on this image", "Labels", ["shift+a"], () =>
      setStatus(doc.list().filter((a) => a.status === "proposed").map((a) => a.key), "accepted", "Accept all"),
    ),
    cmd("label.reject", "Reject the selected proposal (or the top proposal)", "Labels", ["r"], () => decide("rejected")),
    cmd("label.runnerUp", "Switch the selected label to the model's runner-up class", "Labels", ["x"], () => {
      const a = (selectedKey && doc.get(selectedKey)) || ordered().find((p) => p.status === "proposed");
      const alt = a && runnerUp(a, classes);
      if (!a || !alt) return;
      const change = doc.update(a.key, { label_class: alt.label_class });
      if (change) doc.execute({ label: "Runner-up class", changes: [change] });
      select(a.key);
    }),
    cmd("label.copyNext", "Copy the selected label to the next slice", "Labels", ["c"], () => copyToSlice(1)),
    cmd("label.copyPrev", "Copy the selected label to the previous slice", "Labels", ["shift+c"], () => copyToSlice(-1)),
    cmd("label.propagateNext", "Propagate the selected label to the next slice: copy, then fit with box → mask", "Labels", ["f"], () =>
      copyToSlice(1, true),
    ),
    cmd("label.propagatePrev", "Propagate the selected label to the previous slice", "Labels", ["shift+f"], () => copyToSlice(-1, true)),
    cmd("label.rejectRest", "Reject the remaining proposals", "Labels", ["shift+r"], () =>
      setStatus(doc.list().filter((a) => a.status === "proposed").map((a) => a.key), "rejected", "Reject the rest"),
    ),
    cmd("label.delete", "Delete the selected label you drew (reject a proposal)", "Labels", ["delete", "backspace"], () => {
      const a = selectedKey ? doc.get(selectedKey) : undefined;
      if (a && a.source !== "model") remove(a.key);
      else decide("rejected");
    }),
    cmd("label.nextSel", "Select the next label", "Labels", ["tab"], () => {
      const list = ordered();
      if (!list.length) return;
      const i = list.findIndex((a) => a.key === selectedKey);
      select(list[(i + 1) % list.length].key);
    }),
    cmd("label.deselect", "Deselect", "Labels", ["escape"], () => select(null)),
    cmd("mode.select", "Select, move and resize", "Tools", ["v"], () => setMode("select")),
    cmd("mode.box", "Draw a new box", "Tools", ["b"], () => setMode("box")),
    cmd("mode.assist", "Box → mask: drag a box around a lesion, a mask is fitted inside it", "Tools", ["m"], () => setMode("assist")),
    cmd("mode.brush", "Brush (paint mask)", "Tools", ["p"], () => setMode("brush")),
    cmd("mode.eraser", "Eraser", "Tools", ["e"], () => setMode("eraser")),
    cmd("measure.length", "Measure a length (mm); not a label", "Measure", ["l"], () => setMode("measure", "length")),
    cmd("measure.probe", "Probe the value under a point", "Measure", ["u"], () => setMode("measure", "probe")),
    cmd("measure.ellipse", "Ellipse ROI statistics", "Measure", ["shift+e"], () => setMode("measure", "ellipse")),
    cmd("measure.clear", "Clear measurements", "Measure", ["shift+l"], () => {
      clearMeasurements();
      view?.viewport.render();
    }),
    cmd("brush.smaller", "Smaller brush", "Tools", ["["], () => ((brushRadius = Math.max(1, brushRadius - 1)), renderSidebar(), render())),
    cmd("brush.bigger", "Bigger brush", "Tools", ["]"], () => ((brushRadius = Math.min(40, brushRadius + 1)), renderSidebar(), render())),
    cmd("brush.threshold", "Threshold brush on/off (HU range)", "Tools", ["t"], () => ((threshold.enabled = !threshold.enabled), renderSidebar())),
    cmd("edit.undo", "Undo", "Edit", ["ctrl+z"], () => doc.undo()),
    cmd("edit.redo", "Redo", "Edit", ["ctrl+shift+z", "ctrl+y"], () => doc.redo()),
    cmd("toggle.proposals", "Show/hide proposals", "View", ["h"], () => ((showProposals = !showProposals), render(), renderSidebar())),
    cmd("toggle.accepted", "Show/hide accepted labels", "View", ["shift+h"], () => ((showAccepted = !showAccepted), render(), renderSidebar())),
    cmd("toggle.outline", "Masks as outlines only / filled", "View", ["o"], () => ((outline = !outline), render(), renderSidebar())),
    cmd("view.opacity", "Mask fill: full, half, quarter", "View", ["shift+o"], () => {
      opacity = opacity === 1 ? 0.5 : opacity === 0.5 ? 0.25 : 1;
      render();
    }),
    cmd("view.preset", "Next window preset", "View", ["w"], () => {
      if (!presets.length) return;
      presetIndex = (presetIndex + 1) % presets.length;
      chooseWindow(presets[presetIndex]);
    }),
    cmd("view.invert", "Invert", "View", ["i"], () => view?.toggleInvert()),
    cmd("view.reset", "Reset view", "View", ["0"], () => {
      userWindow = null;
      view?.reset();
    }),
    cmd("view.zoomIn", "Zoom in", "View", ["+", "="], () => view?.zoom(1.25)),
    cmd("view.zoomOut", "Zoom out", "View", ["-"], () => view?.zoom(0.8)),
    cmd("view.prev", "Previous slice", "View", ["arrowup", "pageup"], () => view?.scroll(-1)),
    cmd("view.next", "Next slice", "View", ["arrowdown", "pagedown"], () => view?.scroll(1)),
    cmd("image.done", "Mark image done", "Image", ["d"], () => markDone(false)),
    cmd("image.doneNext", "Mark done and open the next image", "Image", ["shift+d"], () => markDone(true)),
    cmd("image.next", "Next image in the worklist", "Image", ["n"], () => void goNext()),
    cmd("help", "Show this help", "Help", ["?"], toggleHelp),
  );

  const onKey = (e: KeyboardEvent) => {
    const t = e.target as HTMLElement | null;
    if (t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA") && e.key !== "Escape") return;
    if (document.querySelector(".relogin")) return;
    if (modalEl) {
      // a modal is open: keys do not act behind it; Escape (and ? for the help) close it
      if (e.key === "Escape" || (e.key === "?" && modalEl.dataset.testid === "help")) {
        e.preventDefault();
        closeModal();
      }
      return;
    }
    const c = commands.forKey(keyOf(e));
    if (!c) return;
    e.preventDefault();
    c.run();
  };
  document.addEventListener("keydown", onKey);
  cleanups.push(() => document.removeEventListener("keydown", onKey));

  const onHidden = () => {
    if (document.visibilityState === "hidden") {
      commitActivity();
      void queue.flush();
    }
  };
  const onUnload = () => {
    commitActivity();
    void queue.flush();
  };
  document.addEventListener("visibilitychange", onHidden);
  window.addEventListener("beforeunload", onUnload);
  cleanups.push(() => {
    document.removeEventListener("visibilitychange", onHidden);
    window.removeEventListener("beforeunload", onUnload);
  });

  // ---- conflict pictures ----
  /**
   * One version of a label drawn over the image region it is about: the viewer's own pixels
   * (as windowed now) cropped to `region`, the mask and box in the class colour on top.
   */
  function versionPicture(
    region: Box | null,
    version: { box: number[]; mask: Annotation["mask"] | LocalAnnotation["mask"] } | null,
    cls: number,
  ): HTMLElement | null {
    const affine = view && view.index === annotatedIndex ? view.pixelToCanvas() : null;
    const source = viewportEl.querySelector("canvas");
    if (!region || !affine || !source || !image) return null;
    const size = 128;
    const side = Math.max(region[2], region[3]) + 24;
    const x0 = Math.max(0, region[0] + region[2] / 2 - side / 2);
    const y0 = Math.max(0, region[1] + region[3] / 2 - side / 2);
    const out = h("canvas", { class: "version-picture", width: size, height: size });
    const c = out.getContext("2d");
    if (!c) return out;
    const scaleX = source.width / (source.clientWidth || source.width);
    const scaleY = source.height / (source.clientHeight || source.height);
    const [sx, sy] = applyAffine(affine, [x0, y0]);
    const [ex, ey] = applyAffine(affine, [x0 + side, y0 + side]);
    c.imageSmoothingEnabled = false;
    c.drawImage(source, sx * scaleX, sy * scaleY, (ex - sx) * scaleX, (ey - sy) * scaleY, 0, 0, size, size);
    const color = classes.get(cls)?.color ?? "#ffcc00";
    const k = size / side;
    if (!version) {
      c.fillStyle = "rgba(0,0,0,0.6)";
      c.fillRect(0, 0, size, size);
      c.fillStyle = "#fff";
      c.font = "13px system-ui, sans-serif";
      c.fillText("deleted", 8, size / 2);
      return out;
    }
    const mask = version.mask ? ("counts" in version.mask ? decodeRle(version.mask) : version.mask) : null;
    if (mask) {
      c.fillStyle = color;
      c.globalAlpha = 0.45;
      for (let y = Math.floor(y0); y < Math.min(mask.height, y0 + side); y++) {
        for (let x = Math.floor(x0); x < Math.min(mask.width, x0 + side); x++) {
          if (mask.data[y * mask.width + x]) c.fillRect((x - x0) * k, (y - y0) * k, Math.ceil(k), Math.ceil(k));
        }
      }
      c.globalAlpha = 1;
    }
    const [bx, by, bw, bh] = version.box;
    c.strokeStyle = color;
    c.lineWidth = 2;
    c.strokeRect((bx - x0) * k, (by - y0) * k, bw * k, bh * k);
    return out;
  }

  // ---- window ----
  function chooseWindow(w: { center: number; width: number }) {
    userWindow = { center: w.center, width: w.width };
    view?.setWindow(w.center, w.width);
  }

  /** Keep the chosen window on every slice (Cornerstone gives each new image its own). */
  function holdWindow() {
    if (!view || !userWindow) return;
    const w = view.getWindow();
    if (!w || Math.abs(w.center - userWindow.center) > 0.5 || Math.abs(w.width - userWindow.width) > 0.5) {
      view.setWindow(userWindow.center, userWindow.width);
    }
  }

  // ---- slices ----
  let sliceIds: number[] = [];
  let switching = 0;
  /** a label to lay on the next slice once its labels are loaded (copy to the next slice) */
  /** `fit`: propagate, i.e. fit the copy to the new slice with box → mask */
  let carried: { imageId: number; label_class: number; box: Box; mask: Mask | null; width: number; height: number; fit: boolean } | null = null;

  /**
   * Copy the selected label (box and mask) onto the neighbouring slice, which opens; with `fit`
   * (propagate) the copy is then fitted to that slice by box → mask.
   */
  function copyToSlice(step: 1 | -1, fit = false) {
    const a = selectedKey ? doc.get(selectedKey) : undefined;
    if (!a || !view || !image) return;
    const target = annotatedIndex + step;
    if (target < 0 || target >= sliceIds.length) return;
    carried = { imageId: sliceIds[target], label_class: a.label_class, box: [...a.box] as Box, mask: a.mask ? cloneMask(a.mask) : null, width: image.columns, height: image.rows, fit };
    void view.setIndex(target);
  }

  // ---- box → mask ----
  /** the assist's last label while it is still an unreviewed proposal: a new box replaces it */
  let assisted: string | null = null;
  let assistSeq = 0;

  /**
   * Box → mask: the server fits a mask inside the box (the active model, else a classical
   * method in the window on screen); it appears as a proposal of the class for new labels,
   * to accept (Enter), fix with the brush, or replace by dragging again.
   */
  async function assist(box: Box, released: number) {
    const cls = activeClass;
    if (cls == null || !image) return status("Pick a class first (1-9).");
    const seq = ++assistSeq;
    const fitted = await fitInBox(box, cls, seq);
    if (!fitted || fitted === "stale") return;
    const previous = assisted ? doc.get(assisted) : undefined;
    if (previous && previous.status === "proposed" && previous.source === "assist") {
      const change = doc.update(previous.key, fitted.fields);
      if (change) doc.execute({ label: "Box → mask again", changes: [change] });
    } else {
      assisted = newKey();
      doc.execute({ label: "Box → mask", changes: [doc.create({ key: assisted, id: null, version: null, ...fitted.fields, ...fitted.origin })] });
    }
    select(assisted);
    renderNow();
    wrap.dataset.assistMs = (performance.now() - released).toFixed(1);
  }

  /**
   * Ask the server for a mask fitted inside `box` on the image being labelled, showing the box
   * meanwhile and what answered after; "stale" when a newer box or another slice came first,
   * null when the answer is empty or an error (said on the page).
   */
  async function fitInBox(box: Box, cls: number, seq: number) {
    const forImage = imageId;
    draft = box;
    render();
    const w = view?.getWindow();
    let result;
    try {
      result = await segmentBox(
        forImage,
        { box: [box[0], box[1], box[0] + box[2], box[1] + box[3]], label_class: cls, window: w ? [w.center, w.width] : undefined },
        abort.signal,
      );
    } catch (e) {
      if (abort.signal.aborted) return "stale";
      draft = null;
      render();
      assistInfo.textContent = `Box → mask failed: ${e instanceof ApiError ? e.detail : String((e as Error).message ?? e)}`;
      return null;
    }
    if (seq !== assistSeq || forImage !== imageId) {
      if (forImage !== imageId) draft = null;
      return "stale";
    }
    draft = null;
    const mask = decodeRle(result.mask);
    const bbox = maskBbox(mask);
    const engine = `${result.engine === "model" ? `model v${result.model_version}` : "classical"} engine, ${Math.round(result.ms)} ms on the server`;
    if (!bbox) {
      render();
      assistInfo.textContent = `Box → mask found nothing in the box (${engine}).`;
      return null;
    }
    const note = result.note ? ` (${result.note.replace(/\.$/, "")})` : "";
    assistInfo.textContent = `Box → mask: ${engine}${note}. Enter accepts.`;
    return {
      fields: { label_class: cls, box: bbox, mask, status: "proposed" as const },
      origin: { score: result.score, source: "assist" as const, model_version: result.model_version },
    };
  }

  /** Propagate: the label copied from the neighbouring slice, fitted to this one (a proposal). */
  async function fitCarried(c: NonNullable<typeof carried>) {
    const pad = Math.max(2, Math.round(0.15 * Math.max(c.box[2], c.box[3])));
    const x = Math.max(0, c.box[0] - pad);
    const y = Math.max(0, c.box[1] - pad);
    const box: Box = [x, y, Math.min(c.width, c.box[0] + c.box[2] + pad) - x, Math.min(c.height, c.box[1] + c.box[3] + pad) - y];
    const fitted = await fitInBox(box, c.label_class, ++assistSeq);
    if (fitted === "stale") return;
    if (!fitted) return layCarried(c, "Copy from the neighbouring slice (the fit found nothing)");
    assisted = newKey();
    doc.execute({ label: "Propagate from the neighbouring slice", changes: [doc.create({ key: assisted, id: null, version: null, ...fitted.fields, ...fitted.origin })] });
    select(assisted);
  }

  /** Lay the carried label on the image just opened (fitted to it when propagating). */
  function dropCarried() {
    const c = carried;
    carried = null;
    if (!c || !image || c.imageId !== image.id || c.width !== image.columns || c.height !== image.rows) return;
    if (c.fit) void fitCarried(c);
    else layCarried(c, "Copy from the neighbouring slice");
  }

  /** The carried label as it was, as an undoable edit of this image. */
  function layCarried(c: NonNullable<typeof carried>, label: string) {
    const key = newKey();
    doc.execute({
      label,
      changes: [
        doc.create({ key, id: null, version: null, label_class: c.label_class, box: c.box, mask: c.mask, status: "accepted", score: null, source: "human", model_version: null }),
      ],
    });
    select(key);
  }

  /** Make the slice on screen the image being labelled: its own labels, tags, status and undo. */
  async function labelSlice() {
    if (!view) return;
    const index = view.index;
    const id = sliceIds[index];
    const seq = ++switching; // a later scroll wins over a load still on its way
    if (id === undefined || id === imageId) return;
    commitActivity();
    void queue.flush();
    let detail: ImageDetail;
    let anns: Annotation[];
    try {
      [detail, anns] = await Promise.all([getImage(id, abort.signal), listAnnotations(id, abort.signal)]);
    } catch (e) {
      if (!abort.signal.aborted) status(`Could not load this slice's labels (${String((e as Error).message ?? e)}).`);
      return;
    }
    if (seq !== switching || abort.signal.aborted || !view) return;
    imageId = id;
    image = detail;
    annotatedIndex = index;
    selectedKey = null;
    doc = newDoc(id);
    doc.load(applyPending(anns.map(fromServer), queue.pendingAnnotations(id)), detail.tags, detail.status);
    dropCarried();
    history.replaceState(null, "", imagePath(slug, id, query));
    crumbImage.textContent = `Image ${id}`;
    document.title = document.title.replace(/^Image \d+/, `Image ${id}`);
    wrap.dataset.imageId = String(id);
    render();
    renderSidebar();
    if (queue.pendingAnnotations(id).length) void queue.flush();
  }

  // ---- load ----
  (async () => {
    // Everything that does not depend on the image's details starts at once: the viewer's
    // rendering engine, the DICOM download (into the HTTP cache the loader reads from) and,
    // when the worklist told us the series, the frame numbers of the stack.
    const hint = worklistItems.get(imageId);
    if (!hint || hint.frame_number === 1) {
      void fetch(`/api/images/${imageId}/dicom/`, { credentials: "same-origin", signal: abort.signal }).catch(() => {});
    }
    const seriesList = (seriesId: number) =>
      listImages(slug, { series: String(seriesId), page_size: "1000" }, abort.signal).catch(() => null);
    const earlySeries = hint ? seriesList(hint.series_id) : null;
    const viewP = startViewer(viewportEl, abort.signal);
    const [p, detail, anns, v] = await Promise.all([
      getProject(slug),
      getImage(imageId, abort.signal),
      listAnnotations(imageId, abort.signal),
      viewP,
    ]);
    if (abort.signal.aborted || !v) {
      v?.destroy();
      return;
    }
    view = v;
    image = detail;
    document.title = `Image ${imageId} · ${p.name} · RadLabel`;
    classes = new Map(p.label_classes.map((c) => [c.id, c]));
    commands.register(...classCommands());
    activeClass = p.label_classes.find((c) => c.kind === "instance")?.id ?? null;
    presets = presetsFor(detail);

    // frame numbers of the series, so multi-frame instances share one download
    const known = new Map<number, ImageListItem>([[detail.id, detail]]);
    const ids = detail.series.image_ids.length ? detail.series.image_ids : [detail.id];
    if (ids.length > 1) {
      const res = await (earlySeries && hint?.series_id === detail.series.id ? earlySeries : seriesList(detail.series.id));
      for (const it of res?.results ?? []) known.set(it.id, it);
    }
    const imageIds = wadouriImageIds(ids, known, location.origin);
    annotatedIndex = Math.max(0, ids.indexOf(detail.id));
    sliceIds = ids;

    doc.load(applyPending(anns.map(fromServer), queue.pendingAnnotations(imageId)), detail.tags, detail.status);

    hu = (detail.series.modality || detail.modality) === "CT";
    tb = toolbar(commands, presets, hu, {
      brushRadius: (r) => ((brushRadius = r), renderSidebar(), render()),
      threshold: (t) => (Object.assign(threshold, t), renderSidebar()),
      preset: chooseWindow,
      measure: (choice) => {
        if (choice === "clear") {
          clearMeasurements();
          view?.viewport.render();
          setMode("select");
        } else setMode("measure", choice as MeasureTool);
      },
    });
    toolbarSlot.appendChild(tb.el);
    picker = labelPicker(p.label_classes, pickClass);
    pickerSlot.appendChild(picker.el);

    overlay = new AnnotationOverlay(wrap);
    const controller = new EditController(wrap, {
      get doc() {
        return doc;
      },
      get width() {
        return image?.columns ?? detail.columns;
      },
      get height() {
        return image?.rows ?? detail.rows;
      },
      mode: () => mode,
      affine: () => (view && view.index === annotatedIndex ? view.pixelToCanvas() : null),
      selected: () => selectedKey,
      select,
      visible,
      brushRadius: () => brushRadius,
      paintFilter: () => {
        if (!hu || !threshold.enabled || !view) return undefined;
        const sample = view.valueSampler();
        if (!sample) return undefined;
        return (x, y) => {
          const v = sample(x, y);
          return v >= threshold.lower && v <= threshold.upper;
        };
      },
      newClass: () => activeClass,
      newKey,
      setCursor: (c) => (cursor = c),
      setDraft: (b) => (draft = b),
      maskChanged: (m: Mask) => {
        maskEdited(m);
        overlay?.invalidate(m);
      },
      render,
      created: (key) => {
        select(key);
        if (mode === "box") setMode("select");
      },
      assist: (box, released) => void assist(box, released),
    });
    cleanups.push(() => controller.destroy());

    for (const ev of [ViewerEvents.IMAGE_RENDERED, ViewerEvents.CAMERA_MODIFIED]) {
      cleanups.push(view.on(ev, () => renderNow()));
    }
    for (const ev of [ViewerEvents.VOI_MODIFIED, ViewerEvents.STACK_NEW_IMAGE]) {
      cleanups.push(view.on(ev, () => renderCorners()));
    }
    // position and value of the pixel under the pointer
    const onHoverValue = (e: MouseEvent) => {
      const m = view?.pixelToCanvas();
      const sample = view?.valueSampler();
      if (!m || !sample || !image) return void (corners.bc.textContent = "");
      const rect = wrap.getBoundingClientRect();
      const [px, py] = applyAffine(invertAffine(m), [e.clientX - rect.left, e.clientY - rect.top]);
      const x = Math.floor(px);
      const y = Math.floor(py);
      if (x < 0 || y < 0 || x >= image.columns || y >= image.rows) return void (corners.bc.textContent = "");
      const v = sample(x, y);
      corners.bc.textContent = `x ${x}  y ${y} · ${Math.round(v * 10) / 10}${hu ? " HU" : ""}`;
    };
    wrap.addEventListener("mousemove", onHoverValue);
    cleanups.push(() => wrap.removeEventListener("mousemove", onHoverValue));
    // a left drag that reached Cornerstone (no edit tool took it) is window/level
    const onWindowDown = (e: MouseEvent) => {
      if (e.button === 0) windowDrag = true;
    };
    const onWindowUp = () => (windowDrag = false);
    wrap.addEventListener("mousedown", onWindowDown);
    window.addEventListener("mouseup", onWindowUp);
    cleanups.push(
      () => wrap.removeEventListener("mousedown", onWindowDown),
      () => window.removeEventListener("mouseup", onWindowUp),
      view.on(ViewerEvents.VOI_MODIFIED, () => {
        if (windowDrag) userWindow = view?.getWindow() ?? userWindow;
      }),
      view.on(ViewerEvents.STACK_NEW_IMAGE, holdWindow),
      view.on(ViewerEvents.IMAGE_RENDERED, holdWindow),
    );
    // the slice scrolled to becomes the one being labelled, once scrolling pauses
    let switchTimer: ReturnType<typeof setTimeout> | undefined;
    cleanups.push(
      view.on(ViewerEvents.STACK_NEW_IMAGE, () => {
        clearTimeout(switchTimer);
        switchTimer = setTimeout(() => void labelSlice(), 120);
      }),
      () => clearTimeout(switchTimer),
    );
    cleanups.push(
      view.on(ViewerEvents.IMAGE_RENDERED, () => {
        renderCorners();
        if (!rendered) {
          rendered = true;
          wrap.dataset.ready = "true";
          performance.mark("radlabel:first-image");
          status("");
          // the rest of the series, once the first pixels are up
          setTimeout(() => view?.prefetch(), 0);
          // radiographs, MR, US: windows from the image's own values, besides its default
          if (!hu) {
            const values = view?.values();
            if (values) presets = [...presets, ...percentilePresets(values)];
            tb?.setPresets(presets);
          }
        }
      }),
    );
    const onLoadError = (e: Event) => {
      const detail = (e as CustomEvent<{ imageId?: string; error?: unknown }>).detail;
      console.error("image load failed", detail?.imageId, detail?.error);
      if (detail?.imageId === imageIds[annotatedIndex]) status("This image could not be decoded.");
    };
    eventTarget.addEventListener(ViewerEvents.IMAGE_LOAD_ERROR, onLoadError);
    cleanups.push(() => eventTarget.removeEventListener(ViewerEvents.IMAGE_LOAD_ERROR, onLoadError));
    wrap.dataset.imageId = String(imageId);
    await view.setStack(imageIds, annotatedIndex);
    if (abort.signal.aborted) return;
    if (detail.window_center != null && detail.window_width != null && detail.window_width > 0) {
      view.setWindow(detail.window_center, detail.window_width);
    }
    renderSidebar();
    render();
    if (queue.pendingAnnotations(imageId).length) void queue.flush();
  })().catch((e) => {
    if (abort.signal.aborted) return;
    status(`Could not open this image (${String((e as Error).message ?? e)}).`);
  });

  return () => {
    abort.abort();
    if (frame) cancelAnimationFrame(frame);
    for (const c of cleanups.reverse()) c();
    overlay?.destroy();
    view?.destroy();
    page.remove();
  };
}
