// Browser benchmark: the page (wasm, one worker, SIMD128, CPU) against the
// native CLI on the same files in the same run, side by side with ratios.
//
//   node bench/web.mjs [CLIPS_TSV]   default: tests/data/asterisk/sample12.tsv
//
// Needs dist/ (scripts/build-web.sh), the release CLI and the test data.
// Per-file time is classification only (decode → transcript → segment), the
// models already loaded: the page's worker wall time per file, the CLI's sum
// of its stage timings. Model load: second visit (browser cache) vs the CLI
// loading from disk.
import { readFileSync, mkdtempSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { ROOT, serve, openPage, classifyBatch, nativeClassify } from '../tests/browser/harness.mjs';

const list = process.argv[2] || join(ROOT, 'tests/data/asterisk/sample12.tsv');
const files = readFileSync(list, 'utf8').trim().split('\n').map((l) => join(dirname(list), l.split('\t')[0]));
const threads = execFileSync('nproc', { encoding: 'utf8' }).trim();

const server = await serve();
const profile = mkdtempSync(join(tmpdir(), 'cf-bench-'));
let s = await openPage(server.url, { profile });
const firstLoad = s.loadMs;
await s.close({ keepProfile: true });
s = await openPage(server.url, { profile });
const cachedLoad = s.loadMs;
const web = await classifyBatch(s.page, files);
await s.close();
server.stop();

const t0 = Date.now();
const native = nativeClassify(files);
const nativeWall = Date.now() - t0;
const stages = (r) => Object.values(r.timings_ms || {}).reduce((a, b) => a + b, 0);
const nativeMs = native.reduce((a, r) => a + stages(r), 0);
const webMs = web.reduce((a, r) => a + (r.wall_ms || r.ms), 0);
const audio = native.reduce((a, r) => a + (r.duration_s || 0), 0);
const agree = web.filter((r, i) => r.segment_id === native[i].segment_id).length;

const row = (name, a, b, unit, digits = 2) =>
  console.log(`${name.padEnd(34)} ${a.toFixed(digits).padStart(10)} ${b.toFixed(digits).padStart(10)} ${unit.padEnd(6)} ${(a / b).toFixed(2).padStart(7)}`);
console.log(`${files.length} files, ${audio.toFixed(1)} s of audio; browser: Chromium, 1 worker, wasm SIMD128; native: ${threads} threads`);
console.log(`${''.padEnd(34)} ${'browser'.padStart(10)} ${'native'.padStart(10)} ${''.padEnd(6)} ${'ratio'.padStart(7)}`);
row('classification, per file', webMs / files.length / 1000, nativeMs / files.length / 1000, 's');
row('real-time factor (time / audio)', webMs / 1000 / audio, nativeMs / 1000 / audio, '×', 3);
row('model load (browser: cached visit)', cachedLoad / 1000, (nativeWall - nativeMs) / 1000, 's');
console.log(`first visit (download + verify + load): ${(firstLoad / 1000).toFixed(1)} s; same segment as native: ${agree}/${files.length}`);
