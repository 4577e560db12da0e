// The page: tabs for batch classification, the ID-table flow, training and
// segments. All work happens in the worker (api.js); this file only moves
// files in and renders results. Every user-supplied string is rendered with
// textContent, never as HTML.
import { CreativeFilter, missingFeatures } from './api.js';
import { t, language, toggleLanguage, applyStatic, worded, say } from './i18n.js';
import { $, el, download, formatSeconds, errorText, showProgress, dropZone, number } from './ui.js';
import { setUpIdTable } from './id-table.js';
import { setUpTraining } from './training.js';
import { Batch } from './batch.js';
import { SpendDashboardView } from './dashboard.js';
import { storageUse } from './storage.js';

// Where Whisper's encoder runs (the Segments tab's setting, kept across visits).
const DEVICE = 'cf-device';
const cf = new CreativeFilter({ device: /** @type {'auto' | 'cpu' | 'gpu'} */ (localStorage.getItem(DEVICE) || 'auto') });
let segments = [];

// ---------- language, tabs, notices ----------

// A notice; `action` ({label, run}) adds a button that acts on it.
let toastTimer;
function toast(message, action = undefined) {
  const box = $('toast');
  box.replaceChildren(message);
  if (action) {
    const button = el('button', { type: 'button' }, action.label);
    button.addEventListener('click', () => {
      box.hidden = true;
      action.run();
    });
    box.append(' ', button);
  }
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (box.hidden = true), 8000);
}

// Everything drawn from a state is drawn again in the new language.
$('lang').addEventListener('click', () => {
  toggleLanguage();
  if (shown.ready) showReady(shown.ready);
  if (shown.classifier) applyClassifier(shown.classifier);
  if (shown.ready) showVision(...shown.vision);
  if (shown.screen) showScreen(shown.screen);
  batch.render();
  if (!batch.running && batch.items.length) batch.progress(0, 0);
  showStorage();
  dashboard.render();
});
// The last state each status line showed.
const shown = { ready: null, classifier: null, vision: [null, undefined], screen: null };

for (const tab of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll('[role=tab]'))) {
  tab.addEventListener('click', () => {
    for (const other of document.querySelectorAll('[role=tab]')) other.setAttribute('aria-selected', String(other === tab));
    for (const section of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll('.tab'))) section.hidden = section.id !== `tab-${tab.dataset.tab}`;
    if (tab.dataset.tab === 'dashboard') dashboard.activate();
  });
}

const missing = missingFeatures();
if (missing.length) {
  $('unsupported').hidden = false;
  $('unsupported').textContent = missing.map(t).join(' ');
}

// ---------- models and engine status ----------

const modelBars = new Map();
cf.addEventListener('progress', (/** @type {CustomEvent} */ { detail }) => {
  if (detail.models) {
    // What a first visit downloads (a later one reads the browser's cache).
    const total = detail.models.reduce((sum, m) => sum + m.bytes, 0);
    $('models').replaceChildren(el('span', {}, `${t('loadingModels')} ${(total / 1e6).toFixed(1)} MB`));
    for (const m of detail.models) {
      const bar = el('progress', { max: m.bytes, value: 0 });
      const label = el('span', { className: 'muted' }, '');
      modelBars.set(m.file, { bar, label });
      $('models').append(el('div', { className: 'model' }, el('code', {}, m.file), bar, label));
    }
  } else if (detail.model && modelBars.has(detail.model)) {
    const { bar, label } = modelBars.get(detail.model);
    bar.value = detail.loaded;
    const mb = (n) => (n / 1e6).toFixed(1);
    label.textContent = detail.source === 'cache' ? t('fromCache') : `${mb(detail.loaded)} / ${mb(detail.total)} MB`;
  } else if (detail.ocr) {
    showScreen({ ...shown.screen, started: true, loading: detail.ocr === 'loading' });
  } else if (detail.storageProblem) {
    toast(`${t('errStorage')}: ${detail.storageProblem}`);
  } else if (detail.training) {
    showProgress($('train-progress'), detail.done, detail.total, t(detail.training));
  }
});

