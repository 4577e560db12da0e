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
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, linkSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, CLI, serve, openPage, classifyBatch, check, failures } from './harness.mjs';

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
const nativeOut = execFileSync(CLI, ['--models', models, 'classify', '--no-cache', ...creatives], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
const native = nativeOut.trim().split('\n').map((l) => JSON.parse(l));

const server = await serve();
const origin = new URL(server.url).origin;
const profile = mkdtempSync(join(tmpdir(), 'cf-vision-profile-'));
let session = await openPage(server.url, { profile });
let { page } = session;

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
    assert.equal(r.speech_segment, null);
    assert.ok(r.frames_ms >= 0);
    console.log(`     ${name}: segment ${r.segment_id} (${r.confidence.toFixed(4)}), frames ${r.frames_ms.toFixed(0)} ms, all ${r.wall_ms.toFixed(0)} ms`);
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
    assert.ok(Math.abs(n.confidence - w.confidence) < 0.01, `${name}: native ${n.confidence} vs page ${w.confidence}`);
    assert.equal(w.segment_id, n.segment_id, `${name}: same segment`);
  }
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
