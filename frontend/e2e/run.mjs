// Browser tests against a running RadLabel: node e2e/run.mjs
// Env: RADLABEL_URL, RADLABEL_USER (an annotator), RADLABEL_PASSWORD, RADLABEL_ADMIN_USER,
// RADLABEL_ADMIN_PASSWORD, RADLABEL_PROJECT, RADLABEL_ARTIFACTS, RADLABEL_E2E_GREP (a name filter).
// Needs a project with model proposals (≥ 3 on at least three images), model versions and a
// finished training run with a loss curve: tests/test_browser.py seeds them and runs this file.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Runner, api, apiSend, assert, env, launch, login, newContext, openAs, openImage, pixelToPage, rleArea, rleIou, waitSaved } from "./lib.mjs";

const runner = new Runner();
const browser = await launch();
const shot = (page, name) => page.screenshot({ path: join(env.artifacts, name) });

/** Images with at least three untouched proposals, most uncertain first. */
async function candidates(context) {
  const list = await api(context, `/api/projects/${env.project}/images/?status=proposed&ordering=-uncertainty&page_size=100`);
  return list.results.filter((i) => i.proposed_count >= 3 && i.accepted_count === 0);
}

async function annotationsByKey(context, imageId) {
  const list = await api(context, `/api/images/${imageId}/annotations/`);
  return new Map(list.map((a) => [a.client_key, a]));
}

/** What the page shows for each label: status, box, mask area. */
async function pageState(page) {
  return page.$$eval("[data-testid=annotation-list] li.ann", (lis) =>
    Object.fromEntries(
      lis.map((li) => [li.dataset.key, { status: li.dataset.status, box: li.dataset.box, area: Number(li.dataset.area) }]),
    ),
  );
}

/** Every label on screen, pixel for pixel: status, class, box and the mask's COCO RLE counts. */
async function screenLabels(page) {
  return page.$$eval("[data-testid=annotation-list] li.ann", (lis) =>
    Object.fromEntries(
      lis.map((li) => [li.dataset.key, { status: li.dataset.status, cls: Number(li.dataset.class), box: li.dataset.box, rle: li.dataset.rle }]),
    ),
  );
}

/** The same, as the server holds it (rejected labels are not listed on screen). */
async function serverLabels(context, imageId) {
  const rows = await api(context, `/api/images/${imageId}/annotations/`);
  return Object.fromEntries(
    rows
      .filter((a) => a.status !== "rejected")
      .map((a) => [a.client_key, { status: a.status, cls: a.label_class, box: boxText(a.box), rle: a.mask?.counts ?? "" }]),
  );
}

/** Differences between two label states, for a readable failure. */
function diffLabels(a, b) {
  const out = [];
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = a[k];
    const y = b[k];
    if (!x || !y) out.push(`${k}: ${x ? "only first" : "only second"} (${JSON.stringify(x ?? y).slice(0, 120)})`);
    else
      for (const f of ["status", "cls", "box", "rle"]) if (x[f] !== y[f]) out.push(`${k}.${f}: ${String(x[f]).slice(0, 60)} ≠ ${String(y[f]).slice(0, 60)}`);
  }
  return out;
}

