// Browser tests against a running RadLabel: node e2e/run.mjs
// Env: RADLABEL_URL, RADLABEL_USER (an annotator), RADLABEL_PASSWORD, RADLABEL_ADMIN_USER,
// RADLABEL_ADMIN_PASSWORD, RADLABEL_PROJECT, RADLABEL_ARTIFACTS, RADLABEL_E2E_GREP (a name filter).
// Needs a project with model proposals (≥ 3 on at least three images), model versions and a
// finished training run with a loss curve: tests/test_browser.py seeds them and runs this file.
import { join } from "node:path";
import { Runner, api, apiSend, assert, env, launch, login, newContext, openImage, pixelToPage, rleArea, waitSaved } from "./lib.mjs";

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
  const scripts = [];
  page.on("request", (r) => r.resourceType() === "script" && scripts.push(r.url()));
  await login(page, "/");
  await page.click(`a[href="/projects/${env.project}/images"]`);
  await page.waitForSelector("[data-testid=worklist] tbody tr");
  await page.waitForTimeout(1000);
  assert(!scripts.some((u) => /AnnotatePage-/.test(u)), `the worklist does not load the viewer chunk (${scripts})`);
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
  assert(scripts.some((u) => /AnnotatePage-/.test(u)), "the annotate page loads the viewer chunk");
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
  assert(rows[0].cells.includes("—") && rows[0].cells.includes("0.440"), `metrics with nulls (${rows[0].cells})`);
  const series = await page.$$eval("[data-testid=metrics-plot] .chart-series", (gs) => gs.map((g) => g.querySelectorAll("circle").length));
  assert(series.length >= 3 && series[0] === 3, `metric plot series (${series})`);

  // the finished run: its loss curve and status
  await page.waitForSelector("[data-testid=training-job][data-status=succeeded]");
  const points = Number(await page.getAttribute("[data-testid=loss-chart-box]", "data-points"));
  assert(points === 300, `loss curve points (${points})`);
  const d = await page.getAttribute("[data-testid=loss-chart] .chart-series path", "d");
  assert(d && d.split("L").length > 100, "loss curve drawn");
  const gpu = await page.textContent("[data-testid=worker-summary] [data-queue=gpu]");
  assert(/1 worker alive/.test(gpu) && /CUDA device/.test(gpu), `gpu queue status (${gpu})`);
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
  await shot(page, "10-annotate-readme.png");
  await context.close();
});

await browser.close();
runner.finish();
