// One creative's record as the core sends it (Rust: `pipeline::Report`), to
// the page's worker, its results table and exports, and the embedding API.
// `report::tests::the_page_declares_every_field_of_the_report` fails when a
// field is added or renamed there and not here. Optional fields are left out
// of the record when they do not apply.

export type Modality = 'speech' | 'no-speech' | 'vision' | 'screen' | 'fused';

export interface BranchTop {
  segment_id: number;
  segment_name: string;
  confidence: number;
}

// A word of the transcript and how much it pushed the answer's segment
// (a trained head's n-gram weights).
// Frames of the picture sampled, chosen (a held picture once) and read;
// cut_short: a time limit stopped the reading (a faster or quieter machine
// may read more).
export interface ScreenFramesRead {
  sampled: number;
  chosen: number;
  read: number;
  cut_short?: boolean;
}

// A row of a user's table that was not used (or used in part), and why;
// `file` names the label file it is in, where there are several.
export interface RowProblem {
  row: number;
  id?: string;
  reason: Message;
  file?: string;
}

export interface Evidence {
  word: string;
  weight: number;
}

export interface StageMs {
  decode: number;
  resample: number;
  mel: number;
  encoder: number;
  decoder: number;
  embed: number;
  screen: number;
}

export interface EncoderPartsMs {
  conv: number;
  matmul: number;
  attention: number;
  other: number;
  // The whole encoder on the GPU.
  gpu: number;
}

// What the tool says to its user, as a code the page words in its language
// (i18n.js `msg-<code>`, with `{param}`s), the English text, and its cause.
export interface Message {
  code: string;
  params?: Record<string, string>;
  text: string;
  cause?: Message;
  /** A failure the page reports itself (its `code` has a `code-…` wording). */
  page?: boolean;
}

// `error` and the notes as messages (`note`: the first, then its reasons).
export interface Said {
  error?: Message;
  note?: Message[];
  vision_note?: Message;
  screen_note?: Message;
}

export interface Report {
  file: string;
  id: string;
  // Why the creative could not be read; nothing else is then set.
  error?: string;
  modality?: Modality;
  // The transcript was speech and the creative was classified from it.
  speech?: boolean;
  transcript?: string;
  no_speech_prob?: number;
  duration_s?: number;
  cached?: boolean;
  timings_ms?: StageMs;
  encoder_parts_ms?: EncoderPartsMs;
  // Where Whisper's encoder ran: "gpu: <adapter>" or "cpu (<int8 kernels>)".
  device?: string;
  classifier?: string;
  segment_id?: number;
  segment_name?: string;
  // 0..1; the page shows it in per cent.
  confidence?: number;
  top?: BranchTop[];
  // Why no segment was decided.
  note?: string;
  speech_segment?: BranchTop;
  vision_segment?: BranchTop;
  vision_note?: string;
  // The text read from the picture (a line each), its own top segment, and
  // why it was not read when it was asked for.
  screen_text?: string;
  screen_segment?: BranchTop;
  screen_note?: string;
  screen_frames?: ScreenFramesRead;
  speech_weight?: number;
  // The words that weighed most for the segment, strongest first (trained heads).
  evidence?: Evidence[];
  incomplete?: boolean;
  content_hash?: string;
  said?: Said;
  // Added by the page's worker.
  frames_ms?: number;
  wall_ms?: number;
  wasm_memory_mb?: number;
}
