// The page on WebGPU (node tests/browser/gpu.mjs), on headless Chromium's
// SwiftShader adapter (a CPU emulation: a check of correctness, not of
// speed). `auto` passes over the emulation and says so; with the GPU chosen
// Whisper's encoder and e5 run on WebGPU and a creative gets the CPU path's
// transcript and segment; a device lost mid-session sends the next
// windows to the CPU and the batch completes. X-CLIP's vision tower (the
// tiny fixture) follows the device and decides a silent video as the CPU does.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, serve, openPage, classifyBatch, check, failures } from './harness.mjs';

const MEDIA = join(ROOT, 'tests/data/media');
if (!existsSync(join(ROOT, 'dist/index.html'))) throw new Error('dist/ is missing: run scripts/build-web.sh first');
if (!existsSync(MEDIA)) throw new Error('tests/data/media is missing: run scripts/fetch-test-data.sh first');

// Decoded by the module (WAV), and by WebCodecs (MP4: H.264 + AAC).
const files = ['voice.wav', 'voice.mp4'].map((f) => join(MEDIA, f));

const server = await serve();
const session = await openPage(server.url);
const { page } = session;
const call = (method, args) => page.evaluate(([m, a]) => window.creativeFilter.cf.call(m, a), [method, args]);
const setDevice = (device) => page.evaluate((d) => window.creativeFilter.cf.setDevice(d), device);
// Each pass transcribes anew: the kept transcripts would otherwise answer.
const classifyAfresh = async (which = files) => {
  await call('clearCache');
  return classifyBatch(page, which);
};
const said = (reports) => reports.map((r) => ({ file: r.file, status: r.status, transcript: r.transcript, segment: r.segment_id }));

let cpu = null;
await check('auto passes over a CPU emulation of a GPU and says the encoder runs on the CPU', async () => {
  const { device } = session.info;
  assert.equal(device.choice, 'auto');
  assert.match(device.device, /^cpu \(wasm-/);
  assert.equal(await page.getAttribute('#engine', 'data-device'), 'cpu');
  cpu = await classifyAfresh();
  for (const r of cpu) assert.equal(r.status, 'ok', `${r.file}: ${r.error && r.error.message}`);
  assert.ok(cpu.every((r) => r.device.startsWith('cpu')), JSON.stringify(cpu.map((r) => r.device)));
  assert.ok(cpu.every((r) => r.transcript.length > 10), 'the voice creatives have speech');
});

await check('with the GPU chosen, Whisper\'s encoder and e5 run on WebGPU and the transcripts and segments are the CPU path\'s', async () => {
  // As a user does: the Segments tab's Compute setting.
  await page.click('[data-tab="segments"]');
  await page.selectOption('#device-mode', 'gpu');
  await page.waitForSelector('#engine[data-device="gpu"]', { timeout: 5 * 60_000 });
  const line = await page.textContent('#engine');
  assert.match(line, /GPU: .*webgpu/i, `the status line names the adapter: ${line}`);
  assert.match(line, /speech and text encoders|кодировщики речи и текста/, `e5 is on the GPU too: ${line}`);
  assert.equal(await page.evaluate(() => localStorage.getItem('cf-device')), 'gpu', 'the choice is kept for the next visit');
  await page.click('[data-tab="batch"]');
  // One creative: SwiftShader takes about 100 s a window (both paths to the
  // samples are checked on the CPU above; the encoder does not see which).
  const gpu = await classifyAfresh(files.slice(1));
  for (const r of gpu) {
    assert.equal(r.status, 'ok', `${r.file}: ${r.error && r.error.message}`);
    assert.match(r.device, /^gpu: /, `${r.file} ran on ${r.device}`);
    assert.ok(r.encoder_parts_ms.gpu > 0, 'the encoder\'s time is the GPU\'s');
  }
  const ms = (r, stage) => Math.round(r.timings_ms[stage]);
  // The CPU pass embedded the shared transcript once, for the first file.
  const cpuEmbed = Math.max(...cpu.map((r) => ms(r, 'embed')));
  console.log(`    ${gpu[0].device}: encoder ${ms(gpu[0], 'encoder')} ms against ${ms(cpu[1], 'encoder')} ms on the CPU; e5 ${ms(gpu[0], 'embed')} ms against ${cpuEmbed} ms; confidence ${gpu[0].confidence.toFixed(5)} against ${cpu[1].confidence.toFixed(5)}`);
  assert.deepEqual(said(gpu), said(cpu.slice(1)));
  // e5's vector moved a little (the CPU's int8 products, the GPU's f32 sums): the same decision, about as sure.
  for (const [g, c] of gpu.map((r, i) => [r, cpu[i + 1]])) {
    assert.ok(Math.abs(g.confidence - c.confidence) < 0.01, `${g.file}: confidence ${g.confidence} on the GPU, ${c.confidence} on the CPU`);
  }
});

await check('a GPU device lost mid-session leaves the windows to the CPU, and the batch completes with the same answers', async () => {
  assert.equal(await call('loseGpuForTest'), true);
  const after = await classifyAfresh();
  for (const r of after) {
    assert.equal(r.status, 'ok', `${r.file}: ${r.error && r.error.message}`);
    assert.match(r.device, /^cpu \(.*\), after the GPU/, r.device);
  }
  assert.deepEqual(said(after), said(cpu));
  const state = await setDevice('cpu');
  assert.match(state.device, /^cpu \(wasm-/);
  assert.equal(state.problem, null);
});

// A creative without speech, for the vision branch (as tests/browser/vision.mjs makes them).
const silent = join(mkdtempSync(join(tmpdir(), 'cf-gpu-media-')), 'silent.mp4');
execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25:duration=4', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', silent]);
const XCLIP = ['config.json', 'model.safetensors', 'tokenizer.json', 'vocab.json', 'merges.txt'].map((f) => join(ROOT, 'tests/fixtures/tiny-xclip', f));

