// Hostile and broken input (node tests/browser/hostile.mjs): a batch of
// files made to hurt — header fields claiming absurd sample rates, sizes and
// counts, a timescale of 0, downloads cut short, a formula as a file name,
// natively also a FIFO and /dev/zero — followed by good creatives. Natively
// and in the page every file gets its own row, the good ones the same answer
// as on their own, the cut ones the audio that is there; memory stays
// bounded; no panic text reaches the user; no exported CSV cell starts a
// formula. In the page a file that panics the module fails alone: the worker
// is replaced before the next file.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, existsSync, copyFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, CLI, serve, openPage, classifyBatch, nativeClassify, check, failures } from './harness.mjs';
import { parseCsv } from './files.mjs';

const MEDIA = join(ROOT, 'tests/data/media');
if (!existsSync(join(ROOT, 'dist/index.html'))) throw new Error('dist/ is missing: run scripts/build-web.sh first');
if (!existsSync(MEDIA)) throw new Error('tests/data/media is missing: run scripts/fetch-test-data.sh first');
const dir = mkdtempSync(join(tmpdir(), 'cf-hostile-'));
const media = (f) => readFileSync(join(MEDIA, f));

// ---------- the hostile files ----------

/** Offset of the `n`-th (0-based) occurrence of a four-character code. */
function fourcc(buf, code, n = 0) {
  let at = -1;
  for (let i = 0; i <= n; i++) {
    at = buf.indexOf(code, at + 1, 'latin1');
    if (at < 0) throw new Error(`no ${code} #${n}`);
  }
  return at;
}

const made = {};
const make = (name, buf) => {
  writeFileSync(join(dir, name), buf);
  made[name] = join(dir, name);
};

// A 4 KB WAV whose header claims 4294967295 Hz (once: gigabytes in the resampler), and a prime rate.
for (const [name, rate] of [['rate-max.wav', 0xffffffff], ['rate-prime.wav', 10_000_019]]) {
  const wav = Buffer.from(media('voice.wav').subarray(0, 4096));
  wav.writeUInt32LE(rate, fourcc(wav, 'fmt ') + 12);
  make(name, wav);
}
// The same claim in an AVI's audio stream format.
{
  const avi = Buffer.from(media('voice.avi'));
  const strf = fourcc(avi, 'strf', 1); // the second stream (audio)
  avi.writeUInt32LE(0xffffffff, strf + 8 + 4);
  make('rate-max.avi', avi);
}
// An MP4 whose audio track's mdhd timescale is 0.
{
  const mp4 = Buffer.from(media('voice.mp4'));
  for (let n = 0; ; n++) {
    let at;
    try {
      at = fourcc(mp4, 'mdhd', n);
    } catch {
      break;
    }
    mp4.writeUInt32LE(0, at + 4 + (mp4[at + 4] === 1 ? 20 : 12));
  }
  make('timescale-0.mp4', mp4);
}
// An MP4 claiming 2^32−1 samples of a constant size in its audio track.
{
  const mp4 = Buffer.from(media('voice.mp4'));
  const stsz = fourcc(mp4, 'stsz', 1);
  mp4.writeUInt32BE(1024, stsz + 8);
  mp4.writeUInt32BE(0xffffffff, stsz + 12);
  make('samples-huge.mp4', mp4);
}
// An AVI whose first audio chunk claims 0xFFFFFFF0 bytes.
{
  const avi = Buffer.from(media('voice.avi'));
  avi.writeUInt32LE(0xfffffff0, fourcc(avi, '01wb') + 4);
  make('chunk-huge.avi', avi);
}
// Downloads cut short: WebM at 60 %, an MP4 with its index in front at 70 %.
const webm = media('voice.webm');
make('cut-60.webm', webm.subarray(0, Math.floor(webm.length * 0.6)));
execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-i', join(MEDIA, 'voice.mp4'), '-c', 'copy', '-movflags', '+faststart', '-y', join(dir, 'faststart.mp4')]);
const faststart = readFileSync(join(dir, 'faststart.mp4'));
rmSync(join(dir, 'faststart.mp4'));
make('cut-70-faststart.mp4', faststart.subarray(0, Math.floor(faststart.length * 0.7)));
// A file name Excel would run as a formula.
copyFileSync(join(MEDIA, 'voice.wav'), join(dir, '=HYPERLINK("http:x","y").wav'));
made.formula = join(dir, '=HYPERLINK("http:x","y").wav');
make('zero.wav', Buffer.alloc(0));
make('noise.mp4', Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7919) % 251)));

