// The page's worker: loads the models (Cache API first, verified against
// models/manifest.json), decodes, transcribes and classifies one file at a
// time, so the page never freezes. Every decision is made by the Rust core.
//
// Two builds of the module: a threaded one (shared memory, a pool of web
// workers, relaxed SIMD) where the page is cross-origin isolated and the
// browser has relaxed SIMD, else a portable one (SIMD128, one thread).
import { decodeAudioTrack, decodePictures, readFrames } from './media.js';
import { FEATURES, readAll, putAll, clearStore } from './storage.js';
import { errorOf } from './rpc.js';
import { IMPORTED_VISION, importedKey, sha256, openCache, modelFile, dropSupersededFiles, forgetImported } from './model-store.js';
import { ScreenReader } from './ocr.js';

let Session, modelFiles, demux, whisperInput, whisperInputOf, contentHash, planTable, answerTable, resultsTable, importXclip, videoDecodePlan, benchXclip, yuvToRgb, threadCount, hasPanicked, panicForTest, kernelPath, kernelSelfTest, benchInt8, ScreenFrames, screenDecodePlan, ocrSettings;

// Cross-validation folds of the report shown after training (as the CLI).
const TRAINING_FOLDS = 5;

let session = null;
let wasm = null;
let manifestBytes = null;
const pendingMain = new Map(); // requests to the main thread (decodeAudioData)
let nextMainRequest = 1;

const post = (msg, transfer) => self.postMessage(msg, transfer || []);

// A trap (a Rust panic, or running out of memory) leaves the module
// unusable: whoever catches one rethrows it, and the page then replaces
// this worker before the next file (the file that trapped fails alone).
const isTrap = (e) => e instanceof WebAssembly.RuntimeError || e instanceof RangeError || (hasPanicked !== undefined && hasPanicked());
const rethrowTrap = (e) => {
  if (isTrap(e)) throw e;
};
const progress = (what) => post({ event: 'progress', ...what });

// What the page shows of the classifiers after a change of segments or head.
const classifierState = () => ({ segments: session.segments(), classifier: session.classifierMode, vision: session.vision() });

const embedProgress = (done, total) => progress({ training: 'embedding', done, total });

// Where Whisper's encoder and e5 run (src/web: Session.useDevice): "auto"
// takes a real GPU whose self-test passes, "gpu" any WebGPU adapter, "cpu"
// none. The model files go to the GPU in their quantised form, so they are
// read again (from the Cache API) when the device changes.
let gpuEntries = null;
async function useDevice(choice, whisperBytes, e5Bytes) {
  const none = new Uint8Array();
  if (choice !== 'cpu' && !(/** @type {any} */ (self.navigator).gpu)) {
    return session.useDevice('cpu', none, none).then((state) => ({ ...state, choice, problem: 'this browser has no WebGPU' }));
  }
  return choice === 'cpu' ? session.useDevice(choice, none, none) : session.useDevice(choice, whisperBytes, e5Bytes);
}

// A module whose one function uses i32x4.relaxed_dot_i8x16_i7x16_add
// validates only where the browser has relaxed SIMD.
const RELAXED_SIMD = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0,
  10, 19, 1, 17, 0, 65, 0, 253, 15, 65, 0, 253, 15, 65, 0, 253, 15, 253, 147, 2, 11,
]);

// Which module this browser gets, and why not the threaded one: shared
// memory exists only on a cross-origin isolated page (COOP/COEP headers).
function moduleChoice() {
  if (!self.crossOriginIsolated || typeof SharedArrayBuffer === 'undefined') return { threaded: false, why: 'not-isolated' };
  if (!WebAssembly.validate(RELAXED_SIMD)) return { threaded: false, why: 'no-relaxed-simd' };
  return { threaded: true, why: null };
}

// The threads rayon runs the kernels on: one per core (this worker only
// waits while they work). Each pool worker instantiates the module on the
// same memory and waits for rayon to hand it a thread (src/web/threads.rs).
const POOL_STACK_BYTES = 2 << 20; // as native rayon threads' default
let poolWorkers = []; // kept referenced so the browser does not collect them