cf.addEventListener('ready', (/** @type {CustomEvent} */ { detail }) => {
  showReady(detail);
  document.body.dataset.ready = 'true';
  applyClassifier(detail);
  showVision(detail.vision, detail.visionProblem);
  showScreen(detail.screen);
});

function showReady(detail) {
  shown.ready = detail;
  $('models').replaceChildren(
    el('span', { className: 'ok' }, `${t('modelsReady')} (${detail.fromCache ? t('fromCache') : t('fromNetwork')}, ${formatSeconds(detail.downloadMs + detail.loadMs)})`),
  );
  // The threads the kernels run on, or why only one (see worker.js).
  const { engine } = detail;
  const threadsText = engine.module === 'threaded'
    ? t('engineThreads').replace('{n}', engine.threads)
    : t({ 'no-relaxed-simd': 'engineNoRelaxedSimd', 'pool-failed': 'enginePoolFailed' }[engine.why] || 'engineNotIsolated');
  shown.threadsText = threadsText;
  $('engine').dataset.threads = engine.threads;
  $('engine').dataset.module = engine.module;
  showDevice(detail.device);
}

// The status line: the CPU's threads and where Whisper's encoder runs
// (the GPU's adapter, or the CPU and why not the GPU when one was asked for).
function showDevice(state) {
  if (shown.ready) shown.ready.device = state;
  const gpu = state.device.startsWith('gpu: ') ? state.device.slice(5) : null;
  const problem = state.problem ? ` (${state.problem})` : '';
  const deviceText = gpu ? `${t(state.text_gpu ? 'engineGpuBoth' : 'engineGpu').replace('{name}', gpu)}${problem}` : `${t('engineNoGpu')}${problem}`;
  $('engine').textContent = `${t('engineCpu')}, ${shown.threadsText} · ${deviceText}`;
  $('engine').dataset.device = gpu ? 'gpu' : 'cpu';
  $('device-mode').value = state.choice;
}

cf.ready.catch((e) => {
  $('models').replaceChildren(el('span', { className: 'error' }, `${t('errModels')}: ${errorText(e)}`));
  document.body.dataset.ready = 'failed';
});

cf.addEventListener('restart', () => toast(t('errCrashed')));
// A setting the restarted worker could not take again (api.js replays them).
cf.addEventListener('failure', (/** @type {CustomEvent} */ { detail }) => toast(errorText(detail)));

// ---------- batch ----------

const batch = new Batch(cf, {
  body: $('results').tBodies[0],
  progress: $('progress'),
  bar: $('progress-bar'),
  text: $('progress-text'),
  filter: $('filter'),
  segmentFilter: $('filter-segment'),
  threshold: $('threshold'),
  headers: $('results').tHead,
  onChange(count) {
    for (const id of ['export-csv', 'export-xlsx', 'clear']) $(id).disabled = count === 0;
    showStorage();
  },
  onStorageProblem: (e) => toast(`${t('errStorage')}: ${(e && e.message) || e}`),
});

// Files already in the table are skipped (a re-dropped folder resumes an
// interrupted batch); the notice offers to classify them again.
function addFiles(files) {
  const skipped = batch.add(files);
  if (skipped.length) toast(t('skipped').replace('{n}', skipped.length), { label: t('classifyAgain'), run: () => batch.add(skipped, { again: true }) });
}

dropZone($('drop'), addFiles);
for (const id of ['pick-files', 'pick-folder']) {
  $(id).addEventListener('change', (e) => {
    addFiles([...e.target.files]);
    e.target.value = '';
  });
}
$('example').addEventListener('click', async () => {
  const response = await fetch('example/100001.ogg');
  const blob = await response.blob();
  // A fixed date, so the example counts as the same file on every visit.
  addFiles([new File([blob], '100001.ogg', { type: 'audio/ogg', lastModified: Date.UTC(2024, 0, 1) })]);
});
$('cancel').addEventListener('click', () => batch.cancel());
$('clear').addEventListener('click', () => {
  const rows = batch.finished();
  if (rows && !confirm(t('confirmClear').replace('{n}', rows))) return;
  batch.clear();
});
$('forget-kept').addEventListener('click', async () => {
  if (!confirm(t('confirmForget'))) return;
  await cf.call('clearCache').catch((e) => toast(errorText(e)));
  showStorage();
});

