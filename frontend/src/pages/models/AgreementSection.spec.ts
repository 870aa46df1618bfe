import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { setFetch } from "../../api/http";
import type { AgreementFigures, ProjectAgreement } from "../../api/types";
import { installFakeDocument } from "../../testing/dom";
import { agreementSection, fleissParts, WHY } from "./AgreementSection";
import { EMPTY_STATE } from "./common";

const figures = (images: number, lesions: Partial<AgreementFigures["lesions"]>, kappa: number | null): AgreementFigures => ({
  images,
  lesions: { images, lesions_a: 1, lesions_b: 1, matched: 0, f1: null, mean_dice: null, ...lesions },
  tags: { normal: { kappa, images } },
});

/** The API test's two readers (one moved the square the other drew; one cleared the tag), and a third with no reviewed image. */
const BODY: ProjectAgreement = {
  readers: [
    { reader: "annotator-two", reads: 1, against_final: figures(1, { matched: 1, f1: 1, mean_dice: 1 }, null) },
    { reader: "annotator-user", reads: 1, against_final: figures(1, { f1: 0 }, 0) },
    { reader: "carol", reads: 2, against_final: figures(0, { lesions_a: 0, lesions_b: 0 }, null) },
  ],
  pairs: [{ readers: ["annotator-two", "annotator-user"], ...figures(1, { f1: 0 }, 0) }],
  fleiss: { not_measured: "no image was read by three or more readers", images: 0 },
  final_images: 1,
  matching: "lesions matched one to one by mask IoU (Hungarian assignment), a match at IoU >= 0.5",
};

const PROJECT = { slug: "p", label_classes: [{ id: 3, name: "nodule", color: "#f00", kind: "instance" }, { id: 4, name: "normal", color: "#0f0", kind: "tag" }] };

const asked: string[] = [];

beforeAll(() => {
  installFakeDocument();
  setFetch(async (path: string) => {
    asked.push(path);
    return new Response(JSON.stringify(path.includes("/agreement/") ? BODY : PROJECT), { status: 200, headers: { "Content-Type": "application/json" } });
  });
});
afterAll(() => setFetch((input, init) => globalThis.fetch(input, init)));

async function shown() {
  const s = agreementSection("p");
  s.update(EMPTY_STATE);
  await vi.waitFor(() => expect(s.el.dataset.state).toBe("loaded"));
  return s.el;
}

const all = (root: Element, selector: string) => [...root.querySelectorAll(selector)];

/** A row's cells by their figure key: [text, basis, title]. */
function cells(el: HTMLElement, row: string): Record<string, (string | null)[]> {
  return Object.fromEntries(
    all(el.querySelector(row)!, "td[data-figure]").map((td) => [
      td.getAttribute("data-figure") ?? "",
      [td.childNodes[0].textContent, td.childNodes[1]?.textContent ?? "", td.getAttribute("title")],
    ]),
  );
}

describe("reader agreement section", () => {
  it("loads once shown, then shows each reader against the final set with what each figure rests on", async () => {
    const el = await shown();
    expect(asked.filter((p) => p.includes("/agreement/"))).toEqual(["/api/projects/p/agreement/"]);
    const readers = el.querySelector('table[data-testid="agreement-readers"]')!;
    expect(all(readers, "tr[data-reader]").map((tr) => tr.getAttribute("data-reader"))).toEqual(["annotator-two", "annotator-user", "carol"]);
    expect(all(readers, "th").map((th) => th.textContent)).toEqual([
      "Reader",
      "Reads submitted",
      "Images reviewed",
      "Lesions matched / reader's / final's",
      "Detection F1",
      "Mean Dice",
      "κ normal",
    ]);
    expect(cells(el, 'tr[data-reader="annotator-two"]')).toEqual({
      reads: ["1", "", null],
      images: ["1", "", null],
      lesions: ["1 / 1 / 1", "1 image", null],
      f1: ["1.00", "2 lesions · 1 image", null],
      dice: ["1.00", "1 match", null],
      "kappa-normal": ["not measured", "1 image", WHY.chance],
    });
    expect(el.querySelector('p[data-testid="agreement-matching"]')?.textContent).toBe(`Matching: ${BODY.matching}.`);
    expect(el.querySelector('p[data-testid="agreement-summary"]')?.textContent).toBe("3 readers; 1 image of their reads accepted in review (the final set).");
    const classes = all(el.querySelector('select[data-testid="agreement-class"]')!, "option");
    expect(classes.map((o) => o.textContent)).toEqual(["Any lesion class", "nodule"]);
    const names = all(el.querySelector('select[data-testid="agreement-reader"]')!, "option");
    expect(names.map((o) => o.textContent)).toEqual(["Any reader", "annotator-two", "annotator-user", "carol"]);
  });

  it("shows a null figure as not measured, saying why, and a measured 0 as 0", async () => {
    const el = await shown();
    const user = cells(el, 'tr[data-reader="annotator-user"]');
    expect(user.f1).toEqual(["0.00", "2 lesions · 1 image", null]);
    expect(user.dice).toEqual(["not measured", "0 matches", WHY.noMatch]);
    expect(user["kappa-normal"]).toEqual(["0.00", "1 image", null]);
    const carol = cells(el, 'tr[data-reader="carol"]');
    for (const key of ["f1", "dice", "kappa-normal"]) expect(carol[key].slice(0, 1).concat(carol[key][2])).toEqual(["not measured", WHY.noFinal]);
    const unmeasured = all(el, 'td[data-measured="false"]');
    expect(unmeasured.every((td) => td.childNodes[0].textContent === "not measured" && td.getAttribute("title"))).toBe(true);
    const pair = cells(el, 'tr[data-pair="annotator-two · annotator-user"]');
    expect(pair.images[0]).toBe("1");
    expect(pair.f1[0]).toBe("0.00");
    expect(pair.dice).toEqual(["not measured", "0 matches", WHY.noMatch]);
    expect(el.querySelector('p[data-testid="agreement-fleiss"]')?.textContent).toBe("Fleiss' κ: not measured (no image was read by three or more readers).");
  });

  it("plots each reader's F1 as a bar labelled with the reader and n, and no bar where it is not measured", async () => {
    const el = await shown();
    const plot = el.querySelector('svg[data-testid="agreement-f1-plot"]')!;
    const bars = all(plot, 'g[data-testid="agreement-bar"]');
    expect(bars.map((b) => [b.getAttribute("data-key"), b.getAttribute("data-measured"), b.querySelectorAll("rect").length])).toEqual([
      ["annotator-two", "true", 1],
      ["annotator-user", "true", 1],
      ["carol", "false", 0],
    ]);
    expect(bars.map((b) => all(b, "text").map((t) => t.textContent))).toEqual([
      ["annotator-two (n = 1 image)", "1.00"],
      ["annotator-user (n = 1 image)", "0.00"],
      ["carol (n = 0 images)", "not measured"],
    ]);
    expect(bars[2].querySelector("title")?.textContent).toBe(WHY.noFinal);
    const [full, zero] = bars.map((b) => Number(b.querySelector("rect")?.getAttribute("width")));
    expect(full).toBeGreaterThan(100);
    expect(zero).toBeLessThanOrEqual(1);
  });

  it("reads Fleiss' κ per tag, a null one as not measured", () => {
    expect(fleissParts({ readers_per_image: 3, images: 2, tags: { normal: 0.25, mass: null } })).toEqual({
      lead: "Fleiss' κ over 2 images read by 3 readers each:",
      tags: [
        { tag: "normal", text: "normal 0.25" },
        { tag: "mass", text: "mass not measured", why: WHY.fleiss },
      ],
    });
  });
});