const hostile = Object.values(made);
const good = [join(MEDIA, 'voice.mp4'), join(MEDIA, 'voice.wav')];
const cut = [made['cut-60.webm'], made['cut-70-faststart.mp4']];

// ---------- natively ----------

// Peak memory of a child, from the kernel's own count.
const PEAK = 'import resource, subprocess, sys\n' +
  'p = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)\n' +
  'sys.stdout.buffer.write(p.stdout)\n' +
  'sys.stderr.buffer.write(p.stderr)\n' +
  'sys.stderr.write("\\nPEAK_KB %d RC %d\\n" % (resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, p.returncode))\n';

await check('natively: one row per file, good ones right, cut ones transcribed, bounded memory, no panic text', async () => {
  const fifo = join(dir, 'pipe.wav');
  execFileSync('mkfifo', [fifo]);
  const inputs = [...hostile, fifo, '/dev/zero', ...good];
  const run = spawnSync('python3', ['-c', PEAK, CLI, 'classify', '--no-cache', ...inputs], { encoding: 'utf8', maxBuffer: 1 << 26, timeout: 20 * 60_000 });
  const rows = run.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const [, peakKb, rc] = /PEAK_KB (\d+) RC (-?\d+)/.exec(run.stderr);
  console.log(`     ${rows.length} rows for ${inputs.length} files, peak ${(peakKb / 1024).toFixed(0)} MB, exit ${rc}`);
  for (const r of rows) console.log(`     ${r.file.split('/').pop()}: ${r.error ? `error: ${r.error}` : `segment ${r.segment_id}, ${r.modality}${r.truncated ? ', truncated' : ''}`}`);
  assert.equal(rows.length, inputs.length, 'every file has its row');
  rows.forEach((r, i) => assert.equal(r.file, inputs[i], 'in the order given'));
  assert.ok(Number(peakKb) < 1.5 * 1024 * 1024, `peak memory ${peakKb} kB`);
  assert.doesNotMatch(run.stderr, /panicked|RUST_BACKTRACE|stack backtrace/, 'no panic text');
  const alone = nativeClassify(good);
  for (const [i, g] of good.entries()) {
    const r = rows[inputs.indexOf(g)];
    assert.equal(r.error, undefined, `${g}: ${r.error}`);
    assert.equal(r.segment_id, alone[i].segment_id, `${g} is answered as on its own`);
  }
  for (const c of cut) {
    const r = rows[inputs.indexOf(c)];
    assert.equal(r.error, undefined, `${c} gives the audio that is there: ${r.error}`);
    assert.ok(r.transcript && r.transcript.length > 10, `${c} is transcribed: ${r.transcript}`);
    assert.equal(r.incomplete, true, `${c} is marked as cut short`);
  }
  for (const name of ['pipe.wav', 'zero']) assert.match(rows.find((r) => r.file.endsWith(name)).error, /not a regular file/);
  for (const name of ['rate-max.wav', 'rate-prime.wav', 'rate-max.avi']) assert.match(rows.find((r) => r.file.endsWith(name)).error, /sample rate/);
});

