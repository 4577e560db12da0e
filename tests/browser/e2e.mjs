// End-to-end test of the page in headless Chromium (node tests/browser/e2e.mjs):
// the models load with progress and are verified, a batch of generated
// creatives (every container the test data has, music, broken files) is
// classified in the page and agrees with the native CLI, every file gets a
// row, exports and the ID-table flow produce files, training on labelled
// texts works, a second visit loads the models from the browser's cache and
// shows the table again (a file classified before answered from the kept
// transcript), and
// no request leaves the page's origin. Screenshots go to target/e2e/.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, readFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, serve, openPage, classifyBatch, nativeClassify, check, failures, cer } from './harness.mjs';
import { parseCsv, readXlsx, readXlsxCells, xlsxSheetNames } from './files.mjs';

const MEDIA = join(ROOT, 'tests/data/media');
const OUT = join(ROOT, 'target/e2e');
mkdirSync(OUT, { recursive: true });
if (!existsSync(join(ROOT, 'dist/index.html'))) throw new Error('dist/ is missing: run scripts/build-web.sh first');
if (!existsSync(MEDIA)) throw new Error('tests/data/media is missing: run scripts/fetch-test-data.sh first');


const speechFiles = ['voice.wav', 'voice.mp3', 'voice.m4a', 'voice.ogg', 'voice.flac', 'voice.mp4', 'voice.webm'];
const otherFiles = ['music.mp4', 'silence.wav', 'random.mp4', 'empty.wav', 'notes.txt', 'misnamed.wbm', 'voice.avi'];
const batchFiles = [...speechFiles, ...otherFiles].map((f) => join(MEDIA, f));

const server = await serve();
const origin = new URL(server.url).origin;
const profile = mkdtempSync(join(tmpdir(), 'cf-e2e-profile-'));
let session = await openPage(server.url, { profile });
const { page } = session;
console.log(`page ready in ${(session.loadMs / 1000).toFixed(1)} s: ${JSON.stringify({ fromCache: session.info.fromCache, device: session.info.device })}`);

await check('the first visit downloads the speech models, with a progress bar per model; the OCR models wait for a creative that needs them', async () => {
  assert.equal(session.info.fromCache, false);
  const manifest = JSON.parse(readFileSync(join(ROOT, 'dist/models/manifest.json'), 'utf8'));
  const ocr = new Set(['rus.traineddata', 'eng.traineddata']);
  assert.equal(manifest.files.filter((f) => ocr.has(f.file)).length, 2, 'the site serves the OCR models');
  for (const f of manifest.files) assert.equal(session.requests.some((u) => u.includes(`/models/${f.file}`)), !ocr.has(f.file), `${f.file} fetched on the first visit`);
  assert.equal(await page.locator('#models .ok').count(), 1, 'a "models ready" line is shown');
});

await check('the page runs the threaded module on one thread per core and says so', async () => {
  const { engine } = session.info;
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  assert.equal(engine.module, 'threaded', `the page is cross-origin isolated, yet loaded the ${engine.module} module (${engine.why})`);
  // The count comes from rayon's pool inside the module: it is 1 unless the pool was built on the workers.
  assert.equal(engine.threads, cores);
  assert.equal(await page.getAttribute('#engine', 'data-threads'), String(cores));
  const line = await page.textContent('#engine');
  assert.ok(line.includes(`: ${cores}`), `the status line names the threads: ${line}`);
  // The int8 kernels of this module, both wasm paths, against the reference on odd shapes:
  // the relaxed dot product in the form this engine computes exactly (probed at start) and
  // in the 7-bit form every engine computes.
  assert.match(engine.kernel, /^wasm-relaxed-simd \((u8·i8|i8·i8|7-bit) dot\)$/);
  const passed = await page.evaluate(() => window.creativeFilter.cf.call('kernelSelfTest'));
  const sevenBit = engine.kernel.includes('7-bit') ? [] : ['wasm-relaxed-simd (7-bit dot)'];
  assert.deepEqual(passed, [engine.kernel, ...sevenBit, 'wasm-simd128', 'portable']);
  console.log(`    int8 kernel: ${engine.kernel}`);
});

