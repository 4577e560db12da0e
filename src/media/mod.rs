//! Media: from a creative's bytes to 16 kHz mono samples, and to sampled
//! video frames for the vision branch.

mod avi;
mod budget;
mod decode;
mod demux;
mod flv;
mod frames;
#[doc(hidden)]
pub mod fuzzing;
mod h264;
mod indexed;
pub mod limits;
mod repair;
mod resample;
mod video_demux;
mod video_plan;

pub use decode::{decode_audio, DecodedAudio};
pub use demux::{demux_audio, EncodedPacket, EncodedTrack};
/// Byte fields serialized as bytes (a `Uint8Array` in the browser).
#[cfg(target_arch = "wasm32")]
pub(crate) use demux::as_bytes;
pub use frames::{frame_from_rgba, resize_rgb, rgb_from_yuv, sample_frames, sample_frames_as, FrameCount, FrameSize, Frames, MAX_SIDE as MAX_FRAME_SIDE};
pub use video_plan::{video_decode_plan, video_decode_plan_as, DecodeRun, VideoDecodePlan};
pub use resample::{mix_to_mono, resample, to_whisper_input};

/// Runs a reader of damaged, hostile input: the demuxer and decoder crates
/// index by header fields, and a file that trips one of their internal
/// assertions becomes an error naming `what`, not a crash. (In the browser a
/// panic cannot be caught: there the worker restarts and the file fails alone.)
pub(crate) fn guarded<T>(what: &str, read: impl FnOnce() -> crate::Result<T>) -> crate::Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(read))
        .unwrap_or_else(|_| Err(crate::Error::NotMedia(format!("the file's {what} is damaged"))))
}

/// A creative's bytes and their SHA-256, the key its transcript and
/// embedding are cached under.
#[derive(Debug, Clone)]
pub struct MediaBytes {
    pub bytes: bytes::Bytes,
    pub sha256: String,
}

impl From<Vec<u8>> for MediaBytes {
    fn from(bytes: Vec<u8>) -> Self {
        let sha256 = crate::models::manifest::sha256_hex(&bytes);
        MediaBytes { bytes: bytes.into(), sha256 }
    }
}

/// A creative's bytes from disk. Files of 16 MiB and more are memory-mapped:
/// only the parts the readers touch (headers, the first minutes of audio,
/// the sampled frames) are read, and the pages that hashing the whole file
/// touched are handed back as it goes, so a 2 GB file costs no 2 GB of
/// memory. A file truncated by another program while it is mapped is a
/// crash (SIGBUS) the tool cannot catch.
#[cfg(not(target_arch = "wasm32"))]
pub fn read_file(path: &std::path::Path) -> crate::Result<MediaBytes> {
    use sha2::{Digest, Sha256};
    let read_error = |source| crate::Error::Read { path: path.to_path_buf(), source };
    // A FIFO, a device or a socket would block or never end (/dev/zero):
    // only regular files are creatives. Checked before opening, since
    // opening a FIFO for reading waits for a writer.
    let meta = std::fs::metadata(path).map_err(read_error)?;
    if !meta.is_file() {
        return Err(crate::Error::NotRegularFile { path: path.to_path_buf() });
    }
    if meta.len() > limits::MAX_FILE_BYTES {
        return Err(crate::Error::FileTooLarge { path: path.to_path_buf(), bytes: meta.len(), limit: limits::MAX_FILE_BYTES });
    }
    let file = std::fs::File::open(path).map_err(read_error)?;
    let len = meta.len();
    if len < 16 << 20 {
        return std::fs::read(path).map(MediaBytes::from).map_err(read_error);
    }
    // SAFETY: the map is read-only and private; the only hazard is the file
    // shrinking underneath it, stated above.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(read_error)?;
    let mut hasher = Sha256::new();
    const CHUNK: usize = 64 << 20;
    for start in (0..map.len()).step_by(CHUNK) {
        let end = (start + CHUNK).min(map.len());
        hasher.update(&map[start..end]);
        // SAFETY: dropping the pages of a read-only file mapping only means
        // they are read from the file again when next touched.
        let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start) };
    }
    Ok(MediaBytes { sha256: hex::encode(hasher.finalize()), bytes: bytes::Bytes::from_owner(map) })
}

/// How much of a creative is analysed, audio and video alike: an
/// advertisement says what it sells long before, and the cap bounds time
/// and memory on hour-long files.
pub const MAX_ANALYSED_SECONDS: f64 = 600.0;

/// Sample rate Whisper's front end expects.
pub const TARGET_SAMPLE_RATE: u32 = 16_000;

/// Mono audio at a known sample rate.
#[derive(Debug, Clone)]
pub struct Audio {
    pub samples: Vec<f32>,
    pub sample_rate: u32,
}

impl Audio {
    pub fn duration_s(&self) -> f64 {
        self.samples.len() as f64 / self.sample_rate as f64
    }
}