// What the browser keeps for this page (models included) and the way to free it.
async function showStorage() {
  const use = await storageUse();
  const mb = use ? ` · ${t('storageUse').replace('{mb}', number(use.usage / 1e6))}` : '';
  $('storage-text').textContent = `${t('keptRows').replace('{n}', batch.finished())}${mb}`;
}

async function exportResults(kind) {
  try {
    const files = await cf.call('resultsTable', { reports: batch.reports().map(worded), lang: language() });
    download(files[kind], `creative-filter-results.${kind}`);
  } catch (e) {
    toast(errorText(e));
  }
}
$('export-csv').addEventListener('click', () => exportResults('csv'));
$('export-xlsx').addEventListener('click', () => exportResults('xlsx'));

// ---------- the ID table flow (predict-table) ----------

setUpIdTable(cf, toast);

// ---------- training ----------

setUpTraining(cf, { toast, applyClassifier, setDictionary, segments: () => segments });

// ---------- segments ----------

async function setDictionary(file) {
  try {
    const args = { name: file.name, bytes: new Uint8Array(await file.arrayBuffer()) };
    applyClassifier(await cf.call('setDictionary', args));
    cf.remember('setDictionary', args);
  } catch (e) {
    toast(errorText(e));
  }
}
$('dict-file').addEventListener('change', (e) => {
  if (e.target.files[0]) setDictionary(e.target.files[0]);
  e.target.value = '';
});
$('dict-reset').addEventListener('click', async () => {
  applyClassifier(await cf.call('resetDictionary'));
  cf.remember('resetDictionary');
});

function applyClassifier({ segments: list, classifier, vision }) {
  shown.classifier = { segments: list, classifier };
  segments = list;
  if (vision !== undefined) showVision(vision);
  $('classifier-mode').textContent = classifier === 'trained' ? t('trained') : t('zeroShot');
  $('head-save').disabled = classifier !== 'trained';
  $('head-reset').disabled = classifier !== 'trained';
  renderSegments();
  batch.setSegments(segments);
}

function renderSegments() {
  const body = $('segments').tBodies[0];
  body.replaceChildren(...segments.map((s) => el('tr', {}, el('td', { className: 'num' }, String(s.id)), el('td', {}, s.name), el('td', { className: 'muted' }, s.description || ''))));
}

// ---------- on-screen text ----------

// The user's choice of when pictures are read, kept across visits and
// replayed on a restarted worker.
const SCREEN_MODE = 'cf-screen-text';
$('screen-mode').value = localStorage.getItem(SCREEN_MODE) || 'auto';

async function setScreenMode(mode) {
  const args = { mode };
  cf.remember('setScreenText', args);
  showScreen((await cf.call('setScreenText', args)).screen);
}
$('screen-mode').addEventListener('change', async () => {
  localStorage.setItem(SCREEN_MODE, $('screen-mode').value);
  await setScreenMode($('screen-mode').value).catch((e) => toast(errorText(e)));
});
cf.ready.then(({ screen }) => screen.mode !== $('screen-mode').value && setScreenMode($('screen-mode').value)).catch(() => {});

// ---------- speech recognition ----------

$('device-mode').addEventListener('change', async () => {
  const device = $('device-mode').value;
  localStorage.setItem(DEVICE, device);
  $('device-mode').disabled = true;
  try {
    showDevice(await cf.setDevice(device));
    // The vision tower moved with the device.
    if (shown.vision && shown.vision[0]) showVision((await cf.call('classifierState')).vision, null);
  } catch (e) {
    toast(errorText(e));
  } finally {
    $('device-mode').disabled = false;
  }
});

// Beam search (accurate, the CLI's default) or greedy decoding (faster),
// and the words to expect: kept across visits and replayed on a restarted
// worker.
const DECODING = 'cf-decoding';
const SPEECH_PROMPT = 'cf-speech-prompt';
$('decoding-mode').value = localStorage.getItem(DECODING) || '5';
$('speech-prompt').value = localStorage.getItem(SPEECH_PROMPT) || '';

