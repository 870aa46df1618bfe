/**
 * One stack viewport: setStack, window/level, invert, reset, scroll, and the
 * geometry the annotation overlay needs (pixel → canvas affine).
 */
import { Enums, RenderingEngine, eventTarget, metaData, type Types } from "@cornerstonejs/core";
import { utilities as toolUtilities } from "@cornerstonejs/tools";
import { pixelToCanvasAffine, type Affine, type ImagePlane, type Vec3 } from "./coords";
import { RENDERING_ENGINE_ID, VIEWPORT_ID } from "./ids";
import { initCornerstone } from "./init";
import { fromRange, toRange } from "./presets";
import { createToolGroup, destroyToolGroup } from "./toolGroups";

export class StackView {
  private readonly engine: RenderingEngine;
  readonly viewport: Types.IStackViewport;
  private resizeObserver: ResizeObserver;
  private prefetching = false;

  /** In Cornerstone's order: the tool group, the rendering engine, the viewport (joined to the group). */
  constructor(readonly element: HTMLDivElement) {
    const tools = createToolGroup();
    this.engine = new RenderingEngine(RENDERING_ENGINE_ID);
    this.engine.enableElement({ viewportId: VIEWPORT_ID, type: Enums.ViewportType.STACK, element });
    this.viewport = this.engine.getViewport<Types.IStackViewport>(VIEWPORT_ID);
    tools.addViewport(VIEWPORT_ID, RENDERING_ENGINE_ID);
    this.resizeObserver = new ResizeObserver(() => this.engine.resize(true, true));
    this.resizeObserver.observe(element);
  }

  async setStack(imageIds: string[], index: number): Promise<void> {
    await this.viewport.setStack(imageIds, index);
    this.viewport.render();
  }

  /**
   * Load the rest of the stack into the cache, nearest slices first, at prefetch priority
   * (behind what is shown). Without it the scroll tool finds the next slice not loaded on
   * every wheel notch and waits for the input to pause (its debounce), so fast scrolling
   * showed almost nothing until the wheel stopped.
   */
  prefetch(): void {
    if (this.count > 1 && !this.prefetching) {
      this.prefetching = true;
      toolUtilities.stackPrefetch.enable(this.element);
    }
  }

  get index(): number {
    return this.viewport.getCurrentImageIdIndex();
  }

  get count(): number {
    return this.viewport.getImageIds().length;
  }

  async setIndex(index: number): Promise<void> {
    await this.viewport.setImageIdIndex(Math.max(0, Math.min(this.count - 1, index)));
  }

  scroll(delta: number): void {
    this.viewport.scroll(delta);
  }

  setWindow(center: number, width: number): void {
    this.viewport.setProperties({ voiRange: toRange(center, width) });
    this.viewport.render();
  }

  getWindow(): { center: number; width: number } | null {
    const r = this.viewport.getProperties().voiRange;
    if (r) return fromRange(r.lower, r.upper);
    const image = this.viewport.getCornerstoneImage();
    const first = (v: number | number[] | undefined) => (Array.isArray(v) ? v[0] : v);
    const center = first(image?.windowCenter);
    const width = first(image?.windowWidth);
    return center != null && width != null ? { center, width } : null;
  }

  toggleInvert(): void {
    const invert = !this.viewport.getProperties().invert;
    this.viewport.setProperties({ invert });
    this.viewport.render();
  }

  reset(): void {
    this.viewport.resetProperties();
    this.viewport.resetCamera();
    this.viewport.render();
  }

  zoom(factor: number): void {
    const camera = this.viewport.getCamera();
    if (camera.parallelScale) this.viewport.setCamera({ parallelScale: camera.parallelScale / factor });
    this.viewport.render();
  }

  plane(imageId = this.viewport.getCurrentImageId()): ImagePlane | null {
    const m = metaData.get("imagePlaneModule", imageId) as Partial<ImagePlane> | undefined;
    if (!m || !m.imagePositionPatient || !m.rowCosines || !m.columnCosines) return null;
    return {
      imagePositionPatient: [...m.imagePositionPatient] as Vec3,
      rowCosines: [...m.rowCosines] as Vec3,
      columnCosines: [...m.columnCosines] as Vec3,
      rowPixelSpacing: m.rowPixelSpacing || 1,
      columnPixelSpacing: m.columnPixelSpacing || 1,
    };
  }

  /** Image pixel (COCO coordinates) → canvas CSS pixels, for the image shown now. */
  pixelToCanvas(): Affine | null {
    // nothing is displayed yet (the CPU path has no image geometry until the first image)
    if (!this.viewport.getCornerstoneImage() || !this.viewport.getImageData()) return null;
    const plane = this.plane();
    if (!plane) return null;
    return pixelToCanvasAffine(plane, (p: Vec3) => this.viewport.worldToCanvas(p));
  }

  /** Every stored (modality-LUT applied) value of the image shown now, row by row. */
  values(): Float32Array | null {
    const image = this.viewport.getCornerstoneImage();
    const sample = this.valueSampler();
    if (!image || !sample) return null;
    const out = new Float32Array(image.width * image.height);
    for (let y = 0, i = 0; y < image.height; y++) for (let x = 0; x < image.width; x++, i++) out[i] = sample(x, y);
    return out;
  }

  /** Stored (modality-LUT applied) value at a pixel of the image shown now, e.g. HU for CT. */
  valueSampler(): ((x: number, y: number) => number) | null {
    const image = this.viewport.getCornerstoneImage();
    if (!image) return null;
    const px = image.getPixelData();
    const { width, slope, intercept } = image;
    const prescaled = image.preScale?.scaled;
    return (x, y) => {
      const v = px[y * width + x];
      return prescaled ? v : v * (slope ?? 1) + (intercept ?? 0);
    };
  }

  on(event: string, fn: (e: Event) => void): () => void {
    this.element.addEventListener(event, fn);
    return () => this.element.removeEventListener(event, fn);
  }

  destroy(): void {
    this.resizeObserver.disconnect();
    if (this.prefetching) toolUtilities.stackPrefetch.disable(this.element);
    destroyToolGroup();
    this.engine.destroy();
  }
}

/**
 * The viewer's start-up: Cornerstone (core, DICOM loader, tools) once, then the tool group,
 * rendering engine and viewport; the stack follows with `setStack`. Null when `signal` ended
 * the page meanwhile.
 */
export async function startViewer(element: HTMLDivElement, signal: AbortSignal): Promise<StackView | null> {
  await initCornerstone();
  return signal.aborted ? null : new StackView(element);
}

export const ViewerEvents = Enums.Events;
export { eventTarget };
