/**
 * COCO run-length encoding, compatible byte for byte with pycocotools'
 * compressed string format (maskApi.c rleToString / rleFrString).
 *
 * Masks in the SPA are row-major `Uint8Array`s (index = y * width + x, value 0 or 1).
 * COCO counts are column-major (Fortran order) and start with a run of zeros.
 */

import { countsToString, stringToCounts } from "./cocoString.js";

export { countsToString, stringToCounts };

export interface CocoRle {
  /** [height, width] */
  size: [number, number];
  counts: string;
}

export interface Mask {
  width: number;
  height: number;
  /** row-major, 0 or 1 */
  data: Uint8Array;
}

export function createMask(width: number, height: number): Mask {
  return { width, height, data: new Uint8Array(width * height) };
}

/** Runs of alternating 0s and 1s in column-major order, starting with 0s. */
export function maskToCounts(mask: Mask): number[] {
  const { width: w, height: h, data } = mask;
  const counts: number[] = [];
  let current = 0;
  let run = 0;
  for (let x = 0; x < w; x++) {
    for (let y = 0, i = x; y < h; y++, i += w) {
      const v = data[i] ? 1 : 0;
      if (v !== current) {
        counts.push(run);
        run = 0;
        current = v;
      }
      run++;
    }
  }
  counts.push(run);
  return counts;
}

export function countsToMask(counts: ArrayLike<number>, height: number, width: number): Mask {
  const mask = createMask(width, height);
  const total = width * height;
  const data = mask.data;
  let pos = 0;
  let value = 0;
  for (let k = 0; k < counts.length; k++) {
    const end = Math.min(total, pos + counts[k]);
    if (value) {
      for (let p = pos; p < end; p++) {
        const x = (p / height) | 0;
        const y = p - x * height;
        data[y * width + x] = 1;
      }
    }
    pos = end;
    value ^= 1;
  }
  if (pos !== total) throw new Error(`RLE covers ${pos} pixels, mask has ${total}`);
  return mask;
}

export function encodeRle(mask: Mask): CocoRle {
  return { size: [mask.height, mask.width], counts: countsToString(maskToCounts(mask)) };
}

export function decodeRle(rle: CocoRle): Mask {
  const [h, w] = rle.size;
  return countsToMask(stringToCounts(rle.counts), h, w);
}

export function maskArea(mask: Mask): number {
  let n = 0;
  for (let i = 0; i < mask.data.length; i++) n += mask.data[i];
  return n;
}

/** Tight bounding box [x, y, w, h] in COCO pixel coordinates, or null when empty. */
export function maskBbox(mask: Mask): [number, number, number, number] | null {
  const { width: w, height: h, data } = mask;
  let x0 = w;
  let y0 = h;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      if (data[row + x]) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        y1 = y;
      }
    }
  }
  if (x1 < 0) return null;
  return [x0, y0, x1 - x0 + 1, y1 - y0 + 1];
}

export function cloneMask(mask: Mask): Mask {
  return { width: mask.width, height: mask.height, data: mask.data.slice() };
}