async function startPool(bindings, script, module, memory) {
  const threads = Math.max(1, self.navigator.hardwareConcurrency || 1);
  poolWorkers = await Promise.all(Array.from({ length: threads }, () => new Promise((resolve, reject) => {
    const w = new Worker(new URL('./pool-worker.js', import.meta.url), { type: 'module' });
    w.onmessage = () => resolve(w);
    w.onerror = (e) => reject(new Error(`a pool worker failed to start: ${e.message || e}`));
    w.postMessage({ script, module, memory, stack: POOL_STACK_BYTES });
  })));
  bindings.threadPoolBuild(threads);
}

// Instantiates the chosen module; returns what the status line shows.
async function loadModule() {
  const choice = moduleChoice();
  if (choice.threaded) {
    try {
      return await instantiate('creative-filter-mt', true);
    } catch (e) {
      // A threaded module that cannot start its pool still leaves the portable one.
      for (const w of poolWorkers) w.terminate();
      poolWorkers = [];
      console.warn(`the threaded module did not start (${(e && e.message) || e}); running on one thread`);
      return instantiate('creative-filter', false, 'pool-failed');
    }
  }
  return instantiate('creative-filter', false, choice.why);
}

async function instantiate(name, threaded, why = null) {
  const script = new URL(`../${name}.js`, import.meta.url).href;
  const bindings = await import(script);
  const url = new URL(`../${name}_bg.wasm`, import.meta.url);
  if (threaded) {
    // The compiled module and the shared memory go to every pool worker.
    const module = await WebAssembly.compileStreaming(fetch(url));
    wasm = await bindings.default({ module_or_path: module });
    await startPool(bindings, script, module, wasm.memory);
  } else {
    wasm = await bindings.default({ module_or_path: url });
  }
  ({ Session, modelFiles, demux, whisperInput, whisperInputOf, contentHash, planTable, answerTable, resultsTable, importXclip, videoDecodePlan, benchXclip, yuvToRgb, threadCount, hasPanicked, panicForTest, kernelPath, kernelSelfTest, benchInt8, ScreenFrames, screenDecodePlan, ocrSettings } = bindings);
  return { module: threaded ? 'threaded' : 'portable', why, threads: threadCount(), kernel: kernelPath() };
}

// ---------- what the core learnt, kept across visits (storage.js) ----------

// Transcripts and embeddings of earlier visits, back in the core's cache.
async function restoreFeatures() {
  try {
    const entries = await readAll(FEATURES);
    for (const [key, value] of entries) session.restoreCacheEntry(key, value);
    return entries.length;
  } catch (e) {
    console.warn(`the stored transcripts could not be read: ${(e && e.message) || e}`);
    return 0;
  }
}

// What the core added since the last call, written before the answer goes
// out, so a reload right after it still finds it. Storage that refuses
// (quota) costs the next visit time, never this answer.
async function keepNewFeatures() {
  const entries = session.takeNewCacheEntries();
  try {
    await putAll(FEATURES, entries);
  } catch (e) {
    progress({ storageProblem: `${(e && e.message) || e}` });
  }
}

// ---------- the batch's read-ahead ----------

let reader = null;
const readsAhead = new Map(); // id → promise of the reader's answer
let nextRead = 1;
const readReplies = new Map();

function startReader() {
  reader = new Worker(new URL('./reader-worker.js', import.meta.url), { type: 'module' });
  reader.onmessage = ({ data }) => {
    const reply = readReplies.get(data.id);
    readReplies.delete(data.id);
    if (reply) reply(data.read);
  };
  // A reader that cannot start leaves every file to be read in turn.
  reader.onerror = () => {
    for (const reply of readReplies.values()) reply({ failed: 'the reader worker failed' });
    readReplies.clear();
  };
}

function readAhead(file, id) {
  if (id == null || readsAhead.has(id)) return;
  if (!reader) startReader();
  const vision = session.vision();
  const wanted = vision ? vision.frames : 0;
  const request = nextRead++;
  readsAhead.set(id, new Promise((resolve) => {
    readReplies.set(request, (read) => resolve({ ...read, framesWanted: wanted }));
    reader.postMessage({ id: request, file, frames: wanted });
  }));
}

