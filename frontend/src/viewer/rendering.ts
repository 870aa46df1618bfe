/**
 * GPU (WebGL through vtk.js) or CPU (canvas 2D) rendering of the stack viewport.
 *
 * With a software WebGL rasterizer (SwiftShader, llvmpipe: machines or VMs without a usable
 * GPU, Chromium with --disable-gpu) every frame is rasterized on the CPU and then copied
 * back from the WebGL canvas to the on-screen canvas; measured with the viewer benchmark,
 * that copy (drawImage) took about 60% of the main thread while scrolling and capped it below
 * 30 slices a second. Cornerstone's CPU path draws the 2D slice directly, which is what a stack
 * of single slices needs. A real GPU keeps the WebGL path. `localStorage["radlabel.rendering"]`
 * = "cpu" | "gpu" overrides the choice.
 */
export type Rendering = "gpu" | "cpu";

export interface Capabilities {
  webgl?: boolean;
  softwareRasterizer?: boolean;
}

export function chooseRendering(caps: Capabilities | null | undefined, override: string | null = null): Rendering {
  if (override === "cpu" || override === "gpu") return override;
  if (!caps?.webgl) return "cpu";
  return caps.softwareRasterizer ? "cpu" : "gpu";
}
