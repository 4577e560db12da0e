// The vision branch in the page (node tests/browser/vision.mjs): with no
// X-CLIP model the branch is off and says how to turn it on; the user picks
// a checkpoint's files (the tiny random X-CLIP fixture), the worker converts
// and caches it; creatives without speech — silent H.264, VP9 WebM, a still
// image, music over pictures — are decided by the video, whose frames come
// from the browser's VideoDecoder, and agree with the native CLI given the
// same model; a second visit finds the model in the browser's storage; it
// can be removed. Then the base-patch32-sized model (random weights built in
// Rust) runs in the worker within wasm32's memory, with its time printed.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, writeFileSync, linkSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, CLI, serve, openPage, classifyBatch, check, failures, trainOnPage, pageWording } from './harness.mjs';

const FIXTURE = join(ROOT, 'tests/fixtures/tiny-xclip');
const CHECKPOINT_FILES = ['config.json', 'model.safetensors', 'tokenizer.json', 'vocab.json', 'merges.txt'].map((f) => join(FIXTURE, f));
if (!existsSync(join(ROOT, 'dist/index.html'))) throw new Error('dist/ is missing: run scripts/build-web.sh first');
if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run cargo build --release first`);

// Creatives without speech, made with ffmpeg.
const media = mkdtempSync(join(tmpdir(), 'cf-vision-media-'));
const ff = (...args) => execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-y', ...args]);
const src = 'testsrc2=size=320x240:rate=25:duration=4';
ff('-f', 'lavfi', '-i', src, '-c:v', 'libx264', '-bf', '2', '-g', '30', '-pix_fmt', 'yuv420p', join(media, 'silent.mp4'));
ff('-f', 'lavfi', '-i', src, '-c:v', 'libvpx-vp9', '-b:v', '300k', '-deadline', 'realtime', join(media, 'silent-vp9.webm'));
ff('-f', 'lavfi', '-i', 'testsrc2=size=400x300', '-frames:v', '1', join(media, 'banner.png'));
ff('-f', 'lavfi', '-i', src, '-f', 'lavfi', '-i', 'sine=frequency=440:duration=4', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', join(media, 'tone-over-pictures.mp4'));
const creatives = ['silent.mp4', 'silent-vp9.webm', 'banner.png', 'tone-over-pictures.mp4'].map((f) => join(media, f));

// The native CLI with the same model imported, in a models folder of its own.
const models = mkdtempSync(join(tmpdir(), 'cf-vision-models-'));
for (const f of readdirSync(join(ROOT, 'models'))) if (!f.startsWith('.') && f !== 'README.md') linkSync(join(ROOT, 'models', f), join(models, f));
rmSync(join(models, 'manifest.json'));
execFileSync('cp', [join(ROOT, 'models/manifest.json'), join(models, 'manifest.json')]);
execFileSync(CLI, ['--models', models, 'models', 'import', 'xclip', FIXTURE], { stdio: 'ignore' });
// On-screen text off, here and in the page (tests/browser/screen.mjs covers it):
// this test is about the video model.
const nativeOut = execFileSync(CLI, ['--models', models, 'classify', '--no-cache', '--screen-text', 'off', ...creatives], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
const native = nativeOut.trim().split('\n').map((l) => JSON.parse(l));

const server = await serve();
const origin = new URL(server.url).origin;
const profile = mkdtempSync(join(tmpdir(), 'cf-vision-profile-'));
let session = await openPage(server.url, { profile });
let { page } = session;
// Pictures' text is not read here (as the CLI's run above); the choice is kept across visits.
await page.click('[data-tab=segments]');
await page.selectOption('#screen-mode', 'off');
await page.click('[data-tab=batch]');

await check('with no video model the branch is off, and the page and the reports say how to turn it on', async () => {
  assert.equal(await page.evaluate(() => document.body.dataset.vision), 'off');
  assert.match(await page.textContent('#vision-line'), /X-CLIP/);
  const [r] = await classifyBatch(page, [join(media, 'silent.mp4')]);
  assert.notEqual(r.modality, 'vision');
  assert.match(`${r.error || ''} ${r.note || ''} ${r.vision_note || ''}`, /no audio track|vision branch off/);
  await page.evaluate(() => window.creativeFilter.batch.clear && window.creativeFilter.batch.clear());
});

await check('picking a checkpoint\'s files imports it in the worker and turns the branch on', async () => {
  await page.setInputFiles('#vision-files', CHECKPOINT_FILES);
  await page.waitForFunction(() => document.body.dataset.vision === 'on', null, { timeout: 120_000 });
  assert.match(await page.textContent('#vision-status'), /xclip\.gguf@[0-9a-f]{16} · 8 × 32 px/);
});

let reports = [];
await check('creatives without speech are decided by their pictures, frames from WebCodecs', async () => {
  reports = await classifyBatch(page, creatives);
  for (const [i, r] of reports.entries()) {
    const name = creatives[i].split('/').pop();
    assert.equal(r.status, 'ok', `${name}: ${r.error || r.note} ${r.vision_note || ''}`);
    assert.equal(r.modality, 'vision', `${name}: ${JSON.stringify(r)}`);
    assert.ok(r.vision_segment && r.vision_segment.segment_id === r.segment_id, `${name}: the video's top segment is the decision`);
    assert.equal(r.speech_segment, undefined, `${name}: no speech branch answer`);
    assert.ok(r.frames_ms >= 0);
    console.log(`     ${name}: segment ${r.segment_id} (${r.confidence.toFixed(4)}), frames ${r.frames_ms.toFixed(0)} ms, all ${r.wall_ms.toFixed(0)} ms`);
  }
});

