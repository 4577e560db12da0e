// The classifier as a JavaScript API, for this page and for other sites:
//
//   import { classify } from './js/api.js';
//   const r = await classify(file);  // {segment_id, segment_name, confidence, top, transcript, modality, …}
//
// Everything runs in a worker on this machine; nothing is uploaded.

import { WorkerRpc } from './rpc.js';

const FILE_TIMEOUT_MS = 10 * 60_000;

// The worker calls that set or clear one of the user's settings.
const SETTINGS = { loadHead: 'head', clearHead: 'head', setDictionary: 'dictionary', resetDictionary: 'dictionary' };
const CLEARING = new Set(['clearHead', 'resetDictionary']);

/** A worker holding the models; restarted if a file crashes it. */
export class CreativeFilter extends EventTarget {
  /**
   * @param {{device?: 'auto' | 'cpu' | 'gpu'}} [options] where Whisper's
   *   encoder runs: `auto` (default) a real GPU through WebGPU when its
   *   self-test passes, else the CPU; `gpu` any WebGPU adapter; `cpu` never the GPU.
   */
  constructor({ device = 'auto' } = {}) {
    super();
    this.device = device;
    this.start();
  }

  start() {
    this.worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    this.rpc = new WorkerRpc(this.worker, {
      onEvent: (msg) => this.receive(msg),
      onAnswer: (msg) => msg.fatal && this.restart(),
    });
    this.worker.onerror = (e) => this.dispatchEvent(new CustomEvent('failure', { detail: { code: 'worker', message: e.message || 'the worker failed to start' } }));
    // Settings that must survive a restart are replayed on the new worker
    // once its models are loaded (it refuses calls before), in the order
    // they were made; the page is told the state they leave.
    const replay = this.replay || [];
    this.ready = this.call('init', { device: this.device }).then(async (info) => {
      let state = info;
      for (const [method, args] of replay) {
        try {
          const result = await this.call(method, args);
          if (result && typeof result === 'object' && !ArrayBuffer.isView(result)) state = { ...state, ...result };
        } catch (e) {
          this.dispatchEvent(new CustomEvent('failure', { detail: e }));
        }
      }
      return state;
    });
    this.ready.then((info) => this.dispatchEvent(new CustomEvent('ready', { detail: info })), () => {});
  }

  receive(msg) {
    if (msg.event === 'progress') this.dispatchEvent(new CustomEvent('progress', { detail: msg }));
    if (msg.event === 'decode-audio') this.decodeForWorker(msg);
  }

  restart() {
    this.worker.terminate();
    this.rpc.failAll({ code: 'crashed', message: 'the worker was restarted' });
    this.dispatchEvent(new CustomEvent('restart'));
    this.start();
  }

  /**
   * Moves Whisper's encoder to `device` (kept for restarts); resolves with
   * `{choice, device, problem}`: the device that runs and, if it is not the
   * GPU asked for, why.
   * @param {'auto' | 'cpu' | 'gpu'} device
   */
  async setDevice(device) {
    this.device = device;
    await this.ready;
    return (await this.call('setDevice', { device })).device;
  }

  /** Calls a worker method; resolves with its result or rejects with {code, message}. */
  call(method, args = {}, transfer = []) {
    return this.rpc.call(method, args, transfer);
  }

  /**
   * Remembers a setting (dictionary, head) to re-apply after a restart: a
   * call replaces the earlier one of its setting, and clearing a setting
   * forgets it (a new worker starts without it).
   */
  remember(method, args) {
    const setting = (m) => SETTINGS[m] ?? m;
    this.replay = (this.replay || []).filter(([m]) => setting(m) !== setting(method));
    if (!CLEARING.has(method)) this.replay.push([method, args]);
  }

  /**
   * Classifies `file`; `next`, the file that will be asked for next (a
   * batch's), is read and decoded meanwhile, while the models work on this.
   * @param {File} file
   * @param {File} [next]
   * @returns {Promise<import('./report').Report>}
   */
  async classify(file, next = undefined) {
    await this.ready;
    // Audio is capped, so a file takes bounded time; one that does not
    // finish is stopped by restarting the worker, and the batch goes on.
    let timer;
    const watchdog = new Promise((_, reject) => {
      timer = setTimeout(() => {
        reject({ code: 'timeout', message: `no result after ${FILE_TIMEOUT_MS / 60000} minutes; the file was skipped` });
        this.restart();
      }, FILE_TIMEOUT_MS);
    });
    try {
      const args = { file, id: fileId(file), ...(next ? { next, nextId: fileId(next) } : {}) };
      return await Promise.race([this.call('classify', args), watchdog]);
    } finally {
      clearTimeout(timer);
    }
  }

  // Web Audio's decoder lives only on the main thread; the worker asks for
  // it when neither the Rust decoders nor WebCodecs can read a file.
  async decodeForWorker({ id, bytes }) {
    try {
      const context = new OfflineAudioContext(1, 1, 48000);
      const audio = await context.decodeAudioData(bytes);
      const channels = audio.numberOfChannels;
      const interleaved = new Float32Array(audio.length * channels);
      for (let c = 0; c < channels; c++) {
        const data = audio.getChannelData(c);
        for (let i = 0; i < audio.length; i++) interleaved[i * channels + c] = data[i];
      }
      const pcm = { interleaved, channels, sampleRate: audio.sampleRate, codec: 'web-audio' };
      this.worker.postMessage({ decoded: id, pcm }, [interleaved.buffer]);
    } catch (e) {
      this.worker.postMessage({ decoded: id, error: { code: 'decode', message: String((e && e.message) || e) } });
    }
  }
}

// Files are cloned on their way to the worker: a number names each one, so
// that the worker finds the read-ahead it made of it.
const fileIds = new WeakMap();
let nextFileId = 1;
function fileId(file) {
  if (!fileIds.has(file)) fileIds.set(file, nextFileId++);
  return fileIds.get(file);
}

let shared = null;

/**
 * Classifies one File or Blob (with a name) with a shared worker.
 * @param {File} file
 * @returns {Promise<import('./report').Report>}
 */
export async function classify(file) {
  shared ??= new CreativeFilter();
  return shared.classify(file);
}

/** What this browser lacks, as message keys (see i18n.js); empty when all is there. */
export function missingFeatures() {
  const missing = [];
  if (typeof Worker === 'undefined') missing.push('errNoWorker');
  // A tiny module using a v128 instruction validates only with SIMD support.
  const simd = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);
  if (typeof WebAssembly === 'undefined' || !WebAssembly.validate(simd)) missing.push('errNoSimd');
  if (typeof AudioDecoder === 'undefined') missing.push('errNoWebCodecs');
  return missing;
}
