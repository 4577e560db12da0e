// The page's worker: loads the models (Cache API first, verified against
// models/manifest.json), decodes, transcribes and classifies one file at a
// time, so the page never freezes. Every decision is made by the Rust core.
import init, { hasPanicked, panicForTest, Session, demux, whisperInput, whisperInputOf, contentHash, planTable, answerTable, resultsTable, importXclip, videoDecodePlan, benchXclip, yuvToRgb } from '../creative-filter.js';

const MODEL_CACHE = 'creative-filter-models';
const MODEL_FILES = {
  whisper: 'whisper-base-q8_0.gguf',
  whisperTokenizer: 'whisper-tokenizer.json',
  e5: 'e5-small.gguf',
  e5Tokenizer: 'e5-tokenizer.json',
};

// The optional X-CLIP model: staged with the site's models, or imported by
// the user from a checkpoint's files and kept in the same cache.
const VISION_FILES = { gguf: 'xclip.gguf', tokenizer: 'xclip-tokenizer.json' };
const IMPORTED_VISION = new URL('../models/imported/xclip.json', import.meta.url).href;

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
const isTrap = (e) => e instanceof WebAssembly.RuntimeError || e instanceof RangeError || (wasm !== null && hasPanicked());
const rethrowTrap = (e) => {
  if (isTrap(e)) throw e;
};
const progress = (what) => post({ event: 'progress', ...what });

