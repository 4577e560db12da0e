// On-screen text in the page (the model worker's side): the OCR worker
// that reads frames (ocr-worker.js), started when a creative's speech first
// leaves its picture to be read, so that a visit that never needs it never
// downloads the engine (2.9 MB) or its traineddata (8 MB). Which frames are
// read, the cleaning of what was read and the decision are the core's, as
// in the CLI (worker.js `readScreen`).

// The engine's build, part of the cache keys of its readings; package.json
// pins the same version (tests/js check the two agree).
export const ENGINE = 'tesseract.js-core 7.0.0 simd-lstm';
// Its WebAssembly, in the site's ocr/ folder beside the script ocr-worker.js loads.
const ENGINE_WASM = 'tesseract-core-simd-lstm.wasm';

// tesseract.js cannot cut a reading short as libtesseract's deadline does
// natively, so a frame whose readings take longer than this many times
// their deadlines is abandoned by terminating the worker; the frames read
// before it are kept, and the next creative starts a new worker.
const DEADLINE_SLACK = 1.5;
// Starting the engine: loading 8 MB of traineddata into it.
const START_TIMEOUT_MS = 60_000;

/** The engine's WebAssembly, from the site's ocr/ folder. */
async function fetchEngine() {
  const response = await fetch(new URL(`../ocr/${ENGINE_WASM}`, import.meta.url));
  if (!response.ok) throw new Error(`${ENGINE_WASM}: HTTP ${response.status}`);
  return response.arrayBuffer();
}

/** A creative's picture read by Tesseract in its own worker: one TSV per reading. */
export class ScreenReader {
  /**
   * @param {() => Promise<Array<[string, Uint8Array]>>} loadFiles the traineddata, by file name
   * @param {any} settings the core's `ocrSettings()`
   * @param {() => Promise<ArrayBuffer>} loadEngine the engine's WebAssembly
   */
  constructor(loadFiles, settings, loadEngine = fetchEngine) {
    this.loadFiles = loadFiles;
    this.settings = settings;
    this.loadEngine = loadEngine;
    this.worker = null;
    this.started = null;
    /** @type {Promise<ArrayBuffer> | null} */
    this.engine = null;
    this.pending = new Map();
    this.next = 1;
  }

  /** The engine and its traineddata as named in cache keys (`entries`: their manifest entries). */
  static id(entries) {
    return `${ENGINE} ${entries.map((e) => `${e.file}@${e.sha256.slice(0, 16)}`).join(' ')}`;
  }

  /**
   * Reads `images` (PPM files) in order, within the creative's time budget:
   * the readings (one TSV per thresholding of each frame read) and whether
   * a time limit stopped the reading.
   */
  async read(images) {
    const started = performance.now();
    const limitMs = DEADLINE_SLACK * this.settings.reading_deadline_ms * this.settings.thresholdings.length;
    const readings = [];
    for (const image of images) {
      if (performance.now() - started > this.settings.creative_budget_s * 1000) return { readings, cutShort: true };
      await this.start();
      try {
        readings.push(...(await this.ask({ read: { image } }, limitMs, [image.buffer])));
      } catch (e) {
        if (e && e.timedOut) return { readings, cutShort: true }; // as natively: what was read by then is kept
        throw e;
      }
    }
    return { readings, cutShort: false };
  }

  start() {
    this.started ??= (async () => {
      const worker = new Worker(new URL('./ocr-worker.js', import.meta.url));
      this.worker = worker;
      worker.onmessage = ({ data }) => {
        const waiting = this.pending.get(data.id);
        this.pending.delete(data.id);
        if (waiting) data.error ? waiting.reject(data.error) : waiting.resolve(data.result);
      };
      // The engine's script or module could not load (a site without ocr/).
      worker.onerror = (e) => this.stop({ code: 'ocr', message: `the OCR engine could not start: ${e.message || 'its files are missing'}` });
      const [files, engine] = await Promise.all([this.loadFiles(), this.engineBinary()]);
      // The engine's bytes are copied, not transferred: the next worker gets them too.
      return this.ask({ init: { files, engine, settings: this.settings } }, START_TIMEOUT_MS, files.map(([, bytes]) => bytes.buffer));
    })().catch((e) => {
      this.stop(e);
      throw e;
    });
    return this.started;
  }

  // The engine's WebAssembly, fetched once a visit: a worker started after
  // one was terminated gets the same bytes rather than fetching them again.
  engineBinary() {
    this.engine ??= this.loadEngine().catch((e) => {
      this.engine = null;
      throw { code: 'ocr', message: `the OCR engine could not start: ${(e && e.message) || e}` };
    });
    return this.engine;
  }

  // One request to the worker; past `timeoutMs` the worker is terminated.
  ask(message, timeoutMs, transfer = []) {
    const id = this.next++;
    const worker = this.worker;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.worker === worker) this.stop({ code: 'ocr', message: `reading took more than ${timeoutMs / 1000} s`, timedOut: true });
      }, timeoutMs);
      const settle = (f) => (value) => {
        clearTimeout(timer);
        f(value);
      };
      this.pending.set(id, { resolve: settle(resolve), reject: settle(reject) });
      worker.postMessage({ id, ...message }, transfer);
    });
  }

  // Ends the worker; whatever waits on it fails with `error`.
  stop(error) {
    if (this.worker) this.worker.terminate();
    this.worker = null;
    this.started = null;
    for (const waiting of this.pending.values()) waiting.reject(error);
    this.pending.clear();
  }
}
