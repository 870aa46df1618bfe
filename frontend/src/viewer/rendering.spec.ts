import { describe, expect, it } from "vitest";
import { chooseRendering } from "./rendering";

describe("rendering path", () => {
  it("uses WebGL on a real GPU and the CPU path on software rasterizers or without WebGL", () => {
    expect(chooseRendering({ webgl: true, softwareRasterizer: false })).toBe("gpu");
    expect(chooseRendering({ webgl: true, softwareRasterizer: true })).toBe("cpu");
    expect(chooseRendering({ webgl: false })).toBe("cpu");
    expect(chooseRendering(null)).toBe("cpu");
  });

  it("honours an explicit override", () => {
    expect(chooseRendering({ webgl: true, softwareRasterizer: true }, "gpu")).toBe("gpu");
    expect(chooseRendering({ webgl: true }, "cpu")).toBe("cpu");
    expect(chooseRendering({ webgl: true }, "fast")).toBe("gpu");
  });
});