let reports = [];
await check('a batch of every container, music and broken files: one row each, none lost', async () => {
  reports = await classifyBatch(page, batchFiles);
  assert.equal(reports.length, batchFiles.length);
  for (const [i, r] of reports.entries()) {
    const name = batchFiles[i].split('/').pop();
    assert.equal(r.file.split('/').pop(), name, 'rows are in the order the files were given');
    if (speechFiles.includes(name)) {
      assert.equal(r.status, 'ok', `${name}: ${r.error || r.note}`);
      assert.equal(r.modality, 'speech');
      assert.ok(r.transcript.length > 10, `${name} has a transcript`);
      assert.equal(r.top.length, 3);
    }
  }
  const byName = Object.fromEntries(reports.map((r) => [r.file.split('/').pop(), r]));
  assert.equal(byName['music.mp4'].modality, 'no-speech', 'music is not transcribed into words');
  assert.equal(byName['silence.wav'].modality, 'no-speech');
  for (const broken of ['random.mp4', 'empty.wav', 'notes.txt']) {
    assert.equal(byName[broken].status, 'failed', `${broken} fails alone`);
    assert.ok(byName[broken].error.length > 5, `${broken} says why: ${byName[broken].error}`);
  }
  assert.equal(byName['misnamed.wbm'].status, 'ok', 'the format is found from the bytes, not the extension');
  // Opus has no decoder in the Rust module: WebCodecs decoded it from the Rust demuxer's packets.
  assert.equal(byName['voice.webm'].status, 'ok');
});

// The page runs the same Rust code as the CLI, but not the same arithmetic:
// on CPUs with AVX-512 VNNI the CLI's Whisper encoder multiplies in int8
// (Q8_0 weights, activations quantized per 32 values), the page's in f32
// (wasm SIMD128), and float sums are ordered differently. On this
// synthesised voice-over greedy decoding sits near ties (the last short
// sentence comes and goes), so either side may drop it on a given file and
// be the closer to the script there. What must hold: segments and
// confidences agree wherever the transcripts do (CER ≤ 0.05); no page
// transcript is further from the script than the CLI's worst plus 0.05 (a
// broken decode path in the page lands far beyond that); and over all the
// voice-overs the page is no further from the script than the CLI.
await check('the page agrees with the native CLI on the same files', async () => {
  const native = nativeClassify(batchFiles);
  assert.equal(native.length, batchFiles.length);
  const script = readFileSync(join(MEDIA, 'voice.txt'), 'utf8').trim();
  const norm = (s) => s.toLowerCase().replace(/[^\p{L}\p{N} ]/gu, '').replace(/\s+/g, ' ').trim();
  const lines = [];
  const problems = [];
  const differing = new Set(); // distinct inputs (misnamed.wbm is voice.ogg's bytes)
  const toScript = { web: [], cli: [], names: [] }; // CER of each voice-over's transcript to the script
  const bytesOf = (path) => readFileSync(path).toString('base64');
  for (const [i, web] of reports.entries()) {
    const cli = native[i];
    const name = batchFiles[i].split('/').pop();
    if (cli.error) {
      // The browser may read what the native decoders cannot (a codec only
      // WebCodecs has); the reverse would be a regression.
      lines.push(`${name}: CLI: ${cli.error}; page: ${web.status === 'ok' ? `segment ${web.segment_id}` : web.error}`);
      continue;
    }
    if (web.error) {
      problems.push(`${name}: the CLI read it, the page did not: ${web.error}`);
      continue;
    }
    if (web.modality !== cli.modality) problems.push(`${name}: modality ${web.modality} vs ${cli.modality}`);
    if (cli.segment_id == null) {
      lines.push(`${name}: ${cli.modality} both`);
      continue;
    }
    const d = cer(norm(cli.transcript), norm(web.transcript));
    const [toScriptWeb, toScriptCli] = [cer(norm(script), norm(web.transcript)), cer(norm(script), norm(cli.transcript))];
    lines.push(`${name}: segment ${web.segment_id} / ${cli.segment_id}, confidence ${web.confidence.toFixed(3)} / ${cli.confidence.toFixed(3)}, transcript CER page↔CLI ${d.toFixed(3)} (to the script: page ${toScriptWeb.toFixed(3)}, CLI ${toScriptCli.toFixed(3)})`);
    toScript.web.push(toScriptWeb);
    toScript.cli.push(toScriptCli);
    toScript.names.push(name);
    if (d > 0.05) {
      differing.add(bytesOf(batchFiles[i]));
      lines.push(`    cli: ${cli.transcript}\n    web: ${web.transcript}`);
    } else if (web.segment_id !== cli.segment_id || Math.abs(web.confidence - cli.confidence) > 0.02) {
      problems.push(`${name}: same transcript, segment ${web.segment_id} vs ${cli.segment_id}, confidence ${web.confidence} vs ${cli.confidence}`);
    }
  }
  lines.push(`${differing.size} distinct inputs have transcripts that differ from the CLI's`);
  const worstCli = Math.max(...toScript.cli);
  toScript.web.forEach((c, i) => {
    if (c > worstCli + 0.05) problems.push(`${toScript.names[i]}: the page's transcript is ${c.toFixed(3)} from the script, the CLI's worst ${worstCli.toFixed(3)}`);
  });
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const [webMean, cliMean] = [mean(toScript.web), mean(toScript.cli)];
  lines.push(`mean CER to the script over ${toScript.web.length} voice-overs: page ${webMean.toFixed(3)}, CLI ${cliMean.toFixed(3)}`);
  if (webMean > cliMean + 0.03) problems.push(`the page's transcripts are further from the script than the CLI's: ${webMean.toFixed(3)} vs ${cliMean.toFixed(3)}`);
  console.log(`     ${lines.join('\n     ')}`);
  assert.deepEqual(problems, []);
});

