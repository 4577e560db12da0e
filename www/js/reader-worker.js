// The batch's reader: reads the next creative, decodes its audio (the same
// Rust decoders as the model worker, in the portable module, which needs no
// models) and its video frames while the model worker is busy with the one
// before, so that one creative's decoding overlaps another's transcription.
// Started and fed by worker.js; answers plain data it can transfer.
import init, { contentHash, hasPanicked, readAudio, videoDecodePlan, yuvToRgb } from '../creative-filter.js';
import { errorOf } from './rpc.js';
import { readFrames } from './media.js';

const ready = init({ module_or_path: new URL('../creative-filter_bg.wasm', import.meta.url) });
// A trap leaves the module unusable: from then on every file is left for
// the model worker to read itself (where a trap restarts the worker).
let broken = false;

self.onmessage = async ({ data: { id, file, frames } }) => {
  // A picture may stand in for a missing one twice: each buffer once.
  const transfer = new Set();
  /** @type {any} */
  let read;
  try {
    if (broken) throw new Error('the reader stopped after a crash');
    await ready;
    const started = performance.now();
    const bytes = new Uint8Array(await file.arrayBuffer());
    const name = file.webkitRelativePath || file.name;
    read = { name, bytes, hash: contentHash(bytes), frames: frames ? await readFrames(bytes, frames, { videoDecodePlan, yuvToRgb }) : null };
    read.framesMs = performance.now() - started; // as the model worker times reading and frames
    try {
      const a = readAudio(name, bytes);
      read.audio = { samples: a.samples, sampleRate: a.sampleRate, codec: a.codec, truncated: a.truncated, incomplete: a.incomplete, decodeMs: a.decodeMs };
      a.free();
      transfer.add(read.audio.samples.buffer);
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError || e instanceof RangeError || hasPanicked()) {
        broken = true;
        throw e;
      }
      // The model worker takes it from here (the browser's decoders, or the failure).
      read.audioError = errorOf(e);
    }
    transfer.add(bytes.buffer);
    for (const p of (read.frames && read.frames.pictures) || []) transfer.add((p.rgb || p.rgba).buffer);
  } catch (e) {
    // A panic anywhere (the frames' reader too) leaves this module unusable.
    if (e instanceof WebAssembly.RuntimeError || e instanceof RangeError || hasPanicked()) broken = true;
    read = { failed: String((e && e.message) || e) };
  }
  try {
    self.postMessage({ id, read }, [...transfer]);
  } catch (e) {
    self.postMessage({ id, read: { failed: String((e && e.message) || e) } });
  }
};