// This file's read-ahead; any other left over (a cancelled batch) is dropped.
function takeReadAhead(id) {
  const ahead = id != null ? readsAhead.get(id) : undefined;
  readsAhead.clear();
  return ahead;
}

// The page holds a creative twice (the file's bytes and the module's copy):
// larger ones are left to the command-line tool, which maps files instead.
const MAX_FILE_BYTES = 2 ** 30;

const methods = {
  async init({ device = 'auto' } = {}) {
    const started = performance.now();
    const engine = await loadModule();
    const response = await fetch(new URL('../models/manifest.json', import.meta.url), { cache: 'no-store' });
    if (!response.ok) throw { code: 'model', message: `models/manifest.json: HTTP ${response.status}` };
    manifestBytes = new Uint8Array(await response.arrayBuffer());
    const manifest = JSON.parse(new TextDecoder().decode(manifestBytes));
    const files = modelFiles();
    const roles = { whisper: files.whisper, whisperTokenizer: files.whisperTokenizer, e5: files.e5, e5Tokenizer: files.e5Tokenizer };
    const entries = Object.fromEntries(Object.entries(roles).map(([k, file]) => {
      const entry = manifest.files.find((f) => f.file === file);
      if (!entry) throw { code: 'model', message: `models/manifest.json lists no ${file}` };
      return [k, entry];
    }));
    progress({ models: Object.values(entries).map((e) => ({ file: e.file, bytes: e.bytes })) });
    const cache = await openCache();
    const loaded = {};
    for (const [k, entry] of Object.entries(entries)) loaded[k] = await modelFile(entry, cache, progress);
    if (cache) await dropSupersededFiles(cache, files.superseded);
    const downloaded = performance.now();
    session = new Session(manifestBytes, loaded.whisper.bytes, loaded.whisperTokenizer.bytes, loaded.e5.bytes, loaded.e5Tokenizer.bytes);
    const kept = await restoreFeatures();
    gpuEntries = { whisper: entries.whisper, e5: entries.e5 };
    const deviceState = await useDevice(device, loaded.whisper.bytes, loaded.e5.bytes);
    const visionProblem = await loadVision(manifest, cache, files).catch((e) => `${(e && e.message) || e}`);
    prepareScreen(manifest, files);
    return {
      vision: session.vision(),
      visionProblem,
      screen: screenState(),
      decoding: { beam: session.beamSize(), prompt: session.speechPrompt() },
      fromCache: Object.values(loaded).every((l) => l.source === 'cache'),
      downloadMs: downloaded - started,
      loadMs: performance.now() - downloaded,
      classifier: session.classifierMode,
      segments: session.segments(),
      device: deviceState,
      engine,
      kept,
    };
  },

  // `next` (a file the batch will give next, with its `nextId`) is handed
  // to the reader worker before this one's work starts, so it is read and
  // decoded meanwhile; `id` finds this file's read-ahead, if it had one.
  async classify({ file, id, next, nextId }) {
    if (file.size > MAX_FILE_BYTES) {
      throw { code: 'too-large', message: `${(file.size / 2 ** 30).toFixed(1)} GB is more than the page reads (1 GB); the command-line tool (creative-filter classify) reads files of any size` };
    }
    const started = performance.now();
    const ahead = takeReadAhead(id);
    if (next && next.size <= MAX_FILE_BYTES) readAhead(next, nextId);
    const read = ahead && (await ahead);
    // The read-ahead's frames serve only if the vision branch still wants as many.
    const vision = session.vision();
    const framesOk = read && !read.failed && (vision ? read.frames && read.framesWanted === vision.frames : true);
    const bytes = framesOk ? read.bytes : new Uint8Array(await file.arrayBuffer());
    const name = file.webkitRelativePath || file.name;
    const frames = framesOk ? frameSetOf(read.frames || {}) : await videoFrames(bytes);
    const framesMs = framesOk ? read.framesMs : performance.now() - started;
    let report;
    try {
      try {
        if (framesOk && read.audio) {
          const a = read.audio;
          report = await session.classifyRead(name, read.hash, a.samples, a.sampleRate, a.codec, a.truncated, a.incomplete, a.decodeMs, bytes, frames);
        } else if (framesOk && read.audioError) {
          throw read.audioError;
        } else {
          report = await session.classifyFile(name, bytes, frames);
        }
      } catch (e) {
        rethrowTrap(e);
        if (!['unsupported-codec', 'not-media', 'no-audio'].includes(e && e.code)) throw e;
        report = await classifyWithBrowserDecoder(name, bytes, e, frames);
      }
    } finally {
      frames.free();
    }
    if (report.screen_wanted) report = await readScreen(bytes);
    if (session.vision()) report.frames_ms = framesMs;
    report.wall_ms = performance.now() - started;
    // wasm memory never shrinks: its size is the module's peak so far.
    report.wasm_memory_mb = wasm.memory.buffer.byteLength / 2 ** 20;
    return report;
  },

  // What the speech branch hears of a file, 16 kHz mono, decoded as
  // classify decodes it (Rust, else WebCodecs): for checking it against a
  // reference decoder (tests/browser/formats.mjs).
  async audio({ file }) {
    const bytes = new Uint8Array(await file.arrayBuffer());
    try {
      return { samples: whisperInput(file.name, bytes), via: 'rust' };
    } catch (e) {
      rethrowTrap(e);
      if (!e || e.code !== 'unsupported-codec') throw e;
      const pcm = await decodeAudioTrack(demux(file.name, bytes));
      return { samples: whisperInputOf(pcm.interleaved, pcm.channels, pcm.sampleRate, pcm.codec), via: `webcodecs ${pcm.codec}` };
    }
  },

  // The pictures the browser decoded for the vision branch, full size, with
  // their times: for checking them against a reference decoder
  // (tests/browser/vision.mjs, formats.mjs). `frames` defaults to the
  // vision branch's count, or 8 while it is off.
  async pictures({ file, frames }) {
    const count = frames || (session.vision() && session.vision().frames) || 8;
    const plan = videoDecodePlan(new Uint8Array(await file.arrayBuffer()), count);
    if (!plan) throw { code: 'video', message: 'a still image: Rust decodes it' };
    const pictures = (await decodePictures(plan)).map((p) => {
      if (!p.yuv) return { width: p.width, height: p.height, rgb: p.rgba.filter((_, i) => i % 4 !== 3), via: 'canvas' };
      const y = p.yuv;
      return { width: y.width, height: y.height, rgb: yuvToRgb(y.format, y.data, y.offsets, y.strides, y.width, y.height, y.matrix, y.fullRange), via: `${y.format} ${y.matrix || '?'}${y.fullRange ? ' full range' : ''}` };
    });
    return { times_s: plan.times_s, pictures };
  },
  panicForTest: () => panicForTest(),
  async setDevice({ device }) {
    const cache = await openCache();
    const read = async (entry) => (device === 'cpu' ? new Uint8Array() : (await modelFile(entry, cache, progress)).bytes);
    const state = await useDevice(device, await read(gpuEntries.whisper), await read(gpuEntries.e5));
    // The vision tower left the old device: set the model again on the new one.
    if (session.vision()) await loadVision(JSON.parse(new TextDecoder().decode(manifestBytes)), cache, modelFiles());
    return { device: state };
  },
  // Ends the GPU's device as a driver reset would (tests/browser: the batch
  // must go on on the CPU).
  loseGpuForTest: () => session.loseGpuForTest(),
  // The int8 kernel paths of this module against their reference (the browser tests).
  kernelSelfTest: () => kernelSelfTest(),
  benchInt8: ({ m, n, k, runs }) => benchInt8(m, n, k, runs),
  // Whisper's encoder alone on the file's first window (bench/web.mjs).
  async benchEncoder({ file, runs = 3 }) {
    const { samples } = await methods.audio({ file });
    return session.benchEncoder(samples, runs);
  },
  // Whisper's decoder alone on the file's first window (bench/web.mjs).
  async benchDecoder({ file, runs = 3 }) {
    const { samples } = await methods.audio({ file });
    return session.benchDecoder(samples, runs);
  },
  importVision: ({ files }) => importVision(files),
  forgetVision: () => forgetVision(),
  // The base-patch32-sized model with random weights, timed in this worker.
  benchVision: ({ prompts = 18, runs = 3 }) => {
    const report = benchXclip(prompts, runs);
    report.wasm_memory_mb = wasm.memory.buffer.byteLength / 2 ** 20;
    return report;
  },
  segments: () => session.segments(),
  classifierState: () => classifierState(),
  setScreenText: ({ mode }) => {
    screen.mode = mode;
    session.setScreenReading(mode, screen.id);
    return { screen: screenState() };
  },
  // `prompt` left out keeps the words to expect as they are.
  setDecoding: ({ beam, prompt }) => {
    session.setDecoding(beam);
    if (prompt != null) session.setSpeechPrompt(String(prompt));
    return { decoding: { beam: session.beamSize(), prompt: session.speechPrompt() } };
  },
  setDictionary: ({ name, bytes }) => (session.setDictionary(name, bytes), classifierState()),
  resetDictionary: () => (session.resetDictionary(), classifierState()),
  loadHead: ({ bytes }) => (session.loadHead(bytes), classifierState()),
  clearHead: () => (session.clearHead(), classifierState()),
  headFile: () => session.headFile(),
  async clearCache() {
    session.clearCache();
    await clearStore(FEATURES);
  },
  planTable: ({ name, bytes, mediaNames }) => planTable(name, bytes, mediaNames),
  planTraining: ({ name, bytes, mediaNames }) => session.planTraining(name, bytes, mediaNames),
  trainTextsFile: ({ name, bytes }) => session.trainTextsFile(name, bytes, TRAINING_FOLDS, embedProgress),
  trainCreatives: ({ creatives, setAside }) => session.trainCreatives(creatives, setAside, TRAINING_FOLDS, embedProgress),
  answerTable: ({ name, bytes, reports, lang }) => answerTable(name, bytes, reports, lang),
  resultsTable: ({ reports, lang }) => resultsTable(reports, lang),
};