await check('the fast decoding and the words to expect are the CLI\'s, and the choices are kept', async () => {
  const voice = join(MEDIA, 'voice.wav');
  const [greedy] = nativeClassify([voice], ['--beam-size', '1', '--no-fallback']);
  const [beam] = nativeClassify([voice]);
  await page.click('[data-tab=segments]');
  await page.selectOption('#decoding-mode', '1');
  await page.waitForFunction(() => (window.creativeFilter.cf.replay || []).some(([m, a]) => m === 'setDecoding' && a.beam === 1));
  assert.equal(await page.evaluate(() => localStorage.getItem('cf-decoding')), '1');
  await page.click('[data-tab=batch]');
  const [fast] = await classifyBatch(page, [voice]);
  console.log(`     greedy page: ${fast.transcript}\n     greedy CLI:  ${greedy.transcript}\n     beam CLI:    ${beam.transcript}`);
  assert.equal(fast.transcript, greedy.transcript, 'the page decodes greedily as the CLI does');
  // Words to expect, given to Whisper as the CLI's --prompt gives them.
  const words = 'Яндекс Станция, Алиса, кешбэк, доставка';
  const [promptedCli] = nativeClassify([voice], ['--beam-size', '1', '--no-fallback', '--prompt', words]);
  const setPrompt = async (text) => {
    await page.click('[data-tab=segments]');
    await page.fill('#speech-prompt', text);
    await page.dispatchEvent('#speech-prompt', 'change');
    await page.waitForFunction((p) => (window.creativeFilter.cf.replay || []).some(([m, a]) => m === 'setDecoding' && a.prompt === p), text);
    assert.equal(await page.evaluate(() => localStorage.getItem('cf-speech-prompt')), text, 'the words are kept');
    await page.click('[data-tab=batch]');
  };
  await setPrompt(words);
  let prompted;
  try {
    [prompted] = await classifyBatch(page, [voice]);
  } finally {
    await setPrompt('');
  }
  console.log(`     prompted page: ${prompted.transcript}\n     prompted CLI:  ${promptedCli.transcript}`);
  // The words move this transcript natively, so the page's can be told
  // apart; where the words leave a near tie (here "кешбэк" against what is
  // said), the arithmetic that differs (FMA natively) may tip one word.
  assert.notEqual(promptedCli.transcript, greedy.transcript, 'the words change the CLI\'s transcript of this file');
  assert.notEqual(prompted.transcript, fast.transcript, 'the page gave Whisper the words');
  assert.ok(cer(prompted.transcript, promptedCli.transcript) <= 0.05, `with the words: page ${prompted.transcript} | CLI ${promptedCli.transcript}`);
  await page.click('[data-tab=segments]');
  await page.selectOption('#decoding-mode', '5');
  await page.waitForFunction(() => (window.creativeFilter.cf.replay || []).some(([m, a]) => m === 'setDecoding' && a.beam === 5));
  await page.click('[data-tab=batch]');
  // A beam search tips on rounding more than a greedy choice does (the
  // page's attention and softmax are not the CLI's bit for bit), as in the
  // comparison above.
  const [accurate] = await classifyBatch(page, [voice]);
  assert.ok(cer(accurate.transcript, beam.transcript) <= 0.05, `beam: page ${accurate.transcript} | CLI ${beam.transcript}`);
  assert.notEqual(accurate.transcript, fast.transcript, 'the beam search is back');
});