// ffmpeg's picture shown at t (a picture's own time: half a frame earlier
// keeps exactly that picture at 25 fps), full size, as RGB.
const ffmpegFrame = (file, t) =>
  execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-ss', Math.max(0, t - 0.02).toFixed(4), '-i', file, '-frames:v', '1', '-pix_fmt', 'rgb24', '-f', 'rawvideo', '-'], { maxBuffer: 1 << 26 });
const psnr = (a, b) => {
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i] - b[i]) ** 2;
  return 10 * Math.log10((255 * 255) / (se / a.length || 1e-10));
};

await check('the pictures WebCodecs gave are ffmpeg\'s at the same times', async () => {
  for (const name of ['silent.mp4', 'silent-vp9.webm']) {
    const file = join(media, name);
    const got = await page.evaluate(async (bytes) => {
      const r = await window.creativeFilter.cf.call('pictures', { file: new File([new Uint8Array(bytes)], 'clip') });
      return { times_s: r.times_s, pictures: r.pictures.map((p) => ({ width: p.width, height: p.height, via: p.via, rgb: [...p.rgb] })) };
    }, [...readFileSync(file)]);
    assert.equal(got.pictures.length, 8, `${name}: 8 pictures`);
    const shown = got.pictures.map((p, i) => {
      assert.deepEqual([p.width, p.height], [320, 240], `${name}: the visible size`);
      return psnr(p.rgb, ffmpegFrame(file, got.times_s[i]));
    });
    // The moving test pattern at another time scores far lower: the check tells times apart.
    const wrongTime = psnr(got.pictures[0].rgb, ffmpegFrame(file, got.times_s[4]));
    console.log(`     ${name} (${got.pictures[0].via}): PSNR against ffmpeg ${shown.map((d) => d.toFixed(1)).join(' ')} dB; picture 0 against ffmpeg's at frame 4's time: ${wrongTime.toFixed(1)} dB`);
    // Another decoder, the same YUV → RGB conversion with the colour matrix
    // the stream declares (H.264's SPS, VP9's key frame): close, not equal.
    const floor = 40;
    for (const [i, d] of shown.entries()) assert.ok(d >= floor, `${name}: picture ${i} at ${got.times_s[i]} s: ${d.toFixed(1)} dB`);
    assert.ok(wrongTime < Math.min(...shown) - 5, `${name}: ${wrongTime.toFixed(1)} dB for the wrong time`);
  }
});

