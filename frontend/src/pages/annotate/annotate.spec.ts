import { describe, expect, it } from "vitest";
import { engineText } from "./assist";
import { unionBox } from "./conflicts";

describe("annotate page parts", () => {
  it("bounds the boxes given, ignoring missing ones", () => {
    expect(unionBox([[10, 10, 5, 5], undefined, [0, 12, 4, 10]])).toEqual([0, 10, 15, 12]);
    expect(unionBox([undefined])).toBeNull();
  });

  it("names the engine that fitted a mask and its time", () => {
    expect(engineText({ engine: "model", model_version: 3, ms: 41.6 })).toBe("model v3 engine, 42 ms on the server");
    expect(engineText({ engine: "classical", model_version: null, ms: 8 })).toBe("classical engine, 8 ms on the server");
  });
});
