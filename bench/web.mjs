// Browser benchmark: one 30-s creative (H.264 + AAC MP4 of Russian speech)
// through the page's worker (the threaded module on every core, CPU) and
// through the native CLI, in the same run, printed side by side per stage
// with ratios; then a batch of 20 such creatives through both, in files per
// minute.
//
//   node bench/web.mjs [RUNS] [--portable] [--greedy] [--batch N] [--device D]
//     RUNS        default 3 runs each; median per stage
//     --portable  serve the page without COOP/COEP: its portable module, one thread
//     --greedy    both sides decode greedily (the page's "fast" setting, the
//                 CLI's --beam-size 1 --no-fallback) instead of the beam search
//     --batch N   creatives in the batch (default 20; 0 skips it)
//     --device D  where Whisper's encoder and e5 run on both sides: auto (default:
//                 a real GPU, else the CPU), gpu (any adapter: WebGPU in the
//                 page, natively Vulkan/Metal/DX12) or cpu
//
// Needs dist/ (scripts/build-web.sh), the release CLI, ffmpeg and the test
// data (tests/data/media/long_speech.wav). Each run gets a copy of the
// creative with different metadata, so neither side answers from its cache.
import { mkdirSync, existsSync, readFileSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, CLI, serve, openPage, classifyBatch } from '../tests/browser/harness.mjs';

const argv = process.argv.slice(2);
const flag = (name) => argv.indexOf(`--${name}`);
const portable = flag('portable') >= 0;
const greedy = flag('greedy') >= 0;
const device = flag('device') >= 0 ? argv[flag('device') + 1] : 'auto';
const decoding = [...(greedy ? ['--beam-size', '1', '--no-fallback'] : []), '--device', device];
const batchSize = flag('batch') >= 0 ? Number(argv[flag('batch') + 1]) : 20;
const runs = Number(argv.find((a, i) => /^\d+$/.test(a) && !['--batch', '--device'].includes(argv[i - 1])) || 3);
const out = join(ROOT, 'bench/out/web');
mkdirSync(out, { recursive: true });
const files = [];
for (let i = 0; i < runs; i++) {
  const f = join(out, `creative30-${i}.mp4`);
  if (!existsSync(f)) {
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'color=c=navy:s=640x360:r=25', '-i', join(ROOT, 'tests/data/media/long_speech.wav'),
      '-t', '30', '-c:v', 'libx264', '-preset', 'veryfast', '-c:a', 'aac', '-b:a', '96k', '-ar', '44100', '-metadata', `title=run ${i}`, '-shortest', f]);
  }
  files.push(f);
}

// The batch: the first creative remuxed with other metadata (other bytes,
// so no cache answers), the same speech.
const batch = [];
for (let i = 0; i < batchSize; i++) {
  const f = join(out, `batch-${i}.mp4`);
  if (!existsSync(f)) execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', files[0], '-c', 'copy', '-metadata', `title=batch ${i}`, f]);
  batch.push(f);
}

