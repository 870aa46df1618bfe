// Viewer benchmark (prints figures, asserts nothing):
//   RADLABEL_URL=… RADLABEL_USER=… RADLABEL_PASSWORD=… RADLABEL_PROJECT=… node bench/viewer.mjs
// Needs a 512² CT image in the worklist, a series of ≥ 100 slices and an image with ≥ 50 masks
// (frontend/e2e/seed_local.py makes them). Headless Chromium, software GL (--disable-gpu).
import { api, env, launch, login } from "../e2e/lib.mjs";

const browser = await launch();
const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
const page = await context.newPage();
await login(page, "/");
const figures = [];
const report = (name, value, target = "") => {
  figures.push([name, value, target]);
  console.log(`${name}: ${value}${target ? `  (target ${target})` : ""}`);
};

// pick the images
const cts = (await api(context, `/api/projects/${env.project}/images/?modality=CT&page_size=200&ordering=id`)).results.filter(
  (i) => i.rows === 512 && i.columns === 512,
);
let stackImage = null;
for (const i of cts) {
  const d = await api(context, `/api/images/${i.id}/`);
  if (d.series.image_ids.length >= 100) {
    stackImage = d.series.image_ids[0];
    break;
  }
}
const all = (await api(context, `/api/projects/${env.project}/images/?page_size=200&ordering=-id`)).results;
const labels = (i) => i.proposed_count + i.accepted_count;
const busy = all.filter((i) => labels(i) >= 40).sort((a, b) => labels(b) - labels(a))[0];

async function ready() {
  await page.waitForSelector("[data-testid=viewer][data-ready=true]", { timeout: 60_000 });
}

// 1. worklist click → first rendered pixels, 512² CT
async function clickToPixels(slot) {
  await page.goto(`${env.url}/projects/${env.project}/images?modality=CT&ordering=id`);
  await page.waitForSelector("[data-testid=worklist] tbody tr");
  await page.waitForTimeout(1500); // the worklist preloads the viewer chunk while idle
  const rows = await page.$$eval("[data-testid=worklist] tbody tr", (trs) => trs.map((t) => Number(t.dataset.imageId)));
  const target = rows.filter((id) => cts.some((c) => c.id === id))[slot % rows.length];
  await page.click(`tr[data-image-id="${target}"] td:nth-child(2)`);
  await ready();
  return page.evaluate(() => {
    const [open] = performance.getEntriesByName("radlabel:open-image").slice(-1);
    const [first] = performance.getEntriesByName("radlabel:first-image").slice(-1);
    return first.startTime - open.startTime;
  });
}
const times = [];
for (let i = 0; i < 6; i++) times.push(await clickToPixels(i));
const warm = times.slice(1).sort((a, b) => a - b);
report("click → first pixels, first open (ms)", times[0].toFixed(0), "≤ 500");
report("click → first pixels, median of next 5 (ms)", warm[2].toFixed(0), "≤ 500");

// 2. scrolling a 100-slice series, 3. heap after 500 slices
if (stackImage) {
  await page.goto(`${env.url}/projects/${env.project}/images/${stackImage}`);
  await ready();
  // real wheel input over the viewport; count the slices Cornerstone shows and the page's frames
  const box = await page.locator(".viewport").boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.evaluate(() => {
    const el = document.querySelector(".viewport");
    window.__bench = { shown: 0, frames: 0 };
    el.addEventListener("CORNERSTONE_STACK_NEW_IMAGE", () => window.__bench.shown++);
    const tick = () => {
      window.__bench.frames++;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  const scroll = async (slices, direction) => {
    const start = await page.evaluate(() => ({ ...window.__bench, t: performance.now() }));
    const t0 = Date.now();
    let now = start;
    let ticks = 0;
    while (Date.now() - t0 < 60_000 && ticks < slices * 3) {
      // one wheel notch every ~33 ms: 30 notches a second, the target rate
      const wait = t0 + ticks * 33 - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      await page.mouse.wheel(0, 100 * direction);
      ticks++;
      now = await page.evaluate(() => ({ ...window.__bench, t: performance.now() }));
      if (now.shown - start.shown >= slices) break;
    }
    const s = (now.t - start.t) / 1000;
    return { slicesPerSecond: (now.shown - start.shown) / s, fps: (now.frames - start.frames) / s };
  };
  const cold = await scroll(99, 1);
  report("scroll 100 slices, first pass (loading): slices/s", cold.slicesPerSecond.toFixed(1));
  const warmPass = await scroll(99, -1);
  report("scroll 100 slices, cached: slices shown per second", warmPass.slicesPerSecond.toFixed(1), "≥ 30");
  report("scroll 100 slices, cached: page frames per second", warmPass.fps.toFixed(1), "≥ 30");
  const cdp = await context.newCDPSession(page);
  for (let i = 0; i < 3; i++) await scroll(99, i % 2 ? -1 : 1);
  await cdp.send("HeapProfiler.collectGarbage");
  const heap = await cdp.send("Runtime.getHeapUsage");
  report("JS heap after scrolling 500 slices (MB, after GC)", (heap.usedSize / 1048576).toFixed(1));
} else {
  console.log("no series of ≥ 100 slices: scroll and heap figures skipped");
}

// 4. 50 masks on one image
if (busy) {
  await page.goto(`${env.url}/projects/${env.project}/images/${busy.id}`);
  await ready();
  await page.waitForFunction(() => Number(document.querySelector("[data-testid=viewer]").dataset.overlayMs) > 0);
  const first = await page.$eval("[data-testid=viewer]", (v) => Number(v.dataset.overlayMs));
  const zooms = [];
  for (let i = 0; i < 10; i++) {
    await page.keyboard.press(i % 2 ? "-" : "=");
    await page.waitForTimeout(100);
    zooms.push(await page.$eval("[data-testid=viewer]", (v) => Number(v.dataset.overlayMs)));
  }
  zooms.sort((a, b) => a - b);
  report(`render ${busy.proposed_count + busy.accepted_count} masks, first draw incl. bitmaps (ms)`, first.toFixed(1));
  report(`redraw ${busy.proposed_count + busy.accepted_count} masks on zoom, median (ms)`, zooms[5].toFixed(1));
} else {
  console.log("no image with ≥ 40 labels: mask figure skipped");
}

console.log(`\ncommand: RADLABEL_URL=${env.url} RADLABEL_PROJECT=${env.project} node bench/viewer.mjs  (headless Chromium, --disable-gpu)`);
await browser.close();