// The Rust decoders could not read the file: the browser's WebCodecs
// AudioDecoder fed by the Rust demuxer, else Web Audio's decodeAudioData
// (only on the main thread), then the same Rust mixdown and resampling.
async function classifyWithBrowserDecoder(name, bytes, rustError, frames) {
  const started = performance.now();
  const hash = contentHash(bytes);
  let pcm = null;
  let why = '';
  // Cut short is the file's state, whichever decoder then reads it.
  let incomplete = false;
  try {
    const track = demux(name, bytes);
    incomplete = track.incomplete;
    pcm = await decodeAudioTrack(track);
  } catch (e) {
    rethrowTrap(e);
    // The demuxer's own error repeats the decoder's; the browser's is news.
    if (!(e && e.code)) why = `; WebCodecs: ${(e && e.message) || e}`;
  }
  if (!pcm) {
    try {
      pcm = await decodeOnMainThread(bytes);
    } catch (e) {
      rethrowTrap(e);
      // No sound anywhere: a silent video or a picture may still be decided by the vision branch.
      const message = `${rustError.message}${why}; Web Audio: ${(e && e.message) || 'cannot decode it'}`;
      // The core's message, with the browser's decoders' words in its English text.
      const failure = { code: rustError.code, message, said: rustError.said && { ...rustError.said, text: message } };
      if (rustError.code === 'unsupported-codec') throw failure; // there is sound, just not for us
      return session.classifyWithoutSound(name, bytes, frames, failure);
    }
  }
  const decodeMs = performance.now() - started;
  return await session.classifyDecoded(name, hash, pcm.interleaved, pcm.channels, pcm.sampleRate, pcm.codec, incomplete, decodeMs, bytes, frames);
}