await check('natively: predict-table writes no formula into its CSV', async () => {
  const table = join(dir, 'ids.csv');
  writeFileSync(table, 'Advertisement ID,Note\n=HYPERLINK("http:x","y"),@SUM(A1)\nvoice,+1+2\n');
  const folder = mkdtempSync(join(tmpdir(), 'cf-hostile-folder-'));
  copyFileSync(made.formula, join(folder, '=HYPERLINK("http:x","y").wav'));
  copyFileSync(join(MEDIA, 'voice.wav'), join(folder, 'voice.wav'));
  execFileSync(CLI, ['predict-table', table, '--media', folder, '--out', join(dir, 'answered'), '--no-cache'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const cells = parseCsv(readFileSync(join(dir, 'answered.csv'), 'utf8')).flat();
  assert.ok(cells.some((c) => c.includes('HYPERLINK')), 'the ID is kept');
  for (const c of cells) assert.ok(!/^[=+\-@\t\r]/.test(c) || /^-?\d+(\.\d+)?$/.test(c), `${JSON.stringify(c)} would run as a formula`);
  rmSync(folder, { recursive: true, force: true });
});

await check('natively: a model file with one flipped byte is refused, with the repair to run', async () => {
  const models = join(dir, 'models');
  mkdirSync(models);
  for (const f of ['manifest.json', 'whisper-base.gguf', 'whisper-tokenizer.json.gz', 'e5-small.gguf', 'e5-tokenizer.json.gz']) copyFileSync(join(ROOT, 'models', f), join(models, f));
  const e5 = readFileSync(join(models, 'e5-small.gguf'));
  e5[e5.length >> 1] ^= 1;
  writeFileSync(join(models, 'e5-small.gguf'), e5);
  const run = spawnSync(CLI, ['--models', models, 'classify', '--no-cache', good[1]], { encoding: 'utf8' });
  assert.notEqual(run.status, 0, 'no answer from a damaged model');
  assert.match(run.stderr, /e5-small\.gguf is damaged.*models fetch/);
  assert.equal(run.stdout.trim(), '');
  const list = spawnSync(CLI, ['--models', models, 'models', 'list'], { encoding: 'utf8' });
  assert.equal(list.status, 1);
  assert.match(list.stdout, /e5-small\.gguf .* DAMAGED/);
  rmSync(models, { recursive: true, force: true });
});

// ---------- in the page ----------

const server = await serve();

await check('the server answers only from its folder and forbids framing by other sites', async () => {
  const sibling = join(ROOT, 'dist-hostile-probe');
  mkdirSync(sibling, { recursive: true });
  writeFileSync(join(sibling, 'secret.txt'), 'secret');
  try {
    for (const path of ['..%2fdist-hostile-probe/secret.txt', '%2e%2e/dist-hostile-probe/secret.txt', '..%5cdist-hostile-probe%5csecret.txt']) {
      const r = await fetch(new URL(path, server.url));
      assert.notEqual(await r.text(), 'secret', `${path} reached a sibling folder (${r.status})`);
    }
  } finally {
    rmSync(sibling, { recursive: true, force: true });
  }
  const csp = (await fetch(server.url)).headers.get('content-security-policy');
  assert.match(csp, /frame-ancestors 'self'/);
});

const session = await openPage(server.url);
const { page } = session;
await page.evaluate(() => {
  window.restarts = 0;
  window.creativeFilter.cf.addEventListener('restart', () => window.restarts++);
});

await check('the page: every file its row, good ones classified after hostile ones, a panicking file fails alone', async () => {
  const files = [...hostile, ...good];
  const rows = await classifyBatch(page, files);
  const restarts = await page.evaluate(() => window.restarts);
  console.log(`     ${rows.length} rows, the worker was replaced ${restarts} time(s)`);
  for (const [i, r] of rows.entries()) console.log(`     ${files[i].split('/').pop()}: ${r.status}${r.error ? `: ${r.error}` : `, segment ${r.segment_id}${r.incomplete ? ', cut short' : ''}`}`);
  assert.equal(rows.length, files.length);
  const native = nativeClassify(good);
  for (const [i, g] of good.entries()) {
    const r = rows[files.indexOf(g)];
    assert.equal(r.status, 'ok', `${g}: ${r.error}`);
    assert.equal(r.modality, native[i].modality);
  }
  for (const c of cut) {
    const r = rows[files.indexOf(c)];
    assert.equal(r.status, 'ok', `${c} gives the audio that is there`);
    assert.equal(r.incomplete, true, `${c} is marked as cut short, whichever decoder read it`);
  }
  for (const r of rows) assert.doesNotMatch(r.error || '', /recursive use|unsafe aliasing/, 'no file fails because an earlier one panicked');
});

await check('the page: a panic in the module is followed by a new worker with the user\'s segments, and the next file is classified', async () => {
  // The user's own dictionary (three segments), which the new worker must get again.
  await page.setInputFiles('#dict-file', join(ROOT, 'www/examples/segment_dict.csv'));
  await page.waitForFunction(() => (window.creativeFilter.cf.replay || []).some(([m]) => m === 'setDictionary'));
  const before = await page.evaluate(() => window.restarts);
  const thrown = await page.evaluate(() => window.creativeFilter.cf.call('panicForTest').then(() => null, (e) => e));
  assert.equal(thrown.code, 'crashed', JSON.stringify(thrown));
  await page.waitForFunction((n) => window.restarts > n, before, { timeout: 60_000 });
  const ready = await page.evaluate(() => window.creativeFilter.cf.ready);
  assert.deepEqual(ready.segments.map((x) => x.id), [12, 15, 16], 'the restarted worker took the dictionary again');
  const [row] = await classifyBatch(page, [good[1]]);
  assert.equal(row.status, 'ok', row.error);
  assert.ok([12, 15, 16].includes(row.segment_id), `decided among the user's segments: ${row.segment_id}`);
  await page.evaluate(() => {
    window.creativeFilter.cf.remember('resetDictionary');
    return window.creativeFilter.cf.call('resetDictionary');
  });
});

await check('the page: the results CSV holds no formula', async () => {
  const csv = await page.evaluate(async () => {
    const files = await window.creativeFilter.cf.call('resultsTable', { reports: window.creativeFilter.batch.reports() });
    return new TextDecoder().decode(files.csv);
  });
  const cells = parseCsv(csv).flat();
  assert.ok(cells.some((c) => c.includes('HYPERLINK')), 'the file name is kept');
  for (const c of cells) assert.ok(!/^[=+\-@\t\r]/.test(c) || /^-?\d+(\.\d+)?$/.test(c), `${JSON.stringify(c)} would run as a formula`);
});

await session.close();
server.stop();

await check('the page: a server that labels the .gz tokenizers "Content-Encoding: gzip" is named as the cause', async () => {
  // The browser inflates such a file before the worker sees it, so its hash
  // no longer matches the manifest; the message must say why.
  const dist = join(ROOT, 'dist');
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json' };
  const { createServer } = await import('node:http');
  const misconfigured = createServer((req, res) => {
    const path = join(dist, decodeURIComponent(new URL(req.url, 'http://localhost').pathname).replace(/\/$/, '/index.html'));
    if (!path.startsWith(dist) || !existsSync(path)) return res.writeHead(404).end();
    const ext = path.slice(path.lastIndexOf('.'));
    res.writeHead(200, { 'Content-Type': types[ext] || 'application/octet-stream', ...(ext === '.gz' ? { 'Content-Encoding': 'gzip' } : {}) });
    res.end(readFileSync(path));
  });
  await new Promise((r) => misconfigured.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${misconfigured.address().port}/`;
    await assert.rejects(openPage(url), /whisper-tokenizer\.json\.gz arrived already inflated.*Content-Encoding: gzip/);
  } finally {
    misconfigured.close();
  }
});

rmSync(dir, { recursive: true, force: true });
console.log(failures() ? `${failures()} hostile-input check(s) failed` : 'all hostile-input checks passed');
process.exit(failures() ? 1 : 0);