/** A small seeded PRNG (mulberry32), so a failing sequence can be replayed. */
function prng(seed) {
  let t = seed >>> 0;
  return () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let r = Math.imul(t ^ (t >>> 15), 1 | t);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

/** A pointer path at a person's speed: a move every ~16 ms. */
async function humanDrag(page, points, { shift = false } = {}) {
  await page.mouse.move(points[0][0], points[0][1]);
  if (shift) await page.keyboard.down("Shift");
  await page.mouse.down();
  for (const [x, y] of points.slice(1)) {
    await page.mouse.move(x, y);
    await page.waitForTimeout(16);
  }
  await page.mouse.up();
  if (shift) await page.keyboard.up("Shift");
}

const boxText = (b) => b.map((v) => Math.round(v * 100) / 100).join(",");

async function drag(page, from, to, steps = 12) {
  await page.mouse.move(from[0], from[1]);
  await page.mouse.down();
  await page.mouse.move(to[0], to[1], { steps });
  await page.mouse.up();
}

let setup;
await runner.test("log in, filter and sort the worklist, open an image with its proposals", async (problems) => {
  const context = await newContext(browser, problems);
  const page = await context.newPage();
  const scripts = [];
  page.on("request", (r) => r.resourceType() === "script" && scripts.push(r.url()));
  await login(page, "/");
  await page.click(`a[href="/projects/${env.project}/images"]`);
  await page.waitForSelector("[data-testid=worklist] tbody tr");
  await page.waitForTimeout(1000);
  assert(!scripts.some((u) => /AnnotatePage-/.test(u)), `the worklist does not load the viewer chunk (${scripts})`);
  assert(/\d+ of \d+ done/.test(await page.textContent("[data-testid=worklist-counts]")), "done/total counts shown");
  await page.selectOption("select[name=modality]", "MR");
  await page.waitForURL(/modality=MR/);
  await page.waitForFunction(() => document.querySelectorAll("[data-testid=worklist] tbody tr").length === 1);
  const frames = await page.textContent("[data-testid=worklist] tbody tr [data-testid=frame]");
  assert(/^10 frames/.test(frames), `a multi-frame file is one row with its frame count (${frames})`);
  await page.selectOption("select[name=modality]", "");
  await page.waitForURL((u) => !/modality=/.test(u.search));
  await page.selectOption("select[name=status]", "proposed");
  await page.waitForURL(/status=proposed/);
  await page.selectOption("select[name=ordering]", "-uncertainty");
  await page.waitForURL(/ordering=-uncertainty/);
  await page.waitForSelector("[data-testid=worklist] tbody tr");
  const images = await candidates(context);
  assert(images.length >= 3, "the project has three images with ≥ 3 untouched proposals");
  setup = { images: images.map((i) => i.id) };
  const statuses = await page.$$eval("[data-testid=worklist] tbody tr td:nth-child(4)", (tds) => tds.map((t) => t.textContent));
  await page.waitForFunction(() => {
    const img = document.querySelector("[data-testid=worklist] tbody tr [data-testid=thumbnail]");
    return img && img.complete && img.naturalWidth > 0;
  });
  await shot(page, "00-worklist.png");
  assert(statuses.every((s) => s === "proposed"), "the status filter applies");
  await page.click(`tr[data-image-id="${setup.images[0]}"] td:nth-child(2)`);
  await page.waitForSelector("[data-testid=viewer][data-ready=true]", { timeout: 30_000 });
  assert(scripts.some((u) => /AnnotatePage-/.test(u)), "the annotate page loads the viewer chunk");
  assert(/status=proposed/.test(page.url()) && /ordering=-uncertainty/.test(page.url()), "the worklist query stays in the URL");
  await page.waitForSelector("[data-testid=annotation-list] li.ann");
  const tl = await page.textContent("[data-testid=overlay-tl]");
  const tr = await page.textContent("[data-testid=overlay-tr]");
  const bl = await page.textContent("[data-testid=overlay-bl]");
  assert(/Series/.test(tl) && /^Slice \d+\/\d+$/.test(tr) && /^W -?\d+ \/ L -?\d+( · .+)?$/.test(bl), `overlay text (${tl} | ${tr} | ${bl})`);
  const proposed = await page.$$("[data-testid=annotation-list] li[data-status=proposed]");
  assert(proposed.length >= 3, "proposals listed");
  const tops = await page.$$eval(".toolbar button, .toolbar select", (els) => [...new Set(els.map((e) => Math.round(e.getBoundingClientRect().top)))]);
  assert(tops.length === 1, `the toolbar is one row at 1400 px (rows at ${tops})`);
  const hidden = await page.$$eval("[data-testid=annotation-list] li.ann button", (bs) => {
    const side = document.querySelector(".sidebar").getBoundingClientRect();
    return bs.filter((b) => b.getBoundingClientRect().right > side.right + 0.5).length;
  });
  assert(hidden === 0, `every label's accept and reject controls are visible (${hidden} cut off)`);
  await shot(page, "01-annotate-proposals.png");
  await page.keyboard.press("?");
  await page.waitForSelector("[data-testid=help]");
  assert((await page.textContent("[data-testid=help]")).includes("Accept all proposals"), "help lists shortcuts");
  await page.keyboard.press("Escape");

  // the project list shows progress, and Continue opens the next image of the last filter
  await page.goto(`${env.url}/`);
  await page.waitForSelector(`[data-project="${env.project}"] [data-testid=progress]`);
  const progress = await page.textContent(`[data-project="${env.project}"] [data-testid=progress]`);
  assert(/^\d+ of \d+ done · \d+ with proposals waiting$/.test(progress), `project progress (${progress})`);
  await shot(page, "00-projects.png");
  await page.click(`[data-project="${env.project}"] [data-testid=continue]`);
  await page.waitForURL(/\/images\/\d+\?/);
  assert(/status=proposed/.test(page.url()) && /ordering=-uncertainty/.test(page.url()), `continue keeps the last filter (${page.url()})`);
  const opened = Number(page.url().match(/images\/(\d+)/)[1]);
  const firstOpen = (await api(context, `/api/projects/${env.project}/images/?status=proposed&ordering=-uncertainty`)).results[0].id;
  assert(opened === firstOpen, `continue opens the first image not done in that filter (${opened} vs ${firstOpen})`);
  await page.waitForSelector("[data-testid=viewer][data-ready=true]", { timeout: 30_000 });
  await context.close();
});

await runner.test("accept, reject, move a box, paint and erase a mask; reload shows the same state as the API", async (problems) => {
  assert(setup, "setup ran");
  const imageId = setup.images[0];
  const { context, page } = await openAs(browser, problems, imageId);
  const server = await annotationsByKey(context, imageId);
  const keys = await page.$$eval("[data-testid=annotation-list] li[data-status=proposed]", (lis) => lis.map((l) => l.dataset.key));
  const [keyA, keyR] = keys;

  await page.click(`li[data-key="${keyA}"]`);
  await page.keyboard.press("a");
  await page.waitForSelector(`li[data-key="${keyA}"][data-status=accepted]`);
  await page.click(`li[data-key="${keyR}"]`);
  await page.keyboard.press("r");
  await page.waitForSelector(`li[data-key="${keyR}"]`, { state: "detached" });

  // move the accepted box by (20, 10) image pixels
  const a = server.get(keyA);
  const [x, y, w, h] = a.box;
  await page.click(`li[data-key="${keyA}"]`);
  const from = await pixelToPage(page, x + w / 2, y + h / 2);
  const to = await pixelToPage(page, x + w / 2 + 20, y + h / 2 + 10);
  await drag(page, from, to);
  const moved = (await pageState(page))[keyA].box.split(",").map(Number);
  assert(Math.abs(moved[0] - x - 20) < 1 && Math.abs(moved[1] - y - 10) < 1 && moved[2] === w, `box moved from ${a.box} to ${moved}`);

  // a stroke from inside the selected mask grows it; then erase through it
  const area0 = (await pageState(page))[keyA].area;
  await page.keyboard.press("p");
  await drag(page, await pixelToPage(page, x + w / 2, y + h / 2), await pixelToPage(page, x + w + 16, y + h / 2));
  const area1 = (await pageState(page))[keyA].area;
  assert(area1 > area0, `brush grew the mask (${area0} → ${area1})`);
  await page.keyboard.press("e");
  await drag(page, await pixelToPage(page, x + 2, y + h / 2), await pixelToPage(page, x + w / 2, y + h / 2));
  const area2 = (await pageState(page))[keyA].area;
  assert(area2 < area1, `eraser shrank the mask (${area1} → ${area2})`);
  await page.keyboard.press("Control+z");
  assert((await pageState(page))[keyA].area === area1, "undo restores the erased pixels");
  await page.keyboard.press("Control+Shift+z");
  assert((await pageState(page))[keyA].area === area2, "redo erases again");
  await page.keyboard.press("v");
  await shot(page, "03-annotate-edited.png");

  await waitSaved(page);
  const before = await pageState(page);
  await page.reload();
  await page.waitForSelector("[data-testid=viewer][data-ready=true]", { timeout: 30_000 });
  await page.waitForSelector("[data-testid=annotation-list] li.ann");
  const after = await pageState(page);
  assert(JSON.stringify(after) === JSON.stringify(before), `page state after reload\n${JSON.stringify(before)}\n${JSON.stringify(after)}`);
  await shot(page, "04-annotate-after-reload.png");

  const saved = await annotationsByKey(context, imageId);
  assert(saved.get(keyR).status === "rejected", "rejected in the API");
  for (const [key, s] of Object.entries(after)) {
    const row = saved.get(key);
    assert(row && row.status === s.status, `status of ${key} in the API`);
    assert(boxText(row.box) === s.box, `box of ${key}: API ${boxText(row.box)} vs page ${s.box}`);
    assert((row.mask ? rleArea(row.mask.counts) : 0) === s.area, `mask of ${key}: API area vs page ${s.area}`);
  }
  assert(saved.get(keyA).version > server.get(keyA).version, "saved with a new version");
  await context.close();
});

await runner.test("a quick second stroke, an erase right after painting, and undo after the autosave all reach the server", async (problems) => {
  assert(setup && setup.images.length >= 5, "setup ran with five images");
  const imageId = setup.images[3];
  const { context, page } = await openAs(browser, problems, imageId);
  await page.keyboard.press("h"); // proposals out of the way
  await page.keyboard.press("p");
  const at = (x, y) => pixelToPage(page, x, y);
  const line = async (x0, y0, x1, y1, n = 40) => {
    const pts = [];
    for (let i = 0; i <= n; i++) pts.push(await at(x0 + ((x1 - x0) * i) / n, y0 + ((y1 - y0) * i) / n));
    return pts;
  };
  // stroke 1, then within half a second a second stroke that starts inside it and lasts > 1 s
  await humanDrag(page, await line(200, 420, 260, 420, 20));
  await page.waitForTimeout(400);
  await humanDrag(page, await line(205, 420, 205, 470, 80), {});
  const key = await page.$eval("[data-testid=annotation-list] li.selected", (li) => li.dataset.key);
  // an erase right after painting
  await page.keyboard.press("e");
  await humanDrag(page, await line(230, 410, 230, 430, 30));
  await waitSaved(page);
  const shown = await screenLabels(page);
  const stored = await serverLabels(context, imageId);
  assert(shown[key] && shown[key].rle, "the painted label is listed with its mask");
  assert(!diffLabels(shown, stored).length, `server = screen after quick strokes:\n${diffLabels(shown, stored).join("\n")}`);

  // accept a proposal, let the autosave go out, then undo: no conflict, the server follows
  await page.keyboard.press("h");
  const proposal = await page.$eval("[data-testid=annotation-list] li[data-status=proposed]", (li) => li.dataset.key);
  await page.click(`li[data-key="${proposal}"]`);
  await page.keyboard.press("a");
  await waitSaved(page);
  await page.waitForTimeout(300);
  await page.keyboard.press("Control+z");
  await waitSaved(page);
  assert(!(await page.$("[data-testid=conflict-panel]")), "no conflict panel after an undo of my own saved edit");
  const rows = await annotationsByKey(context, imageId);
  assert(rows.get(proposal).status === "proposed", `the undo reached the server (${rows.get(proposal).status})`);
  await page.reload();
  await page.waitForSelector("[data-testid=viewer][data-ready=true]", { timeout: 30_000 });
  await page.waitForSelector("[data-testid=annotation-list] li.ann");
  const reloaded = await screenLabels(page);
  const d = diffLabels(shown[key] ? { [key]: shown[key] } : {}, { [key]: reloaded[key] });
  assert(!d.length, `the painted mask after reload:\n${d.join("\n")}`);
  await context.close();
});

await runner.test("looking is not editing; a new stroke starts a new label; delete deletes what I drew", async (problems) => {
  assert(setup && setup.images.length >= 5, "setup ran with five images");
  const imageId = setup.images[4];
  const { context, page } = await openAs(browser, problems, imageId);
  const before = await annotationsByKey(context, imageId);
  const image0 = await api(context, `/api/images/${imageId}/`);
  const proposal = [...before.values()].find((a) => a.status === "proposed" && a.mask);
  const [x, y, w, h] = proposal.box;
  // one click on a proposal on the image, and one in the list: selected, nothing saved
  const centre = await pixelToPage(page, x + w / 2, y + h / 2);
  await page.mouse.click(centre[0], centre[1]);
  await page.waitForSelector(`li.selected[data-key="${proposal.client_key}"]`);
  await page.click(`li[data-key="${[...before.keys()].find((k) => k !== proposal.client_key)}"]`);
  await page.waitForTimeout(1600);
  const after = await annotationsByKey(context, imageId);
  assert([...before].every(([k, a]) => after.get(k).version === a.version), "a click saved no version");
  assert((await api(context, `/api/images/${imageId}/`)).status === image0.status, "the image status did not change");
  assert(await page.$eval('[data-command="edit.undo"]', (b) => b.disabled), "Undo is not armed by a selection");

  // the proposal selected, a brush stroke elsewhere makes a new label of the chosen class
  await page.mouse.click(centre[0], centre[1]);
  const selectedClass = await page.$eval(`li[data-key="${proposal.client_key}"]`, (li) => Number(li.dataset.class));
  await page.keyboard.press("p");
  const far = [x + w + 40, y + h + 40].map((v) => Math.min(v, 480));
  await drag(page, await pixelToPage(page, far[0], far[1]), await pixelToPage(page, far[0] + 15, far[1]));
  const listed = await screenLabels(page);
  const created = Object.keys(listed).find((k) => !before.has(k));
  assert(created, "a new label was created");
  assert(listed[proposal.client_key].rle === (proposal.mask?.counts ?? ""), "the selected proposal's mask is untouched");
  assert(listed[proposal.client_key].status === "proposed", "the selected proposal is still a proposal");
  const project = await api(context, `/api/projects/${env.project}/`);
  const firstInstance = project.label_classes.find((c) => c.kind === "instance").id;
  assert(listed[created].cls === firstInstance, `selecting a proposal (class ${selectedClass}) left the class for new labels alone`);

  // the model's runner-up class for a finding: shown beside it, one key (X) to switch to it
  const withRunnerUp = [...before.values()].find((a) => a.status === "proposed" && a.alternatives.length);
  assert(withRunnerUp, "a proposal carries the model's runner-up class");
  await page.keyboard.press("v");
  await page.click(`li[data-key="${withRunnerUp.client_key}"]`);
  assert(/^or \S+ 0\.\d\d$/.test(await page.textContent(`li[data-key="${withRunnerUp.client_key}"] [data-testid=runner-up]`)), "runner-up shown");
  await page.keyboard.press("x");
  await page.waitForSelector(`li[data-key="${withRunnerUp.client_key}"][data-class="${withRunnerUp.alternatives[0].label_class}"]`);
  await page.click(`li[data-key="${created}"]`);

  // Delete on my own label deletes it
  await waitSaved(page);
  await page.keyboard.press("Delete");
  await page.waitForSelector(`li[data-key="${created}"]`, { state: "detached" });
  await waitSaved(page);
  assert(!(await annotationsByKey(context, imageId)).has(created), "deleted on the server, not rejected");
  await shot(page, "07-annotate-looking-not-editing.png");
  await context.close();
});

await runner.test("box → mask: a box dragged around a lesion becomes its mask, dragging again replaces it, Enter accepts, reload keeps it, F propagates it", async (problems) => {
  assert(setup && setup.images.length >= 9, "setup ran with nine images");
  const imageId = setup.images[8];
  const { context, page } = await openAs(browser, problems, imageId);
  const before = await annotationsByKey(context, imageId);
  // the seeded proposals carry each lesion's exact mask
  const lesion = [...before.values()].find((a) => a.status === "proposed" && a.mask);
  const [x, y, w, h] = lesion.box;
  await page.keyboard.press("m");
  assert(await page.$eval('[data-command="mode.assist"]', (b) => b.classList.contains("active")), "M picks the box → mask tool");
  const viewer = page.locator("[data-testid=viewer]");
  const times = [];
  for (const pad of [0.25, 0.15, 0.2, 0.3, 0.1].map((f) => Math.max(3, Math.round(f * Math.max(w, h))))) {
    await viewer.evaluate((el) => delete el.dataset.assistMs);
    await drag(page, await pixelToPage(page, x - pad, y - pad), await pixelToPage(page, x + w + pad, y + h + pad));
    await page.waitForFunction(() => document.querySelector("[data-testid=viewer]").dataset.assistMs !== undefined, null, { timeout: 10_000 });
    times.push(Number(await viewer.getAttribute("data-assist-ms")));
  }
  const listed = await screenLabels(page);
  const made = Object.keys(listed).filter((k) => !before.has(k));
  assert(made.length === 1, `dragging again replaced the assist's label (${made.length} made)`);
  const [key] = made;
  assert(listed[key].status === "proposed", "the mask appears as a proposal");
  const project = await api(context, `/api/projects/${env.project}/`);
  assert(listed[key].cls === project.label_classes.find((c) => c.kind === "instance").id, "of the class for new labels");
  // fitted inside the last box, not the box itself (the engine's quality is bench/assist_dice.py's)
  const iou = rleIou(listed[key].rle, lesion.mask.counts);
  const pad = Math.max(3, Math.round(0.1 * Math.max(w, h)));
  const [mx, my, mw, mh] = listed[key].box.split(",").map(Number);
  assert(mx >= x - pad - 1 && my >= y - pad - 1 && mx + mw <= x + w + pad + 1 && my + mh <= y + h + pad + 1, `the mask lies in the box (${listed[key].box})`);
  assert(rleArea(listed[key].rle) < 0.9 * (w + 2 * pad) * (h + 2 * pad), "the mask is not the box");
  assert(iou >= 0.3, `the mask is on the lesion (IoU ${iou.toFixed(2)} with its exact mask)`);
  assert(/classical engine|model v\d+ engine/.test(await page.textContent("[data-testid=assist-info]")), "the page says which engine answered");
  await page.click(`li[data-key="${key}"]`);
  await page.keyboard.press("Enter");
  await page.waitForSelector(`li[data-key="${key}"][data-status="accepted"]`);
  await waitSaved(page);
  await shot(page, "08-annotate-box-to-mask.png");
  await page.reload();
  await openImage(page, imageId);
  const saved = (await annotationsByKey(context, imageId)).get(key);
  assert(saved && saved.status === "accepted" && saved.source === "assist", `saved as an accepted label from the assist (${JSON.stringify(saved && { status: saved.status, source: saved.source })})`);
  const diff = diffLabels(await screenLabels(page), await serverLabels(context, imageId));
  assert(diff.length === 0, `after a reload the screen shows what the server holds: ${diff.join("; ")}`);

  // propagate (F / Shift+F): the label goes to the neighbouring slice, fitted there as a proposal
  const [slice, count] = (await page.textContent("[data-testid=overlay-tr]")).match(/(\d+)\/(\d+)/).slice(1).map(Number);
  await page.click(`li[data-key="${key}"]`);
  await page.keyboard.press(slice < count ? "f" : "Shift+F");
  await page.waitForFunction((id) => document.querySelector("[data-testid=viewer]")?.dataset.imageId !== String(id), imageId);
  const neighbour = Number(await page.getAttribute("[data-testid=viewer]", "data-image-id"));
  await page.waitForSelector("[data-testid=annotation-list] li.ann.selected[data-status=proposed]");
  await waitSaved(page);
  const propagated = (await api(context, `/api/images/${neighbour}/annotations/`)).filter((a) => a.source === "assist");
  assert(propagated.length === 1 && propagated[0].status === "proposed", `propagated to slice ${neighbour} as one assist proposal`);
  assert(propagated[0].label_class === saved.label_class, "of the same class");
  assert(/Box → mask: /.test(await page.textContent("[data-testid=assist-info]")), "fitted there by box → mask");

  const sorted = [...times].sort((a, b) => a - b);
  console.log(`     box → mask, mouse-up to mask drawn: ${sorted.map((t) => t.toFixed(0)).join(", ")} ms (median ${sorted[2].toFixed(0)}, max ${sorted[4].toFixed(0)}), IoU ${iou.toFixed(2)}`);
  await context.close();
});

await runner.test("done means done: asks while proposals are open, shows it, undo restores the status; help is modal", async (problems) => {
  assert(setup && setup.images.length >= 9, "setup ran with nine images");
  const imageId = setup.images[7];
  const { context, page } = await openAs(browser, problems, imageId);
  const project = await api(context, `/api/projects/${env.project}/`);
  const names = project.label_classes.filter((c) => c.kind === "instance").map((c) => c.name);

  await page.keyboard.press("?");
  await page.waitForSelector("[data-testid=help]");
  const help = await page.textContent("[data-testid=help]");
  assert(names.every((n) => help.includes(n)), `help names the project's classes (${names})`);
  await shot(page, "02-help.png");
  await page.keyboard.press("a");
  await page.keyboard.press("d");
  assert(!(await page.$("li[data-status=accepted]")) && !(await page.$("[data-testid=confirm-done]")), "keys do not act behind the help");
  await page.keyboard.press("Escape");
  await page.waitForSelector("[data-testid=help]", { state: "detached" });
  await page.keyboard.press("?");
  await page.mouse.click(8, 450);
  await page.waitForSelector("[data-testid=help]", { state: "detached" });

  await page.keyboard.press("d");
  await page.waitForSelector("[data-testid=confirm-done]");
  assert(/not reviewed/.test(await page.textContent("[data-testid=confirm-done]")), "the question says why");
  await shot(page, "09-confirm-done.png");
  await page.keyboard.press("Escape");
  await page.waitForSelector("[data-testid=confirm-done]", { state: "detached" });
  assert((await page.getAttribute("[data-testid=image-status]", "data-status")) === "proposed", "cancel changes nothing");
  await page.keyboard.press("d");
  await page.click("[data-testid=confirm-done] button[data-choice=anyway]");
  await page.waitForSelector("[data-testid=image-status][data-status=done]");
  assert((await page.getAttribute('[data-command="image.done"]', "aria-pressed")) === "true", "the Done button shows the state");
  await waitSaved(page);
  assert((await api(context, `/api/images/${imageId}/`)).status === "done", "done on the server");
  await page.keyboard.press("Control+z");
  await page.waitForSelector("[data-testid=image-status][data-status=proposed]");
  await waitSaved(page);
  assert((await api(context, `/api/images/${imageId}/`)).status === "proposed", "undoing Done restores the exact status");

  const url = page.url();
  await page.keyboard.press("Shift+D");
  await page.click("[data-testid=confirm-done] button[data-choice=reject-rest]");
  await page.waitForURL((u) => u.href !== url);
  await page.waitForSelector("[data-testid=viewer][data-ready=true]", { timeout: 30_000 });
  await waitSaved(page);
  assert((await api(context, `/api/images/${imageId}/`)).status === "done", "done & next marked it done");
  const rows = await api(context, `/api/images/${imageId}/annotations/`);
  assert(rows.every((a) => a.status === "rejected"), "the rest were rejected");
  await context.close();
});

await runner.test("scrolling to another slice makes it the one being labelled: its own labels, its own saves", async (problems) => {
  assert(setup && setup.images.length >= 10, "setup ran with ten images");
  const first = setup.images[9];
  const { context, page } = await openAs(browser, problems, first);
  const [slice, count] = (await page.textContent("[data-testid=overlay-tr]")).match(/(\d+)\/(\d+)/).slice(1).map(Number);
  assert(count > 1, "the series has several slices");
  await page.keyboard.press(slice < count ? "ArrowDown" : "ArrowUp");
  await page.waitForFunction((id) => document.querySelector("[data-testid=viewer]")?.dataset.imageId !== String(id), first);
  const second = Number(await page.getAttribute("[data-testid=viewer]", "data-image-id"));
  assert(page.url().includes(`/images/${second}`) && (await page.textContent("[data-testid=crumb-image]")) === `Image ${second}`, "URL and crumbs follow");
  await page.waitForFunction(() => document.querySelector("[data-testid=viewer]")?.dataset.pixelToCanvas !== "");
  const shown = await screenLabels(page);
  const stored = await serverLabels(context, second);
  assert(!diffLabels(shown, stored).length, `the slice's own labels are listed:\n${diffLabels(shown, stored).join("\n")}`);

  const before = (await api(context, `/api/images/${first}/annotations/`)).length;
  await page.keyboard.press("b");
  await drag(page, await pixelToPage(page, 60, 60), await pixelToPage(page, 90, 85));
  await waitSaved(page);
  const rows = await api(context, `/api/images/${second}/annotations/`);
  assert(rows.some((a) => a.source === "human" && Math.abs(a.box[0] - 60) < 2 && Math.abs(a.box[1] - 60) < 2), "the box was saved on the slice shown");
  assert((await api(context, `/api/images/${first}/annotations/`)).length === before, "the first slice is untouched");
  await shot(page, "11-annotate-other-slice.png");

  // copy the box to a neighbouring slice (away from the first one when there is one): it opens
  // with the copy on it, saved
  const now = Number((await page.textContent("[data-testid=overlay-tr]")).match(/(\d+)\//)[1]);
  const step = now + (now - slice) >= 1 && now + (now - slice) <= count ? now - slice : slice - now;
  await page.keyboard.press(step > 0 ? "c" : "Shift+C");
  await page.waitForFunction((id) => document.querySelector("[data-testid=viewer]")?.dataset.imageId !== String(id), second);
  const third = Number(await page.getAttribute("[data-testid=viewer]", "data-image-id"));
  await waitSaved(page);
  const copied = await api(context, `/api/images/${third}/annotations/`);
  assert(copied.some((a) => a.source === "human" && Math.abs(a.box[0] - 60) < 2 && Math.abs(a.box[1] - 60) < 2), "the copy was saved on the slice it went to");
  await context.close();
});

await runner.test("window/level: a dragged window stays while scrolling, the preset is named", async (problems) => {
  assert(setup && setup.images.length >= 11, "setup ran with eleven images");
  const imageId = setup.images[10];
  const { context, page } = await openAs(browser, problems, imageId);
  const wl = async () => (await page.textContent("[data-testid=overlay-bl]")).trim();
  assert(/· Image default$/.test(await wl()), `the image's own window is named (${await wl()})`);
  await page.keyboard.press("v");
  const [x0, y0] = await pixelToPage(page, 6, 6);
  await humanDrag(page, [[x0, y0], [x0 + 60, y0 + 20], [x0 + 120, y0 + 40]]);
  const dragged = await wl();
  const width = Number(dragged.match(/^W (-?\d+)/)[1]);
  assert(width > 1400 + 150, `dragging 120 px widens a 1400 window by more than 150 (${dragged})`);
  const [slice, count] = (await page.textContent("[data-testid=overlay-tr]")).match(/(\d+)\/(\d+)/).slice(1).map(Number);
  await page.keyboard.press(slice < count ? "ArrowDown" : "ArrowUp");
  await page.waitForFunction((s) => !document.querySelector("[data-testid=overlay-tr]").textContent.startsWith(`Slice ${s}/`), slice);
  await page.waitForTimeout(400);
  assert((await wl()) === dragged, `the window stays on the next slice (${dragged} → ${await wl()})`);
  await page.selectOption("select[aria-label='Window preset']", { label: "Lung (-600/1500)" });
  await page.waitForFunction(() => /· Lung$/.test(document.querySelector("[data-testid=overlay-bl]").textContent));
  await page.keyboard.press(slice < count ? "ArrowUp" : "ArrowDown");
  await page.waitForTimeout(400);
  assert(/^W 1500 \/ L -600 · Lung$/.test(await wl()), `the preset stays too (${await wl()})`);
  await context.close();
});

await runner.test("reading-room tools: orientation markers, the value under the pointer, a length in mm that is not a label", async (problems) => {
  assert(setup && setup.images.length >= 11, "setup ran with eleven images");
  const imageId = setup.images[10];
  const { context, page } = await openAs(browser, problems, imageId);
  const marks = await Promise.all(["left", "right", "top", "bottom"].map((s) => page.textContent(`[data-testid=orient-${s}]`)));
  assert(marks.every((m) => /^[LRAPHF]{1,3}$/.test(m)), `orientation markers (${marks})`);
  const [hx, hy] = await pixelToPage(page, 256.5, 300.5);
  await page.mouse.move(hx, hy);
  const value = await page.textContent("[data-testid=overlay-value]");
  assert(/^x 25[5-7] {2}y (299|300|301) · -?\d+(\.\d)? HU$/.test(value), `pixel value on hover (${value})`);

  const before = (await api(context, `/api/images/${imageId}/annotations/`)).length;
  await page.selectOption("select[name=measure]", "length");
  await humanDrag(page, [await pixelToPage(page, 100, 120), await pixelToPage(page, 150, 120), await pixelToPage(page, 200, 120)]);
  await page.waitForFunction(() => [...document.querySelectorAll("[data-testid=viewer] svg text")].some((t) => /mm$/.test(t.textContent.trim())));
  const mm = await page.$$eval("[data-testid=viewer] svg text", (ts) => ts.map((t) => t.textContent.trim()).find((t) => /mm$/.test(t)));
  const spacing = (await api(context, `/api/images/${imageId}/`)).pixel_spacing;
  const expected = 100 * spacing[1];
  assert(Math.abs(parseFloat(mm) - expected) < 0.05 * expected + 0.5, `length ${mm} for 100 px at ${spacing[1]} mm`);
  await shot(page, "12-annotate-measure.png");
  const bar = await page.getAttribute("canvas.annotation-overlay", "data-scale-bar");
  assert(/^\d+ mm$/.test(bar ?? ""), `a scale bar in mm (${bar})`);
  await page.keyboard.press("Shift+O");
  await page.waitForFunction(() => document.querySelector("canvas.annotation-overlay")?.dataset.opacity === "0.5");
  await page.waitForTimeout(1200);
  assert((await api(context, `/api/images/${imageId}/annotations/`)).length === before, "a measurement is not a label");
  await page.keyboard.press("v");
  await context.close();
});

await runner.test("random edit sequences at human speed, then reload: the server holds exactly what the screen showed", async (problems) => {
  assert(setup && setup.images.length >= 7, "setup ran with seven images");
  const steps = Number(process.env.RADLABEL_E2E_RANDOM_STEPS ?? 200);
  const seed = Number(process.env.RADLABEL_E2E_SEED ?? 20261201);
  const rand = prng(seed);
  const pick = (arr) => arr[Math.floor(rand() * arr.length)];
  const context = await newContext(browser, problems);
  const page = await context.newPage();
  const log = [];
  // every write the page makes, so a failure can be replayed against its trace
  const writes = [];
  page.on("requestfinished", async (req) => {
    if (req.method() === "GET") return;
    const res = await req.response();
    writes.push({ step: log.at(-1), method: req.method(), url: req.url().replace(/^https?:\/\/[^/]+/, ""), status: res?.status(), body: req.postData()?.slice(0, 300), answer: (await res?.text().catch(() => ""))?.slice(0, 300) });
  });
  for (const imageId of setup.images.slice(5, 7)) {
    await login(page, `/projects/${env.project}/images/${imageId}`);
    await openImage(page, imageId);
    const at = (x, y) => pixelToPage(page, x, y);
    const path = async (x0, y0, len, n) => {
      const a = rand() * Math.PI * 2;
      const pts = [];
      for (let i = 0; i <= n; i++) {
        const t = i / n;
        pts.push(await at(Math.max(2, Math.min(509, x0 + Math.cos(a) * len * t)), Math.max(2, Math.min(509, y0 + Math.sin(a) * len * t))));
      }
      return pts;
    };
    for (let i = 0; i < steps / 2; i++) {
      const labels = await screenLabels(page);
      const keys = Object.keys(labels);
      const selected = await page.$eval("[data-testid=annotation-list]", (ul) => ul.querySelector("li.selected")?.dataset.key ?? null);
      const action = pick(["stroke", "stroke", "extend", "erase", "box", "accept", "reject", "delete", "class", "click", "move", "undo", "undo", "redo", "pause"]);
      log.push(`${imageId}:${i}:${action}`);
      if (action === "stroke" || action === "extend") {
        await page.keyboard.press("p");
        const sel = selected && labels[selected]?.box.split(",").map(Number);
        const inside = action === "extend" && sel && labels[selected].rle;
        const x0 = inside ? sel[0] + sel[2] / 2 : 60 + rand() * 390;
        const y0 = inside ? sel[1] + sel[3] / 2 : 60 + rand() * 390;
        await humanDrag(page, await path(x0, y0, 10 + rand() * 50, 10 + Math.floor(rand() * 60)), { shift: !!inside && rand() < 0.5 });
      } else if (action === "erase") {
        await page.keyboard.press("e");
        const withMask = keys.filter((k) => labels[k].rle);
        if (!withMask.length) continue;
        const b = labels[pick(withMask)].box.split(",").map(Number);
        await humanDrag(page, await path(b[0] + b[2] * rand(), b[1] + b[3] * rand(), 5 + rand() * 20, 8 + Math.floor(rand() * 20)));
      } else if (action === "box") {
        await page.keyboard.press("b");
        const x0 = 40 + rand() * 400;
        const y0 = 40 + rand() * 400;
        await humanDrag(page, [await at(x0, y0), await at(x0 + 10 + rand() * 40, y0 + 10 + rand() * 40)]);
      } else if (action === "accept") await page.keyboard.press("a");
      else if (action === "reject") await page.keyboard.press("r");
      else if (action === "delete") await page.keyboard.press("Delete");
      else if (action === "class") await page.keyboard.press(pick(["1", "2", "3"]));
      else if (action === "click" && keys.length) {
        await page.keyboard.press("v");
        await page.click(`li[data-key="${pick(keys)}"]`);
      } else if (action === "move" && selected && labels[selected]) {
        await page.keyboard.press("v");
        const b = labels[selected].box.split(",").map(Number);
        const from = [b[0] + b[2] / 2, b[1] + b[3] / 2];
        const dx = (rand() - 0.5) * 30;
        const dy = (rand() - 0.5) * 30;
        await humanDrag(page, [await at(...from), await at(from[0] + dx / 2, from[1] + dy / 2), await at(from[0] + dx, from[1] + dy)]);
      } else if (action === "undo") await page.keyboard.press("Control+z");
      else if (action === "redo") await page.keyboard.press("Control+Shift+z");
      // pauses around the autosave delay (1 s), and quick successions
      await page.waitForTimeout(pick([50, 150, 400, 800, 950, 1000, 1100, 1300]));
      assert(!(await page.$("[data-testid=conflict-panel]")), `no conflict panel with one writer (after ${log.slice(-6).join(" ")})`);
    }
    await waitSaved(page, 30_000);
    const shown = await screenLabels(page);
    const stored = await serverLabels(context, imageId);
    const d1 = diffLabels(shown, stored);
    if (d1.length) {
      const rows = await api(context, `/api/images/${imageId}/annotations/`);
      writeFileSync(join(env.artifacts, "random-edits-trace.json"), JSON.stringify({ seed, imageId, log, writes, shown, rows }, null, 1));
    }
    assert(!d1.length, `seed ${seed}, image ${imageId}: server ≠ screen\n${d1.slice(0, 12).join("\n")}\nlast steps: ${log.slice(-12).join(" ")}`);
    await page.reload();
    await page.waitForSelector("[data-testid=viewer][data-ready=true]", { timeout: 30_000 });
    await page.waitForTimeout(300);
    const reloaded = await screenLabels(page);
    const d2 = diffLabels(shown, reloaded);
    assert(!d2.length, `seed ${seed}, image ${imageId}: reload ≠ screen\n${d2.slice(0, 12).join("\n")}`);
  }
  await shot(page, "08-annotate-random-edits.png");
  console.log(`     random edits: ${log.length} steps, seed ${seed}`);
  await context.close();
});

await runner.test("two browsers editing one annotation end in a visible conflict, resolved by choice", async (problems) => {
  assert(setup, "setup ran");
  const imageId = setup.images[1];
  const ctxA = await newContext(browser, problems);
  const ctxB = await newContext(browser, problems);
  const pageA = await ctxA.newPage();
  const pageB = await ctxB.newPage();
  await login(pageA, `/projects/${env.project}/images/${imageId}`);
  await login(pageB, `/projects/${env.project}/images/${imageId}`);
  await openImage(pageA, imageId);
  await openImage(pageB, imageId);
  const project = await api(ctxA, `/api/projects/${env.project}/`);
  const instance = project.label_classes.filter((c) => c.kind === "instance");
  const key = await pageA.$eval("[data-testid=annotation-list] li[data-status=proposed]", (li) => li.dataset.key);
  const original = (await annotationsByKey(ctxA, imageId)).get(key);
  const other = instance.findIndex((c) => c.id !== original.label_class);
  assert(other >= 0, "a second instance class exists");

  await pageA.click(`li[data-key="${key}"]`);
  await pageA.keyboard.press(String(other + 1));
  await waitSaved(pageA);

  await pageB.click(`li[data-key="${key}"]`);
  await pageB.keyboard.press("a");
  await pageB.waitForSelector("[data-testid=conflict-panel]", { timeout: 15_000 });
  const text = await pageB.textContent("[data-testid=conflict-panel]");
  assert(text.includes(instance[other].name) && text.includes("Theirs") && text.includes("Yours"), "both versions shown");
  const writer = await pageB.textContent("[data-testid=conflict-writer]");
  assert(writer === "Changed by you, in another tab or device", `who changed it (${writer})`);
  assert((await pageB.$$("[data-testid=conflict-panel] canvas.version-picture")).length === 2, "both versions as pictures");
  await shot(pageB, "05-conflict.png");
  const during = (await annotationsByKey(ctxA, imageId)).get(key);
  assert(during.status === "proposed" && during.label_class === instance[other].id, "nothing overwritten silently");

  await pageB.click(`[data-testid=conflict-panel] [data-key="${key}"] button[data-choice=mine]`);
  await waitSaved(pageB);
  const final = (await annotationsByKey(ctxA, imageId)).get(key);
  assert(final.status === "accepted" && final.label_class === instance[other].id, "keep mine re-sent on their version");
  await ctxA.close();
  await ctxB.close();
});

await runner.test("an expired session keeps the edits: re-login in place, and across a reload", async (problems) => {
  assert(setup, "setup ran");
  const imageId = setup.images[2];
  const { context, page } = await openAs(browser, problems, imageId);
  const keys = await page.$$eval("[data-testid=annotation-list] li[data-status=proposed]", (lis) => lis.map((l) => l.dataset.key));

  const cookies = await context.cookies();
  const session = cookies.find((c) => c.httpOnly && c.name !== "csrftoken");
  assert(session, "a session cookie");
  await context.clearCookies({ name: session.name });
  await page.click(`li[data-key="${keys[0]}"]`);
  await page.keyboard.press("a");
  await page.waitForSelector("[data-testid=relogin]", { timeout: 15_000 });
  assert(/Session expired/.test(await page.textContent("[data-testid=save-status]")), "status says the edits are kept");
  assert(await page.$(`li[data-key="${keys[0]}"][data-status=accepted]`), "the edit stays on screen");
  await shot(page, "06-session-expired.png");
  await page.fill("[data-testid=relogin] input[name=password]", env.password);
  await page.click("[data-testid=relogin] button[type=submit]");
  await waitSaved(page);
  assert((await annotationsByKey(context, imageId)).get(keys[0]).status === "accepted", "sent after re-login");

  // again, but the tab is reloaded before signing in: the edit waits on this device
  await context.clearCookies({ name: session.name });
  await page.click(`li[data-key="${keys[1]}"]`);
  await page.keyboard.press("r");
  await page.waitForSelector("[data-testid=relogin]", { timeout: 15_000 });
  await page.reload();
  await page.waitForURL(/\/login/);
  await page.fill("input[name=username]", env.user);
  await page.fill("input[name=password]", env.password);
  await page.click("form.login-form button[type=submit]");
  await page.waitForSelector("[data-testid=viewer][data-ready=true]", { timeout: 30_000 });
  await waitSaved(page);
  const rows = await annotationsByKey(context, imageId);
  assert(rows.get(keys[1]).status === "rejected", "the edit made before the reload reached the server");
  assert(rows.get(keys[0]).status === "accepted" && rows.get(keys[0]).version === 2, "the first edit was sent exactly once");
  await context.close();
});

await runner.test("tag suggestions: the worklist filters and shows them, y accepts one, shift+y rejects one", async (problems) => {
  const context = await newContext(browser, problems);
  const page = await context.newPage();
  await login(page, `/projects/${env.project}/images`);
  const normal = (await api(context, `/api/projects/${env.project}/`)).label_classes.find((c) => c.name === "normal");
  await page.waitForSelector("[data-testid=worklist] tbody tr");
  await page.selectOption("select[name=suggested_tag]", String(normal.id));
  await page.waitForURL(new RegExp(`suggested_tag=${normal.id}`));
  await page.waitForFunction(() => document.querySelectorAll("[data-testid=worklist] tbody tr").length === 2);
  const listed = await api(context, `/api/projects/${env.project}/images/?suggested_tag=${normal.id}`);
  assert(listed.count === 2, `two images suggest it at or above its threshold (${listed.count})`);
  const shown = await page.$$eval("[data-testid=worklist] tbody tr [data-testid=top-suggestion]", (tds) => tds.map((t) => t.textContent).sort());
  assert(shown.join() === "normal 74 %,normal 87 %", `the worklist shows each image's top suggestion (${shown})`);
  await shot(page, "05b-worklist-suggested-tags.png");
  const [first, second] = [...listed.results].sort((a, b) => b.top_suggestion.probability - a.top_suggestion.probability);

  // y accepts: the tag is ticked, saved, and the suggestion is accepted on the server
  await openImage(page, first.id, `?suggested_tag=${normal.id}`);
  await page.waitForSelector(`[data-testid=tag-suggestion][data-tag-id="${normal.id}"]`);
  assert((await page.textContent("[data-testid=tag-suggestion]")).startsWith("suggested 87 %"), "the chip shows its probability");
  await shot(page, "05c-annotate-suggested-tag.png");
  await page.keyboard.press("y");
  await page.waitForSelector(`[data-testid=tags] input[data-tag-id="${normal.id}"]:checked`);
  assert(!(await page.$("[data-testid=tag-suggestion]")), "an accepted suggestion leaves its chip");
  await waitSaved(page);
  const accepted = await api(context, `/api/images/${first.id}/`);
  assert(accepted.tags.includes(normal.id) && accepted.tag_suggestions[0].decision === "accepted", `accepted on the server (${JSON.stringify(accepted.tag_suggestions)})`);

  // shift+y rejects: no tag, the chip goes, and the worklist filter no longer lists it
  await openImage(page, second.id);
  await page.waitForSelector("[data-testid=tag-suggestion]");
  await page.keyboard.press("Shift+Y");
  await page.waitForFunction(() => !document.querySelector("[data-testid=tag-suggestion]"));
  const rejected = await api(context, `/api/images/${second.id}/`);
  assert(!rejected.tags.includes(normal.id) && rejected.tag_suggestions[0].decision === "rejected", `rejected on the server (${JSON.stringify(rejected.tag_suggestions)})`);
  assert((await api(context, `/api/projects/${env.project}/images/?suggested_tag=${normal.id}`)).count === 0, "nothing left to decide");
  await context.close();
});

await runner.test("second reader: a reviewer reads a submitted image read-only, returns it with a comment on a label, the annotator sees it first and fixes it, the reviewer accepts and it locks", async (problems) => {
  // the 10-frame MR's first frame, which the other tests leave alone
  const probe = await newContext(browser, problems);
  await login(await probe.newPage(), "/");
  const mr = (await api(probe, `/api/projects/${env.project}/images/?modality=MR&ordering=id`)).results[0];
  const imageId = mr.id;
  await probe.close();
  const status = async (context) => (await api(context, `/api/images/${imageId}/`)).status;

  // the annotator draws a box and submits it (done)
  const annotator = await openAs(browser, problems, imageId);
  await annotator.page.keyboard.press("b");
  const corner = (f) => pixelToPage(annotator.page, mr.columns * f, mr.rows * f);
  await drag(annotator.page, await corner(0.3), await corner(0.6));
  await annotator.page.waitForSelector("[data-testid=annotation-list] li[data-status=accepted]");
  await waitSaved(annotator.page);
  await annotator.page.keyboard.press("v");
  await annotator.page.keyboard.press("d");
  await annotator.page.waitForSelector("[data-testid=image-status][data-status=done]");
  await waitSaved(annotator.page);
  assert((await status(annotator.context)) === "done", "submitted");

  // the reviewer opens it from the submitted filter: read-only, with Accept / Return
  const reviewer = await newContext(browser, problems);
  const rpage = await reviewer.newPage();
  await login(rpage, `/projects/${env.project}/images?status=done`, env.reviewerUser, env.password);
  await rpage.waitForSelector("[data-testid=worklist] tbody tr");
  const submitted = await api(reviewer, `/api/projects/${env.project}/images/?status=done&group=instance`);
  assert(submitted.results.some((r) => r.instance_id === mr.instance_id), "the submitted filter lists it");
  await openImage(rpage, imageId, "?status=done");
  await rpage.waitForSelector("[data-testid=review-accept]");
  assert((await rpage.getAttribute("[data-testid=viewer]", "data-locked")) === "true", "the labels are read-only to a reviewer reading them");
  const facts = await rpage.textContent("[data-testid=review-facts]");
  assert(facts.includes(`Submitted by ${env.user}`), `who submitted it (${facts})`);
  const before = (await api(reviewer, `/api/images/${imageId}/annotations/`)).length;
  await rpage.keyboard.press("b");
  const [cx, cy] = await pixelToPage(rpage, 40, 40);
  await drag(rpage, [cx, cy], [cx + 60, cy + 60]);
  await rpage.waitForSelector("[data-testid=review-locked].flash");
  assert(/read-only until you choose Edit labels/.test(await rpage.textContent("[data-testid=review-locked]")), "the reviewer is told why");
  await rpage.keyboard.press("v");
  const target = await rpage.$eval("[data-testid=annotation-list] li[data-status=accepted]", (li) => ({ key: li.dataset.key, id: Number(li.dataset.annotationId) }));
  await rpage.click(`li[data-key="${target.key}"]`);
  await shot(rpage, "14-review-reading.png");
  await rpage.keyboard.press("r");
  await rpage.waitForSelector("[data-testid=return-dialog]");
  assert(await rpage.isChecked("[data-testid=return-about-label]"), "the comment is about the selected label");
  await rpage.fill("[data-testid=return-comment]", "The box misses the lower edge of the nodule.");
  const rurl = rpage.url();
  await rpage.keyboard.press("Control+Enter");
  await rpage.waitForURL((u) => u.href !== rurl);
  const returned = await api(reviewer, `/api/images/${imageId}/`);
  assert(returned.status === "returned" && returned.review.comments[0].annotation === target.id, `returned with the comment on the label (${JSON.stringify(returned.review)})`);
  assert((await api(reviewer, `/api/images/${imageId}/annotations/`)).length === before, "the read-only box drew nothing");

  // the annotator's worklist starts with it; the comment shows beside its label
  await annotator.page.goto(`${env.url}/projects/${env.project}/images`);
  await annotator.page.waitForSelector("[data-testid=worklist] tbody tr");
  const first = await annotator.page.getAttribute("[data-testid=worklist] tbody tr", "data-image-id");
  assert(Number(first) === imageId, `a returned image heads its annotator's worklist (${first})`);
  await annotator.page.click(`tr[data-image-id="${imageId}"] td:nth-child(2)`);
  await annotator.page.waitForSelector("[data-testid=viewer][data-ready=true]", { timeout: 30_000 });
  await annotator.page.waitForSelector(`li[data-key="${target.key}"] [data-testid=label-comment]`);
  assert((await annotator.page.textContent("[data-testid=review-comments]")).includes("misses the lower edge"), "the comment is in the review box");
  assert((await annotator.page.getAttribute("[data-testid=image-status]", "data-status")) === "returned", "the page says it was returned");
  await shot(annotator.page, "15-review-returned.png");
  // the fix: the label's box moves down by 6 px, then Done again
  const label = (await api(annotator.context, `/api/images/${imageId}/annotations/`)).find((a) => a.id === target.id);
  await annotator.page.click(`li[data-key="${target.key}"]`);
  const [x, y, w, h] = label.box;
  await drag(annotator.page, await pixelToPage(annotator.page, x + w / 2, y + h / 2), await pixelToPage(annotator.page, x + w / 2, y + h / 2 + 6));
  await annotator.page.keyboard.press("d");
  await annotator.page.waitForSelector("[data-testid=image-status][data-status=done]");
  await waitSaved(annotator.page);
  const fixed = (await api(annotator.context, `/api/images/${imageId}/annotations/`)).find((a) => a.id === target.id);
  assert(Math.abs(fixed.box[1] - y - 6) < 1 && (await status(annotator.context)) === "done", `fixed and submitted again (${fixed.box})`);

  // the reviewer accepts (A); the labels lock for both
  await openImage(rpage, imageId, "?status=done");
  await rpage.waitForSelector("[data-testid=review-accept]");
  const aurl = rpage.url();
  await rpage.keyboard.press("a");
  await rpage.waitForURL((u) => u.href !== aurl);
  assert((await status(reviewer)) === "reviewed", "accepted");
  await openImage(annotator.page, imageId);
  assert((await annotator.page.getAttribute("[data-testid=viewer]", "data-locked")) === "true", "an accepted image is locked");
  await annotator.page.click(`li[data-key="${target.key}"]`);
  await annotator.page.keyboard.press("Delete");
  await annotator.page.waitForSelector("[data-testid=review-locked].flash");
  assert(/locked until a reviewer reopens/.test(await annotator.page.textContent("[data-testid=review-locked]")), "the page says why");
  assert((await api(annotator.context, `/api/images/${imageId}/annotations/`)).some((a) => a.id === target.id), "the locked label stays");
  await shot(annotator.page, "16-review-accepted-locked.png");
  await annotator.context.close();
  await reviewer.close();
});

await runner.test("independent reads: the second reader starts blind, the reviewer sees both reads in two colours and picks the final set", async (problems) => {
  const admin = await newContext(browser, problems);
  const apage = await admin.newPage();
  await login(apage, "/", env.adminUser, env.adminPassword);
  const setReads = async (n) => assert((await apiSend(admin, "PATCH", `/api/projects/${env.project}/`, { reads_per_image: n })).status === 200, `reads_per_image ${n}`);
  await setReads(2);
  try {
    const frame = (await api(admin, `/api/projects/${env.project}/images/?modality=MR&ordering=id`)).results[1];
    const corner = (page, f) => pixelToPage(page, frame.columns * f, frame.rows * f);
    const readOnce = async (page, from, to) => {
      await page.keyboard.press("b");
      await drag(page, await corner(page, from), await corner(page, to));
      await page.waitForSelector("[data-testid=annotation-list] li[data-status=accepted]");
      await page.keyboard.press("v");
      await page.keyboard.press("d");
      await waitSaved(page);
    };
    // the radiologist reads it; the image goes back to where they started, and they are blinded
    const first = await openAs(browser, problems, frame.id);
    await readOnce(first.page, 0.2, 0.4);
    const blinded = await apiSend(first.context, "GET", `/api/images/${frame.id}/annotations/`);
    assert(blinded.status === 403 && blinded.body.code === "read_blinded", `the first reader is blinded (${blinded.status})`);
    // the admin reads it second: none of the first read is there
    await openImage(apage, frame.id);
    assert(!(await apage.$("[data-testid=annotation-list] li.ann")), "the second reader starts with no labels");
    await readOnce(apage, 0.5, 0.7);
    assert((await api(admin, `/api/images/${frame.id}/`)).status === "done", "both reads are in: it waits for the reviewer");

    // the reviewer sees both reads, a colour each, and makes the first reader's box the final set
    const reviewer = await newContext(browser, problems);
    const rpage = await reviewer.newPage();
    await login(rpage, `/projects/${env.project}/images/${frame.id}`, env.reviewerUser, env.password);
    await rpage.waitForSelector("[data-testid=viewer][data-ready=true]", { timeout: 30_000 });
    await rpage.waitForSelector("[data-testid=reads-box] input[data-testid=read-pick]");
    const heads = await rpage.$$eval("[data-testid=reads-box] .read-head", (ps) => ps.map((p) => p.textContent));
    assert(heads.length === 2 && heads[0].includes(env.user) && heads[1].includes(env.adminUser), `two reads, in reading order (${heads})`);
    await shot(rpage, "17-adjudication.png");
    await rpage.check("[data-testid=reads-box] .read:first-of-type input[data-testid=read-pick]");
    const before = await rpage.getAttribute("[data-testid=annotation-list] li.ann", "data-annotation-id");
    const [answer] = await Promise.all([rpage.waitForResponse((r) => r.url().includes("/adjudicate/")), rpage.click("[data-testid=adjudicate]")]);
    assert(answer.status() === 200, `adjudicated (${answer.status()})`);
    await rpage.waitForFunction((old) => {
      const li = document.querySelector("[data-testid=annotation-list] li.ann");
      return li && li.dataset.annotationId !== old;
    }, before);
    const [final] = (await api(reviewer, `/api/images/${frame.id}/annotations/`)).filter((a) => a.source === "human");
    const reads = await api(reviewer, `/api/images/${frame.id}/reads/`);
    const near = final.box.every((v, i) => Math.abs(v - reads[0].annotations[0].box[i]) < 0.01);
    assert(near, `the final set is the first reader's box (${final.box} vs ${reads[0].annotations[0].box})`);
    await shot(rpage, "17b-adjudicated.png");
    await rpage.click("[data-testid=review-accept]");
    await rpage.waitForURL((u) => !u.pathname.endsWith(`/images/${frame.id}`));
    assert((await api(reviewer, `/api/images/${frame.id}/`)).status === "reviewed", "accepted");
    await first.context.close();
    await reviewer.close();
  } finally {
    await setReads(1);
    await admin.close();
  }
});

await runner.test("Models page: versions, loss curve, start and cancel training, promote, pre-annotate; annotators get 403", async (problems) => {
  const context = await newContext(browser, problems);
  const page = await context.newPage();
  await login(page, `/projects/${env.project}/images?status=proposed`, env.adminUser, env.adminPassword);
  await page.waitForSelector("[data-testid=worklist] tbody tr");
  await page.click("[data-testid=models-link]");
  await page.waitForURL(/\/models\?status=proposed$/);
  await page.waitForSelector("[data-testid=model-versions] tbody tr[data-version]");

  // versions: newest first, statuses, nulls shown as dashes, one plotted series per metric
  const rows = await page.$$eval("[data-testid=model-versions] tbody tr", (trs) =>
    trs.map((tr) => ({ v: tr.dataset.version, status: tr.dataset.status, cells: [...tr.cells].map((c) => c.textContent) })),
  );
  assert(rows.map((r) => r.v).join() === "3,2,1", `versions newest first (${rows.map((r) => r.v)})`);
  assert(rows.map((r) => r.status).join() === "candidate,active,retired", "version statuses");
  assert(rows[0].cells.some((c) => /segm AP 0\.44\b/.test(c)), `AP beside the figures (${rows[0].cells})`);
  assert(rows[0].cells.some((c) => /^finds 8 of 10 lesions/.test(c)), `what radiologists get, in words (${rows[0].cells})`);
  assert(rows[0].cells.some((c) => /not measured: no labels in test/.test(c)), `an unmeasured split says so (${rows[0].cells})`);
  assert(rows[2].cells.some((c) => /no lesion-level figures/.test(c)), `an old version says what it lacks (${rows[2].cells})`);
  const perClass = await page.$$eval('[data-testid=model-versions] tr[data-version="3"] [data-testid=per-class]', (ds) => ds.map((d) => d.textContent));
  assert(perClass.join() === "nodule_ggo 0.36 · nodule_solid 0.52", `each class's AP (${perClass})`);
  const series = await page.$$eval("[data-testid=metrics-plot] .chart-series", (gs) => gs.map((g) => g.querySelectorAll("circle").length));
  assert(series.length >= 3 && series[0] === 3, `metric plot series (${series})`);

  // the tag classifier of each version: figures as the API holds them, a version without one says so
  await page.waitForSelector("[data-testid=tag-metrics] tbody tr[data-version]");
  const listed = await api(context, `/api/projects/${env.project}/model-versions/`);
  const v3test = listed.find((v) => v.number === 3).classifier.metrics.test.tags.normal;
  const tagRows = await page.$$eval("[data-testid=tag-metrics] tbody tr[data-version]", (trs) =>
    trs.map((tr) => ({ v: tr.dataset.version, tag: tr.dataset.tag, cells: [...tr.cells].map((c) => c.textContent) })),
  );
  assert(tagRows.map((r) => `${r.v}:${r.tag}`).join() === "3:normal,2:normal,1:", `a tag row per version (${tagRows.map((r) => `${r.v}:${r.tag}`)})`);
  const auroc = `AUROC ${v3test.auroc.value.toFixed(2)} (${v3test.auroc.low.toFixed(2)}–${v3test.auroc.high.toFixed(2)})`;
  assert(tagRows[0].cells[3].startsWith(auroc), `v3's test AUROC as the API has it (${tagRows[0].cells[3]}; ${auroc})`);
  assert(tagRows[0].cells[3].includes(`on ${v3test.images} images (${v3test.positives} with the tag)`), `the images behind it (${tagRows[0].cells[3]})`);
  assert(/^no tag classifier/.test(tagRows[2].cells[2]), `a version without a classifier says so (${tagRows[2].cells})`);
  assert((await page.$$("[data-testid=tag-auroc-plot] .chart-series")).length >= 2, "val and test mean AUROC plotted");
  await page.locator("[data-testid=classifier-section]").scrollIntoViewIfNeeded();
  await shot(page, "07b-models-classifier.png");

  // the value of each version: v2's proposals are on the images; the others proposed nothing here
  await page.waitForSelector("[data-testid=model-value] tbody tr[data-version]");
  const value = await api(context, `/api/projects/${env.project}/model-versions/value/`);
  const v2 = value.versions.find((v) => v.number === 2);
  const valueRows = await page.$$eval("[data-testid=model-value] tbody tr[data-version]", (trs) =>
    trs.map((tr) => ({ v: tr.dataset.version, cells: [...tr.cells].map((c) => c.textContent) })),
  );
  assert(valueRows.map((r) => r.v).join() === "3,2,1", `a value row per version (${valueRows.map((r) => r.v)})`);
  const shown2 = valueRows[1].cells;
  assert(v2.images >= 12 && shown2[1] === String(v2.images) && shown2[2].startsWith(String(v2.proposals)), `v2's images and proposals as the API counts them (${shown2.slice(0, 3)}; ${v2.images}, ${v2.proposals})`);
  assert(valueRows[0].cells.slice(3).every((c) => /not measured/.test(c)), `a version with no proposals here is not measured (${valueRows[0].cells})`);
  const summary = await page.textContent("[data-testid=value-summary]");
  const share = v2.accepted_unchanged.value;
  assert(summary.startsWith(share == null ? "v2: accepted unchanged not measured" : `v2: ${Math.round(share * 100)} % accepted unchanged`), `the summary line says what the API measured (${summary}; ${share})`);

  // reader agreement: a row and a bar per reader the API lists (the second-reader test's annotator, when it ran)
  await page.waitForSelector("[data-testid=agreement-section][data-state=loaded]");
  const agreement = await api(context, `/api/projects/${env.project}/agreement/`);
  const agreeRows = await page.$$eval("[data-testid=agreement-readers] tbody tr[data-reader]", (trs) => trs.map((tr) => tr.dataset.reader));
  const agreeBars = await page.$$eval("[data-testid=agreement-bar]", (gs) => gs.map((g) => g.dataset.key));
  const listedReaders = agreement.readers.map((r) => r.reader).join();
  assert(agreeRows.join() === listedReaders && agreeBars.join() === listedReaders, `a row and a bar per reader (${agreeRows}; ${agreeBars}; ${listedReaders})`);
  const mine = agreement.readers.find((r) => r.reader === env.user);
  if (mine) {
    const reviewed = await page.textContent(`[data-testid=agreement-readers] tr[data-reader="${env.user}"] [data-figure=images]`);
    assert(Number(reviewed) === mine.against_final.images && mine.against_final.images >= 1, `${env.user}'s reviewed images (${reviewed})`);
  }
  await page.locator("[data-testid=agreement-section]").scrollIntoViewIfNeeded();
  await page.locator("[data-testid=agreement-section]").screenshot({ path: join(env.artifacts, "18-models-agreement.png") });

  // the finished run: its loss curve and status; how close the next automatic retrain is
  await page.waitForSelector("[data-testid=training-job][data-status=succeeded]");
  const retrain = await page.textContent("[data-testid=retrain-status]");
  assert(/^\d+ labels? accepted on train since the last version[;:] the next retrain/.test(retrain), `retrain status (${retrain})`);
  const finished = await page.textContent("[data-testid=training-job]");
  assert(finished.includes("epoch 20 / 20 · 1200 steps") && !/step \d+ \/ \d+/.test(finished), `a finished run's steps (${finished})`);
  const points = Number(await page.getAttribute("[data-testid=loss-chart-box]", "data-points"));
  assert(points === 300, `loss curve points (${points})`);
  const d = await page.getAttribute("[data-testid=loss-chart] .chart-series path", "d");
  assert(d && d.split("L").length > 100, "loss curve drawn");
  const gpu = await page.textContent("[data-testid=worker-summary] [data-queue=gpu]");
  assert(/1 worker alive/.test(gpu) && /CUDA device/.test(gpu), `gpu queue status (${gpu})`);
  const interactive = await page.textContent("[data-testid=worker-summary] [data-queue=interactive]");
  assert(/no worker alive/.test(interactive) && /falls back to the classical engine/.test(interactive), `interactive queue status (${interactive})`);
  assert((await page.$$("[data-testid=workers] tbody tr[data-alive=true]")).length === 2, "two workers alive");
  // the page scrolls inside its content area: a taller window shows all four sections
  await page.setViewportSize({ width: 1400, height: 1060 });
  await shot(page, "07-models.png");
  await page.setViewportSize({ width: 1400, height: 900 });

  // start a run with options: 202, queued, waiting for a worker; then cancel it
  await page.selectOption("select[name=backbone]", "mobilenet_v3_fpn");
  await page.selectOption("select[name=image_size]", "384");
  await page.check("input[name=stop][value=budget]");
  await page.fill("input[name=budget_min]", "5");
  const [started] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(`/api/projects/${env.project}/training-jobs/`) && r.request().method() === "POST"),
    page.click("[data-testid=start-training]"),
  ]);
  assert(started.status() === 202, `start answers 202 (${started.status()})`);
  const job = await started.json();
  assert(job.status === "queued", "the new job is queued");
  assert(job.options.backbone === "mobilenet_v3_fpn" && job.options.image_size === 384 && job.options.time_budget_s === 300, `options sent (${JSON.stringify(job.options)})`);
  await page.waitForSelector(`[data-testid=training-job][data-job-id="${job.id}"][data-status=queued]`);
  assert(/waiting for a worker/.test(await page.textContent("[data-testid=training-eta]")), "queued job says it waits for a worker");
  assert(await page.isDisabled("[data-testid=start-training]"), "no second start while one is queued");
  await page.waitForSelector("[data-testid=training-progress]");
  await shot(page, "08-models-training-queued.png");
  await page.click("[data-testid=cancel-training]");
  await page.waitForSelector(`[data-testid=training-job][data-job-id="${job.id}"][data-status=cancelled]`);
  assert((await api(context, `/api/training-jobs/${job.id}/`)).status === "cancelled", "cancelled on the server");

  // a run started elsewhere: the page's start gets 409 and shows the server's detail
  const other = await apiSend(context, "POST", `/api/projects/${env.project}/training-jobs/`, { epochs: 2 });
  assert(other.status === 202, `API start (${other.status})`);
  const again = await apiSend(context, "POST", `/api/projects/${env.project}/training-jobs/`, { epochs: 2 });
  assert(again.status === 409 && again.body.code === "training_in_progress" && again.body.job === other.body.id, `409 with the running job (${JSON.stringify(again.body)})`);
  if (!(await page.isDisabled("[data-testid=start-training]"))) {
    await page.click("[data-testid=start-training]");
    await page.waitForFunction(() => /already queued or running/.test(document.querySelector("[data-testid=train-error]")?.textContent ?? ""));
  }
  await page.waitForSelector(`[data-testid=training-job][data-job-id="${other.body.id}"][data-status=queued]`, { timeout: 20_000 });
  await page.click("[data-testid=cancel-training]");
  await page.waitForSelector(`[data-testid=training-job][data-job-id="${other.body.id}"][data-status=cancelled]`);

  // promote the candidate, then roll back to the version before
  await page.click("[data-testid=model-versions] tr[data-version='3'] button[data-action=promote]");
  await page.waitForSelector("[data-testid=model-versions] tr[data-version='3'][data-status=active]");
  assert(await page.$("[data-testid=model-versions] tr[data-version='2'][data-status=retired]"), "the previous version retired");
  await page.click("[data-testid=model-versions] tr[data-version='2'] button[data-action=rollback]");
  await page.waitForSelector("[data-testid=model-versions] tr[data-version='2'][data-status=active]");

  // pre-annotate the worklist filter (status = proposed): a queued job with a progress bar, cancelled
  const [pre] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(`/api/projects/${env.project}/preannotate/`)),
    page.click("[data-testid=preannotate-filtered]"),
  ]);
  assert(pre.status() === 202, `pre-annotate answers 202 (${pre.status()})`);
  const preJob = await pre.json();
  const proposed = await api(context, `/api/projects/${env.project}/images/?status=proposed&page_size=200`);
  assert(preJob.total === proposed.count, `the filter chose the worklist's images (${preJob.total} of ${proposed.count})`);
  await page.waitForSelector(`[data-testid=preannotation-jobs] [data-job-id="${preJob.id}"][data-status=queued] [data-testid=preannotation-progress]`);
  await page.click(`[data-testid=preannotation-jobs] [data-job-id="${preJob.id}"] [data-testid=cancel-preannotation]`);
  await page.waitForSelector(`[data-testid=preannotation-jobs] [data-job-id="${preJob.id}"][data-status=cancelled]`);
  await page.click("[data-testid=training-jobs] tbody tr:last-child");
  await page.waitForSelector("[data-testid=training-job][data-status=succeeded]");
  await shot(page, "09-models-after.png");
  await context.close();

  // an annotator: no link, the page says so, and the API answers 403
  const ctxB = await newContext(browser, problems);
  const pageB = await ctxB.newPage();
  await login(pageB, `/projects/${env.project}/images`);
  await pageB.waitForSelector("[data-testid=worklist] tbody tr");
  assert(!(await pageB.$("[data-testid=models-link]")), "annotators see no Models link");
  await pageB.goto(`${env.url}/projects/${env.project}/models`);
  await pageB.waitForSelector("[data-testid=not-admin]");
  assert(!(await pageB.$("[data-testid=start-training]")), "no training controls for annotators");
  for (const path of ["training-jobs/", "workers/", "preannotation-jobs/"]) {
    const r = await apiSend(ctxB, "GET", `/api/projects/${env.project}/${path}`);
    assert(r.status === 403, `GET ${path} as annotator → ${r.status}`);
  }
  const post = await apiSend(ctxB, "POST", `/api/projects/${env.project}/training-jobs/`, { epochs: 1 });
  assert(post.status === 403, `POST training-jobs as annotator → ${post.status}`);
  await ctxB.close();
});