// Browser: a first visit (cold cache), then the runs, then the batch.
const server = await serve(undefined, { isolated: !portable });
let s = await openPage(server.url);
const firstVisitMs = s.loadMs;
await new Promise((r) => setTimeout(r, 500)); // the last transfers' sizes
const firstVisitBytes = s.downloadedBytes;
const engine = s.info.engine;
if (greedy) await s.page.evaluate(() => window.creativeFilter.cf.call('setDecoding', { beam: 1 }));
const pageDevice = await s.page.evaluate((d) => window.creativeFilter.cf.setDevice(d), device);
const web = [];
for (const f of files) {
  // Transcript and embedding caches would answer the later runs (same speech).
  await s.page.evaluate(() => window.creativeFilter.cf.call('clearCache'));
  web.push(...(await classifyBatch(s.page, [f])));
}
const coldToFirstResult = firstVisitMs + web[0].wall_ms;
let webBatchMs = NaN;
if (batch.length) {
  await s.page.evaluate(() => window.creativeFilter.cf.call('clearCache'));
  const t0 = Date.now();
  const done = await classifyBatch(s.page, batch);
  webBatchMs = Date.now() - t0;
  const failed = done.filter((r) => r.status !== 'ok');
  if (failed.length) throw new Error(`the page failed ${failed.length} of the batch: ${failed[0].error}`);
}
// The int8 kernels alone, on Whisper-base's shapes: the encoder's MLP
// ([1500, 512] × [2048, 512]ᵀ) and one decoder step's ([1, 512] × [2048, 512]ᵀ).
const kernelShapes = [{ m: 1500, n: 2048, k: 512 }, { m: 1, n: 2048, k: 512 }];
const webKernels = [];
for (const shape of kernelShapes) webKernels.push(await s.page.evaluate((a) => window.creativeFilter.cf.call('benchInt8', a), { ...shape, runs: 5 }));
// Whisper's encoder alone on the creative's first window (no decoding
// around it, nothing else running), with the int8 layers' own split.
const encoderRuns = 3;
const webEncoder = await s.page.evaluate(
  ([name, bytes, runs]) => window.creativeFilter.cf.call('benchEncoder', { file: new File([new Uint8Array(bytes)], name), runs }),
  [files[0].split('/').pop(), [...readFileSync(files[0])], encoderRuns],
);
// The decoder alone on that window (encoded once), with the decoding in use.
const webDecoder = await s.page.evaluate(
  ([name, bytes, runs]) => window.creativeFilter.cf.call('benchDecoder', { file: new File([new Uint8Array(bytes)], name), runs }),
  [files[0].split('/').pop(), [...readFileSync(files[0])], encoderRuns],
);
await s.close();
server.stop();
const nativeDecoder = JSON.parse(execFileSync(CLI, ['bench', 'decoder', '--runs', String(encoderRuns), ...decoding, files[0]], { encoding: 'utf8' }));
const nativeEncoder = JSON.parse(execFileSync(CLI, ['--device', device, 'bench', 'encoder', '--runs', String(encoderRuns), files[0]], { encoding: 'utf8' }));
const nativeKernels = kernelShapes.map(({ m, n, k }) => JSON.parse(execFileSync(CLI, ['bench', 'kernels', '--m', m, '--n', n, '--k', k, '--runs', 5].map(String), { encoding: 'utf8' })));

// Native: one process per run (model load included, reported apart), peak RSS by GNU time.
const native = files.map((f) => {
  const t0 = Date.now();
  const r = spawnSync('/usr/bin/time', ['-f', 'peak_rss_kb=%M', CLI, 'classify', '--no-cache', ...decoding, f], { encoding: 'utf8' });
  const report = JSON.parse(r.stdout.trim());
  report.process_ms = Date.now() - t0;
  report.peak_rss_mb = Number((/peak_rss_kb=(\d+)/.exec(r.stderr) || [0, NaN])[1]) / 1024;
  return report;
});

