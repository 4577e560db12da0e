// The page on WebGPU (node tests/browser/gpu.mjs), on headless Chromium's
// SwiftShader adapter (a CPU emulation: a check of correctness, not of
// speed). `auto` passes over the emulation and says so; with the GPU chosen
// Whisper's encoder runs on WebGPU and a creative gets the CPU path's
// transcript and segment; a device lost mid-session sends the next
// windows to the CPU and the batch completes.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
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

await check('with the GPU chosen, the encoder runs on WebGPU and the transcripts and segments are the CPU path\'s', async () => {
  // As a user does: the Segments tab's Compute setting.
  await page.click('[data-tab="segments"]');
  await page.selectOption('#device-mode', 'gpu');
  await page.waitForSelector('#engine[data-device="gpu"]', { timeout: 5 * 60_000 });
  const line = await page.textContent('#engine');
  assert.match(line, /GPU: .*webgpu/i, `the status line names the adapter: ${line}`);
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
  console.log(`    ${gpu[0].device}: encoder ${Math.round(gpu[0].timings_ms.encoder)} ms against ${Math.round(cpu[1].timings_ms.encoder)} ms on the CPU`);
  assert.deepEqual(said(gpu), said(cpu.slice(1)));
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

await check('nothing failed in the page or its workers', async () => {
  assert.deepEqual(session.problems, []);
});

await session.close();
server.stop();
if (failures()) {
  console.log(`${failures()} check(s) failed`);
  process.exit(1);
}
