import { describe, expect, it } from "vitest";
import {
  applyAffine,
  directionLetters,
  orientationMarkers,
  invertAffine,
  pixelToCanvasAffine,
  pixelToWorld,
  worldToPixel,
  type ImagePlane,
  type Vec2,
  type Vec3,
} from "./coords";

const axial: ImagePlane = {
  imagePositionPatient: [-250, -180, 42.5],
  rowCosines: [1, 0, 0],
  columnCosines: [0, 1, 0],
  rowPixelSpacing: 0.7,
  columnPixelSpacing: 0.5,
};

// an oblique plane with anisotropic pixels
const s = Math.SQRT1_2;
const oblique: ImagePlane = {
  imagePositionPatient: [10, 20, 30],
  rowCosines: [s, s, 0],
  columnCosines: [0, 0, -1],
  rowPixelSpacing: 2,
  columnPixelSpacing: 0.25,
};

function close(a: number[], b: number[]) {
  a.forEach((v, i) => expect(v).toBeCloseTo(b[i], 9));
}

describe("pixel ↔ world", () => {
  it("puts the centre of pixel (0,0) at ImagePositionPatient", () => {
    close(pixelToWorld(axial, [0.5, 0.5]), axial.imagePositionPatient);
  });

  it("steps by column spacing along a row and by row spacing down a column", () => {
    close(pixelToWorld(axial, [1.5, 0.5]), [-249.5, -180, 42.5]);
    close(pixelToWorld(axial, [0.5, 1.5]), [-250, -179.3, 42.5]);
    close(pixelToWorld(axial, [0, 0]), [-250.25, -180.35, 42.5]);
  });

  it("follows oblique direction cosines", () => {
    close(pixelToWorld(oblique, [4.5, 0.5]), [10 + s, 20 + s, 30]);
    close(pixelToWorld(oblique, [0.5, 3.5]), [10, 20, 24]);
  });

  it("inverts exactly", () => {
    for (const plane of [axial, oblique]) {
      for (const p of [[0, 0], [511.25, 3], [17.5, 400.75]] as Vec2[]) {
        close(worldToPixel(plane, pixelToWorld(plane, p)), p);
      }
    }
  });

  it("treats missing spacing as 1", () => {
    const plane = { ...axial, rowPixelSpacing: 0, columnPixelSpacing: 0 };
    close(pixelToWorld(plane, [3.5, 2.5]), [-247, -178, 42.5]);
  });
});

describe("pixel → canvas affine", () => {
  // a fake camera: 2 canvas px per mm, panned, y down
  const worldToCanvas = ([x, y]: Vec3): Vec2 => [(x + 260) * 2, (y + 190) * 2];

  it("maps pixel corners like the world → canvas function does", () => {
    const m = pixelToCanvasAffine(axial, worldToCanvas);
    for (const p of [[0, 0], [512, 512], [100.5, 7]] as Vec2[]) {
      close(applyAffine(m, p), worldToCanvas(pixelToWorld(axial, p)));
    }
  });

  it("inverts to go from a mouse position back to a pixel", () => {
    const m = pixelToCanvasAffine(axial, worldToCanvas);
    const inv = invertAffine(m);
    close(applyAffine(inv, applyAffine(m, [33.3, 44.4])), [33.3, 44.4]);
  });
});

describe("orientation markers", () => {
  it("an axial slice in the standard orientation shows L on the right and P at the bottom", () => {
    expect(orientationMarkers({ rowCosines: [1, 0, 0], columnCosines: [0, 1, 0] })).toEqual({ right: "L", left: "R", bottom: "P", top: "A" });
  });
  it("a coronal slice shows the head at the top", () => {
    expect(orientationMarkers({ rowCosines: [1, 0, 0], columnCosines: [0, 0, -1] })).toEqual({ right: "L", left: "R", bottom: "F", top: "H" });
  });
  it("an oblique direction names both axes, strongest first", () => {
    expect(directionLetters([0.8, 0.6, 0])).toBe("LP");
  });
});
