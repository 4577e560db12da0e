// Browser test of the spend dashboard (node tests/browser/dashboard.mjs): the
// sample opens on the first visit, filters and legend toggles work, and every
// figure the page shows equals what the native CLI computes with the same
// library; the user's own files (spend streamed in chunks, labels,
// predictions) load with their bad rows reported; the aggregated export adds
// up to the total; nothing leaves the origin. The screenshot goes to
// target/e2e/dashboard.png.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, CLI, serve, openPage, check, failures } from './harness.mjs';
import { parseCsv } from './files.mjs';

const OUT = join(ROOT, 'target/e2e');
mkdirSync(OUT, { recursive: true });
if (!existsSync(join(ROOT, 'dist/index.html'))) throw new Error('dist/ is missing: run scripts/build-web.sh first');
if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run cargo build --release first`);


/** The CLI's dashboard JSON for the same input and filter. */
function native(args) {
  return JSON.parse(execFileSync(CLI, ['dashboard', ...args], { encoding: 'utf8', maxBuffer: 1 << 26 }));
}

const kpis = (page) => page.evaluate(() => Object.fromEntries(
  [...document.querySelectorAll('[data-kpi]')].map((k) => [k.dataset.kpi, Number(k.dataset.value)])));

/** Runs `action` and waits until the dashboard's worker is idle with a newer view drawn. */
async function redraw(page, action) {
  const before = await page.evaluate(() => document.body.dataset.dashboardView || '');
  await action();
  await page.waitForFunction(
    (b) => (document.body.dataset.dashboardView || '') !== b && document.body.dataset.dashboardBusy === '0' && document.body.dataset.dashboard !== 'loading',
    before, { timeout: 60_000 });
}

function assertKpis(shown, overview) {
  assert.equal(shown.total, overview.kpi.total, 'total spend (kopecks)');
  assert.equal(shown.creatives, overview.kpi.creatives, 'creatives');
  assert.equal(shown.advertisers, overview.kpi.advertisers, 'advertisers');
  assert.ok(Math.abs(shown.classified - overview.kpi.classified_share) < 1e-12, 'share classified');
}

const work = mkdtempSync(join(tmpdir(), 'cf-dashboard-'));
const server = await serve();
const origin = new URL(server.url).origin;
const browser = await openPage(server.url, { models: false });
const { page } = browser;

await check('the sample opens on the first visit, labelled as sample, equal to the CLI', async () => {
  await redraw(page, () => page.click('[data-tab=dashboard]'));
  assert.equal(await page.isVisible('#dash-sample-badge'), true, 'the sample is labelled as such');
  const want = native(['--sample']);
  assertKpis(await kpis(page), want.overview);
  assert.equal(await page.locator('figure.chart svg').count(), 5);
  assert.ok((await page.locator('[data-chart=segments_by_month] .bar').count()) > 10);
  const summary = await page.textContent('#dash-problems summary');
  assert.match(summary, new RegExp(`: ${want.import.bad.count}\\b`), 'the broken sample rows are reported');
  // The reason kinds in the page's language (the sample's broken rows have bad costs).
  assert.match(summary, /неверная сумма: \d+/, summary);
  assert.doesNotMatch(summary, /bad cost/, summary);
});

await check('filters: years, media type and segments give the CLI figures', async () => {
  await redraw(page, () => page.selectOption('#dash-years', ['2025']));
  await redraw(page, () => page.selectOption('#dash-media', ['ТВ']));
  await redraw(page, () => page.selectOption('#dash-segments', ['12', '13', 'none']));
  const want = native(['--sample', '--year', '2025', '--media-type', 'ТВ', '--segment', '12', '--segment', '13', '--segment', 'none']);
  assertKpis(await kpis(page), want.overview);
  // The month pickers name the months as the charts do.
  assert.equal(await page.textContent('#dash-from option[value="2025-03"]'), 'мар 2025');
  await redraw(page, () => page.selectOption('#dash-from', ['2025-03']));
  const ranged = native(['--sample', '--year', '2025', '--from', '2025-03', '--media-type', 'ТВ', '--segment', '12', '--segment', '13', '--segment', 'none']);
  assertKpis(await kpis(page), ranged.overview);
  await page.screenshot({ path: join(OUT, 'dashboard.png'), fullPage: true });
});

await check('long filter lists: a search box narrows them, the chosen values show as chips that remove themselves', async () => {
  const chips = page.locator('label:has(#dash-segments) .chip');
  assert.deepEqual((await chips.allTextContents()).length, 3, 'the three segments chosen above');
  const search = page.locator('label:has(#dash-brands) input[type=search]');
  await search.fill('бета');
  const shown = await page.evaluate(() => [...document.getElementById('dash-brands').options].filter((o) => !o.hidden).map((o) => o.textContent));
  assert.ok(shown.length > 0 && shown.every((n) => n.toLowerCase().includes('бета')), shown.join(', '));
  await redraw(page, () => page.selectOption('#dash-brands', [shown[0]]));
  const brandChips = page.locator('label:has(#dash-brands) .chip');
  assert.deepEqual(await brandChips.allTextContents(), [`${shown[0]} ×`]);
  await redraw(page, () => brandChips.first().click());
  assert.equal(await brandChips.count(), 0);
  assert.deepEqual(await page.evaluate(() => [...document.getElementById('dash-brands').selectedOptions].length), 0, 'the chip took its value out of the filter');
  await search.fill('');
});

await check('a legend toggle hides its series and shows it again, by mouse or keyboard', async () => {
  const legend = page.locator('[data-chart=segments_by_month] .legend-item').first();
  const key = await legend.getAttribute('data-series');
  const bars = () => page.locator(`[data-chart=segments_by_month] .bar[data-series="${key}"]`).count();
  assert.ok((await bars()) > 0);
  await redraw(page, () => legend.click());
  assert.equal(await bars(), 0, 'hidden');
  assert.equal(await page.locator(`[data-chart=segments_by_month] .legend-item[data-series="${key}"]`).getAttribute('data-hidden'), 'true');
  await redraw(page, () => page.locator(`[data-chart=segments_by_month] .legend-item[data-series="${key}"]`).click());
  assert.ok((await bars()) > 0, 'shown again');
  // From the keyboard: the entry takes the focus, Enter toggles it, and the focus stays on it.
  await page.locator(`[data-chart=segments_by_month] .legend-item[data-series="${key}"]`).focus();
  await redraw(page, () => page.keyboard.press('Enter'));
  assert.equal(await bars(), 0, 'hidden with Enter');
  await page.waitForFunction((k) => document.activeElement && document.activeElement.dataset.series === k, key, { timeout: 5000 }); // the focus stayed on the entry
  await redraw(page, () => page.keyboard.press(' '));
  assert.ok((await bars()) > 0, 'shown again with Space');
});

await check('the aggregated CSV export adds up to the total shown', async () => {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#dash-csv')]);
  const path = join(work, 'export.csv');
  await download.saveAs(path);
  const rows = parseCsv(readFileSync(path, 'utf8').replace(/^\uFEFF/, ''));
  const spend = rows[0].indexOf('Spend RUB');
  assert.ok(spend >= 0, `columns: ${rows[0]}`);
  const kopecks = rows.slice(1).reduce((sum, r) => sum + Math.round(Number(r[spend]) * 100), 0);
  assert.equal(kopecks, (await kpis(page)).total);
  const [svg] = await Promise.all([page.waitForEvent('download'), page.click('[data-chart=segment_share] button[data-export=svg]')]);
  assert.match(readFileSync(await svg.path(), 'utf8'), /^<svg[^>]+data-chart="segment-share"/);
  const [png] = await Promise.all([page.waitForEvent('download'), page.click('[data-chart=media_types] button[data-export=png]')]);
  assert.deepEqual([...readFileSync(await png.path()).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], 'a PNG file');
});

await check("the users' files: spend streamed, labels and predictions joined, bad rows reported", async () => {
  await redraw(page, () => page.click('#dash-reset'));
  const dir = join(work, 'files');
  native(['--sample', '--write-sample', dir]);
  // A few rows the users' exports really contain: a broken one among them.
  const spend = join(dir, 'dashboard_data.csv');
  writeFileSync(spend, readFileSync(join(dir, 'sample_dashboard_data.csv'), 'utf8') + '999;Банк;Бренд;ТВ;2025;13;100\n');
  await redraw(page, () => page.uncheck('#dash-session'));
  await redraw(page, () => page.setInputFiles('#dash-labels', join(dir, 'sample_train_segments.csv')));
  await redraw(page, () => page.setInputFiles('#dash-spend', spend));
  assert.match(await page.textContent('#dash-source'), /^dashboard_data\.csv/);
  assert.equal(await page.isVisible('#dash-sample-badge'), false, 'the users\' data is not marked as sample');
  await redraw(page, () => page.setInputFiles('#dash-predictions', join(dir, 'sample_predictions.csv')));
  const want = native([spend, '--labels', join(dir, 'sample_train_segments.csv'), '--predictions', join(dir, 'sample_predictions.csv')]);
  assertKpis(await kpis(page), want.overview);
  assert.equal(want.import.bad.count, native(['--sample']).import.bad.count + 1);
  const listed = await page.textContent('#dash-problems ul');
  assert.match(listed, /Строка \d+: ID \S+: месяц «13» — не номер и не название месяца/, 'the broken row is listed with its reason, in the page\'s language');
  // The sample's own figures agree: the same rows, the same labels.
  assert.equal(want.overview.kpi.total, native(['--sample']).overview.kpi.total);
});

await check('dropped files are told apart by name: labels, then the spend file', async () => {
  const spend = 'Advertisement ID,Advertiser,Brand,Media Type,Year,Month,Estimated cost RUB\n1,A,B,TV,2025,1,"1 000,50"\n1,A,B,TV,2025,1,10\n2,C,D,Radio,2025,February,7\n';
  const labels = 'Advertisement ID,Segment_num\n1,12\n';
  writeFileSync(join(work, 'dropped_spend.csv'), spend);
  writeFileSync(join(work, 'dropped_train_segments.csv'), labels);
  await redraw(page, () => page.evaluate(([spendText, labelsText]) => {
    const dt = new DataTransfer();
    dt.items.add(new File([labelsText], 'dropped_train_segments.csv'));
    dt.items.add(new File([spendText], 'dropped_spend.csv'));
    document.getElementById('dash-drop').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, [spend, labels]));
  await page.waitForFunction(() => document.querySelector('#dash-source').textContent.startsWith('dropped_spend.csv'));
  await page.waitForFunction(() => document.body.dataset.dashboardBusy === '0');
  // The earlier labels are still loaded too: the CLI gets them all.
  const want = native([join(work, 'dropped_spend.csv'), '--labels', join(work, 'files/sample_train_segments.csv'),
    '--labels', join(work, 'dropped_train_segments.csv'), '--predictions', join(work, 'files/sample_predictions.csv')]);
  assertKpis(await kpis(page), want.overview);
  assert.equal(want.overview.kpi.total, 101750, 'the two rows of creative 1 summed, February read as 2');
  assert.equal(want.overview.kpi.split.known, 101050);
});

await check('nothing left the origin and the page logged no error', async () => {
  const foreign = browser.requests.filter((u) => !u.startsWith(origin) && !u.startsWith('blob:') && !u.startsWith('data:'));
  assert.deepEqual(foreign, []);
  assert.deepEqual(browser.problems, []);
});

await browser.close();
server.stop();
rmSync(work, { recursive: true, force: true });
if (failures()) {
  console.log(`${failures()} dashboard check(s) failed`);
  process.exit(1);
}
console.log('dashboard: all checks passed');
