import { describe, expect, it } from "vitest";
import { imagePath, modelsPath, parseRoute, safeNext, worklistPath } from "./router";

describe("routes", () => {
  it("parses the SPA's paths", () => {
    expect(parseRoute("/", "")).toEqual({ name: "projects" });
    expect(parseRoute("/login", "?next=/projects/a/images")).toEqual({ name: "login", next: "/projects/a/images" });
    const w = parseRoute("/projects/chest-ct/images", "?status=proposed&ordering=-uncertainty");
    expect(w.name).toBe("worklist");
    const a = parseRoute("/projects/chest-ct/images/42", "?ordering=-uncertainty");
    expect(a).toMatchObject({ name: "annotate", slug: "chest-ct", imageId: 42 });
    expect(parseRoute("/projects/x/models", "?status=proposed")).toMatchObject({ name: "models", slug: "x" });
    expect(parseRoute("/projects/x/models/", "").name).toBe("models");
    expect(parseRoute("/projects/x/models/1", "").name).toBe("notFound");
  });

  it("keeps the worklist query when moving between list and image", () => {
    const q = new URLSearchParams("status=proposed&ordering=-uncertainty");
    expect(imagePath("p", 3, q)).toBe("/projects/p/images/3?status=proposed&ordering=-uncertainty");
    expect(worklistPath("p", q)).toBe("/projects/p/images?status=proposed&ordering=-uncertainty");
    expect(modelsPath("p", new URLSearchParams("split=val"))).toBe("/projects/p/models?split=val");
  });

  it("never redirects off-site after login", () => {
    expect(safeNext("https://evil.example/")).toBeNull();
    expect(safeNext("//evil.example/")).toBeNull();
    expect(safeNext("/\\evil.example")).toBeNull();
    expect(safeNext("/projects/a/images")).toBe("/projects/a/images");
  });
});
