// Every container × codec pair of tests/fixtures/formats.json in the page
// (node tests/browser/formats.mjs): the audio the worker hears (the Rust
// decoders, else WebCodecs' AudioDecoder) against ffmpeg's decode of the
// same file, and the pictures WebCodecs' VideoDecoder gives against ffmpeg's
// at the same times. Prints the format × browser table; tests/suite/formats.rs
// checks the same files natively.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, serve, openPage, check, failures } from './harness.mjs';

if (!existsSync(join(ROOT, 'dist/index.html'))) throw new Error('dist/ is missing: run scripts/build-web.sh first');
const recipe = JSON.parse(readFileSync(join(ROOT, 'tests/fixtures/formats.json'), 'utf8'));
const dir = mkdtempSync(join(tmpdir(), 'cf-formats-'));
const ff = (args, opts = {}) => execFileSync('ffmpeg', ['-nostdin', '-v', 'error', ...args], { maxBuffer: 1 << 28, ...opts });
for (const c of recipe.cases) {
  const inputs = [];
  if (c.audio) inputs.push('-f', 'lavfi', '-i', recipe.audio);
  if (c.video) inputs.push('-f', 'lavfi', '-i', c.source || recipe.video);
  ff([...inputs, ...c.args, '-shortest', '-y', join(dir, c.file)]);
}

// ffmpeg's decode as 16 kHz mono, channels averaged as the product does.
const ffmpeg16k = (file) => {
  const b = ff(['-i', file, '-af', 'pan=mono|c0=0.5*c0+0.5*c1', '-ar', '16000', '-f', 'f32le', '-']);
  return new Float32Array(b.buffer, b.byteOffset, b.length / 4);
};

// SNR at the lag (±150 ms) where the two agree best, over the middle 90 %.
function alignedSnr(ours, ref) {
  const score = (lag) => {
    const a = lag >= 0 ? ours.subarray(lag) : ours;
    const b = lag >= 0 ? ref : ref.subarray(-lag);
    const n = Math.min(a.length, b.length);
    let sig = 0;
    let err = 0;
    for (let i = Math.floor(n / 20); i < n - Math.floor(n / 20); i++) {
      sig += b[i] * b[i];
      err += (a[i] - b[i]) ** 2;
    }
    return 10 * Math.log10(sig / Math.max(err, 1e-20));
  };
  let best = 0;
  for (let lag = -2400; lag <= 2400; lag += 16) if (score(lag) > score(best)) best = lag;
  let fine = best;
  for (let lag = best - 16; lag <= best + 16; lag++) if (score(lag) > score(fine)) fine = lag;
  return { snr: score(fine), lagMs: fine / 16 };
}

// ffmpeg's picture on screen at t: every frame decoded (none dropped or
// repeated) with its presentation time, the last shown at or before t.
const ffmpegFrames = new Map();
function ffmpegFrame(file, t, width, height) {
  if (!ffmpegFrames.has(file)) {
    const times = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'frame=best_effort_timestamp_time', '-of', 'csv=p=0', file], { encoding: 'utf8' })
      .split('\n').map((l) => parseFloat(l.replace(/,$/, ''))).filter((x) => Number.isFinite(x));
    ffmpegFrames.set(file, { times, rgb: ff(['-i', file, '-map', '0:v:0', '-fps_mode', 'passthrough', '-pix_fmt', 'rgb24', '-f', 'rawvideo', '-']) });
  }
  const { times, rgb } = ffmpegFrames.get(file);
  const size = width * height * 3;
  assert.equal(rgb.length, size * times.length, `${file}: ffmpeg's frames and their times`);
  let shown = 0;
  times.forEach((s, i) => { if (s <= t + 1e-6) shown = i; });
  return rgb.subarray(shown * size, (shown + 1) * size);
}
const psnr = (a, b) => {
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i] - b[i]) ** 2;
  return 10 * Math.log10((255 * 255) / (se / a.length || 1e-10));
};

