import { beforeAll, describe, expect, it, vi } from "vitest";
import type { ModelVersion } from "../../api/types";
import { preannotationJob as job } from "../../testing/jobs";
import { installFakeDocument } from "../../testing/dom";
import { EMPTY_STATE } from "./common";
import { filterText, preannotationSection } from "./PreannotationSection";

const version = (over: Partial<ModelVersion>) => ({ id: 7, number: 2, status: "active", ...over }) as ModelVersion;

beforeAll(installFakeDocument);

describe("pre-annotation section", () => {
  it("reads the worklist filter aloud", () => {
    expect(filterText(new URLSearchParams("status=in_progress&label_class=3"))).toBe("status = in progress · label class = 3");
    expect(filterText(new URLSearchParams())).toBe("");
  });

  it("offers nothing until a version is active", () => {
    const s = preannotationSection("p", new URLSearchParams("split=val"), vi.fn());
    s.update(EMPTY_STATE);
    const all = s.el.querySelector('button[data-testid="preannotate-all"]') as unknown as HTMLButtonElement;
    expect(all.disabled).toBe(true);
    expect(s.el.querySelector('div[data-testid="preannotation-jobs"]')?.textContent).toBe("Promote a model version to pre-annotate.");
    s.update({ ...EMPTY_STATE, versions: [version({})] });
    expect(all.disabled).toBe(false);
    expect((s.el.querySelector('button[data-testid="preannotate-filtered"]') as unknown as HTMLButtonElement).disabled).toBe(false);
  });

  it("shows each job with its model version, progress and a cancel while it runs", () => {
    const run = vi.fn(() => Promise.resolve());
    const s = preannotationSection("p", new URLSearchParams(), run);
    s.update({ ...EMPTY_STATE, versions: [version({})], preJobs: [job({ id: 3 }), job({ id: 2, status: "succeeded", done: 20 })] });
    const cards = [...s.el.querySelectorAll("div[data-job-id]")];
    expect(cards.map((c) => [c.getAttribute("data-job-id"), c.getAttribute("data-status")])).toEqual([
      ["3", "running"],
      ["2", "succeeded"],
    ]);
    expect(cards[0].textContent).toContain("model v2 · 5 / 20 images");
    expect(cards[0].querySelector('div[role="progressbar"]')?.getAttribute("aria-valuenow")).toBe("25");
    expect(cards[1].querySelector('button[data-testid="cancel-preannotation"]')).toBeNull();
    (cards[0].querySelector('button[data-testid="cancel-preannotation"]') as unknown as HTMLButtonElement).click();
    expect(run).toHaveBeenCalledTimes(1);
  });
});