await check('results export as CSV and XLSX that match the table row for row, ready for Russian Excel', async () => {
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'ru', 'the page is in Russian here');
  const tables = {};
  let xlsxBytes;
  for (const [button, kind] of [['#export-csv', 'csv'], ['#export-xlsx', 'xlsx']]) {
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click(button)]);
    const path = join(OUT, `results.${kind}`);
    await dl.saveAs(path);
    if (kind === 'xlsx') xlsxBytes = readFileSync(path);
    // Russian Excel reads ";" as the separator and "," as the decimal mark.
    tables[kind] = kind === 'csv' ? parseCsv(readFileSync(path, 'utf8'), ';') : readXlsx(xlsxBytes);
  }
  for (const [kind, rows] of Object.entries(tables)) {
    const [header, ...body] = rows;
    assert.equal(body.length, reports.length, `${kind}: one row per file`);
    // The data columns keep their names; the rest are in the UI's language.
    for (const name of ['Advertisement ID', 'Segment_num', 'Расшифровка', 'Уверенность', 'Статус', 'Код статуса']) assert.ok(header.includes(name), `${kind}: column ${name} in ${header}`);
    assert.ok(!header.some((h) => /^(Transcript|Status|Confidence)$/.test(h)), `${kind}: no English header: ${header}`);
    const col = (name) => header.indexOf(name);
    for (const [i, r] of reports.entries()) {
      const row = body[i];
      assert.equal(row[col('Advertisement ID')], r.id, `${kind} row ${i + 2} ID`);
      assert.equal(row[col('Segment_num')], r.segment_id != null ? String(r.segment_id) : '', `${kind} row ${i + 2} segment`);
      assert.equal(row[col('Расшифровка')], r.transcript || '', `${kind} row ${i + 2} transcript`);
      assert.equal(row[col('Код статуса')], r.error ? 'failed' : r.segment_id != null ? (r.incomplete ? 'incomplete' : 'ok') : 'no-speech', `${kind} row ${i + 2} status code`);
      if (r.error) assert.ok(row[col('Статус')].includes(r.error), `${kind} row ${i + 2} says why it failed`);
      if (r.segment_id != null && !r.incomplete) assert.equal(row[col('Статус')], 'готово');
      if (kind === 'csv' && r.segment_id != null) assert.match(row[col('Уверенность')], /^0,\d{3}$/, 'a decimal comma');
    }
  }
  // Numbers are numbers in the XLSX (IDs that are numbers, segments, confidence, seconds).
  const cells = readXlsxCells(xlsxBytes);
  const head = cells[0].map((c) => c.text);
  for (const [i, r] of reports.entries()) {
    const row = cells[i + 1];
    if (r.segment_id == null) continue;
    for (const name of ['Segment_num', 'Уверенность', 'Секунды']) assert.ok(row[head.indexOf(name)].number, `row ${i + 2} ${name} is a number in the XLSX`);
  }
  // The vision branch is off for every file: said once, on a sheet of its own, not on every row.
  assert.deepEqual(xlsxSheetNames(xlsxBytes), ['Sheet1', 'Примечания']);
  assert.ok(tables.csv.slice(1).every((row) => row[tables.csv[0].indexOf('Примечание о видео')] === ''));
  // The same cells in both; numbers compared as numbers (the CSV rounds them).
  assert.deepEqual(tables.xlsx[0], tables.csv[0]);
  tables.csv.slice(1).forEach((row, i) => row.forEach((cell, j) => {
    const x = tables.xlsx[i + 1][j] ?? '';
    const n = cell.replace(',', '.');
    if (cell !== '' && !Number.isNaN(Number(n)) && x !== '') assert.ok(Math.abs(Number(n) - Number(x)) < 0.01, `row ${i + 2} ${tables.csv[0][j]}: ${cell} vs ${x}`);
    else assert.equal(x, cell, `row ${i + 2} ${tables.csv[0][j]}`);
  }));
});