// ---------- on-screen text ----------

// When creatives' pictures are read ("auto": when their speech is weak, as
// the CLI's default), by which engine (null: the site has no OCR models),
// and the engine once a creative first needed it.
const screen = { mode: 'auto', id: null, entries: null, reader: null };

function prepareScreen(manifest, files) {
  const entries = files.ocr.map((file) => manifest.files.find((f) => f.file === file));
  screen.entries = entries.every(Boolean) ? entries : null;
  screen.id = screen.entries ? ScreenReader.id(screen.entries) : null;
  session.setScreenReading(screen.mode, screen.id);
}

// What the page shows of it: the mode, and the download a first reading costs.
const screenState = () => ({
  mode: screen.mode,
  available: !!screen.id,
  started: !!screen.reader,
  bytes: screen.entries ? screen.entries.reduce((n, e) => n + e.bytes, 0) : 0,
});

function screenReader() {
  screen.reader ??= new ScreenReader(async () => {
    progress({ ocr: 'loading', bytes: screenState().bytes });
    const cache = await openCache();
    /** @type {Array<[string, Uint8Array]>} */
    const files = [];
    for (const entry of screen.entries) files.push([entry.file, (await modelFile(entry, cache, progress)).bytes]);
    progress({ ocr: 'ready' });
    return files;
  }, ocrSettings());
  return screen.reader;
}