function hex(buffer) {
  return [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

async function sha256(bytes) {
  return hex(await crypto.subtle.digest('SHA-256', bytes));
}

async function openCache() {
  try {
    return self.caches ? await caches.open(MODEL_CACHE) : null;
  } catch {
    return null; // storage disabled (private mode): download every visit
  }
}

// One model file: from the Cache API when its hash matches the manifest,
// else downloaded with progress, verified, and cached under its hash.
async function modelFile(entry, cache) {
  const url = new URL(`../models/${entry.file}`, import.meta.url);
  const key = `${url.href}?sha256=${entry.sha256}`;
  if (cache) {
    const hit = await cache.match(key);
    if (hit) {
      const bytes = new Uint8Array(await hit.arrayBuffer());
      if ((await sha256(bytes)) === entry.sha256) {
        progress({ model: entry.file, loaded: entry.bytes, total: entry.bytes, source: 'cache' });
        return { bytes, source: 'cache' };
      }
      await cache.delete(key);
    }
  }
  const response = await fetch(url, { cache: 'no-store' });
  if (!response.ok) throw { code: 'model', message: `${entry.file}: HTTP ${response.status}` };
  const total = entry.bytes;
  const bytes = new Uint8Array(total);
  let loaded = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (loaded + value.length > total) throw { code: 'model', message: `${entry.file} is larger than the manifest says` };
    bytes.set(value, loaded);
    loaded += value.length;
    progress({ model: entry.file, loaded, total, source: 'network' });
  }
  if (loaded !== total) throw { code: 'model', message: `${entry.file}: ${loaded} of ${total} bytes arrived` };
  if ((await sha256(bytes)) !== entry.sha256) throw { code: 'model', message: `${entry.file}: checksum does not match the manifest` };
  if (cache) {
    // Older versions of this file are dropped so the cache does not grow.
    for (const old of await cache.keys()) if (old.url.startsWith(`${url.href}?`)) await cache.delete(old);
    try {
      await cache.put(key, new Response(bytes));
    } catch {
      // quota exceeded: it still works, it is just downloaded again next time
    }
  }
  return { bytes, source: 'network' };
}

// What the page shows of the classifiers after a change of segments or head.
const classifierState = () => ({ segments: session.segments(), classifier: session.classifierMode, vision: session.vision() });

const embedProgress = (done, total) => progress({ training: 'embedding', done, total });

async function webgpuInfo() {
  if (!self.navigator.gpu) return { available: false };
  try {
    const adapter = await navigator.gpu.requestAdapter();
    if (!adapter) return { available: false };
    const info = adapter.info || {};
    return { available: true, fallback: !!adapter.isFallbackAdapter, vendor: info.vendor || '', architecture: info.architecture || '', description: info.description || '' };
  } catch {
    return { available: false };
  }
}

// The page holds a creative twice (the file's bytes and the module's copy):
// larger ones are left to the command-line tool, which maps files instead.
const MAX_FILE_BYTES = 2 ** 30;

const methods = {
  async init() {
    const started = performance.now();
    wasm = await init({ module_or_path: new URL('../creative-filter_bg.wasm', import.meta.url) });
    const response = await fetch(new URL('../models/manifest.json', import.meta.url), { cache: 'no-store' });
    if (!response.ok) throw { code: 'model', message: `models/manifest.json: HTTP ${response.status}` };
    manifestBytes = new Uint8Array(await response.arrayBuffer());
    const manifest = JSON.parse(new TextDecoder().decode(manifestBytes));
    const entries = Object.fromEntries(Object.entries(MODEL_FILES).map(([k, file]) => {
      const entry = manifest.files.find((f) => f.file === file);
      if (!entry) throw { code: 'model', message: `models/manifest.json lists no ${file}` };
      return [k, entry];
    }));
    progress({ models: Object.values(entries).map((e) => ({ file: e.file, bytes: e.bytes })) });
    const cache = await openCache();
    const loaded = {};
    for (const [k, entry] of Object.entries(entries)) loaded[k] = await modelFile(entry, cache);
    const downloaded = performance.now();
    session = new Session(manifestBytes, loaded.whisper.bytes, loaded.whisperTokenizer.bytes, loaded.e5.bytes, loaded.e5Tokenizer.bytes);
    const visionProblem = await loadVision(manifest, cache).catch((e) => `${(e && e.message) || e}`);
    return {
      vision: session.vision(),
      visionProblem,
      fromCache: Object.values(loaded).every((l) => l.source === 'cache'),
      downloadMs: downloaded - started,
      loadMs: performance.now() - downloaded,
      classifier: session.classifierMode,
      segments: session.segments(),
      webgpu: await webgpuInfo(),
    };
  },

  async classify({ file }) {
    if (file.size > MAX_FILE_BYTES) {
      throw { code: 'too-large', message: `${(file.size / 2 ** 30).toFixed(1)} GB is more than the page reads (1 GB); the command-line tool (creative-filter classify) reads files of any size` };
    }
    const started = performance.now();
    const bytes = new Uint8Array(await file.arrayBuffer());
    const name = file.webkitRelativePath || file.name;
    const frames = await videoFrames(bytes);
    const framesMs = performance.now() - started;
    let report;
    try {
      try {
        report = session.classifyFile(name, bytes, frames);
      } catch (e) {
        rethrowTrap(e);
        if (!['unsupported-codec', 'not-media', 'no-audio'].includes(e && e.code)) throw e;
        report = await classifyWithBrowserDecoder(name, bytes, e, frames);
      }
    } finally {
      frames.free();
    }
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
      const pcm = await decodeWithWebCodecs(demux(file.name, bytes));
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
  setDictionary: ({ name, bytes }) => (session.setDictionary(name, bytes), classifierState()),
  resetDictionary: () => (session.resetDictionary(), classifierState()),
  loadHead: ({ bytes }) => (session.loadHead(bytes), classifierState()),
  clearHead: () => (session.clearHead(), classifierState()),
  headFile: () => session.headFile(),
  clearCache: () => session.clearCache(),
  planTable: ({ name, bytes, mediaNames }) => planTable(name, bytes, mediaNames),
  planTraining: ({ name, bytes, mediaNames }) => session.planTraining(name, bytes, mediaNames),
  trainTextsFile: ({ name, bytes }) => session.trainTextsFile(name, bytes, TRAINING_FOLDS, embedProgress),
  trainCreatives: ({ creatives, setAside }) => session.trainCreatives(creatives, setAside, TRAINING_FOLDS, embedProgress),
  answerTable: ({ name, bytes, reports }) => answerTable(name, bytes, reports),
  resultsTable: ({ reports }) => resultsTable(reports),
};

// The Rust decoders could not read the file: the browser's WebCodecs
// AudioDecoder fed by the Rust demuxer, else Web Audio's decodeAudioData
// (only on the main thread), then the same Rust mixdown and resampling.
async function classifyWithBrowserDecoder(name, bytes, rustError, frames) {
  const started = performance.now();
  const hash = contentHash(bytes);
  let pcm = null;
  let why = '';
  try {
    pcm = await decodeWithWebCodecs(demux(name, bytes));
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
      const failure = { code: rustError.code, message: `${rustError.message}${why}; Web Audio: ${(e && e.message) || 'cannot decode it'}` };
      if (rustError.code === 'unsupported-codec') throw failure; // there is sound, just not for us
      return session.classifyWithoutSound(name, bytes, frames, failure);
    }
  }
  const decodeMs = performance.now() - started;
  return session.classifyDecoded(name, hash, pcm.interleaved, pcm.channels, pcm.sampleRate, pcm.codec, decodeMs, bytes, frames);
}

async function decodeWithWebCodecs(track) {
  if (!self.AudioDecoder) throw new Error('this browser has no WebCodecs AudioDecoder');
  const config = { codec: track.codec, sampleRate: track.sample_rate, numberOfChannels: track.channels };
  if (track.description) config.description = track.description;
  const { supported } = await AudioDecoder.isConfigSupported(config);
  if (!supported) throw new Error(`the browser cannot decode ${track.codec}`);
  const parts = [];
  let failure = null;
  let channels = track.channels;
  let sampleRate = track.sample_rate;
  const decoder = new AudioDecoder({
    output(data) {
      channels = data.numberOfChannels;
      sampleRate = data.sampleRate;
      const part = new Float32Array(data.numberOfFrames * channels);
      data.copyTo(part, { planeIndex: 0, format: 'f32' });
      parts.push(part);
      data.close();
    },
    error(e) {
      failure = e;
    },
  });
  decoder.configure(config);
  for (const p of track.packets) {
    decoder.decode(new EncodedAudioChunk({ type: 'key', timestamp: p.timestamp_us, duration: p.duration_us, data: p.data }));
  }
  await decoder.flush();
  decoder.close();
  if (failure) throw failure;
  return { interleaved: concat(parts), channels, sampleRate, codec: track.codec_name };
}

// ---------- the vision branch ----------

// The X-CLIP model the site ships (listed in its manifest), else the one the
// user imported earlier; none leaves the branch off. Returns a problem to
// show, or null.
async function loadVision(manifest, cache) {
  const gguf = manifest.files.find((f) => f.file === VISION_FILES.gguf);
  const tokenizer = manifest.files.find((f) => f.file === VISION_FILES.tokenizer);
  if (gguf && tokenizer) {
    const g = await modelFile(gguf, cache);
    const t = await modelFile(tokenizer, cache);
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
  const g = await read(VISION_FILES.gguf, gguf_sha256);
  const t = await read(VISION_FILES.tokenizer, tokenizer_sha256);
  session.setVisionModel(g, t, `${VISION_FILES.gguf}@${gguf_sha256.slice(0, 16)}`);
  return null;
}

const importedKey = (file, sha) => new URL(`../models/imported/${file}?sha256=${sha}`, import.meta.url).href;

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
  const id = `${VISION_FILES.gguf}@${converted.gguf_sha256.slice(0, 16)}`;
  const info = session.setVisionModel(converted.gguf, converted.tokenizer, id);
  const cache = await openCache();
  let cached = false;
  if (cache) {
    await forgetImported(cache);
    try {
      await cache.put(importedKey(VISION_FILES.gguf, converted.gguf_sha256), new Response(converted.gguf));
      await cache.put(importedKey(VISION_FILES.tokenizer, converted.tokenizer_sha256), new Response(converted.tokenizer));
      const meta = { name: folder, gguf_sha256: converted.gguf_sha256, tokenizer_sha256: converted.tokenizer_sha256, bytes: converted.gguf.length };
      await cache.put(IMPORTED_VISION, new Response(JSON.stringify(meta), { headers: { 'content-type': 'application/json' } }));
      cached = true;
    } catch {
      await forgetImported(cache); // quota: the model works for this visit only
    }
  }
  return { vision: info, name: folder, bytes: converted.gguf.length, cached };
}

async function forgetImported(cache) {
  const prefix = new URL('../models/imported/', import.meta.url).href;
  for (const key of await cache.keys()) if (key.url.startsWith(prefix)) await cache.delete(key);
}

async function forgetVision() {
  const cache = await openCache();
  if (cache) await forgetImported(cache);
  session.clearVisionModel();
  return { vision: null };
}

// The creative's frames for the vision branch: the Rust demuxer says which
// encoded pictures to decode, the browser's VideoDecoder decodes them, a
// canvas gives their RGBA, and Rust resizes them as natively. Any failure
// becomes the report's vision note; the speech branch goes on regardless.
async function videoFrames(bytes) {
  const frames = session.frameSet();
  const vision = session.vision();
  if (!vision) return frames;
  let plan;
  try {
    plan = videoDecodePlan(bytes, vision.frames);
  } catch (e) {
    frames.fail((e && e.message) || String(e));
    return frames;
  }
  if (!plan) return frames; // a still image: Rust reads it
  try {
    for (const p of await decodePictures(plan)) {
      const y = p.yuv;
      if (y) frames.pushRgb(yuvToRgb(y.format, y.data, y.offsets, y.strides, y.width, y.height, y.matrix, y.fullRange), y.width, y.height);
      else frames.push(p.rgba, p.width, p.height);
    }
  } catch (e) {
    frames.fail(`${plan.codec_name}: ${(e && e.message) || e}`);
  }
  return frames;
}

async function decodePictures(plan) {
  if (!self.VideoDecoder) throw new Error('this browser has no WebCodecs VideoDecoder');
  const config = { codec: plan.codec };
  if (plan.description) config.description = plan.description;
  const { supported } = await VideoDecoder.isConfigSupported(config);
  if (!supported) throw new Error(`the browser cannot decode this video (${plan.codec})`);
  const wanted = new Set(plan.wanted_us);
  const kept = new Map();
  let failure = null;
  const decoder = new VideoDecoder({
    output(frame) {
      if (wanted.has(frame.timestamp) && !kept.has(frame.timestamp)) kept.set(frame.timestamp, pictureOf(frame));
      else frame.close();
    },
    error(e) {
      failure = e;
    },
  });
  decoder.configure(config);
  for (const run of plan.runs) {
    for (const p of run.packets) decoder.decode(new EncodedVideoChunk({ type: p.key ? 'key' : 'delta', timestamp: p.timestamp_us, data: p.data }));
    await decoder.flush().catch((e) => (failure ??= e));
    if (failure) break;
  }
  if (decoder.state !== 'closed') decoder.close();
  for (const [t, p] of kept) kept.set(t, await p);
  // The stream's own colour description (H.264's SPS, as natively) over the browser's guess.
  for (const p of kept.values()) {
    if (p.yuv && plan.matrix) p.yuv.matrix = plan.matrix;
    if (p.yuv && plan.full_range != null) p.yuv.fullRange = plan.full_range;
  }
  if (!kept.size) throw failure || new Error('no picture could be decoded');
  // A wanted picture that did not come out is replaced by the nearest one that did.
  const times = [...kept.keys()];
  return plan.wanted_us.map((t) => kept.get(t) || kept.get(times.reduce((a, b) => (Math.abs(b - t) < Math.abs(a - t) ? b : a))));
}

// A decoded picture: its YUV planes when the decoder gives them in a layout
// Rust converts (as natively decoded pictures are), else RGBA from a canvas.
async function pictureOf(frame) {
  try {
    if (['I420', 'I420A', 'NV12'].includes(frame.format)) {
      const data = new Uint8Array(frame.allocationSize());
      const layout = await frame.copyTo(data);
      const cs = frame.colorSpace || {};
      return {
        yuv: {
          format: frame.format, data, offsets: layout.map((p) => p.offset), strides: layout.map((p) => p.stride),
          width: frame.visibleRect.width, height: frame.visibleRect.height, matrix: cs.matrix || '', fullRange: !!cs.fullRange,
        },
      };
    }
    return rgbaOf(frame);
  } finally {
    frame.close();
  }
}

function rgbaOf(frame) {
  const width = frame.displayWidth;
  const height = frame.displayHeight;
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext('2d', { willReadFrequently: true });
  context.drawImage(frame, 0, 0, width, height);
  return { rgba: new Uint8Array(context.getImageData(0, 0, width, height).data.buffer), width, height };
}

function concat(parts) {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function decodeOnMainThread(bytes) {
  const id = nextMainRequest++;
  return new Promise((resolve, reject) => {
    pendingMain.set(id, { resolve, reject });
    const copy = bytes.slice().buffer;
    post({ event: 'decode-audio', id, bytes: copy }, [copy]);
  });
}

self.onmessage = async ({ data }) => {
  if (data.decoded !== undefined) {
    const waiting = pendingMain.get(data.decoded);
    pendingMain.delete(data.decoded);
    if (waiting) data.error ? waiting.reject(data.error) : waiting.resolve(data.pcm);
    return;
  }
  const { call, method, args } = data;
  try {
    if (!methods[method]) throw { code: 'internal', message: `no method ${method}` };
    if (method !== 'init' && !session) throw { code: 'model', message: 'the models are not loaded yet' };
    const result = await methods[method](args || {});
    // A trap caught on the way (and answered by another decoder) still
    // means a new worker for the next file.
    post({ call, result, fatal: isTrap(null) });
  } catch (e) {
    const fatal = isTrap(e);
    const error = e && e.code ? { code: e.code, message: e.message } : { code: fatal ? 'crashed' : 'internal', message: String((e && e.message) || e) };
    post({ call, error, fatal });
  }
};