await runner.test("Models page: augmentation settings saved, refused out of range, previewed with the labels drawn", async (problems) => {
  const context = await newContext(browser, problems);
  const page = await context.newPage();
  await login(page, `/projects/${env.project}/models`, env.adminUser, env.adminPassword);
  await page.waitForSelector("[data-testid=augmentation-section] tr[data-op=vflip]");
  const before = await api(context, `/api/projects/${env.project}/augmentation/`);
  assert(before.ops.length >= 12 && (await page.$$("[data-testid=augmentation-section] tr[data-op]")).length === before.ops.length, "a row per op");
  assert(!(await page.isChecked("[data-testid=aug-vflip-enabled]")) && !before.settings.vflip.enabled, "vertical flip off by default");

  // out of range: named, and nothing can be saved or previewed
  await page.fill("[data-testid=aug-rotation-strength]", "500");
  await page.dispatchEvent("[data-testid=aug-rotation-strength]", "change");
  const refused = await page.textContent("[data-testid=augmentation-error]");
  assert(/Rotation: strength is between 0 and 180/.test(refused), `an out-of-range strength is named (${refused})`);
  assert(await page.isDisabled("[data-testid=augmentation-save]"), "no save while a field is out of range");
  const direct = await apiSend(context, "PUT", `/api/projects/${env.project}/augmentation/`, { settings: { rotation: { strength: 500 } } });
  assert(direct.status === 400 && direct.body.code === "invalid_augmentation", `the API refuses it too (${direct.status} ${JSON.stringify(direct.body)})`);

  // a preview of the unsaved form: 8 PNGs
  await page.fill("[data-testid=aug-rotation-strength]", "30");
  await page.check("[data-testid=aug-vflip-enabled]");
  assert((await page.textContent("[data-testid=augmentation-saved]")) === "Not saved yet.", "unsaved changes say so");
  const [preview] = await Promise.all([
    page.waitForResponse((r) => r.url().includes(`/api/projects/${env.project}/augmentation/preview/`), { timeout: 60_000 }),
    page.click("[data-testid=augmentation-preview]"),
  ]);
  assert(preview.status() === 200, `preview answers 200 (${preview.status()})`);
  const previewed = await preview.json();
  assert(previewed.settings.vflip.enabled && previewed.settings.rotation.strength === 30, "the preview used the form's settings");
  await page.waitForFunction(() => document.querySelectorAll("[data-testid=augmentation-samples] img").length === 8);
  const sizes = await page.$$eval("[data-testid=augmentation-samples] img", (imgs) => imgs.map((i) => i.naturalWidth));
  assert(sizes.every((w) => w > 0 && w <= previewed.size), `8 decoded PNGs (${sizes})`);

  // saved: the API and a reload show it
  const [saved] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(`/api/projects/${env.project}/augmentation/`) && r.request().method() === "PUT"),
    page.click("[data-testid=augmentation-save]"),
  ]);
  assert(saved.status() === 200, `save answers 200 (${saved.status()})`);
  const after = await api(context, `/api/projects/${env.project}/augmentation/`);
  assert(after.settings.vflip.enabled && after.settings.rotation.strength === 30, `saved on the server (${JSON.stringify(after.settings.rotation)})`);
  await page.waitForFunction(() => /^Saved/.test(document.querySelector("[data-testid=augmentation-saved]")?.textContent ?? ""));
  await page.locator("[data-testid=augmentation-section]").scrollIntoViewIfNeeded();
  await shot(page, "10-models-augmentation.png");
  await page.reload();
  await page.waitForSelector("[data-testid=augmentation-section] tr[data-op=vflip]");
  await page.waitForFunction(() => /^Saved/.test(document.querySelector("[data-testid=augmentation-saved]")?.textContent ?? ""));
  assert(await page.isChecked("[data-testid=aug-vflip-enabled]"), "a reload shows the saved settings");
  await apiSend(context, "PUT", `/api/projects/${env.project}/augmentation/`, { settings: before.settings });
  await context.close();
});

