import { describe, expect, it } from "vitest";
import type { Annotation } from "../api/types";
import { writerText } from "./ConflictPanel";

const row = (updated_by: string | null) => ({ updated_by }) as Annotation;

describe("conflict panel", () => {
  it("says who wrote the other version", () => {
    expect(writerText(row("dr-lee"), "dr-kim")).toBe("Changed by dr-lee");
    expect(writerText(row("dr-kim"), "dr-kim")).toBe("Changed by you, in another tab or device");
    expect(writerText(row(null), "dr-kim")).toBe("Changed on the server");
    expect(writerText(null, "dr-kim")).toBe("Deleted on the server");
  });
});