await check('X-CLIP\'s vision tower moves to WebGPU with the device and decides a silent video as on the CPU', async () => {
  await page.click('[data-tab="segments"]');
  await page.selectOption('#device-mode', 'cpu');
  await page.waitForSelector('#engine[data-device="cpu"]', { timeout: 60_000 });
  await page.setInputFiles('#vision-files', XCLIP);
  await page.waitForFunction(() => document.body.dataset.vision === 'on', null, { timeout: 120_000 });
  assert.equal((await call('classifierState')).vision.gpu, false, 'on the CPU, the tower is there too');
  await page.click('[data-tab="batch"]');
  const [onCpu] = await classifyAfresh([silent]);
  assert.equal(onCpu.modality, 'vision', JSON.stringify(onCpu));
  await page.click('[data-tab="segments"]');
  await page.selectOption('#device-mode', 'gpu');
  await page.waitForSelector('#engine[data-device="gpu"]', { timeout: 5 * 60_000 });
  await page.waitForFunction(() => document.getElementById('vision-status').textContent.includes('GPU'), null, { timeout: 60_000 });
  await page.click('[data-tab="batch"]');
  const [onGpu] = await classifyAfresh([silent]);
  assert.equal(onGpu.status, 'ok', JSON.stringify(onGpu));
  assert.equal(onGpu.modality, 'vision', JSON.stringify(onGpu));
  assert.equal((await call('classifierState')).vision.gpu, true, 'the GPU did not fail');
  const [c, g] = [onCpu.vision_segment, onGpu.vision_segment];
  console.log(`    vision: segment ${g.segment_id} (${g.confidence.toFixed(5)}) on the GPU, ${c.segment_id} (${c.confidence.toFixed(5)}) on the CPU`);
  assert.equal(g.segment_id, c.segment_id);
  assert.ok(Math.abs(g.confidence - c.confidence) < 0.01, `${g.confidence} against ${c.confidence}`);
  await setDevice('cpu');
});

await check('nothing failed in the page or its workers', async () => {
  assert.deepEqual(session.problems, []);
});

await session.close();
server.stop();
if (failures()) {
  console.log(`${failures()} check(s) failed`);
  process.exit(1);
}
