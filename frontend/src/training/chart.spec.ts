import { describe, expect, it } from "vitest";
import { downsample, ema, extent, integerTicks, linePath, linearScale, niceStep, niceTicks, tickLabel } from "./chart";

describe("chart scaling", () => {
  it("finds the extent of finite values only", () => {
    expect(extent([3, null, -1, undefined, NaN, 7])).toEqual([-1, 7]);
    expect(extent([null, NaN])).toBeNull();
    expect(extent([])).toBeNull();
  });

  it("picks steps of 1, 2, 2.5 and 5 times a power of ten", () => {
    expect(niceStep(10, 5)).toBe(2);
    expect(niceStep(1, 4)).toBe(0.25);
    expect(niceStep(0.9, 5)).toBe(0.2);
    expect(niceStep(4700, 5)).toBe(1000);
    expect(niceStep(0, 5)).toBe(1);
  });

  it("widens the domain to whole ticks", () => {
    expect(niceTicks(0.13, 2.87, 5)).toEqual({ domain: [0, 3], ticks: [0, 1, 2, 3] });
    expect(niceTicks(0.13, 2.87, 10)).toEqual({ domain: [0, 3], ticks: [0, 0.5, 1, 1.5, 2, 2.5, 3] });
    expect(niceTicks(0, 1, 4)).toEqual({ domain: [0, 1], ticks: [0, 0.25, 0.5, 0.75, 1] });
    // no float noise in the labels
    expect(niceTicks(0, 0.3, 3).ticks).toEqual([0, 0.1, 0.2, 0.3]);
    // a flat line still gets a domain
    const flat = niceTicks(2, 2, 4);
    expect(flat.domain[0]).toBeLessThan(2);
    expect(flat.domain[1]).toBeGreaterThan(2);
  });

  it("maps domain to range (SVG y grows downwards)", () => {
    const y = linearScale([0, 10], [200, 0]);
    expect(y(0)).toBe(200);
    expect(y(10)).toBe(0);
    expect(y(2.5)).toBe(150);
    expect(linearScale([5, 5], [0, 100])(5)).toBe(50);
  });

  it("draws paths that break at missing values", () => {
    const id = (v: number) => v;
    expect(linePath([[0, 1], [1, 2], [2, null], [3, 4], [4, 5]], id, id)).toBe("M0,1L1,2M3,4L4,5");
    expect(linePath([[0, null]], id, id)).toBe("");
    expect(linePath([[0, 1.234]], (v) => v * 10, (v) => v * 10)).toBe("M0,12.3");
  });

  it("downsamples long curves keeping ends and spikes", () => {
    const pts: [number, number][] = Array.from({ length: 10_000 }, (_, i) => [i, i === 5000 ? 99 : 1 / (1 + i)]);
    const d = downsample(pts, 200);
    expect(d.length).toBeLessThanOrEqual(200);
    expect(d[0]).toEqual(pts[0]);
    expect(d[d.length - 1]).toEqual(pts[pts.length - 1]);
    expect(d.some(([, y]) => y === 99)).toBe(true);
    // x stays in order
    for (let i = 1; i < d.length; i++) expect(d[i][0]).toBeGreaterThan(d[i - 1][0]);
    expect(downsample(pts.slice(0, 10), 200)).toHaveLength(10);
  });

  it("smooths with an exponential moving average", () => {
    expect(ema([[0, 10], [1, 0], [2, 0]], 0.5)).toEqual([[0, 10], [1, 5], [2, 2.5]]);
  });

  it("labels ticks briefly", () => {
    expect(tickLabel(0)).toBe("0");
    expect(tickLabel(0.25)).toBe("0.25");
    expect(tickLabel(1.5)).toBe("1.5");
    expect(tickLabel(250)).toBe("250");
    expect(tickLabel(12000)).toBe("12k");
    expect(tickLabel(2_500_000)).toBe("2.5M");
  });
});

describe("version axis", () => {
  it("shows only the versions there are", () => {
    expect(integerTicks(1, 1)).toEqual({ domain: [0, 2], ticks: [1] });
    expect(integerTicks(1, 3)).toEqual({ domain: [0.7, 3.3], ticks: [1, 2, 3] });
  });

  it("thins the ticks of many versions", () => {
    expect(integerTicks(1, 40).ticks).toEqual([1, 6, 11, 16, 21, 26, 31, 36]);
  });
});
