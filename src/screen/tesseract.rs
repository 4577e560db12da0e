//! Tesseract natively, through libtesseract's C API.
//!
//! The dozen functions used are declared here rather than through a binding
//! crate: those generate their bindings with bindgen at build time, which
//! needs libclang on every machine that builds the tool, for an API
//! (`tesseract/capi.h`) that has been stable since Tesseract 4. The LSTM
//! models are Debian's `tesseract-ocr-rus`/`-eng` traineddata, staged by
//! `models fetch` beside the other models and read from there (the page's
//! tesseract.js reads the same files).

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::path::Path;

use super::tsv::{parse_lines, Line};
use super::{FrameReading, TESSERACT};
use crate::error::{Error, Result};

#[repr(C)]
struct TessBaseApi {
    _private: [u8; 0],
}

#[repr(C)]
struct Monitor {
    _private: [u8; 0],
}


#[link(name = "tesseract")]
extern "C" {
    fn TessVersion() -> *const c_char;
    fn TessBaseAPICreate() -> *mut TessBaseApi;
    fn TessBaseAPIDelete(handle: *mut TessBaseApi);
    fn TessBaseAPIInit2(handle: *mut TessBaseApi, datapath: *const c_char, language: *const c_char, oem: c_int) -> c_int;
    fn TessBaseAPISetVariable(handle: *mut TessBaseApi, name: *const c_char, value: *const c_char) -> c_int;
    fn TessBaseAPISetPageSegMode(handle: *mut TessBaseApi, mode: c_int);
    fn TessBaseAPISetImage(handle: *mut TessBaseApi, data: *const u8, width: c_int, height: c_int, bytes_per_pixel: c_int, bytes_per_line: c_int);
    fn TessBaseAPISetSourceResolution(handle: *mut TessBaseApi, ppi: c_int);
    fn TessBaseAPIRecognize(handle: *mut TessBaseApi, monitor: *mut Monitor) -> c_int;
    fn TessMonitorCreate() -> *mut Monitor;
    fn TessMonitorDelete(monitor: *mut Monitor);
    fn TessMonitorSetDeadlineMSecs(monitor: *mut Monitor, deadline: c_int);
    fn TessBaseAPIGetTsvText(handle: *mut TessBaseApi, page: c_int) -> *mut c_char;
    fn TessBaseAPIClear(handle: *mut TessBaseApi);
    fn TessDeleteText(text: *const c_char);
}

extern "C" {
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
}

/// Makes OpenMP's parallel regions run on the calling thread, if the
/// library was built with OpenMP (Debian's is). Its threads spin while
/// waiting: on a frame of captions they make Tesseract about 3× slower in
/// wall time, and on a busy picture 6× (measured with `OMP_THREAD_LIMIT=1`,
/// which cannot be set from inside the process: libgomp reads it at load).
/// Looked up at run time, so a Tesseract without OpenMP needs nothing.
fn single_threaded_openmp() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: RTLD_DEFAULT (null on glibc) searches the loaded libraries;
        // the symbol, when present, has this C signature (OpenMP 3.0).
        unsafe {
            let f = dlsym(std::ptr::null_mut(), c"omp_set_max_active_levels".as_ptr());
            if !f.is_null() {
                let set: extern "C" fn(c_int) = std::mem::transmute(f);
                // No active level: every parallel region runs on one thread.
                set(0);
            }
        }
    });
}

/// One Tesseract instance. Not shared between threads (Tesseract's API
/// object is not thread-safe); each thread that reads makes its own.
pub struct Tesseract {
    handle: *mut TessBaseApi,
}

// The handle is used by one thread at a time (`&mut self`); Tesseract only
// forbids concurrent use of one instance.
unsafe impl Send for Tesseract {}

