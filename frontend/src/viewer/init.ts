import { getRenderingCapabilities, init as coreInit, setUseCPURendering } from "@cornerstonejs/core";
import { init as dicomImageLoaderInit } from "@cornerstonejs/dicom-image-loader";
import { init as toolsInit } from "@cornerstonejs/tools";
import { chooseRendering } from "./rendering";

let ready: Promise<void> | null = null;

/** Cornerstone core, the DICOM loader (with its ES-module decode workers) and tools, once. */
export function initCornerstone(): Promise<void> {
  ready ??= Promise.resolve().then(() => {
    const caps = getRenderingCapabilities();
    const rendering = chooseRendering(caps, readOverride());
    document.documentElement.dataset.rendering = rendering;
    coreInit();
    if (rendering === "cpu") setUseCPURendering(true);
    dicomImageLoaderInit({ maxWebWorkers: Math.min(4, Math.max(1, navigator.hardwareConcurrency - 1)) });
    toolsInit();
  });
  return ready;
}

function readOverride(): string | null {
  try {
    return localStorage.getItem("radlabel.rendering");
  } catch {
    return null;
  }
}