await check('sorting and filtering the table', async () => {
  await page.fill('#filter', 'voice');
  const shown = await page.locator('#results tbody tr:not(.detail)').count();
  assert.equal(shown, speechFiles.length + 1, 'the voice.* rows (voice.avi too)');
  await page.fill('#filter', '');
  await page.click('#results th[data-sort="confidence"]');
  await page.click('#results th[data-sort="confidence"]');
  const first = await page.locator('#results tbody tr:not(.detail) td:nth-child(4)').first().textContent();
  const best = Math.max(...reports.filter((r) => r.confidence != null).map((r) => r.confidence));
  const ru = (x) => x.toLocaleString('ru-RU', { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  assert.equal(first, `${ru(best * 100)} %`, 'descending confidence puts the most confident first (in per cent, as Russian writes it)');
  // Below the threshold the user sets, an answer says "check"; the threshold is kept.
  await page.fill('#threshold', String(Math.ceil(best * 100) + 1));
  assert.equal(await page.locator('#results tbody tr.low').count(), reports.filter((r) => r.status === 'ok').length, 'every answer is below it');
  await page.fill('#threshold', '0');
  assert.equal(await page.locator('#results tbody tr.low').count(), 0);
  assert.equal(await page.evaluate(() => localStorage.getItem('creative-filter.threshold')), '0');
  await page.locator('#results tbody tr:not(.detail)').first().click();
  assert.equal(await page.locator('#results tr.detail').count(), 1, 'a click shows the transcript');
  assert.match(await page.textContent('#results tr.detail'), /\nИсточник: речь.* · Время: декодирование \d/, 'and where the answer came from, with each stage\'s time');
});

await check('file names are shown as text, not HTML', async () => {
  const evil = join(mkdtempSync(join(tmpdir(), 'cf-evil-')), '<img src=x onerror=alert(1)>.wav');
  writeFileSync(evil, readFileSync(join(MEDIA, 'voice.wav')));
  const [r] = await classifyBatch(page, [evil]);
  assert.equal(r.status, 'ok');
  assert.equal(await page.locator('#results img').count(), 0, 'no element was injected');
  assert.ok((await page.textContent('#results')).includes('<img src=x onerror=alert(1)>'));
});

await check('keyboard only: a file picked, classified, exported and the table sorted without the mouse', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'cf-keys-')), 'keyboard.wav');
  writeFileSync(file, readFileSync(join(MEDIA, 'voice.wav')));
  const before = await page.evaluate(() => window.creativeFilter.batch.items.length);
  const tabTo = async (reached, what) => {
    for (let i = 0; i < 60; i++) {
      await page.keyboard.press('Tab');
      if (await page.evaluate(reached)) return;
    }
    throw new Error(`Tab never reached ${what}`);
  };
  // Listening first: the browser's picker is intercepted only once someone listens.
  const chooser = page.waitForEvent('filechooser', { timeout: 60_000 });
  // From the page's first control, as after loading it.
  await page.focus('#lang');
  await tabTo(() => document.activeElement === document.getElementById('pick-files').closest('label'), '"choose files"');
  await page.keyboard.press('Enter');
  await (await chooser).setFiles(file);
  await page.waitForFunction((n) => window.creativeFilter.batch.items.length > n && !window.creativeFilter.batch.running, before, { timeout: 10 * 60_000, polling: 250 });
  const row = await page.evaluate(() => (({ name, status, report }) => ({ name, status, report }))(window.creativeFilter.batch.items.at(-1)));
  assert.equal(row.name, 'keyboard.wav');
  assert.equal(row.status, 'ok', row.report.error);
  await tabTo(() => document.activeElement.id === 'export-csv', 'the CSV export');
  const [dl] = await Promise.all([page.waitForEvent('download'), page.keyboard.press('Enter')]);
  assert.ok(readFileSync(await dl.path(), 'utf8').includes('keyboard'), 'the export holds the new row');
  await tabTo(() => document.activeElement.dataset.sort === 'segment', 'the segment column\'s header');
  await page.keyboard.press('Enter');
  assert.equal(await page.getAttribute('#results th[data-sort="segment"]', 'aria-sort'), 'ascending');
});

await page.screenshot({ path: join(OUT, 'batch.png'), fullPage: true });

await check('a phone (390 px) scrolls only the tables sideways, never the page; a wide screen (1920 px) uses its width', async () => {
  const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  try {
    await page.setViewportSize({ width: 390, height: 844 });
    for (const tab of ['batch', 'table', 'train', 'segments', 'dashboard', 'batch']) {
      await page.click(`[data-tab="${tab}"]`);
      await page.waitForTimeout(200); // the dashboard draws on activation
      assert.ok((await overflow()) <= 0, `the ${tab} tab is ${await overflow()} px wider than the phone`);
      const nav = await page.locator('nav').boundingBox();
      assert.ok(nav.x + nav.width <= 390, 'the tabs stay on screen');
    }
    await page.screenshot({ path: join(OUT, 'phone.png') });
    await page.setViewportSize({ width: 1920, height: 1080 });
    const body = await page.locator('body').boundingBox();
    assert.ok(body.width > 1600, `the page uses the width: ${body.width} px`);
    await page.screenshot({ path: join(OUT, 'wide.png') });
  } finally {
    await page.setViewportSize({ width: 1280, height: 900 });
  }
});

await check('an accessibility audit (axe-core, WCAG 2.1 A and AA) finds nothing serious on any tab', async () => {
  // Evaluated, not injected as a script tag: the page's CSP allows no inline script.
  await page.evaluate(readFileSync(join(ROOT, 'node_modules/axe-core/axe.min.js'), 'utf8'));
  const found = [];
  for (const tab of ['batch', 'table', 'train', 'segments', 'dashboard', 'batch']) {
    await page.click(`[data-tab="${tab}"]`);
    await page.waitForFunction(() => document.body.dataset.dashboard !== 'loading' && (document.body.dataset.dashboardBusy || '0') === '0', null, { timeout: 60_000 });
    const { violations } = await page.evaluate(() => window.axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] }));
    for (const v of violations) {
      if (['serious', 'critical'].includes(v.impact)) found.push(`${tab}: ${v.id} (${v.impact}) at ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('; ')}`);
    }
  }
  assert.deepEqual(found, []);
});