await runner.test("README screenshot: an image with proposals of several classes, masks and boxes", async (problems) => {
  const context = await newContext(browser, problems);
  const page = await context.newPage();
  await login(page, "/");
  const list = await api(context, `/api/projects/${env.project}/images/?status=proposed&page_size=200`);
  const best = list.results
    .filter((i) => i.rows >= 512 && i.proposed_count <= 8)
    .sort((a, b) => b.classes.length - a.classes.length || b.proposed_count - a.proposed_count)[0];
  assert(best && best.classes.length >= 2, "an image with proposals of two classes or more");
  await openImage(page, best.id);
  const top = await page.$eval("[data-testid=annotation-list] li[data-status=proposed]", (li) => li.dataset.key);
  await page.click(`li[data-key="${top}"]`);
  await page.mouse.move(5, 5);
  // labels stay readable: every name tag on the canvas, none over another
  const tags = JSON.parse(await page.getAttribute("canvas.annotation-overlay", "data-tags"));
  const size = await page.$eval("canvas.annotation-overlay", (c) => [c.clientWidth, c.clientHeight]);
  assert(tags.length === best.proposed_count + best.accepted_count, `a tag per label (${tags.length})`);
  for (const [i, [x, y, w, h]] of tags.entries()) {
    assert(x >= 0 && y >= 0 && x + w <= size[0] + 1 && y + h <= size[1] + 1, `tag ${i} on the canvas`);
    for (const [u, v, p, q] of tags.slice(i + 1)) assert(x + w <= u || u + p <= x || y + h <= v || v + q <= y, `tag ${i} covers another`);
  }
  await shot(page, "10-annotate-readme.png");
  await context.close();
});

await browser.close();
runner.finish();
