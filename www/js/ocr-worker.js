// The page's OCR engine: Tesseract compiled to WebAssembly (npm
// tesseract.js-core, its SIMD LSTM-only build, served from this site's
// ocr/ folder), reading frames as libtesseract does natively, with the
// settings the core gives (`ocrSettings`). It runs in a worker of its own,
// started by ocr.js, so that a reading that takes too long is stopped by
// terminating the worker. A classic worker: the engine is an Emscripten
// script, not a module.
//
//   {id, init: {files: [[name, bytes]], engine, settings}}  → {id, result: {version}}
//     (engine: the engine's WebAssembly bytes, which the page fetched once)
//   {id, read: {image}}   (a PPM file)               → {id, result: [tsv, …]}, one TSV per thresholding
//   any failure                                      → {id, error: {code: 'ocr', message}}

importScripts('../ocr/tesseract-core-simd-lstm.js');

/** @type {any} */
let core = null;
/** @type {any} */
let api = null;
/** @type {any} */
let settings = null;

async function init({ files, engine, settings: given }) {
  settings = given;
  const TesseractCore = /** @type {any} */ (self).TesseractCore;
  core = await TesseractCore({ wasmBinary: engine, locateFile: (path) => new URL(`../ocr/${path}`, self.location.href).href });
  core.FS.mkdir('/tessdata');
  for (const [name, bytes] of files) core.FS.writeFile(`/tessdata/${name}`, bytes);
  api = new core.TessBaseAPI();
  if (api.Init('/tessdata', settings.languages, settings.engine_mode) !== 0) {
    throw new Error(`Tesseract could not load the ${settings.languages} traineddata`);
  }
  // Its diagnostics ("Empty page!!") are not the user's business.
  api.SetVariable('debug_file', '/dev/null');
  api.SetPageSegMode(settings.page_segmentation);
  return { version: api.Version() };
}

// One frame, read once per thresholding method (see the core's
// `TesseractSettings`): the TSV of each reading.
function read({ image }) {
  // The engine's file reader takes its image from /input.
  core.FS.writeFile('/input', image);
  const readings = [];
  for (const thresholding of settings.thresholdings) {
    api.SetVariable('thresholding_method', thresholding);
    if (api.SetImageFile(1, 0) === 1) throw new Error('the frame could not be handed to Tesseract');
    api.SetSourceResolution(settings.source_ppi);
    api.Recognize(null);
    readings.push(api.GetTSVText(0));
    api.Clear();
  }
  return readings;
}

self.onmessage = async ({ data }) => {
  try {
    const result = data.init ? await init(data.init) : read(data.read);
    self.postMessage({ id: data.id, result });
  } catch (e) {
    self.postMessage({ id: data.id, error: { code: 'ocr', message: String((e && e.message) || e) } });
  }
};
