// On-screen text in the page (node tests/browser/screen.mjs): a first visit
// does not download the OCR engine or its traineddata; the first creative
// with little speech does, once; the page reads the generated slide
// creatives (scripts/make-screen-set.py, one of each background) as the
// native CLI does (libtesseract, the same traineddata and settings), puts the
// credit-card slides into their segment, says why an audio-only file has no
// picture, learns from the slides of labelled creatives as the CLI's train
// does, and reads nothing once the user turns it off. Nothing leaves the
// page's origin.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, CLI, serve, openPage, classifyBatch, nativeClassify, check, failures, cer, trainOnPage, pageWording } from './harness.mjs';

const SET = join(ROOT, 'tests/data/screen');
if (!existsSync(join(ROOT, 'dist/index.html'))) throw new Error('dist/ is missing: run scripts/build-web.sh first');
if (!existsSync(join(SET, 'manifest.jsonl'))) throw new Error('tests/data/screen is missing: run scripts/fetch-test-data.sh first');

const manifest = readFileSync(join(SET, 'manifest.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
// One creative of each background (sizes and fonts vary with them).
const chosen = manifest.filter((m, i) => manifest.findIndex((o) => o.background === m.background) === i);
const voice = join(ROOT, 'tests/data/media/voice.wav'); // ten words, no picture
const files = [...chosen.map((m) => join(SET, m.file)), voice];
const OCR_FILES = ['rus.traineddata', 'eng.traineddata', 'tesseract-core-simd-lstm.wasm'];

// Letters and digits only, case and spacing ignored, for the character error rate.
const letters = (s) => s.toLowerCase().replace(/ё/g, 'е').replace(/[^\p{L}\p{N}]/gu, '');
const textCer = (ref, hyp) => cer(letters(ref), letters(hyp));

const server = await serve();
const origin = new URL(server.url).origin;
const profile = mkdtempSync(join(tmpdir(), 'cf-screen-profile-'));
const work = mkdtempSync(join(tmpdir(), 'cf-screen-work-'));
const session = await openPage(server.url, { profile });
const { page } = session;
const fetched = (name) => session.requests.filter((u) => new URL(u).pathname.endsWith(`/${name}`)).length;

await check('a first visit does not download the OCR engine or its models, and the page says when it will', async () => {
  assert.deepEqual(session.info.screen.mode, 'auto');
  assert.equal(session.info.screen.available, true);
  for (const f of OCR_FILES) assert.equal(fetched(f), 0, `${f} was fetched before any creative needed it`);
  await page.click('[data-tab=segments]');
  assert.match(await page.textContent('#screen-status'), /\d+\.\d MB|\d+,\d МБ|\d+\.\d МБ/);
  await page.click('[data-tab=batch]');
});

let reports = [];
await check('creatives with no speech are read: the OCR files come once, the status line says so', async () => {
  reports = await classifyBatch(page, files);
  for (const f of OCR_FILES) assert.equal(fetched(f), 1, `${f} fetched ${fetched(f)} times`);
  for (const r of reports) assert.equal(r.status === 'failed' ? r.error : 'ok', 'ok', r.file);
  assert.match(await page.textContent('#screen-status'), /loaded|загружена/);
});

await check('the page reads what the CLI reads, and the slides decide the segment', async () => {
  const native = nativeClassify(files);
  let pageErrors = 0;
  let cliErrors = 0;
  let right = 0;
  let compared = 0;
  const problems = [];
  for (const [i, m] of chosen.entries()) {
    const [web, cli] = [reports[i], native[i]];
    const reference = m.lines.join(' ');
    const [p, c] = [textCer(reference, web.screen_text || ''), textCer(reference, cli.screen_text || '')];
    pageErrors += p;
    cliErrors += c;
    right += web.segment_id === m.segment ? 1 : 0;
    const between = textCer(cli.screen_text || '', web.screen_text || '');
    const frames = (r) => `${r.screen_frames.read}/${r.screen_frames.chosen}${r.screen_frames.cut_short ? ' cut short' : ''}`;
    console.log(`     ${m.file} (${m.background}): CER page ${p.toFixed(3)}, CLI ${c.toFixed(3)}, page↔CLI ${between.toFixed(3)}; segment ${web.segment_id ?? '-'} / ${cli.segment_id ?? '-'} (${m.segment}); reading ${(web.timings_ms.screen / 1e3).toFixed(1)} s / ${(cli.timings_ms.screen / 1e3).toFixed(1)} s, frames ${frames(web)} / ${frames(cli)}`);
    if (web.screen_frames.chosen !== cli.screen_frames.chosen) problems.push(`${m.file}: ${frames(web)} frames chosen in the page, ${frames(cli)} by the CLI`);
    // A time limit makes what is read depend on the machine's load (a
    // texture keeps the engine busy): only whole readings must agree.
    if (!web.screen_frames.cut_short && !cli.screen_frames.cut_short) {
      compared++;
      // Where the CLI reads the slides, the page reads the same lines.
      if (between > 0.1) problems.push(`${m.file}: the page read ${JSON.stringify(web.screen_text)}, the CLI ${JSON.stringify(cli.screen_text)}`);
      if (web.modality !== cli.modality) problems.push(`${m.file}: modality ${web.modality} vs ${cli.modality}`);
      if (between === 0 && web.segment_id !== cli.segment_id) problems.push(`${m.file}: the same text, segment ${web.segment_id} vs ${cli.segment_id}`);
    }
  }
  assert.deepEqual(problems, []);
  const n = chosen.length;
  // Slides over colour, gradients, a picture and a lower third read whole.
  assert.ok(compared >= n - 3, `only ${compared} of ${n} read whole on both sides`);
  console.log(`     mean CER page ${(pageErrors / n).toFixed(3)}, CLI ${(cliErrors / n).toFixed(3)}; ${right} of ${n} in their segment in the page`);
  assert.ok(pageErrors / n <= cliErrors / n + 0.05, 'the page reads about as well as the CLI');
  const card = reports[chosen.findIndex((m) => m.file === 'screen00.mp4')];
  assert.equal(card.segment_id, 12, `the credit-card slides: ${JSON.stringify(card.screen_text)}`);
  assert.equal(card.modality, 'screen');
  assert.match(card.screen_text, /Кредитная карта/);
  const audio = reports.at(-1);
  assert.equal(audio.screen_note, native.at(-1).screen_note);
  assert.match(audio.screen_note, /audio only/);
  assert.equal(audio.modality, 'speech', 'an audio file is still decided by its speech');
});

await check('the row shows the text read from the picture', async () => {
  const row = page.locator('#results tbody tr', { hasText: 'screen00.mp4' }).first();
  await row.click();
  const detail = await row.evaluate((tr) => tr.nextElementSibling && tr.nextElementSibling.textContent);
  assert.match(detail, /Текст на экране: Кредитная карта/);
});

await check('training in the page learns from the slides and calibrates the speech against the screen, as the CLI', async () => {
  // Three silent slide creatives and two with ten words of voice-over under their slides.
  const folder = join(work, 'labelled');
  mkdirSync(folder);
  const plain = manifest.filter((m) => ['colour', 'gradient', 'colour-light'].includes(m.background)).slice(0, 5);
  let labels = 'Advertisement ID,Segment_num\n';
  for (const [n, m] of plain.entries()) {
    const [from, to] = [join(SET, m.file), join(folder, `${100 + n}.mp4`)];
    if (n < 2) execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-y', '-i', from, '-i', voice, '-map', '0:v', '-map', '1:a', '-c:v', 'copy', '-c:a', 'aac', to]);
    else copyFileSync(from, to);
    labels += `${100 + n},${m.segment}\n`;
  }
  const labelsFile = join(work, 'train_segments.csv');
  writeFileSync(labelsFile, labels);
  await trainOnPage(page, labelsFile, folder);
  const [summary, screen] = [await page.textContent('#train-summary'), await page.textContent('#train-screen')];
  console.log(`     ${summary} — ${screen}`);
  const report = join(work, 'cli-training.json');
  execFileSync(CLI, ['--no-cache', 'train', '--cv', '5', '--labels', labelsFile, '--media', folder, '--out', join(work, 'head.json'), '--report', report], { stdio: 'ignore' });
  const cli = JSON.parse(readFileSync(report, 'utf8'));
  assert.deepEqual([cli.examples, cli.screen.examples, cli.screen.calibrated_on], [7, 5, 2], JSON.stringify(cli));
  assert.match(summary, new RegExp(`: ${cli.examples} · `), 'the page learns from as many texts as the CLI');
  assert.match(screen, new RegExp(`: ${cli.screen.examples}\\. .*(calibrated|откалиброван)[^:]* ${cli.screen.calibrated_on}: σ`));
  const f = cli.screen.fusion;
  assert.ok(screen.includes(`σ(${f.bias.toFixed(2)} + ${f.per_log_word.toFixed(2)}·ln(1+words) − ${f.no_speech.toFixed(2)}·p_no_speech)`), 'the same weight as the CLI');
  assert.deepEqual(await page.locator('#train-problems li').allTextContents(), await pageWording(page, cli.problems));
  await page.click('#head-reset');
  await page.click('[data-tab=batch]');
});

await check('turned off, pictures are not read', async () => {
  await page.click('[data-tab=segments]');
  await page.selectOption('#screen-mode', 'off');
  await page.waitForFunction(() => (window.creativeFilter.cf.replay || []).some(([m, a]) => m === 'setScreenText' && a.mode === 'off'));
  await page.click('[data-tab=batch]');
  const [r] = await classifyBatch(page, [join(SET, 'screen00.mp4')]);
  assert.equal(r.screen_text, undefined, JSON.stringify(r.screen_text));
  assert.equal(r.modality, 'no-speech');
  assert.equal(r.segment_id, undefined);
});

await check('no request left the page\'s origin, and nothing went to the console as an error', async () => {
  const foreign = session.requests.filter((u) => !u.startsWith(origin) && !u.startsWith('data:') && !u.startsWith('blob:'));
  assert.deepEqual(foreign, []);
  assert.deepEqual(session.problems, []);
});

await session.close();
server.stop();
rmSync(profile, { recursive: true, force: true });
rmSync(work, { recursive: true, force: true });
if (failures()) {
  console.log(`${failures()} check(s) failed`);
  process.exit(1);
}
console.log('screen: all checks passed');
