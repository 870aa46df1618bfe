// Shared helpers for the browser tests and the viewer benchmark.
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";
import { stringToCounts } from "../src/viewer/cocoString.js";

export const env = {
  url: (process.env.RADLABEL_URL ?? "http://127.0.0.1:8000").replace(/\/$/, ""),
  user: process.env.RADLABEL_USER ?? "radiologist",
  password: process.env.RADLABEL_PASSWORD ?? "",
  adminUser: process.env.RADLABEL_ADMIN_USER ?? "admin",
  /** a reviewer of the project, with the annotator's password */
  reviewerUser: process.env.RADLABEL_REVIEWER_USER ?? "second-reader",
  adminPassword: process.env.RADLABEL_ADMIN_PASSWORD ?? process.env.RADLABEL_PASSWORD ?? "",
  /** run only the tests whose name contains this (or one of several, separated by "|") */
  grep: process.env.RADLABEL_E2E_GREP ?? "",
  project: process.env.RADLABEL_PROJECT ?? "demo",
  artifacts: process.env.RADLABEL_ARTIFACTS ?? "../test-artifacts/browser",
  chromium: process.env.CHROMIUM ?? "/usr/bin/chromium",
};

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export async function launch() {
  mkdirSync(env.artifacts, { recursive: true });
  return chromium.launch({ executablePath: env.chromium, args: CHROMIUM_ARGS });
}

/** A context whose pages fail the test on page errors and on requests to any other origin. */
export async function newContext(browser, problems) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const origin = new URL(env.url).origin;
  context.on("request", (r) => {
    const u = r.url();
    if (!u.startsWith(origin) && !u.startsWith("data:") && !u.startsWith("blob:")) problems.push(`foreign request: ${u}`);
  });
  context.on("page", (page) => {
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("dialog", (d) => {
      problems.push(`unexpected dialog: ${d.message()}`);
      void d.dismiss();
    });
    page.on("console", (m) => {
      if (m.type() === "error" && /Content Security Policy|Refused to/.test(m.text())) problems.push(`CSP: ${m.text()}`);
    });
  });
  return context;
}

export async function login(page, next = "/", user = env.user, password = env.password) {
  await page.goto(`${env.url}/login?next=${encodeURIComponent(next)}`);
  await page.fill("input[name=username]", user);
  await page.fill("input[name=password]", password);
  await page.click("form.login-form button[type=submit]");
  await page.waitForURL((u) => !u.pathname.startsWith("/login"));
}

export async function openImage(page, id, query = "") {
  await page.goto(`${env.url}/projects/${env.project}/images/${id}${query}`);
  await page.waitForSelector("[data-testid=viewer][data-ready=true]", { timeout: 30_000 });
  await page.waitForSelector("[data-testid=annotation-list] li");
}

/** A new signed-in context (the annotator) with the annotate page of one image open. */
export async function openAs(browser, problems, imageId) {
  const context = await newContext(browser, problems);
  const page = await context.newPage();
  await login(page, `/projects/${env.project}/images/${imageId}`);
  await openImage(page, imageId);
  return { context, page };
}

/** Screen position of an image pixel (COCO coordinates), from the viewer's published transform. */
export async function pixelToPage(page, x, y) {
  const viewer = page.locator("[data-testid=viewer]");
  const m = (await viewer.getAttribute("data-pixel-to-canvas")).split(",").map(Number);
  const box = await viewer.boundingBox();
  return [box.x + m[0] * x + m[2] * y + m[4], box.y + m[1] * x + m[3] * y + m[5]];
}

export async function waitSaved(page, timeout = 15_000) {
  await page.waitForFunction(
    () => document.querySelector("[data-testid=save-status]")?.textContent === "All changes saved",
    null,
    { timeout },
  );
}

export async function api(context, path) {
  let res;
  try {
    res = await context.request.get(`${env.url}${path}`);
  } catch (e) {
    // a kept-alive connection the server closed at that moment: GET is safe to send again
    if (!/ECONNRESET|socket hang up/.test(String(e))) throw e;
    res = await context.request.get(`${env.url}${path}`);
  }
  if (!res.ok()) throw new Error(`GET ${path} → ${res.status()}`);
  return res.json();
}

/** A request with the session and CSRF token of the context; returns status and JSON body. */
export async function apiSend(context, method, path, data) {
  const csrf = (await context.cookies()).find((c) => c.name === "csrftoken")?.value ?? "";
  const res = await context.request.fetch(`${env.url}${path}`, {
    method,
    headers: { "X-CSRFToken": csrf, Referer: `${env.url}/` },
    data,
  });
  let body;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  return { status: res.status(), body };
}

/** Pixels set in a COCO compressed RLE (pycocotools' string format). */
export function rleArea(counts) {
  return stringToCounts(counts).reduce((sum, n, i) => (i % 2 ? sum + n : sum), 0);
}

/** Intersection over union of two COCO compressed RLEs of the same image. */
export function rleIou(a, b) {
  const set = (counts) => {
    const on = new Set();
    let at = 0;
    stringToCounts(counts).forEach((n, i) => {
      if (i % 2) for (let k = 0; k < n; k++) on.add(at + k);
      at += n;
    });
    return on;
  };
  const x = set(a);
  const y = set(b);
  let both = 0;
  for (const v of x) if (y.has(v)) both++;
  return both / (x.size + y.size - both || 1);
}


export class Runner {
  constructor() {
    this.passed = 0;
    this.failed = 0;
  }

  async test(name, fn) {
    if (env.grep && !env.grep.split("|").some((part) => name.includes(part))) return;
    const problems = [];
    const t0 = Date.now();
    try {
      await fn(problems);
      if (problems.length) throw new Error(problems.join("\n"));
      this.passed++;
      console.log(`ok   ${name} (${Date.now() - t0} ms)`);
    } catch (e) {
      this.failed++;
      console.log(`FAIL ${name}\n     ${String(e?.stack ?? e).split("\n").slice(0, 6).join("\n     ")}`);
    }
  }

  finish() {
    console.log(`${this.passed} passed, ${this.failed} failed`);
    process.exitCode = this.failed ? 1 : 0;
  }
}

export function assert(cond, message) {
  if (!cond) throw new Error(`assertion failed: ${message}`);
}
