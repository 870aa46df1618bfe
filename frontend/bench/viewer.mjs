// Viewer benchmark (prints figures, asserts nothing):
//   RADLABEL_URL=… RADLABEL_USER=… RADLABEL_PASSWORD=… RADLABEL_PROJECT=… node bench/viewer.mjs
// Needs a 512² CT image in the worklist, a series of ≥ 100 slices and an image with ≥ 50 masks:
// `RADLABEL_BROWSER_RUN=bench pytest tests/test_browser.py -s` seeds them on the test database,
// serves them with gunicorn and runs this file. Headless Chromium, software GL (--disable-gpu).
import { cpus } from "node:os";
import { api, env, launch, login } from "../e2e/lib.mjs";

const navigatorInfo = () => `${cpus().length} × ${cpus()[0]?.model ?? "CPU"}`;

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
  await page.waitForTimeout(500);
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
report("click → first pixels, first open incl. the viewer chunk (ms)", times[0].toFixed(0), "≤ 500");
report("click → first pixels, median of next 5, chunk in the HTTP cache (ms)", warm[2].toFixed(0), "≤ 500");

// 2. scrolling a 100-slice series, 3. heap after 500 slices
if (stackImage) {
  await page.goto(`${env.url}/projects/${env.project}/images/${stackImage}`);
  await ready();
  const rendering = await page.evaluate(() => document.documentElement.dataset.rendering);
  report("rendering path (gpu = WebGL, cpu = canvas 2D; chosen from the WebGL renderer)", rendering);
  // wheel notches as input events at a fixed rate, not waiting for each one to be handled
  // (a real wheel does not wait either); count the slices Cornerstone shows and the frames
  const box = await page.locator(".viewport").boundingBox();
  const x = box.x + box.width / 2;
  const y = box.y + box.height / 2;
  await page.mouse.move(x, y);
  const cdp = await context.newCDPSession(page);
  await page.evaluate(() => {
    const el = document.querySelector(".viewport");
    window.__bench = { shown: [], frames: 0 };
    el.addEventListener("CORNERSTONE_STACK_NEW_IMAGE", () => window.__bench.shown.push(performance.now()));
    const tick = () => {
      window.__bench.frames++;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  const slice = async () => Number((await page.textContent("[data-testid=overlay-tr]")).match(/Slice (\d+)/)[1]);
  const scroll = async (notches, direction, hz) => {
    const before = await page.evaluate(() => ({ n: window.__bench.shown.length, frames: window.__bench.frames, t: performance.now() }));
    const from = await slice();
    const t0 = Date.now();
    const sent = [];
    for (let i = 0; i < notches; i++) {
      const wait = t0 + (i * 1000) / hz - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      sent.push(cdp.send("Input.dispatchMouseEvent", { type: "mouseWheel", x, y, deltaX: 0, deltaY: 100 * direction }));
    }
    await Promise.all(sent);
    await page.waitForTimeout(300);
    const after = await page.evaluate((n) => ({ shown: window.__bench.shown.slice(n), frames: window.__bench.frames, t: performance.now() }), before.n);
    const last = after.shown.length ? after.shown[after.shown.length - 1] : before.t;
    const seconds = (last - before.t) / 1000;
    return {
      slicesPerSecond: after.shown.length / seconds,
      fps: (after.frames - before.frames) / ((after.t - before.t) / 1000),
      moved: Math.abs((await slice()) - from),
    };
  };
  const line = (r) => `${r.slicesPerSecond.toFixed(1)} slices/s, ${r.moved} slices moved, ${r.fps.toFixed(0)} frames/s`;
  const cold = await scroll(99, 1, 30);
  report("scroll 99 notches at 30/s right after opening (prefetch running)", line(cold), "≥ 30 slices/s");
  await page.waitForTimeout(1000);
  const warm30 = await scroll(99, -1, 30);
  report("scroll 99 notches at 30/s, cached", line(warm30), "≥ 30 slices/s");
  const warm60 = await scroll(99, 1, 60);
  report("scroll 99 notches at 60/s, cached", line(warm60), "≥ 30 slices/s");
  for (let i = 0; i < 3; i++) await scroll(99, i % 2 ? 1 : -1, 60);
  await cdp.send("HeapProfiler.collectGarbage");
  const heap = await cdp.send("Runtime.getHeapUsage");
  report("JS heap after scrolling 500 slices (MB, after GC; pixel buffers outside the JS heap not counted)", (heap.usedSize / 1048576).toFixed(1));
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

const gl = await page.evaluate(() => {
  const c = document.createElement("canvas").getContext("webgl2");
  const info = c?.getExtension("WEBGL_debug_renderer_info");
  return info ? c.getParameter(info.UNMASKED_RENDERER_WEBGL) : "no WebGL";
});
console.log(`\nWebGL renderer: ${gl}; ${navigatorInfo()}`);
console.log(`command: RADLABEL_URL=${env.url} RADLABEL_PROJECT=${env.project} node bench/viewer.mjs  (headless Chromium, --disable-gpu)`);
await browser.close();