// The creative the core holds for its picture (`{screen_wanted}`): its
// frames decoded by WebCodecs (one a second; a still by Rust), those whose
// picture changed read by the OCR worker, and the core decides with the
// text. A picture that cannot be decoded or read is the report's note;
// the speech still decides.
async function readScreen(bytes) {
  const started = performance.now();
  const frames = new ScreenFrames();
  try {
    const images = [];
    try {
      const plan = screenDecodePlan(bytes);
      if (!plan) images.push(frames.addStill(bytes));
      for (const p of plan ? await decodePictures(plan) : []) {
        const y = p.yuv;
        images.push(y
          ? frames.pushRgb(yuvToRgb(y.format, y.data, y.offsets, y.strides, y.width, y.height, y.matrix, y.fullRange), y.width, y.height)
          : frames.push(p.rgba, p.width, p.height));
      }
    } catch (e) {
      rethrowTrap(e);
      return await session.finishScreenFailed(errorOf(e, 'video'));
    }
    const framesMs = performance.now() - started;
    let read;
    try {
      read = await screenReader().read(Array.from(frames.chosen(), (i) => images[i]));
    } catch (e) {
      rethrowTrap(e);
      return await session.finishScreenFailed(errorOf(e, 'ocr'));
    }
    return await session.finishScreen(frames, read.readings, read.cutShort, framesMs, performance.now() - started - framesMs);
  } finally {
    frames.free();
  }
}

// ---------- the vision branch ----------

// The X-CLIP model the site ships (listed in its manifest), else the one the
// user imported earlier; none leaves the branch off. Returns a problem to
// show, or null.
async function loadVision(manifest, cache, files) {
  const gguf = manifest.files.find((f) => f.file === files.vision);
  const tokenizer = manifest.files.find((f) => f.file === files.visionTokenizer);
  if (gguf && tokenizer) {
    const g = await modelFile(gguf, cache, progress);
    const t = await modelFile(tokenizer, cache, progress);
    session.setVisionModel(g.bytes, t.bytes, `${gguf.file}@${gguf.sha256.slice(0, 16)}`);
    return null;
  }
  if (!cache) return null;
  const meta = await cache.match(IMPORTED_VISION);
  if (!meta) return null;
  const { name, gguf_sha256, tokenizer_sha256 } = await meta.json();
  const read = async (file, sha) => {
    const hit = await cache.match(importedKey(file, sha));
    const bytes = hit && new Uint8Array(await hit.arrayBuffer());
    if (!bytes || (await sha256(bytes)) !== sha) throw new Error(`the imported X-CLIP model (${name}) is no longer in the browser's storage; import it again`);
    return bytes;
  };
  const g = await read(files.vision, gguf_sha256);
  const t = await read(files.visionTokenizer, tokenizer_sha256);
  session.setVisionModel(g, t, `${files.vision}@${gguf_sha256.slice(0, 16)}`);
  return null;
}

