// The dashboard in the browser (node bench/dashboard-web.mjs [ROWS]): a
// generated spend file of ROWS rows (default 1,000,000) is read by the
// dashboard worker exactly as a user's file is (File → stream → chunks), then
// summed and charted, while the page's main thread is watched: the longest
// gap between two animation frames says whether the page stayed responsive.
// Prints one JSON line.
import { serve, openPage } from '../tests/browser/harness.mjs';

const rows = Number(process.argv[2] || 1_000_000);
const server = await serve();
const browser = await openPage(server.url, { models: false });
const result = await browser.page.evaluate(async (n) => {
  const gaps = [];
  let last = performance.now();
  let watching = true;
  const frame = (now) => {
    gaps.push(now - last);
    last = now;
    if (watching) requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
  const bench = await window.creativeFilter.dashboard.call('bench', n);
  watching = false;
  gaps.sort((a, b) => a - b);
  return { ...bench, frames: gaps.length, max_frame_gap_ms: gaps[gaps.length - 1], p99_frame_gap_ms: gaps[Math.floor(gaps.length * 0.99)] };
}, rows);
result.rows_per_s = result.rows / ((result.parse_ms + result.view_ms) / 1000);
console.log(JSON.stringify(result));
await browser.close();
server.stop();