await check('switching the language redraws every status line and the core\'s messages, in one language at a time', async () => {
  // The page's own words (data such as segment names and file names left out).
  const words = () => page.evaluate(() => [
    ...['models', 'engine', 'vision-line', 'progress-text', 'storage-text', 'classifier-mode'].map((id) => document.getElementById(id).textContent),
    document.querySelector('#filter-segment option').textContent,
    ...[...document.querySelectorAll('nav button, #results th, .toolbar button, .toolbar label, #drop, #storage button')].map((e) => e.textContent),
  ].join(' | '));
  await page.click('#lang');
  let english, englishRows;
  try {
    [english, englishRows] = [await words(), await coreWords()];
  } finally {
    await page.click('#lang');
  }
  assert.doesNotMatch(english, /[А-Яа-яЁё]/, english);
  const russian = await words();
  assert.doesNotMatch(russian, /Models|ready|threads|segments|Classify|Clear|Download|done| of /, russian);
  // The core's messages (why a file failed, why one has no segment) too:
  // worded from their codes, in the language of the moment.
  const russianRows = await coreWords();
  console.log(`    ${russianRows.map((r) => r.split('\n').slice(0, 2).join(' | ')).join('\n    ')}`);
  for (const [i, row] of englishRows.entries()) {
    assert.doesNotMatch(row, /[А-Яа-яЁё]/, row);
    assert.match(row, /no speech|empty|not a media file|could not be decoded/, row);
    const outsideBrackets = russianRows[i].replace(/\([^()]*\)/g, '');
    assert.doesNotMatch(outsideBrackets, /\b(the|file|no|not|speech|video|branch|off|text|screen|picture|import|could|be)\b/i, russianRows[i]);
    assert.match(russianRows[i], /нет речи|пустой файл|не медиафайл|не удалось декодировать/, russianRows[i]);
    assert.doesNotMatch(russianRows[i], /\(\)|\{\w+\}/, `every value is filled in: ${russianRows[i]}`);
  }
});

// The status and the detail of the rows whose words come from the core
// (file names left out).
function coreWords() {
  return page.evaluate((names) => {
    const { batch } = window.creativeFilter;
    return names.map((name) => {
      const item = batch.items.find((i) => i.name === name);
      batch.toggleDetail(item);
      const text = `${item.row.lastChild.textContent}\n${item.detail.textContent}`;
      batch.toggleDetail(item);
      return text.replaceAll(name, '');
    });
  }, ['silence.wav', 'music.mp4', 'empty.wav', 'random.mp4', 'notes.txt']);
}

// The users' ID table (`text`) and a folder of the test creatives `files`, picked on the ID-table tab.
async function pickIdTable(text, files) {
  const dir = mkdtempSync(join(tmpdir(), 'cf-table-'));
  const table = join(dir, 'ids.csv');
  writeFileSync(table, text);
  const folder = join(dir, 'creatives');
  mkdirSync(folder);
  for (const f of files) writeFileSync(join(folder, f), readFileSync(join(MEDIA, f)));
  await page.click('[data-tab="table"]');
  await page.setInputFiles('#table-file', table);
  await page.setInputFiles('#table-media', folder);
}

await check('the ID-table flow fills the users table, every row kept', async () => {
  await pickIdTable('Advertisement ID;Brand\nvoice;A\nmusic;B\n999999;C\n', ['voice.wav', 'music.wav']);
  assert.match(await page.textContent('#table-chosen'), /· 2 файла$/, 'the count in its plural form');
  await page.click('#table-run');
  await page.waitForSelector('#table-done:not([hidden])', { timeout: 10 * 60_000 });
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#table-csv')]);
  const path = join(OUT, 'ids_segments.csv');
  await dl.saveAs(path);
  const lines = readFileSync(path, 'utf8').replace(/^\uFEFF/, '').trim().split(/\r?\n/);
  assert.equal(lines.length, 4, 'header + the three rows');
  assert.equal(lines[0], 'Advertisement ID;Brand;Segment_num;Сегмент;Уверенность;Статус;Код статуса', 'the table\'s own ";" kept, the added columns in Russian');
  assert.match(lines[3], /;failed$/);
  assert.match(lines[3], /999999/);
  assert.match(lines[3], /нет файла 999999\.\*/, 'a row without media says why, in the page\'s language');
  const voiceId = String(reports[0].segment_id);
  assert.ok(lines[1].includes(voiceId), `voice row carries segment ${voiceId}: ${lines[1]}`);
  // The same rows on the page, with their answers and reasons.
  const shown = await page.locator('#table-rows tbody tr').allTextContents();
  assert.equal(shown.length, 3, shown.join(' | '));
  assert.ok(shown[0].startsWith('voice') && shown[0].includes(voiceId), shown[0]);
  assert.match(shown[2], /^999999.*среди выбранных файлов нет файла 999999/);
});

