// The page's worker: loads the models (Cache API first, verified against
// models/manifest.json), decodes, transcribes and classifies one file at a
// time, so the page never freezes. Every decision is made by the Rust core.
import init, { Session, demux, contentHash, planTable, answerTable, resultsTable } from '../creative-filter.js';

const MODEL_CACHE = 'creative-filter-models';
const MODEL_FILES = {
  whisper: 'whisper-base-q8_0.gguf',
  whisperTokenizer: 'whisper-tokenizer.json',
  e5: 'e5-small.gguf',
  e5Tokenizer: 'e5-tokenizer.json',
};

// Cross-validation folds of the report shown after training (as the CLI).
const TRAINING_FOLDS = 5;

let session = null;
let wasm = null;
let manifestBytes = null;
const pendingMain = new Map(); // requests to the main thread (decodeAudioData)
let nextMainRequest = 1;

const post = (msg, transfer) => self.postMessage(msg, transfer || []);
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
    return {
      fromCache: Object.values(loaded).every((l) => l.source === 'cache'),
      downloadMs: downloaded - started,
      loadMs: performance.now() - downloaded,
      classifier: session.classifierMode,
      segments: session.segments(),
      webgpu: await webgpuInfo(),
    };
  },

  async classify({ file }) {
    const started = performance.now();
    const bytes = new Uint8Array(await file.arrayBuffer());
    const name = file.webkitRelativePath || file.name;
    let report;
    try {
      report = session.classifyFile(name, bytes);
    } catch (e) {
      if (!['unsupported-codec', 'not-media', 'no-audio'].includes(e && e.code)) throw e;
      report = await classifyWithBrowserDecoder(name, bytes, e);
    }
    report.wall_ms = performance.now() - started;
    // wasm memory never shrinks: its size is the module's peak so far.
    report.wasm_memory_mb = wasm.memory.buffer.byteLength / 2 ** 20;
    return report;
  },

  segments: () => session.segments(),
  setDictionary: ({ name, bytes }) => ({ segments: session.setDictionary(name, bytes), classifier: session.classifierMode }),
  resetDictionary: () => (session.resetDictionary(), { segments: session.segments(), classifier: session.classifierMode }),
  loadHead: ({ bytes }) => (session.loadHead(bytes), { segments: session.segments(), classifier: session.classifierMode }),
  clearHead: () => (session.clearHead(), { segments: session.segments(), classifier: session.classifierMode }),
  headFile: () => session.headFile(),
  clearCache: () => session.clearCache(),
  planTable: ({ name, bytes, mediaNames }) => planTable(name, bytes, mediaNames),
  planTraining: ({ name, bytes, mediaNames }) => session.planTraining(name, bytes, mediaNames),
  trainTextsFile: ({ name, bytes }) => session.trainTextsFile(name, bytes, TRAINING_FOLDS, embedProgress),
  trainTranscripts: ({ examples, setAside }) => session.trainTranscripts(examples, setAside, TRAINING_FOLDS, embedProgress),
  answerTable: ({ name, bytes, reports }) => answerTable(name, bytes, reports),
  resultsTable: ({ reports }) => resultsTable(reports),
};

// The Rust decoders could not read the file: the browser's WebCodecs
// AudioDecoder fed by the Rust demuxer, else Web Audio's decodeAudioData
// (only on the main thread), then the same Rust mixdown and resampling.
async function classifyWithBrowserDecoder(name, bytes, rustError) {
  const started = performance.now();
  const hash = contentHash(bytes);
  let pcm = null;
  let why = '';
  try {
    pcm = await decodeWithWebCodecs(demux(name, bytes));
  } catch (e) {
    // The demuxer's own error repeats the decoder's; the browser's is news.
    if (!(e && e.code)) why = `; WebCodecs: ${(e && e.message) || e}`;
  }
  if (!pcm) {
    try {
      pcm = await decodeOnMainThread(bytes);
    } catch (e) {
      throw { code: rustError.code, message: `${rustError.message}${why}; Web Audio: ${(e && e.message) || 'cannot decode it'}` };
    }
  }
  const decodeMs = performance.now() - started;
  return session.classifyDecoded(name, hash, pcm.interleaved, pcm.channels, pcm.sampleRate, pcm.codec, decodeMs);
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
    post({ call, result });
  } catch (e) {
    // A trap (a Rust panic or running out of memory) leaves the module unusable:
    // the page restarts the worker.
    const fatal = e instanceof WebAssembly.RuntimeError || e instanceof RangeError;
    const error = e && e.code ? { code: e.code, message: e.message } : { code: fatal ? 'crashed' : 'internal', message: String((e && e.message) || e) };
    post({ call, error, fatal });
  }
};