impl Tesseract {
    /// Loads `languages`' traineddata from `tessdata` (a folder holding
    /// `rus.traineddata`, `eng.traineddata`).
    pub fn new(tessdata: &Path, languages: &str) -> Result<Tesseract> {
        for lang in languages.split('+') {
            let file = tessdata.join(format!("{lang}.traineddata"));
            if !file.is_file() {
                return Err(Error::ModelMissing { name: format!("{lang}.traineddata"), dir: tessdata.to_path_buf() });
            }
        }
        let path = CString::new(tessdata.to_string_lossy().as_bytes()).map_err(|_| Error::Ocr("the model folder's path has a NUL byte".into()))?;
        let langs = CString::new(languages).map_err(|_| Error::Ocr("bad language list".into()))?;
        single_threaded_openmp();
        // SAFETY: the handle is checked before use and freed in Drop; the
        // strings outlive the calls.
        unsafe {
            let handle = TessBaseAPICreate();
            if handle.is_null() {
                return Err(Error::Ocr("Tesseract could not start".into()));
            }
            let engine = Tesseract { handle };
            if TessBaseAPIInit2(handle, path.as_ptr(), langs.as_ptr(), TESSERACT.engine_mode) != 0 {
                return Err(Error::ModelCorrupt {
                    name: format!("{languages} traineddata"),
                    reason: format!("Tesseract {} could not load it from {}", version(), tessdata.display()),
                });
            }
            // Its diagnostics (e.g. "Empty page!!") are not the user's business.
            let (name, value) = (c"debug_file", c"/dev/null");
            TessBaseAPISetVariable(handle, name.as_ptr(), value.as_ptr());
            TessBaseAPISetPageSegMode(handle, TESSERACT.page_segmentation);

            Ok(engine)
        }
    }

    /// The text lines of one `width`×`height` RGB frame (rows of RGB
    /// bytes), read once per thresholding of [`TESSERACT`].
    pub fn read(&mut self, rgb: &[u8], width: usize, height: usize) -> Result<FrameReading> {
        if width == 0 || height == 0 || rgb.len() != width * height * 3 || width > i32::MAX as usize / 3 || height > i32::MAX as usize {
            return Err(Error::Ocr(format!("a frame of {width}×{height} RGB pixels cannot have {} bytes", rgb.len())));
        }
        let mut frame = FrameReading::default();
        for thresholding in TESSERACT.thresholdings {
            let thresholding = CString::new(thresholding).map_err(|_| Error::Ocr("bad thresholding setting".into()))?;
            let (lines, finished) = self.recognize(rgb, width, height, &thresholding)?;
            frame.lines.extend(lines);
            frame.cut_short |= !finished;
        }
        Ok(frame)
    }

    /// One reading with Tesseract's `thresholding_method`: its lines, and
    /// whether it finished before its deadline.
    fn recognize(&mut self, rgb: &[u8], width: usize, height: usize, thresholding: &CStr) -> Result<(Vec<Line>, bool)> {
        // SAFETY: the image buffer is valid for the call (Tesseract copies it
        // in SetImage); the monitor outlives Recognize; the TSV is freed
        // with TessDeleteText.
        unsafe {
            TessBaseAPISetVariable(self.handle, c"thresholding_method".as_ptr(), thresholding.as_ptr());
            TessBaseAPISetImage(self.handle, rgb.as_ptr(), width as c_int, height as c_int, 3, (width * 3) as c_int);
            TessBaseAPISetSourceResolution(self.handle, TESSERACT.source_ppi);
            let monitor = TessMonitorCreate();
            if !monitor.is_null() {
                TessMonitorSetDeadlineMSecs(monitor, TESSERACT.reading_deadline_ms);
            }
            // Past the deadline Recognize fails, but the words read until
            // then stay in its results (the rest are left empty): keep them.
            let finished = TessBaseAPIRecognize(self.handle, monitor) == 0;
            if !monitor.is_null() {
                TessMonitorDelete(monitor);
            }
            let tsv = TessBaseAPIGetTsvText(self.handle, 0);
            let lines = if tsv.is_null() { vec![] } else { parse_lines(&CStr::from_ptr(tsv).to_string_lossy()) };
            if !tsv.is_null() {
                TessDeleteText(tsv);
            }
            TessBaseAPIClear(self.handle);
            Ok((lines, finished))
        }
    }
}

impl Drop for Tesseract {
    fn drop(&mut self) {
        // SAFETY: created by TessBaseAPICreate, freed once.
        unsafe { TessBaseAPIDelete(self.handle) }
    }
}

/// libtesseract's version, as it reports it.
pub fn version() -> String {
    // SAFETY: a static string owned by the library.
    unsafe {
        let v = TessVersion();
        if v.is_null() {
            return "unknown".into();
        }
        CStr::from_ptr(v).to_string_lossy().into_owned()
    }
}
