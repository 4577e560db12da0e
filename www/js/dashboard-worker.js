// The dashboard's own worker: reads spend files chunk by chunk into the Rust
// SpendDashboard and answers the page's views, so a million rows never block
// the page and the dashboard does not wait for the models.
import init, { SpendDashboard, sampleSpendCsv } from '../creative-filter.js';
import { errorOf } from './rpc.js';

const ready = init({ module_or_path: new URL('../creative-filter_bg.wasm', import.meta.url) }).then(() => new SpendDashboard());
const CSV = /\.(csv|txt|tsv)$/i;
// Progress is posted at most this often while a file is read.
const PROGRESS_MS = 100;

async function readSpend(dash, file) {
  if (!CSV.test(file.name)) return dash.importFile(file.name, new Uint8Array(await file.arrayBuffer()));
  dash.beginImport(file.name);
  const reader = file.stream().getReader();
  let bytes = 0;
  let last = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const rows = dash.push(value);
    bytes += value.length;
    if (performance.now() - last > PROGRESS_MS) {
      last = performance.now();
      postMessage({ event: 'progress', progress: { rows, bytes, total: file.size } });
    }
  }
  return dash.finishImport();
}

const methods = {
  readSpend,
  sample: (dash) => dash.loadSample(),
  labels: async (dash, file, source) => dash.addLabelsFile(file.name, new Uint8Array(await file.arrayBuffer()), source),
  predictions: (dash, list) => dash.setPredictions(list),
  clearLabels: (dash, source) => dash.clearLabels(source),
  segments: (dash, list) => dash.setSegments(list),
  report: (dash) => dash.report(),
  view: (dash, filter, lang, hidden, withOptions) => dash.view(filter, lang, hidden, withOptions),
  exportTable: (dash, filter, lang, kind) => dash.exportTable(filter, lang, kind),
  // The browser benchmark: a generated file read exactly as a user's is.
  async bench(dash, rows) {
    const t0 = performance.now();
    const file = new File([/** @type {BlobPart} */ (sampleSpendCsv(rows))], 'bench_dashboard_data.csv');
    const t1 = performance.now();
    const report = await readSpend(dash, file);
    const t2 = performance.now();
    dash.view({}, 'ru', [], true);
    const t3 = performance.now();
    return { rows: report.rows, bytes: file.size, generate_ms: t1 - t0, parse_ms: t2 - t1, view_ms: t3 - t2, total: report.total };
  },
};

// The protocol of rpc.js, with the arguments as a list.
onmessage = async ({ data: { call, method, args } }) => {
  try {
    const dash = await ready;
    postMessage({ call, result: await methods[method](dash, ...args) });
  } catch (e) {
    postMessage({ call, error: errorOf(e) });
  }
};
