/** The annotate page's command table: every key and toolbar button runs one of these. */
import type { NamedCommand } from "../../viewer/commands";
import { clearMeasurements } from "../../viewer/toolGroups";
import { decide, deleteSelected, pickClass, proposedKeys, selectNext, setStatus, takeRunnerUp } from "./labels";
import { goNext, markDone, toggleHelp } from "./modal";
import { reviewAccept, reviewing, reviewReturn } from "./review";
import type { AnnotatePage } from "./page";
import { copyToSlice } from "./slices";
import { acceptSuggestion, rejectSuggestion } from "./tags";
import { nextPreset } from "./windowing";

const cmd = (id: string, label: string, group: string, keys: string[], run: () => void): NamedCommand => ({ id, label, group, keys, run });

/** The class keys, named after the project's classes (once they are known). */
export function classCommands(p: AnnotatePage): NamedCommand[] {
  return [...p.s.classes.values()]
    .filter((k) => k.kind === "instance")
    .slice(0, 9)
    .map((c, i) => cmd(`class.${i + 1}`, `${c.name} (for new labels and the selected one)`, "Classes", [String(i + 1)], () => pickClass(p, c.id)));
}

function labelCommands(p: AnnotatePage): NamedCommand[] {
  return [
    cmd("label.accept", "Accept the selected label (or the top proposal); reviewing: accept the image and go on", "Labels", ["a", "enter"], () =>
      reviewing(p) ? void reviewAccept(p) : decide(p, "accepted"),
    ),
    cmd("label.acceptAll", "Accept all proposals on this image", "Labels", ["shift+a"], () => setStatus(p, proposedKeys(p), "accepted", "Accept all")),
    cmd("label.reject", "Reject the selected proposal (or the top proposal); reviewing: return the image with a comment", "Labels", ["r"], () =>
      reviewing(p) ? reviewReturn(p) : decide(p, "rejected"),
    ),
    cmd("label.runnerUp", "Switch the selected label to the model's runner-up class", "Labels", ["x"], () => takeRunnerUp(p)),
    cmd("label.copyNext", "Copy the selected label to the next slice", "Labels", ["c"], () => copyToSlice(p, 1)),
    cmd("label.copyPrev", "Copy the selected label to the previous slice", "Labels", ["shift+c"], () => copyToSlice(p, -1)),
    cmd("label.propagateNext", "Propagate the selected label to the next slice: copy, then fit with box → mask", "Labels", ["f"], () =>
      copyToSlice(p, 1, true),
    ),
    cmd("label.propagatePrev", "Propagate the selected label to the previous slice", "Labels", ["shift+f"], () => copyToSlice(p, -1, true)),
    cmd("tag.accept", "Accept the suggested tag (the most probable one)", "Labels", ["y"], () => acceptSuggestion(p)),
    cmd("tag.reject", "Reject the suggested tag (the most probable one)", "Labels", ["shift+y"], () => void rejectSuggestion(p)),
    cmd("label.rejectRest", "Reject the remaining proposals", "Labels", ["shift+r"], () => setStatus(p, proposedKeys(p), "rejected", "Reject the rest")),
    cmd("label.delete", "Delete the selected label you drew (reject a proposal)", "Labels", ["delete", "backspace"], () => deleteSelected(p)),
    cmd("label.nextSel", "Select the next label", "Labels", ["tab"], () => selectNext(p)),
    cmd("label.deselect", "Deselect", "Labels", ["escape"], () => p.select(null)),
  ];
}

