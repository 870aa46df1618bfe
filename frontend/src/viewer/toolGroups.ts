/**
 * The viewer's one tool group, described as data. Left drag on empty image
 * is window/level; our own edit tools (select, box, brush, eraser) take the
 * left button first in the page's capture phase, so Cornerstone only sees the
 * left button when we let it through.
 */
import {
  Enums as ToolEnums,
  PanTool,
  StackScrollTool,
  ToolGroupManager,
  WindowLevelTool,
  ZoomTool,
  addTool,
} from "@cornerstonejs/tools";
import { RENDERING_ENGINE_ID, TOOL_GROUP_ID, VIEWPORT_ID } from "./ids";

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
  passive: [],
};

let registered = false;

export function createToolGroup(): void {
  if (!registered) {
    for (const T of [ScaledWindowLevelTool, PanTool, ZoomTool, StackScrollTool]) addTool(T);
    registered = true;
  }
  ToolGroupManager.destroyToolGroup(TOOL_GROUP_ID);
  const group = ToolGroupManager.createToolGroup(TOOL_GROUP_ID);
  if (!group) throw new Error("could not create the tool group");
  for (const [name, bindings] of Object.entries(TOOLS.active)) {
    group.addTool(name);
    group.setToolActive(name, { bindings });
  }
  group.addViewport(VIEWPORT_ID, RENDERING_ENGINE_ID);
}

export function destroyToolGroup(): void {
  ToolGroupManager.destroyToolGroup(TOOL_GROUP_ID);
}
