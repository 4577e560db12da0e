// X-CLIP benchmark: one creative (8 frames of 224 px against 18 segment
// prompts) through the base-patch32-sized model with random Q8_0 weights,
// in the page's worker (the threaded module on every core, as the page is
// served cross-origin isolated) and natively, in the same run, side by side
// with ratios.
//
//   node bench/xclip.mjs [RUNS]      default 3 timed runs each, after a warm-up
//
// Needs dist/ (scripts/build-web.sh) and the release CLI.
import { execFileSync, spawnSync } from 'node:child_process';
import { ROOT, CLI, serve, openPage } from '../tests/browser/harness.mjs';

const runs = Number(process.argv[2] || 3);
const prompts = 18;

const server = await serve();
const s = await openPage(server.url);
const web = await s.page.evaluate((a) => window.creativeFilter.cf.call('benchVision', a), { prompts, runs });
const engine = s.info.engine;
await s.close();
server.stop();

const r = spawnSync('/usr/bin/time', ['-f', 'peak_rss_kb=%M', CLI, 'bench', 'xclip', '--runs', String(runs), '--prompts', String(prompts)], { encoding: 'utf8', cwd: ROOT });
if (r.status !== 0) throw new Error(`creative-filter bench xclip failed: ${r.stderr}`);
const native = JSON.parse(r.stdout.trim());
native.peak_rss_mb = Number((/peak_rss_kb=(\d+)/.exec(r.stderr) || [0, NaN])[1]) / 1024;

const cores = execFileSync('nproc', { encoding: 'utf8' }).trim();
const line = (name, a, b, unit) => console.log(`${name.padEnd(30)} ${a.toFixed(2).padStart(9)} ${b.toFixed(2).padStart(9)} ${unit.padEnd(3)} ${(a / b).toFixed(2).padStart(6)}`);
console.log(`X-CLIP base-patch32 size, random Q8_0 weights: ${web.frames} frames of ${web.image_size} px against ${prompts} prompts, ${runs} runs after a warm-up`);
console.log(`browser: headless Chromium, ${engine.module} module, ${engine.threads} thread(s), int8 kernel ${engine.kernel}, CPU; native: ${native.threads} threads of ${cores} cores`);
console.log(`${''.padEnd(30)} ${'browser'.padStart(9)} ${'native'.padStart(9)} ${''.padEnd(3)} ${'ratio'.padStart(6)}`);
line('per creative (mean)', web.per_creative_s, native.per_creative_s, 's');
line('per creative (fastest)', web.per_creative_min_s, native.per_creative_min_s, 's');
line('text tower per prompt', web.text_per_prompt_s * 1000, native.text_per_prompt_s * 1000, 'ms');
line('model build (random weights)', web.load_s, native.model_build_s, 's');
line('memory peak (wasm heap | RSS)', web.wasm_memory_mb, native.peak_rss_mb, 'MB');