// A Hugging Face X-CLIP checkpoint from the files the user picked (a folder
// or the files themselves): converted here, kept in the browser's cache.
async function importVision(files) {
  const byName = new Map(files.map((f) => [f.name, f]));
  const need = (file, why) => {
    if (!byName.has(file)) throw { code: 'vision', message: `no ${file} among the files picked: ${why}` };
    return byName.get(file);
  };
  const bytesOf = async (file) => (byName.has(file) ? new Uint8Array(await byName.get(file).arrayBuffer()) : undefined);
  const config = new Uint8Array(await need('config.json', 'pick the folder of a Hugging Face X-CLIP checkpoint').arrayBuffer());
  const weights = new Uint8Array(await need('model.safetensors', 'the weights must be in safetensors format').arrayBuffer());
  const folder = (files[0].webkitRelativePath || '').split('/')[0] || 'xclip';
  const converted = importXclip(folder, config, weights, await bytesOf('tokenizer.json'), await bytesOf('vocab.json'), await bytesOf('merges.txt'));
  const names = modelFiles();
  const id = `${names.vision}@${converted.gguf_sha256.slice(0, 16)}`;
  const info = session.setVisionModel(converted.gguf, converted.tokenizer, id);
  const cache = await openCache();
  let cached = false;
  if (cache) {
    await forgetImported(cache);
    try {
      await cache.put(importedKey(names.vision, converted.gguf_sha256), new Response(converted.gguf));
      await cache.put(importedKey(names.visionTokenizer, converted.tokenizer_sha256), new Response(converted.tokenizer));
      const meta = { name: folder, gguf_sha256: converted.gguf_sha256, tokenizer_sha256: converted.tokenizer_sha256, bytes: converted.gguf.length };
      await cache.put(IMPORTED_VISION, new Response(JSON.stringify(meta), { headers: { 'content-type': 'application/json' } }));
      cached = true;
    } catch {
      await forgetImported(cache); // quota: the model works for this visit only
    }
  }
  return { vision: info, name: folder, bytes: converted.gguf.length, cached };
}

async function forgetVision() {
  const cache = await openCache();
  if (cache) await forgetImported(cache);
  session.clearVisionModel();
  return { vision: null };
}

// The creative's frames for the vision branch (see readFrames), in a FrameSet.
async function videoFrames(bytes) {
  const vision = session.vision();
  return frameSetOf(vision ? await readFrames(bytes, vision.frames, { videoDecodePlan, yuvToRgb }) : {});
}

/** @param {{pictures?: any[], fail?: string}} frames */
function frameSetOf({ pictures = [], fail }) {
  const frames = session.frameSet();
  for (const p of pictures) {
    if (p.rgb) frames.pushRgb(p.rgb, p.width, p.height);
    else frames.push(p.rgba, p.width, p.height);
  }
  if (fail) frames.fail(fail);
  return frames;
}

function decodeOnMainThread(bytes) {
  const id = nextMainRequest++;
  return new Promise((resolve, reject) => {
    pendingMain.set(id, { resolve, reject });
    const copy = bytes.slice().buffer;
    post({ event: 'decode-audio', id, bytes: copy }, [copy]);
  });
}

// A Rust panic inside an awaited call (a trap in a future the module runs)
// never settles that call's promise: the worker's error events say so, and
// the call fails as a synchronous trap would.
let onTrap = null;
const trapped = () => new Promise((_, reject) => (onTrap = reject));
const reportTrap = (e) => isTrap(e) && onTrap && onTrap(e);
self.addEventListener('error', (e) => reportTrap(e.error));
self.addEventListener('unhandledrejection', (e) => reportTrap(e.reason));

// One call at a time: a call that awaits (the GPU, the browser's decoders,
// the OCR) holds the session, which another call may not use meanwhile.
let queue = Promise.resolve();

async function answer({ call, method, args }) {
  try {
    if (!methods[method]) throw { code: 'internal', message: `no method ${method}` };
    if (method !== 'init' && !session) throw { code: 'model', message: 'the models are not loaded yet' };
    const result = await Promise.race([methods[method](args || {}), trapped()]);
    if (session && !isTrap(null)) await keepNewFeatures();
    // A trap caught on the way (and answered by another decoder) still
    // means a new worker for the next file.
    post({ call, result, fatal: isTrap(null) });
  } catch (e) {
    const fatal = isTrap(e);
    post({ call, error: errorOf(e, fatal ? 'crashed' : 'internal'), fatal });
  } finally {
    onTrap = null;
  }
}

self.onmessage = ({ data }) => {
  if (data.decoded !== undefined) {
    const waiting = pendingMain.get(data.decoded);
    pendingMain.delete(data.decoded);
    if (waiting) data.error ? waiting.reject(data.error) : waiting.resolve(data.pcm);
    return;
  }
  queue = queue.then(() => answer(data));
};