await check('the page decides as the native CLI does with the same model', async () => {
  assert.equal(native.length, creatives.length);
  for (const [i, n] of native.entries()) {
    const w = reports[i];
    const name = creatives[i].split('/').pop();
    if (name.endsWith('.webm')) {
      // Natively only H.264 is decoded for frames; the page has the browser's VP9 decoder.
      assert.match(n.vision_note, /vp9/, `${name} natively: ${JSON.stringify(n)}`);
      continue;
    }
    assert.equal(n.modality, 'vision', `${name} natively: ${JSON.stringify(n)}`);
    // Frames come from another decoder and colour conversion (WebCodecs and a
    // canvas against OpenH264/libvpx-free native code), so only near-equal.
    console.log(`     ${name}: confidence native ${n.confidence.toFixed(5)}, page ${w.confidence.toFixed(5)}`);
    assert.ok(Math.abs(n.confidence - w.confidence) < 0.01, `${name}: native ${n.confidence} vs page ${w.confidence}`);
    assert.equal(w.segment_id, n.segment_id, `${name}: same segment`);
  }
});

await check('training on labelled creatives in the page trains the vision head and calibrates the fusion', async () => {
  // As tests/suite/vision_train.rs: segment 12 dark pictures (a credit-card voice-over or
  // none), segment 15 bright test patterns (a telephone-menu voice or none).
  const folder = join(media, 'labelled');
  mkdirSync(folder);
  const voices = { 12: join(ROOT, 'tests/data/media/voice.wav'), 15: join(ROOT, 'tests/data/media/long_speech.wav') };
  const make = (path, segment, variant, withVoice) => {
    const video = segment === 15 ? `testsrc2=size=160x120:rate=10:duration=4,hue=h=${variant * 40}` : `color=c=0x${(8 + variant * 6).toString(16).padStart(2, '0')}1020:size=160x120:rate=10:duration=4`;
    const audio = withVoice ? ['-i', voices[segment], '-t', '4', '-c:a', 'aac'] : [];
    ff('-f', 'lavfi', '-i', video, ...audio, '-c:v', 'libx264', '-pix_fmt', 'yuv420p', path);
  };
  // A row the labels refuse comes first, so the creatives' rows are not their
  // order among the files: messages must name the table's own rows.
  let labels = 'Advertisement ID,Segment_num\n999,twelve\n';
  for (let i = 0; i < 3; i++) {
    for (const [id, segment, voice] of [[100 + i, 12, true], [200 + i, 15, true], [300 + i, 12, false], [400 + i, 15, false]]) {
      make(join(folder, `${id}.mp4`), segment, voice ? i : i + 3, voice);
      labels += `${id},${segment}\n`;
    }
  }
  const labelsFile = join(media, 'train_segments.csv');
  writeFileSync(labelsFile, labels);
  await trainOnPage(page, labelsFile, folder);
  const summary = await page.textContent('#train-summary');
  const vision = await page.textContent('#train-vision');
  console.log(`     ${summary} — ${vision}`);
  assert.match(summary, /: 6 · 2 /, 'the speech head learns from the 6 with speech');
  assert.match(vision, /: 12 · macro-F1 /, 'the vision head learns from all 12');
  assert.match(vision, /(calibrated|откалиброван)[^:]* 6: σ/, 'the fusion is calibrated on the 6 with both');
  // The rows not used, or used by one head only, are the CLI's, row for row.
  const problems = await page.locator('#train-problems li').allTextContents();
  const report = join(media, 'cli-training.json');
  execFileSync(CLI, ['--models', models, '--no-cache', 'train', '--screen-text', 'off', '--labels', labelsFile, '--media', folder, '--out', join(media, 'head.json'), '--report', report], { stdio: 'ignore' });
  const cli = JSON.parse(readFileSync(report, 'utf8'));
  assert.deepEqual(problems, await pageWording(page, cli.problems));
  assert.equal(problems.length, 7, problems.join(' | '));
  // In the page's language (Russian), from the codes the CLI's English came with.
  assert.equal(problems[0], 'Строка 2: ID 999: номер сегмента «twelve» — не целое число ≥ 0');
  assert.equal(cli.problems[0].reason.text, 'segment number "twelve" is not a whole number ≥ 0');
  // 300 + i is on row 4·i + 5, 400 + i on 4·i + 6 (row 1 the header, row 2 the refused one).
  assert.equal(problems[1], 'Строка 5: ID 300: использован только видеомоделью: нет речи');
  assert.equal(cli.problems[1].reason.text, 'used for the vision head only: no speech');
  assert.equal(problems.at(-1), 'Строка 14: ID 402: использован только видеомоделью: нет речи');
  await page.waitForFunction(() => /trained|обученный/.test(document.getElementById('vision-status').textContent));
  // New silent creatives are decided by the trained vision head.
  make(join(media, 'dark.mp4'), 12, 7, false);
  make(join(media, 'bright.mp4'), 15, 7, false);
  const rows = await classifyBatch(page, [join(media, 'dark.mp4'), join(media, 'bright.mp4')]);
  assert.deepEqual(rows.map((r) => [r.modality, r.segment_id]), [['vision', 12], ['vision', 15]], JSON.stringify(rows));
  await page.click('#head-reset');
  await page.waitForFunction(() => /zero-shot/.test(document.getElementById('vision-status').textContent));
});

