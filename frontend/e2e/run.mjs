// Browser tests against a running RadLabel: node e2e/run.mjs
// Env: RADLABEL_URL, RADLABEL_USER, RADLABEL_PASSWORD, RADLABEL_PROJECT, RADLABEL_ARTIFACTS.
// Needs a project with model proposals (≥ 3 on at least three images).
import { join } from "node:path";
import { Runner, api, assert, env, launch, login, newContext, openImage, pixelToPage, rleArea, waitSaved } from "./lib.mjs";

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
  await login(page, "/");
  await page.click(`a[href="/projects/${env.project}/images"]`);
  await page.waitForSelector("[data-testid=worklist] tbody tr");
  assert(/\d+ of \d+ done/.test(await page.textContent("[data-testid=worklist-counts]")), "done/total counts shown");
  await page.selectOption("select[name=status]", "proposed");
  await page.waitForURL(/status=proposed/);
  await page.selectOption("select[name=ordering]", "-uncertainty");
  await page.waitForURL(/ordering=-uncertainty/);
  await page.waitForSelector("[data-testid=worklist] tbody tr");
  const images = await candidates(context);
  assert(images.length >= 3, "the project has three images with ≥ 3 untouched proposals");
  setup = { images: images.slice(0, 3).map((i) => i.id) };
  const statuses = await page.$$eval("[data-testid=worklist] tbody tr td:nth-child(3)", (tds) => tds.map((t) => t.textContent));
  assert(statuses.every((s) => s === "proposed"), "the status filter applies");
  await page.click(`tr[data-image-id="${setup.images[0]}"] td:nth-child(2)`);
  await page.waitForSelector("[data-testid=viewer][data-ready=true]", { timeout: 30_000 });
  assert(/status=proposed/.test(page.url()) && /ordering=-uncertainty/.test(page.url()), "the worklist query stays in the URL");
  await page.waitForSelector("[data-testid=annotation-list] li.ann");
  const tl = await page.textContent("[data-testid=overlay-tl]");
  const tr = await page.textContent("[data-testid=overlay-tr]");
  const bl = await page.textContent("[data-testid=overlay-bl]");
  assert(/Series/.test(tl) && /^Slice \d+\/\d+$/.test(tr) && /^W -?\d+ \/ L -?\d+$/.test(bl), `overlay text (${tl} | ${tr} | ${bl})`);
  const proposed = await page.$$("[data-testid=annotation-list] li[data-status=proposed]");
  assert(proposed.length >= 3, "proposals listed");
  await shot(page, "01-annotate-proposals.png");
  await page.keyboard.press("?");
  await page.waitForSelector("[data-testid=help]");
  assert((await page.textContent("[data-testid=help]")).includes("Accept all proposals"), "help lists shortcuts");
  await shot(page, "02-help.png");
  await page.keyboard.press("Escape");
  await context.close();
});

await runner.test("accept, reject, move a box, paint and erase a mask; reload shows the same state as the API", async (problems) => {
  assert(setup, "setup ran");
  const imageId = setup.images[0];
  const context = await newContext(browser, problems);
  const page = await context.newPage();
  await login(page, `/projects/${env.project}/images/${imageId}`);
  await openImage(page, imageId);
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

  // paint next to the mask, then erase through it
  const area0 = (await pageState(page))[keyA].area;
  await page.keyboard.press("p");
  await drag(page, await pixelToPage(page, x + w + 4, y + h / 2), await pixelToPage(page, x + w + 16, y + h / 2));
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
  const context = await newContext(browser, problems);
  const page = await context.newPage();
  await login(page, `/projects/${env.project}/images/${imageId}`);
  await openImage(page, imageId);
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

await browser.close();
runner.finish();