await check('the ID-table flow can be cancelled: the creative in progress is finished, the rest say so, every row is written', async () => {
  // long_speech (80 s, not classified before) keeps the page busy while the click lands.
  await pickIdTable('Advertisement ID;Brand\nlong_speech;A\nvoice;B\nmusic;C\n', ['long_speech.wav', 'voice.wav', 'music.wav']);
  await page.click('#table-run');
  await page.waitForSelector('#table-cancel:not([hidden])');
  await page.click('#table-cancel');
  await page.waitForSelector('#table-done:not([hidden])', { timeout: 10 * 60_000 });
  const shown = await page.locator('#table-rows tbody tr').allTextContents();
  assert.equal(shown.length, 3, shown.join(' | '));
  assert.doesNotMatch(shown[0], /отменено/, `the creative in progress is finished: ${shown[0]}`);
  assert.match(shown[1], /отменено/);
  assert.match(shown[2], /отменено/);
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#table-csv')]);
  const lines = readFileSync(await dl.path(), 'utf8').replace(/^\uFEFF/, '').trim().split(/\r?\n/);
  assert.equal(lines.length, 4, 'every row is in the answer table');
  assert.match(lines[2], /^voice;.*отменено;failed$/, lines[2]);
});

await check('training on the page\'s example of labelled texts: report, confusion matrix, head file', async () => {
  await page.click('[data-tab="train"]');
  // The example file the training tab offers (www/examples/) is what is trained on.
  const [example] = await Promise.all([page.waitForEvent('download'), page.click('#example-texts')]);
  const texts = join(OUT, 'labelled_texts.csv');
  await example.saveAs(texts);
  assert.equal(readFileSync(texts, 'utf8').trim().split('\n').length, 37, 'a header and 36 labelled texts');
  await page.setInputFiles('#train-texts', texts);
  await page.click('#train-run');
  await page.waitForSelector('#train-report:not([hidden])', { timeout: 10 * 60_000 });
  assert.ok((await page.textContent('#report-table')).includes('среднее по сегментам'), 'the report in the page\'s language');
  assert.ok(await page.locator('#confusion table.heat td').count() >= 9);
  assert.ok(['обученный', 'trained'].includes(await page.textContent('#classifier-mode')), 'the trained head is in use');
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#head-save')]);
  const head = JSON.parse(readFileSync(await dl.path(), 'utf8'));
  assert.ok(head.embedding_model && head.segments, 'a head file with its embedding model and segments');
  await page.screenshot({ path: join(OUT, 'training.png'), fullPage: true });
  await page.click('#head-reset');
});

await check('training with labels that name no dropped file says what did not match', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cf-train-ids-'));
  writeFileSync(join(dir, 'train_segments.csv'), 'Advertisement ID,Segment_num\n4242,12\n4343,15\n');
  const folder = join(dir, 'creatives');
  mkdirSync(folder);
  writeFileSync(join(folder, 'voice.wav'), readFileSync(join(MEDIA, 'voice.wav')));
  await page.click('[data-tab="train"]');
  await page.setInputFiles('#train-labels', join(dir, 'train_segments.csv'));
  await page.setInputFiles('#train-media', folder);
  await page.click('#train-run');
  await page.waitForFunction(() => !document.getElementById('toast').hidden && /4242|4343/.test(document.getElementById('toast').textContent), null, { timeout: 60_000 });
  const text = await page.textContent('#toast');
  assert.match(text, /строк без ролика — 2, файлов в папке — 1|2 rows without one, 1 files/, text);
  await page.click('[data-tab="batch"]');
});

await check('no request left the origin', async () => {
  const foreign = session.requests.filter((u) => !u.startsWith(origin) && !u.startsWith('blob:') && !u.startsWith('data:'));
  assert.deepEqual(foreign, []);
  assert.ok(session.requests.length > 5);
});

await check('no errors in the page or the worker', async () => {
  assert.deepEqual(session.problems, []);
});

