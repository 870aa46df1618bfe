import { describe, expect, it } from "vitest";
import fixtures from "./__fixtures__/rle.json";
import {
  countsToString,
  decodeRle,
  encodeRle,
  maskArea,
  maskBbox,
  stringToCounts,
  type Mask,
} from "./rle";

interface Fixture {
  name: string;
  size: [number, number];
  bits_hex: string;
  counts: string;
  area: number;
  bbox: [number, number, number, number];
}

function unpack(f: Fixture): Mask {
  const [h, w] = f.size;
  const data = new Uint8Array(w * h);
  for (let i = 0; i < data.length; i++) {
    const byte = parseInt(f.bits_hex.substr((i >> 3) * 2, 2), 16);
    data[i] = (byte >> (7 - (i & 7))) & 1;
  }
  return { width: w, height: h, data };
}

describe("COCO RLE against pycocotools fixtures", () => {
  const cases = fixtures as Fixture[];

  it("has fixtures", () => {
    expect(cases.length).toBeGreaterThan(10);
  });

  for (const f of cases) {
    it(`encodes "${f.name}" to pycocotools' exact string`, () => {
      const rle = encodeRle(unpack(f));
      expect(rle.size).toEqual(f.size);
      expect(rle.counts).toBe(f.counts);
    });

    it(`decodes "${f.name}" to the same pixels`, () => {
      const mask = decodeRle({ size: f.size, counts: f.counts });
      expect(mask.width).toBe(f.size[1]);
      expect(mask.height).toBe(f.size[0]);
      expect(Buffer.from(mask.data).equals(Buffer.from(unpack(f).data))).toBe(true);
      expect(maskArea(mask)).toBe(f.area);
      const bbox = maskBbox(mask);
      if (f.area === 0) expect(bbox).toBeNull();
      else expect(bbox).toEqual(f.bbox);
    });

    it(`round-trips "${f.name}" string → counts → string`, () => {
      expect(countsToString(stringToCounts(f.counts))).toBe(f.counts);
    });
  }

  it("rejects a truncated string", () => {
    expect(() => stringToCounts("1P")).toThrow();
  });

  it("rejects counts that do not cover the mask", () => {
    expect(() => decodeRle({ size: [3, 3], counts: countsToString([2, 3]) })).toThrow();
  });
});