const server = await serve();
const session = await openPage(server.url);
const { page } = session;
const call = (method, file, extra = {}) =>
  page.evaluate(async ([method, name, bytes, extra]) => {
    try {
      const r = await window.creativeFilter.cf.call(method, { file: new File([new Uint8Array(bytes)], name), ...extra });
      if (method === 'audio') return { samples: [...r.samples], via: r.via };
      return { times_s: r.times_s, pictures: r.pictures.map((p) => ({ width: p.width, height: p.height, via: p.via, rgb: [...p.rgb] })) };
    } catch (e) {
      return { error: `${(e && e.code) || ''} ${(e && e.message) || e}` };
    }
  }, [method, file.split('/').pop(), [...readFileSync(file)], extra]);

const table = [];
// Video codecs the browser decodes, each converted to RGB with the colour
// matrix its stream declares (as ffmpeg does), not the browser's guess.
const decodable = { h264: 30, vp8: 30, vp9: 30 };

await check('every pair: audio as ffmpeg decodes it, pictures as ffmpeg shows them', async () => {
  const problems = [];
  for (const c of recipe.cases) {
    const file = join(dir, c.file);
    const row = { file: c.file, audio: '—', video: '—' };
    if (c.audio) {
      const got = await call('audio', file);
      if (got.error) {
        problems.push(`${c.file}: audio: ${got.error}`);
        row.audio = `FAIL (${got.error.trim()})`;
      } else {
        const { snr, lagMs } = alignedSnr(Float32Array.from(got.samples), ffmpeg16k(file));
        row.audio = `${snr >= 30 ? 'pass' : 'FAIL'} ${snr.toFixed(1)} dB via ${got.via}${lagMs ? `, lag ${lagMs} ms` : ''}`;
        if (snr < 30) problems.push(`${c.file}: audio SNR ${snr.toFixed(1)} dB against ffmpeg`);
      }
    }
    if (c.video && decodable[c.video]) {
      const got = await call('pictures', file, { frames: 8 });
      if (got.error) {
        problems.push(`${c.file}: pictures: ${got.error}`);
        row.video = `FAIL (${got.error.trim()})`;
      } else {
        assert.equal(got.pictures.length, 8, `${c.file}: 8 pictures`);
        const dbs = got.pictures.map((p, i) => psnr(p.rgb, ffmpegFrame(file, got.times_s[i], p.width, p.height)));
        const floor = decodable[c.video];
        const worst = Math.min(...dbs);
        row.video = `${worst >= floor ? 'pass' : 'FAIL'} ${c.video} PSNR ≥ ${worst.toFixed(1)} dB (${got.pictures[0].via})`;
        if (worst < floor) problems.push(`${c.file}: a picture at ${worst.toFixed(1)} dB against ffmpeg`);
      }
    } else if (c.video) {
      // Not for WebCodecs (MPEG-4 Part 2, Sorenson) or a still, which Rust reads.
      const got = await call('pictures', file, { frames: 8 });
      row.video = c.video === 'jpeg' ? `pass (a still: read by the Rust decoder)` : `named: ${(got.error || '').trim()}`;
      if (c.video !== 'jpeg' && !(got.error || '').includes(c.video)) problems.push(`${c.file}: expected "${c.video}" to be named, got ${JSON.stringify(got.error || got.times_s)}`);
    }
    table.push(row);
  }
  console.log('     file                  | audio in the page                          | video in the page');
  for (const r of table) console.log(`     ${r.file.padEnd(21)} | ${r.audio.padEnd(42)} | ${r.video}`);
  assert.deepEqual(problems, []);
});

await check('no request left the origin and nothing was logged as an error', async () => {
  const origin = new URL(server.url).origin;
  assert.deepEqual(session.requests.filter((u) => !u.startsWith(origin) && !u.startsWith('blob:') && !u.startsWith('data:')), []);
  assert.deepEqual(session.problems.filter((p) => !/Failed to load resource/.test(p)), []);
});

await session.close();
server.stop();
rmSync(dir, { recursive: true, force: true });
if (failures()) {
  console.log(`${failures()} check(s) failed`);
  process.exit(1);
}
console.log('formats: all checks passed');