const decodingChoice = () => ({ beam: Number($('decoding-mode').value), prompt: $('speech-prompt').value.trim() });

async function setDecoding() {
  const args = decodingChoice();
  cf.remember('setDecoding', args);
  await cf.call('setDecoding', args);
}
$('decoding-mode').addEventListener('change', async () => {
  localStorage.setItem(DECODING, $('decoding-mode').value);
  await setDecoding().catch((e) => toast(errorText(e)));
});
$('speech-prompt').addEventListener('change', async () => {
  localStorage.setItem(SPEECH_PROMPT, $('speech-prompt').value.trim());
  await setDecoding().catch((e) => toast(errorText(e)));
});
cf.ready.then(({ decoding }) => {
  const want = decodingChoice();
  if (decoding.beam !== want.beam || decoding.prompt !== want.prompt) return setDecoding();
}).catch(() => {});

function showScreen(state) {
  shown.screen = state;
  if (!state) return;
  const mb = (state.bytes / 1e6).toFixed(1);
  $('screen-status').textContent = !state.available ? t('screenMissing') : state.loading ? t('screenLoading') : state.started ? t('screenReady') : t('screenNotLoaded').replace('{mb}', mb);
  $('screen-mode').disabled = !state.available;
}

// ---------- the vision branch ----------

function showVision(vision, problem) {
  shown.vision = [vision, problem];
  const text = vision
    ? `${t('visionOn')}: ${vision.id} · ${vision.frames} × ${vision.image_size} px · ${vision.mode === 'trained' ? t('trained') : t('zeroShot')}${vision.gpu ? ' · GPU' : ''}${vision.warning ? ` (${say(vision.warning)})` : ''}`
    : problem ? `${t('visionOff')} (${problem})` : t('visionOff');
  $('vision-line').textContent = text;
  $('vision-status').textContent = text;
  $('vision-forget').disabled = !vision;
  document.body.dataset.vision = vision ? 'on' : 'off';
}

async function importVision(fileList) {
  const files = [...fileList];
  if (!files.length) return;
  $('vision-status').textContent = t('visionImporting');
  try {
    await cf.ready;
    const result = await cf.call('importVision', { files });
    showVision(result.vision);
  } catch (e) {
    showVision(null, errorText(e));
    toast(errorText(e));
  }
}
for (const id of ['vision-folder', 'vision-files']) {
  $(id).addEventListener('change', (e) => {
    importVision(e.target.files);
    e.target.value = '';
  });
}
$('vision-forget').addEventListener('click', async () => showVision((await cf.call('forgetVision')).vision));

// ---------- helpers ----------

// File pickers are labels around hidden inputs (styled as buttons): made
// reachable and operable from the keyboard like real buttons.
for (const label of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll('label.button'))) {
  const input = /** @type {HTMLInputElement} */ (label.querySelector('input[type=file]'));
  label.tabIndex = 0;
  label.setAttribute('role', 'button');
  label.addEventListener('keydown', (e) => {
    if (e.key !== 'Enter' && e.key !== ' ') return;
    e.preventDefault();
    input.click();
  });
}

// The batch's drop zone opens the file picker on Enter or Space.
$('drop').addEventListener('keydown', (e) => {
  if (e.target !== $('drop') || (e.key !== 'Enter' && e.key !== ' ')) return;
  e.preventDefault();
  $('pick-files').click();
});


// ---------- spend dashboard ----------

const dashboard = new SpendDashboardView({
  // This session's decisions become the dashboard's predictions.
  predictions: () => batch.reports().filter((r) => r.segment_id != null).map((r) => ({ id: String(r.id), segment: r.segment_id })),
  segments: () => segments.map(({ id, name }) => ({ id, name })),
  toast,
});

dropZone($('dash-drop'), (files) => dashboard.drop(files));

applyStatic();
// For tests and for the curious: the page's classifier, batch and dashboard.
/** @type {any} */ (window).creativeFilter = { cf, batch, dashboard };
