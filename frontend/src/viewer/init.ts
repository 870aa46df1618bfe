import { init as coreInit } from "@cornerstonejs/core";
import { init as dicomImageLoaderInit } from "@cornerstonejs/dicom-image-loader";
import { init as toolsInit } from "@cornerstonejs/tools";

let ready: Promise<void> | null = null;

/** Cornerstone core, the DICOM loader (with its ES-module decode workers) and tools, once. */
export function initCornerstone(): Promise<void> {
  ready ??= Promise.resolve().then(() => {
    coreInit();
    dicomImageLoaderInit({ maxWebWorkers: Math.min(4, Math.max(1, navigator.hardwareConcurrency - 1)) });
    toolsInit();
  });
  return ready;
}