// The CLI's batch: one process for all of them (its model load included).
let cliBatchMs = NaN;
if (batch.length) {
  const t0 = Date.now();
  const r = spawnSync(CLI, ['classify', '--no-cache', ...decoding, ...batch], { encoding: 'utf8', maxBuffer: 1 << 26 });
  cliBatchMs = Date.now() - t0;
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  if (lines.length !== batch.length || lines.some((l) => l.error)) throw new Error(`the CLI's batch: ${r.stderr}`);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const stage = (reports, k) => median(reports.map((r) => r.timings_ms[k]));
const total = (r) => Object.values(r.timings_ms).reduce((a, b) => a + b, 0);
const line = (name, a, b, unit = 'ms') => console.log(`${name.padEnd(28)} ${a.toFixed(0).padStart(9)} ${b.toFixed(0).padStart(9)} ${unit.padEnd(3)} ${(a / b).toFixed(2).padStart(6)}`);
const cores = execFileSync('nproc', { encoding: 'utf8' }).trim();
console.log(`30-s creative (MP4, H.264 + AAC, ${web[0].duration_s.toFixed(1)} s of audio), median of ${runs} runs, ${greedy ? "greedy decoding" : "beam search of 5 with fallback"} on both sides`);
console.log(`browser: headless Chromium, ${engine.module} module, ${engine.threads} thread(s), int8 kernel ${engine.kernel}, encoder on ${web[0].device}${pageDevice.text_gpu ? ', e5 too' : ''}${pageDevice.problem ? ` (${pageDevice.problem})` : ''}; native: ${cores} threads, encoder on ${native[0].device}`);
console.log(`${'stage'.padEnd(28)} ${'browser'.padStart(9)} ${'native'.padStart(9)} ${''.padEnd(3)} ${'ratio'.padStart(6)}`);
for (const k of Object.keys(native[0].timings_ms)) line(k, stage(web, k), stage(native, k));
const part = (reports, k) => median(reports.map((r) => r.encoder_parts_ms[k]));
for (const k of Object.keys(native[0].encoder_parts_ms)) line(`  encoder: ${k}`, part(web, k), part(native, k));
line('total (stages)', median(web.map(total)), median(native.map(total)));
console.log(`browser wall per file (worker, incl. reading the file): ${median(web.map((r) => r.wall_ms)).toFixed(0)} ms; native process per file (incl. model load): ${median(native.map((r) => r.process_ms)).toFixed(0)} ms`);
line('memory peak (wasm heap | RSS)', Math.max(...web.map((r) => r.wasm_memory_mb)), Math.max(...native.map((r) => r.peak_rss_mb)), 'MB');
console.log(`first visit, cold cache → first result: ${(coldToFirstResult / 1000).toFixed(1)} s (model download, verification and load ${(firstVisitMs / 1000).toFixed(1)} s; ${(firstVisitBytes / 1e6).toFixed(1)} MB downloaded)`);
console.log(`same segment: ${web.filter((r, i) => r.segment_id === native[i].segment_id).length}/${runs}; same transcript: ${web.filter((r, i) => r.transcript === native[i].transcript).length}/${runs}`);
web.forEach((r, i) => {
  if (r.transcript !== native[i].transcript) console.log(`run ${i + 1}, transcripts differ:\n  page (${r.segment_id}): ${r.transcript}\n  CLI  (${native[i].segment_id}): ${native[i].transcript}`);
});
kernelShapes.forEach(({ m, n, k }, i) => {
  const fastest = nativeKernels[i][0];
  console.log(`int8 product [${m}, ${k}] × [${n}, ${k}]ᵀ, ms (best of 5): ${webKernels[i].map(([p, ms]) => `${p} ${ms.toFixed(2)}`).join(', ')}; native ${nativeKernels[i].map(([p, ms]) => `${p} ${ms.toFixed(2)}`).join(', ')}; page's first / native ${fastest[0]}: ${(webKernels[i][0][1] / fastest[1]).toFixed(2)}`);
});
{
  const [w, n] = [webEncoder, nativeEncoder];
  console.log(`encoder alone, first window, best of ${encoderRuns} (page ${w.threads} threads, native ${n.threads}):`);
  line('  total', w.total_ms, n.total_ms);
  for (const k of Object.keys(n.parts)) line(`  ${k}`, w.parts[k], n.parts[k]);
  line('  int8: inside the products', w.int8.run_ms, n.int8.run_ms);
  line('  int8: quantizing inputs', w.int8.quantize_ms, n.int8.quantize_ms);
  line('  int8: tiles (thread-ms)', w.int8.kernel_thread_ms, n.int8.kernel_thread_ms);
  line('  int8: epilogue (thread-ms)', w.int8.epilogue_thread_ms, n.int8.epilogue_thread_ms);
  const rate = (e) => e.int8_gmac / (e.int8.run_ms / 1e3);
  console.log(`  int8 rate inside the products: page ${rate(w).toFixed(1)}, native ${rate(n).toFixed(1)} GMAC/s (${n.int8_gmac.toFixed(1)} GMAC, ${n.int8.calls} products); outside them (matmul part − products): page ${(w.parts.matmul_ms - w.int8.run_ms).toFixed(0)} ms, native ${(n.parts.matmul_ms - n.int8.run_ms).toFixed(0)} ms`);
}
{
  const [w, n] = [webDecoder, nativeDecoder];
  console.log(`decoder alone, first window, ${n.decoding}, best of ${encoderRuns} (page ${w.threads} threads: ${w.tokens} tokens, ${w.parts.steps} steps of ${(w.parts.rows / w.parts.steps).toFixed(1)} rows; native ${n.threads}: ${n.tokens} tokens, ${n.parts.steps} steps):`);
  line('  total', w.total_ms, n.total_ms);
  for (const k of Object.keys(n.parts).filter((k) => k.endsWith('_ms'))) line(`  ${k.slice(0, -3).replaceAll('_', ' ')}`, w.parts[k], n.parts[k]);
  line('  per step', w.parts.steps_ms / w.parts.steps, n.parts.steps_ms / n.parts.steps);
}
if (batch.length) {
  const perMinute = (ms) => (batch.length * 60_000) / ms;
  console.log(`batch of ${batch.length}: page ${perMinute(webBatchMs).toFixed(1)} files/min (${(webBatchMs / 1000).toFixed(1)} s, models loaded), CLI ${perMinute(cliBatchMs).toFixed(1)} files/min (${(cliBatchMs / 1000).toFixed(1)} s, model load included); page/CLI throughput ${(cliBatchMs / webBatchMs).toFixed(2)}`);
}
