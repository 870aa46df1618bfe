export const RENDERING_ENGINE_ID = "radlabel-engine";
export const VIEWPORT_ID = "radlabel-stack";
export const TOOL_GROUP_ID = "radlabel-tools";