function toolCommands(p: AnnotatePage): NamedCommand[] {
  const { s } = p;
  const brush = (r: number) => ((s.brushRadius = r), p.renderSidebar(), p.render());
  return [
    cmd("mode.select", "Select, move and resize", "Tools", ["v"], () => p.setMode("select")),
    cmd("mode.box", "Draw a new box", "Tools", ["b"], () => p.setMode("box")),
    cmd("mode.assist", "Box → mask: drag a box around a lesion, a mask is fitted inside it", "Tools", ["m"], () => p.setMode("assist")),
    cmd("mode.brush", "Brush (paint mask)", "Tools", ["p"], () => p.setMode("brush")),
    cmd("mode.eraser", "Eraser", "Tools", ["e"], () => p.setMode("eraser")),
    cmd("measure.length", "Measure a length (mm); not a label", "Measure", ["l"], () => p.setMode("measure", "length")),
    cmd("measure.probe", "Probe the value under a point", "Measure", ["u"], () => p.setMode("measure", "probe")),
    cmd("measure.ellipse", "Ellipse ROI statistics", "Measure", ["shift+e"], () => p.setMode("measure", "ellipse")),
    cmd("measure.clear", "Clear measurements", "Measure", ["shift+l"], () => {
      clearMeasurements();
      s.view?.viewport.render();
    }),
    cmd("brush.smaller", "Smaller brush", "Tools", ["["], () => brush(Math.max(1, s.brushRadius - 1))),
    cmd("brush.bigger", "Bigger brush", "Tools", ["]"], () => brush(Math.min(40, s.brushRadius + 1))),
    cmd("brush.threshold", "Threshold brush on/off (HU range)", "Tools", ["t"], () => ((s.threshold.enabled = !s.threshold.enabled), p.renderSidebar())),
    cmd("edit.undo", "Undo", "Edit", ["ctrl+z"], () => s.doc.undo()),
    cmd("edit.redo", "Redo", "Edit", ["ctrl+shift+z", "ctrl+y"], () => s.doc.redo()),
  ];
}

function viewCommands(p: AnnotatePage): NamedCommand[] {
  const { s } = p;
  const toggled = () => (p.render(), p.renderSidebar());
  return [
    cmd("toggle.proposals", "Show/hide proposals", "View", ["h"], () => ((s.showProposals = !s.showProposals), toggled())),
    cmd("toggle.accepted", "Show/hide accepted labels", "View", ["shift+h"], () => ((s.showAccepted = !s.showAccepted), toggled())),
    cmd("toggle.outline", "Masks as outlines only / filled", "View", ["o"], () => ((s.outline = !s.outline), toggled())),
    cmd("view.opacity", "Mask fill: full, half, quarter", "View", ["shift+o"], () => {
      s.opacity = s.opacity === 1 ? 0.5 : s.opacity === 0.5 ? 0.25 : 1;
      p.render();
    }),
    cmd("view.preset", "Next window preset", "View", ["w"], () => nextPreset(p)),
    cmd("view.invert", "Invert", "View", ["i"], () => s.view?.toggleInvert()),
    cmd("view.reset", "Reset view", "View", ["0"], () => {
      s.userWindow = null;
      s.view?.reset();
    }),
    cmd("view.zoomIn", "Zoom in", "View", ["+", "="], () => s.view?.zoom(1.25)),
    cmd("view.zoomOut", "Zoom out", "View", ["-"], () => s.view?.zoom(0.8)),
    cmd("view.prev", "Previous slice", "View", ["arrowup", "pageup"], () => s.view?.scroll(-1)),
    cmd("view.next", "Next slice", "View", ["arrowdown", "pagedown"], () => s.view?.scroll(1)),
  ];
}

export function annotateCommands(p: AnnotatePage): NamedCommand[] {
  return [
    ...labelCommands(p),
    ...toolCommands(p),
    ...viewCommands(p),
    cmd("image.done", "Mark image done", "Image", ["d"], () => markDone(p, false)),
    cmd("image.doneNext", "Mark done and open the next image", "Image", ["shift+d"], () => markDone(p, true)),
    cmd("image.next", "Next image in the worklist", "Image", ["n"], () => void goNext(p)),
    cmd("help", "Show this help", "Help", ["?"], () => toggleHelp(p)),
  ];
}
