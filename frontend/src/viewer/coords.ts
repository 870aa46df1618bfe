/**
 * Pixel ↔ world coordinates for one image plane.
 *
 * Pixel coordinates are COCO's: x to the right, y down, origin at the top-left
 * corner of pixel (0, 0), so pixel (i, j) covers [i, i+1) × [j, j+1).
 * DICOM's ImagePositionPatient is the *centre* of pixel (0, 0), so a COCO point
 * (u, v) sits (u − ½, v − ½) pixel steps from it — the same convention as
 * Cornerstone's `utilities.imageToWorldCoords`.
 */
export type Vec3 = [number, number, number];
export type Vec2 = [number, number];

export interface ImagePlane {
  imagePositionPatient: Vec3;
  /** direction of increasing column index (along a row) */
  rowCosines: Vec3;
  /** direction of increasing row index (down a column) */
  columnCosines: Vec3;
  /** PixelSpacing[0]: distance between rows (vertical step) */
  rowPixelSpacing: number;
  /** PixelSpacing[1]: distance between columns (horizontal step) */
  columnPixelSpacing: number;
}

export function pixelToWorld(plane: ImagePlane, [u, v]: Vec2): Vec3 {
  const o = plane.imagePositionPatient;
  const r = plane.rowCosines;
  const c = plane.columnCosines;
  const du = (u - 0.5) * (plane.columnPixelSpacing || 1);
  const dv = (v - 0.5) * (plane.rowPixelSpacing || 1);
  return [o[0] + r[0] * du + c[0] * dv, o[1] + r[1] * du + c[1] * dv, o[2] + r[2] * du + c[2] * dv];
}

export function worldToPixel(plane: ImagePlane, p: Vec3): Vec2 {
  const o = plane.imagePositionPatient;
  const d: Vec3 = [p[0] - o[0], p[1] - o[1], p[2] - o[2]];
  const r = plane.rowCosines;
  const c = plane.columnCosines;
  const alongRow = d[0] * r[0] + d[1] * r[1] + d[2] * r[2];
  const alongCol = d[0] * c[0] + d[1] * c[1] + d[2] * c[2];
  return [alongRow / (plane.columnPixelSpacing || 1) + 0.5, alongCol / (plane.rowPixelSpacing || 1) + 0.5];
}

/** 2D affine [a, b, c, d, e, f] as CanvasRenderingContext2D.setTransform takes it. */
export type Affine = [number, number, number, number, number, number];

/** The affine that maps pixel (u, v) to a point, given where three pixel corners land. */
export function affineFrom(p00: Vec2, p10: Vec2, p01: Vec2): Affine {
  return [p10[0] - p00[0], p10[1] - p00[1], p01[0] - p00[0], p01[1] - p00[1], p00[0], p00[1]];
}

export function applyAffine(m: Affine, [x, y]: Vec2): Vec2 {
  return [m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5]];
}

export function invertAffine(m: Affine): Affine {
  const [a, b, c, d, e, f] = m;
  const det = a * d - b * c;
  if (Math.abs(det) < 1e-12) throw new Error("singular transform");
  return [d / det, -b / det, -c / det, a / det, (c * f - d * e) / det, (b * e - a * f) / det];
}

/** Pixel → canvas affine for a viewport, from a world → canvas function. */
export function pixelToCanvasAffine(plane: ImagePlane, worldToCanvas: (p: Vec3) => Vec2): Affine {
  return affineFrom(
    worldToCanvas(pixelToWorld(plane, [0, 0])),
    worldToCanvas(pixelToWorld(plane, [1, 0])),
    worldToCanvas(pixelToWorld(plane, [0, 1])),
  );
}

/** The patient direction a vector points to, as DICOM letters (L/R, A/P, H/F), strongest first. */
export function directionLetters(v: Vec3): string {
  // patient coordinates: +x left, +y posterior, +z head
  const axes: [number, string, string][] = [
    [v[0], "L", "R"],
    [v[1], "P", "A"],
    [v[2], "H", "F"],
  ];
  return axes
    .filter(([c]) => Math.abs(c) > 0.25)
    .sort((a, b) => Math.abs(b[0]) - Math.abs(a[0]))
    .map(([c, pos, neg]) => (c > 0 ? pos : neg))
    .join("");
}

/** The orientation markers at the edges of an image plane: what lies to the right and below. */
export function orientationMarkers(plane: Pick<ImagePlane, "rowCosines" | "columnCosines">): {
  left: string;
  right: string;
  top: string;
  bottom: string;
} {
  const r = plane.rowCosines;
  const c = plane.columnCosines;
  const neg = (v: Vec3): Vec3 => [-v[0], -v[1], -v[2]];
  return { right: directionLetters(r), left: directionLetters(neg(r)), bottom: directionLetters(c), top: directionLetters(neg(c)) };
}