await session.close({ keepProfile: true });

session = await openPage(server.url, { profile });
await check('a second visit loads the models from the browser cache', async () => {
  assert.equal(session.info.fromCache, true);
  assert.ok(!session.requests.some((u) => u.endsWith('.gguf')), 'no model is downloaded again');
  console.log(`     second visit ready in ${(session.loadMs / 1000).toFixed(1)} s`);
});

await check('a second visit shows the table again; a file classified before is answered from the kept transcript', async () => {
  const p = session.page;
  await p.waitForFunction(() => window.creativeFilter.batch.items.length > 0, null, { timeout: 30_000 });
  const kept = await p.evaluate(() => window.creativeFilter.batch.items.map((i) => ({ file: i.name, status: i.status, segment_id: i.report.segment_id, transcript: i.report.transcript })));
  for (const r of reports) {
    const row = kept.find((k) => k.file === r.file.split('/').pop());
    assert.ok(row, `${r.file}: its row is back`);
    assert.equal(row.segment_id, r.segment_id, `${r.file}: the same segment`);
    assert.equal(row.transcript, r.transcript, `${r.file}: the same transcript`);
  }
  assert.ok(session.info.kept > 0, 'the worker restored the kept transcripts and embeddings');
  assert.match(await p.textContent('#storage-text'), new RegExp(`: ${kept.length}\\b`), 'the storage line counts the kept rows');
  // The same file again: skipped and offered again; classified again, from the kept transcript.
  const [again] = await classifyBatch(p, [join(MEDIA, 'voice.wav')]);
  const first = reports.find((r) => r.file.endsWith('voice.wav'));
  assert.equal(again.cached, true, 'the transcript came from the browser\'s storage');
  assert.equal(again.segment_id, first.segment_id);
  assert.equal(again.transcript, first.transcript);
  console.log(`     ${kept.length} rows back; voice.wav again in ${again.ms.toFixed(0)} ms (first visit ${first.wall_ms.toFixed(0)} ms)`);
  assert.equal(await p.evaluate(() => window.creativeFilter.batch.items.length), kept.length, 'the re-run took its old row\'s place');
  // "Clear" asks first; declined, nothing goes; accepted, the rows go for good.
  p.once('dialog', (d) => d.dismiss());
  await p.click('#clear');
  assert.equal(await p.evaluate(() => window.creativeFilter.batch.items.length), kept.length);
  p.once('dialog', (d) => d.accept());
  await p.click('#clear');
  await p.waitForFunction(() => window.creativeFilter.batch.items.length === 0);
  await p.reload();
  await p.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: 5 * 60_000 });
  assert.equal(await p.evaluate(() => window.creativeFilter.batch.restored), 0, 'no row comes back after "Clear"');
  assert.deepEqual(session.problems, []);
});
await session.close();

server.stop();
rmSync(profile, { recursive: true, force: true });

// A host that cannot send COOP/COEP (or a site embedding the page): no
// shared memory, so the portable module on one thread, said in the status
// line, and the same results.
await check('without cross-origin isolation the portable module runs, says so, and classifies', async () => {
  const plain = await serve(join(ROOT, 'dist'), { isolated: false });
  const s = await openPage(plain.url);
  try {
    assert.equal(await s.page.evaluate(() => self.crossOriginIsolated), false);
    assert.deepEqual(s.info.engine, { module: 'portable', why: 'not-isolated', threads: 1, kernel: 'wasm-simd128' });
    assert.deepEqual(await s.page.evaluate(() => window.creativeFilter.cf.call('kernelSelfTest')), ['wasm-simd128', 'portable']);
    assert.ok(s.requests.some((u) => u.endsWith('/creative-filter_bg.wasm')), 'the portable module was fetched');
    assert.ok(!s.requests.some((u) => u.includes('creative-filter-mt')), 'the threaded module was not');
    const line = await s.page.textContent('#engine');
    assert.ok(line.includes('COOP/COEP'), `the status line says why there is one thread: ${line}`);
    const [r] = await classifyBatch(s.page, [join(MEDIA, 'voice.wav')]);
    assert.equal(r.status, 'ok', r.error || r.note);
    assert.ok(r.transcript.length > 10);
    const threaded = reports.find((x) => x.file.endsWith('voice.wav'));
    if (threaded) assert.equal(r.segment_id, threaded.segment_id, 'the same segment as the threaded module gave');
    assert.deepEqual(s.problems, []);
  } finally {
    await s.close();
    plain.stop();
  }
});
console.log(failures() ? `${failures()} browser check(s) failed` : 'all browser checks passed');
process.exit(failures() ? 1 : 0);
