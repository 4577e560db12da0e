//! Media: from a creative's bytes to 16 kHz mono samples, and to sampled
//! video frames for the vision branch.

mod decode;
mod demux;
mod frames;
mod h264;
mod resample;
mod video_demux;
mod video_plan;

pub use decode::{decode_audio, DecodedAudio};
pub use demux::{demux_audio, EncodedPacket, EncodedTrack};
/// Byte fields serialized as bytes (a `Uint8Array` in the browser).
#[cfg(target_arch = "wasm32")]
pub(crate) use demux::as_bytes;
pub use frames::{frame_from_rgba, resize_rgb, rgb_from_yuv, sample_frames, Frames};
pub use video_plan::{video_decode_plan, DecodeRun, VideoDecodePlan};
pub use resample::{mix_to_mono, resample, to_whisper_input};

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
