/** The window (level/width) the radiologist chose, kept while scrolling the series. */
import { ViewerEvents, type StackView } from "../../viewer/viewports";
import type { AnnotatePage } from "./page";

export function chooseWindow({ s }: AnnotatePage, w: { center: number; width: number }): void {
  s.userWindow = { center: w.center, width: w.width };
  s.view?.setWindow(w.center, w.width);
}

/** The next of the image's presets. */
export function nextPreset(p: AnnotatePage): void {
  const { s } = p;
  if (!s.presets.length) return;
  s.presetIndex = (s.presetIndex + 1) % s.presets.length;
  chooseWindow(p, s.presets[s.presetIndex]);
}

/** Keep the chosen window on every slice (Cornerstone gives each new image its own). */
function holdWindow({ s }: AnnotatePage): void {
  const { view, userWindow } = s;
  if (!view || !userWindow) return;
  const w = view.getWindow();
  if (!w || Math.abs(w.center - userWindow.center) > 0.5 || Math.abs(w.width - userWindow.width) > 0.5) {
    view.setWindow(userWindow.center, userWindow.width);
  }
}

/** A left drag that reached Cornerstone (no edit tool took it) is window/level: the window chosen. */
export function keepWindow(p: AnnotatePage, view: StackView): void {
  const { s, ui } = p;
  const onDown = (e: MouseEvent) => {
    if (e.button === 0) s.windowDrag = true;
  };
  const onUp = () => (s.windowDrag = false);
  ui.wrap.addEventListener("mousedown", onDown);
  window.addEventListener("mouseup", onUp);
  p.cleanups.push(
    () => ui.wrap.removeEventListener("mousedown", onDown),
    () => window.removeEventListener("mouseup", onUp),
    view.on(ViewerEvents.VOI_MODIFIED, () => {
      if (s.windowDrag) s.userWindow = view.getWindow() ?? s.userWindow;
    }),
    view.on(ViewerEvents.STACK_NEW_IMAGE, () => holdWindow(p)),
    view.on(ViewerEvents.IMAGE_RENDERED, () => holdWindow(p)),
  );
}
