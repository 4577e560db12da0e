// The page's OCR client (www/js/ocr.js) under node --test, with a stand-in
// for the OCR worker: frames are read in order and their readings kept, a
// reading that overruns is stopped by terminating the worker (what was read
// before it is kept, the reading is said to be cut short, the next creative
// gets a new worker, given the engine's WebAssembly loaded once), and the
// engine named in cache keys is the one package.json pins.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

/** Answers `read` requests after `delays[n]` ms for the n-th one (undefined: never). */
class FakeOcrWorker {
  static all = [];
  static delays = [];
  static reads = 0;
  constructor(url, options) {
    this.url = String(url);
    this.options = options;
    this.terminated = false;
    FakeOcrWorker.all.push(this);
  }
  postMessage({ id, init, read }) {
    if (init) {
      this.engine = init.engine;
      return setTimeout(() => this.onmessage({ data: { id, result: { version: 'fake', files: init.files.length } } }), 0);
    }
    const delay = FakeOcrWorker.delays[FakeOcrWorker.reads];
    const n = FakeOcrWorker.reads++;
    if (delay === undefined) return;
    setTimeout(() => !this.terminated && this.onmessage({ data: { id, result: [`otsu ${n} ${read.image.length}`, `sauvola ${n}`] } }), delay);
  }
  terminate() {
    this.terminated = true;
  }
}
globalThis.Worker = FakeOcrWorker;
const { ScreenReader, ENGINE } = await import('../../www/js/ocr.js');

const settings = { thresholdings: ['0', '2'], reading_deadline_ms: 10, creative_budget_s: 8 };
const files = async () => [['rus.traineddata', new Uint8Array(3)], ['eng.traineddata', new Uint8Array(4)]];
// The engine's WebAssembly as the page would fetch it, counting the loads.
let engineLoads = 0;
const engine = async () => {
  engineLoads++;
  return new Uint8Array([0, 97, 115, 109]).buffer;
};
const image = (n) => new Uint8Array(n);

test('the engine named in cache keys is the build package.json pins', () => {
  const pinned = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).dependencies['tesseract.js-core'];
  assert.ok(ENGINE.startsWith(`tesseract.js-core ${pinned} `), `${ENGINE} vs ${pinned}`);
  const id = ScreenReader.id([{ file: 'rus.traineddata', sha256: 'ab'.repeat(32) }, { file: 'eng.traineddata', sha256: 'cd'.repeat(32) }]);
  assert.equal(id, `${ENGINE} rus.traineddata@${'ab'.repeat(8)} eng.traineddata@${'cd'.repeat(8)}`);
});

test('frames are read in order, two readings each, by one classic worker', async () => {
  FakeOcrWorker.all = [];
  FakeOcrWorker.reads = 0;
  FakeOcrWorker.delays = [1, 1, 1];
  const reader = new ScreenReader(files, settings, engine);
  const read = await reader.read([image(5), image(6), image(7)]);
  assert.equal(read.cutShort, false);
  assert.deepEqual(read.readings, ['otsu 0 5', 'sauvola 0', 'otsu 1 6', 'sauvola 1', 'otsu 2 7', 'sauvola 2']);
  assert.equal(FakeOcrWorker.all.length, 1);
  assert.equal(FakeOcrWorker.all[0].options, undefined, 'a classic worker: the engine is not a module');
});

test('a reading that overruns stops the worker; earlier frames are kept and the next creative gets a new worker', async () => {
  FakeOcrWorker.all = [];
  FakeOcrWorker.reads = 0;
  // Second frame never answers (a texture the engine cannot finish).
  FakeOcrWorker.delays = [1, undefined, 1, 1];
  const reader = new ScreenReader(files, settings, engine);
  const started = Date.now();
  const read = await reader.read([image(5), image(6), image(7)]);
  assert.ok(Date.now() - started < 2000, 'bounded by the slack over the deadline');
  assert.equal(read.cutShort, true);
  assert.deepEqual(read.readings, ['otsu 0 5', 'sauvola 0']);
  assert.ok(FakeOcrWorker.all[0].terminated, 'the stuck worker is terminated');
  engineLoads = 0;
  const next = await reader.read([image(9)]);
  assert.equal(FakeOcrWorker.all.length, 2, 'a new worker for the next creative');
  assert.equal(engineLoads, 0, 'the engine is not loaded again for it');
  assert.deepEqual(new Uint8Array(FakeOcrWorker.all[1].engine), new Uint8Array([0, 97, 115, 109]), 'it gets the engine loaded before');
  assert.equal(next.cutShort, false);
  assert.equal(next.readings.length, 2);
});

test('the creative budget stops starting new frames', async () => {
  FakeOcrWorker.all = [];
  FakeOcrWorker.reads = 0;
  FakeOcrWorker.delays = [30, 30, 30, 30];
  const reader = new ScreenReader(files, { ...settings, reading_deadline_ms: 1000, creative_budget_s: 0.04 }, engine);
  const read = await reader.read([image(1), image(2), image(3), image(4)]);
  const framesRead = read.readings.length / 2;
  assert.ok(framesRead >= 1 && framesRead < 4, `${framesRead} frames read`);
  assert.equal(read.cutShort, true, 'the frames left unread are said');
});
