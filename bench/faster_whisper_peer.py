#!/usr/bin/env python3
"""Reference ASR run with faster-whisper (CTranslate2) on the same Whisper weights.

    faster_whisper_peer.py --model-dir DIR --clips TSV --out JSONL [--threads 2] [--beam-size 5]

DIR holds the CTranslate2 model (model.bin, config.json, tokenizer.json,
vocabulary.txt). TSV lines are "relative/path.wav<TAB>reference text"; paths
are relative to the TSV's directory. Settings match the product's decoder:
float32, language ru, no conditioning on previous text, no VAD, timestamps
on; --beam-size 5 (the default) is faster-whisper's own decoding (beam 5,
patience 1, best_of 5, temperature fallback 0 to 1 by 0.2), --beam-size 1
greedy (temperature 0, no fallback).

Output, one JSON object per line (UTF-8, no ASCII escaping):
    {"file": "<path as in TSV>", "text": "...", "seconds": <wall s>, "duration_s": <audio s>}
    ... one line per clip, in TSV order ...
    {"summary": true, "load_seconds": <model load s>, "peak_rss_mb": <MiB>}
"seconds" covers decoding the file, the mel front end and the whole
transcription (the segment generator is consumed inside the timing).
"""
import argparse
import json
import os
import resource
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model-dir", required=True, help="CTranslate2 Whisper model folder")
    p.add_argument("--clips", required=True, help="TSV: relative/path.wav<TAB>reference")
    p.add_argument("--out", required=True, help="JSONL output path")
    p.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    p.add_argument("--beam-size", type=int, default=5, help="5: beam search with fallback (default); 1: greedy")
    return p.parse_args()


def read_clips(tsv):
    base = os.path.dirname(os.path.abspath(tsv))
    clips = []
    with open(tsv, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            rel = line.split("\t", 1)[0]
            path = rel if os.path.isabs(rel) else os.path.join(base, rel)
            if not os.path.isfile(path):
                sys.exit(f"faster_whisper_peer: {tsv}:{n}: no such file: {path}")
            clips.append((rel, path))
    if not clips:
        sys.exit(f"faster_whisper_peer: no clips in {tsv}")
    return clips


def main():
    args = parse_args()
    # keep every library to the same thread budget as the model
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(args.threads))

    for name in ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt"):
        if not os.path.isfile(os.path.join(args.model_dir, name)):
            sys.exit(f"faster_whisper_peer: {args.model_dir} lacks {name}")
    clips = read_clips(args.clips)

    from faster_whisper import WhisperModel

    t0 = time.perf_counter()
    model = WhisperModel(args.model_dir, device="cpu", compute_type="float32",
                         cpu_threads=args.threads, num_workers=1)
    load_seconds = time.perf_counter() - t0

    if args.beam_size > 1:
        decoding = dict(beam_size=args.beam_size, best_of=5, patience=1,
                        temperature=[0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    else:
        decoding = dict(beam_size=1, best_of=1, temperature=0.0)

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    total_audio = total_wall = 0.0
    with open(tmp, "w", encoding="utf-8") as out:
        for i, (rel, path) in enumerate(clips, 1):
            t0 = time.perf_counter()
            segments, info = model.transcribe(
                path,
                language="ru",
                task="transcribe",
                **decoding,
                condition_on_previous_text=False,
                vad_filter=False,
                without_timestamps=False,
            )
            text = "".join(s.text for s in segments).strip()
            seconds = time.perf_counter() - t0
            total_audio += info.duration
            total_wall += seconds
            out.write(json.dumps({"file": rel, "text": text, "seconds": round(seconds, 4),
                                  "duration_s": round(info.duration, 4)}, ensure_ascii=False) + "\n")
            out.flush()
            print(f"[{i}/{len(clips)}] {rel} {info.duration:.2f}s audio, {seconds:.2f}s: {text}",
                  file=sys.stderr)
        peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
        out.write(json.dumps({"summary": True, "load_seconds": round(load_seconds, 4),
                              "peak_rss_mb": round(peak_rss_mb, 1)}) + "\n")
    os.replace(tmp, args.out)
    print(f"faster_whisper_peer: {len(clips)} clips, {total_audio:.1f} s audio in {total_wall:.1f} s "
          f"(RTF {total_wall / max(total_audio, 1e-9):.3f}), load {load_seconds:.2f} s, "
          f"peak RSS {peak_rss_mb:.0f} MiB -> {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
