/**
 * The viewer's one tool group, described as data. Left drag on empty image
 * is window/level; our own edit tools (select, box, brush, eraser) take the
 * left button first in the page's capture phase, so Cornerstone only sees the
 * left button when we let it through.
 */
import {
  EllipticalROITool,
  Enums as ToolEnums,
  LengthTool,
  PanTool,
  ProbeTool,
  StackScrollTool,
  ToolGroupManager,
  WindowLevelTool,
  ZoomTool,
  addTool,
  annotation,
  type Types,
} from "@cornerstonejs/tools";
import { TOOL_GROUP_ID } from "./ids";

const { MouseBindings, KeyboardBindings } = ToolEnums;

/**
 * Window/level whose drag speed follows the window: a drag across 400 screen pixels changes
 * the width by about the current width, on a CT lung window (1500) as on a radiograph
 * (30000), where Cornerstone's own step (from the bit depth) moved a wide window a few units.
 */
export class ScaledWindowLevelTool extends WindowLevelTool {
  static toolName = "ScaledWindowLevel";

  _getMultiplierFromDynamicRange(viewport: Parameters<WindowLevelTool["_getMultiplierFromDynamicRange"]>[0], volumeId: string) {
    const base = super._getMultiplierFromDynamicRange(viewport, volumeId);
    const range = (viewport as { getProperties?: () => { voiRange?: { lower: number; upper: number } } }).getProperties?.().voiRange;
    return range ? Math.max(base, (range.upper - range.lower) / 400) : base;
  }
}

type Binding = { mouseButton: number; modifierKey?: number };

/**
 * Reading-room measurements from Cornerstone's own tools: length (mm from the pixel spacing),
 * the value under a point (HU on CT), an elliptical ROI's statistics. They live in the viewer
 * only: measurements are not labels, are not saved and are not exported.
 */
export type MeasureTool = "length" | "probe" | "ellipse";
export const MEASURE_TOOLS: Record<MeasureTool, string> = {
  length: LengthTool.toolName,
  probe: ProbeTool.toolName,
  ellipse: EllipticalROITool.toolName,
};

export const TOOLS: { active: Record<string, Binding[]>; passive: string[] } = {
  active: {
    [ScaledWindowLevelTool.toolName]: [{ mouseButton: MouseBindings.Primary }],
    [PanTool.toolName]: [
      { mouseButton: MouseBindings.Auxiliary },
      { mouseButton: MouseBindings.Primary, modifierKey: KeyboardBindings.Ctrl },
    ],
    [ZoomTool.toolName]: [
      { mouseButton: MouseBindings.Secondary },
      { mouseButton: MouseBindings.Primary, modifierKey: KeyboardBindings.Shift },
    ],
    [StackScrollTool.toolName]: [{ mouseButton: MouseBindings.Wheel }],
  },
  passive: Object.values(MEASURE_TOOLS),
};

let registered = false;

/** The tool group with its tools bound; a viewport joins it with `addViewport`. */
export function createToolGroup(): Types.IToolGroup {
  if (!registered) {
    for (const T of [ScaledWindowLevelTool, PanTool, ZoomTool, StackScrollTool, LengthTool, ProbeTool, EllipticalROITool]) addTool(T);
    registered = true;
  }
  ToolGroupManager.destroyToolGroup(TOOL_GROUP_ID);
  const group = ToolGroupManager.createToolGroup(TOOL_GROUP_ID);
  if (!group) throw new Error("could not create the tool group");
  for (const [name, bindings] of Object.entries(TOOLS.active)) {
    group.addTool(name);
    group.setToolActive(name, { bindings });
  }
  for (const name of TOOLS.passive) {
    group.addTool(name);
    group.setToolPassive(name);
  }
  return group;
}

/** The left button measures with `tool`, or (null) is window/level again. */
export function setMeasureTool(tool: MeasureTool | null): void {
  const group = ToolGroupManager.getToolGroup(TOOL_GROUP_ID);
  if (!group) return;
  for (const name of Object.values(MEASURE_TOOLS)) group.setToolPassive(name);
  if (tool) {
    group.setToolPassive(ScaledWindowLevelTool.toolName);
    group.setToolActive(MEASURE_TOOLS[tool], { bindings: [{ mouseButton: MouseBindings.Primary }] });
  } else {
    group.setToolActive(ScaledWindowLevelTool.toolName, { bindings: [{ mouseButton: MouseBindings.Primary }] });
  }
}

export function clearMeasurements(): void {
  const names = new Set<string>(Object.values(MEASURE_TOOLS));
  for (const a of annotation.state.getAllAnnotations()) {
    if (a.annotationUID && names.has(a.metadata?.toolName ?? "")) annotation.state.removeAnnotation(a.annotationUID);
  }
}

export function destroyToolGroup(): void {
  ToolGroupManager.destroyToolGroup(TOOL_GROUP_ID);
}