await check('a second visit loads the imported model from the browser\'s storage', async () => {
  await session.close({ keepProfile: true });
  session = await openPage(server.url, { profile });
  page = session.page;
  assert.equal(await page.evaluate(() => document.body.dataset.vision), 'on');
  const [r] = await classifyBatch(page, [join(media, 'banner.png')]);
  assert.equal(r.modality, 'vision');
  assert.equal(r.segment_id, reports[2].segment_id);
});

await check('removing the video model turns the branch off again, and stays off', async () => {
  await page.click('[data-tab=segments]');
  await page.click('#vision-forget');
  await page.waitForFunction(() => document.body.dataset.vision === 'off');
  await session.close({ keepProfile: true });
  session = await openPage(server.url, { profile });
  page = session.page;
  assert.equal(await page.evaluate(() => document.body.dataset.vision), 'off');
});

await check('a checkpoint without weights gives one clear message and leaves the branch off', async () => {
  await page.setInputFiles('#vision-files', [join(FIXTURE, 'config.json'), join(FIXTURE, 'tokenizer.json')]);
  await page.waitForFunction(() => /model\.safetensors/.test(document.getElementById('vision-status').textContent), null, { timeout: 60_000 });
  assert.equal(await page.evaluate(() => document.body.dataset.vision), 'off');
});

await check('base-patch32 size (random weights) runs in the worker within wasm32 memory', async () => {
  const r = await page.evaluate(() => window.creativeFilter.cf.call('benchVision', { prompts: 18, runs: 1 }));
  console.log(`     base-patch32 Q8_0 in the worker: ${r.per_creative_s.toFixed(2)} s per creative (${r.frames} frames of ${r.image_size} px, ${r.prompts} prompts), `
    + `model build ${r.load_s.toFixed(1)} s, text ${(r.text_per_prompt_s * 1000).toFixed(0)} ms per prompt, wasm memory ${r.wasm_memory_mb.toFixed(0)} MB`);
  assert.equal(r.frames, 8);
  assert.equal(r.image_size, 224);
  assert.ok(r.per_creative_s > 0 && Number.isFinite(r.per_creative_s));
  // wasm32 addresses 4 GiB; the page must leave room for the speech models and files.
  assert.ok(r.wasm_memory_mb < 2048, `wasm memory ${r.wasm_memory_mb} MB`);
});

await check('no request left the page\'s origin', async () => {
  const foreign = session.requests.filter((u) => !u.startsWith(origin) && !u.startsWith('data:') && !u.startsWith('blob:'));
  assert.deepEqual(foreign, []);
  assert.deepEqual(session.problems.filter((p) => !/Failed to load resource/.test(p)), []);
});

await session.close();
server.stop();
rmSync(media, { recursive: true, force: true });
rmSync(models, { recursive: true, force: true });
rmSync(profile, { recursive: true, force: true });
if (failures()) {
  console.log(`${failures()} check(s) failed`);
  process.exit(1);
}
console.log('vision: all checks passed');
