// On-screen text in the page against the native CLI, in the same run: the
// page (headless Chromium, tesseract.js in its OCR worker) reads every
// creative of the generated set (scripts/make-screen-set.py), and
// `creative-filter bench screen` reads them natively and prints both side by
// side — character error rate and seconds reading per creative — with the
// page as the peer.
//
//   node bench/screen-web.mjs      (bench/screen.sh --web runs it)
//
// Needs dist/ (scripts/build-web.sh), the release CLI and tests/data/screen.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, CLI, serve, openPage, classifyBatch } from '../tests/browser/harness.mjs';

const SET = join(ROOT, 'tests/data/screen');
const manifest = readFileSync(join(SET, 'manifest.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const files = manifest.map((m) => join(SET, m.file));

const server = await serve();
const session = await openPage(server.url);
// One creative first, so the OCR engine's download and start are not in the figures.
await classifyBatch(session.page, [join(ROOT, 'tests/data/media/music.mp4')]);
const reports = await classifyBatch(session.page, files);
await session.close();
server.stop();

const dir = mkdtempSync(join(tmpdir(), 'cf-screen-web-'));
const peer = join(dir, 'page.jsonl');
writeFileSync(peer, reports.map((r, i) => JSON.stringify({
  file: manifest[i].file,
  text: r.screen_text || '',
  seconds: ((r.timings_ms && r.timings_ms.screen) || 0) / 1e3,
})).join('\n') + '\n');
for (const [i, r] of reports.entries()) {
  console.error(`page ${manifest[i].file}: ${r.segment_id ?? '-'} (${manifest[i].segment}) ${(r.screen_text || r.error || '').replaceAll('\n', ' / ')}`);
}
const right = reports.filter((r, i) => r.segment_id === manifest[i].segment).length;
console.log(execFileSync(CLI, ['--no-cache', 'bench', 'screen', '--set', SET, '--peer', peer, '--peer-name', 'page'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }));
console.log(`page: segment right (zero-shot, built-in dictionary): ${right} of ${reports.length} (${(100 * right / reports.length).toFixed(1)} %)`);
rmSync(dir, { recursive: true, force: true });
