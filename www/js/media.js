// Audio and video through the browser's WebCodecs, for what the Rust
// decoders cannot read: shared by the model worker (worker.js) and the
// batch's reader worker (reader-worker.js). The Rust demuxer supplies the
// encoded packets and pictures; Rust mixes, resamples and converts after.

// The pictures `plan` (the Rust demuxer's videoDecodePlan) asks for.
export async function decodePictures(plan) {
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

// A creative's frames for the vision branch as plain data: the Rust demuxer
// says which encoded pictures to decode (`videoDecodePlan`), the browser's
// VideoDecoder decodes them, Rust converts YUV (`yuvToRgb`) as natively.
// `{still: true}` for a still image (Rust reads it from the bytes); any
// failure becomes `{fail}`, the report's vision note.
export async function readFrames(bytes, count, { videoDecodePlan, yuvToRgb }) {
  let plan;
  try {
    plan = videoDecodePlan(bytes, count);
  } catch (e) {
    return { fail: (e && e.message) || String(e) };
  }
  if (!plan) return { still: true };
  const pictures = [];
  try {
    for (const p of await decodePictures(plan)) {
      const y = p.yuv;
      if (y) pictures.push({ rgb: yuvToRgb(y.format, y.data, y.offsets, y.strides, y.width, y.height, y.matrix, y.fullRange), width: y.width, height: y.height });
      else pictures.push({ rgba: p.rgba, width: p.width, height: p.height });
    }
  } catch (e) {
    return { pictures, fail: `${plan.codec_name}: ${(e && e.message) || e}` };
  }
  return { pictures };
}

// A demuxed audio track (the Rust demuxer's `demux`) decoded by the
// browser's AudioDecoder: interleaved f32 samples, as Rust's mixdown takes them.
export async function decodeAudioTrack(track) {
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
