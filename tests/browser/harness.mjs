// Drives the built page (dist/) in Debian's headless Chromium through
// playwright-core: starts scripts/serve.mjs on a free port, opens the page,
// records every request, and classifies files the way a user does (the file
// picker). Shared by the end-to-end test and the browser benchmark.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(join(ROOT, 'package.json'));
const { chromium } = require('playwright-core');

// Flags that work as root on these machines, without reaching the network.
const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--enable-unsafe-webgpu',
];

let failed = 0;

/** Runs one named check: prints ok or FAIL (with the stack) and its time; a failure does not stop the run. */
export async function check(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    console.log(`ok   ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}\n     ${(e && e.stack) || e}`);
  }
}

/** How many checks have failed so far. */
export const failures = () => failed;

/** Serves dist/ on a free port (without COOP/COEP when `isolated` is false); resolves with {url, stop}. */
export function serve(dir = join(ROOT, 'dist'), { isolated = true } = {}) {
  const args = [join(ROOT, 'scripts/serve.mjs'), '--port', '0', '--dir', dir, ...(isolated ? [] : ['--no-isolation'])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolvePromise, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/http:\/\/localhost:\d+\//);
      if (m) resolvePromise({ url: m[0], stop: () => child.kill() });
    });
    child.on('exit', (code) => reject(new Error(`the server exited (${code})`)));
  });
}

/** A browser with a fresh profile, the page open and (unless `models` is false) its models loaded. */
export async function openPage(url, { profile, models = true } = {}) {
  const userDataDir = profile || mkdtempSync(join(tmpdir(), 'cf-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    acceptDownloads: true,
    viewport: { width: 1280, height: 900 },
  });
  const requests = [];
  const problems = [];
  context.on('request', (r) => requests.push(r.url()));
  // Bytes the page downloaded (bodies, as sent: what a first visit costs).
  let downloaded = 0;
  context.on('requestfinished', (r) => r.sizes().then((size) => { downloaded += size.responseBodySize; }, () => {}));
  const page = context.pages()[0] || (await context.newPage());
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && problems.push(`console error: ${m.text()}`));
  page.on('worker', (w) => w.on('console', (m) => m.type() === 'error' && problems.push(`worker console error: ${m.text()}`)));
  const started = Date.now();
  await page.goto(url);
  let info = null;
  if (models) {
    await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 15 * 60_000, polling: 250 });
    const ready = await page.evaluate(() => document.body.dataset.ready);
    if (ready !== 'true') throw new Error(`the models did not load: ${await page.textContent('#models')}`);
    info = await page.evaluate(() => window.creativeFilter.cf.ready);
  } else {
    await page.waitForFunction(() => window.creativeFilter, null, { timeout: 60_000 });
  }
  return {
    context, page, requests, problems, info, loadMs: Date.now() - started, userDataDir,
    get downloadedBytes() { return downloaded; },
    async close({ keepProfile = false } = {}) {
      await context.close();
      if (!keepProfile && !profile) rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Picks files into the batch and waits for every row; returns the reports in
 * the order of `paths`. Files the table already holds (the page skips them
 * and offers to classify them again) are classified again.
 */
export async function classifyBatch(page, paths, timeoutMs = 30 * 60_000) {
  await page.evaluate(() => (window.rowsBefore = new Set(window.creativeFilter.batch.items)));
  await page.setInputFiles('#pick-files', paths);
  const again = page.locator('#toast:not([hidden]) button');
  if (await again.count()) await again.click();
  await page.waitForFunction(
    (n) => {
      const { batch } = window.creativeFilter;
      const fresh = batch.items.filter((i) => !window.rowsBefore.has(i));
      return !batch.running && fresh.length >= n && fresh.every((i) => !['queued', 'working'].includes(i.status));
    },
    paths.length,
    { timeout: timeoutMs, polling: 500 },
  );
  return page.evaluate((names) => {
    const fresh = window.creativeFilter.batch.items.filter((i) => !window.rowsBefore.has(i));
    const taken = new Set();
    return names.map((name) => {
      const i = fresh.find((r) => r.name === name && !taken.has(r));
      taken.add(i);
      return { ...i.report, status: i.status, ms: i.ms };
    });
  }, paths.map((p) => basename(p)));
}

/** The native CLI binary. */
export const CLI = resolve(ROOT, process.env.CARGO_TARGET_DIR || 'target', 'release/creative-filter');

/** The native CLI's reports for the same files (no cache: a real run), on-screen text read as the page's default reads it. */
export function nativeClassify(paths, args = []) {
  let out;
  try {
    out = execFileSync(CLI, ['classify', '--no-cache', ...args, ...paths], { encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    if (e.stdout == null) throw e; // it did not run at all
    out = e.stdout; // non-zero only when every file failed
  }
  return out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

// Character error rate between two transcripts (Levenshtein over characters).
export function cer(ref, hyp) {
  const a = [...ref], b = [...hyp];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return a.length ? prev[b.length] / a.length : b.length ? 1 : 0;
}

/** Trains on the page's Train tab from a labels table and a folder of creatives; returns when the report shows. */
export async function trainOnPage(page, labelsFile, folder) {
  await page.click('[data-tab="train"]');
  await page.setInputFiles('#train-labels', labelsFile);
  await page.setInputFiles('#train-media', folder);
  await page.click('#train-run');
  await page.waitForSelector('#train-report:not([hidden])', { timeout: 15 * 60_000 });
}

/** Rows the CLI reported as not used (`table::RowProblem`), as the page words them in its language now. */
export async function pageWording(page, problems) {
  return page.evaluate(async (ps) => {
    const { sayRow } = await import(new URL('js/i18n.js', document.baseURI).href);
    return ps.map(sayRow);
  }, problems);
}
