"""Reference for the Whisper model: faster-whisper (CTranslate2, float32) on
the same converted weights writes tests/fixtures/whisper_reference.json with

- the encoder's output for the first clip of the list at a spread of
  positions (its own log-mel front end as input), and
- the transcript of every clip, decoded with the product's settings
  (language ru, timestamps on, no conditioning on earlier text, no VAD):
  greedily (`clips`), with the default beam search of 5 and the
  temperature fallback (`beam_clips`), and greedily with words to expect
  given before each window (`prompt_clips`: faster-whisper's `hotwords`,
  the product's `--prompt`).

    .venv-bench/bin/python scripts/reference/whisper_reference.py \
        --model-dir models/.cache/whisper-base-ct2 --clips tests/data/asterisk/sample12.tsv

(bench/asr.sh makes .venv-bench; `creative-filter models fetch` the model folder.)
"""
import argparse
import json
import os

import numpy as np


# Words of the clips' domain (telephone menus), spelt with ё and in lower
# case: both show in what the model writes when it reads them.
PROMPT = "голосовая почта абонент нажмите решётку звёздочку пароль конференция"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--clips", required=True)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "../../tests/fixtures/whisper_reference.json"))
    a = ap.parse_args()

    import ctranslate2
    import faster_whisper
    from faster_whisper import WhisperModel
    from faster_whisper.audio import decode_audio

    model = WhisperModel(a.model_dir, device="cpu", compute_type="float32", cpu_threads=2)
    base = os.path.dirname(os.path.abspath(a.clips))
    rows = [l.rstrip("\n").split("\t")[0] for l in open(a.clips, encoding="utf-8") if l.strip()]

    def transcripts(**decoding):
        out = []
        for rel in rows:
            segments, _ = model.transcribe(
                os.path.join(base, rel), language="ru", condition_on_previous_text=False, vad_filter=False,
                without_timestamps=False, **decoding)
            out.append({"file": rel, "text": "".join(s.text for s in segments).strip()})
        return out

    clips = transcripts(beam_size=1, best_of=1, temperature=0.0)
    # faster-whisper's own defaults: beam 5, patience 1, best_of 5, temperatures 0 to 1 by 0.2.
    beam_clips = transcripts(beam_size=5, best_of=5, patience=1, temperature=[0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    prompt_clips = transcripts(beam_size=1, best_of=1, temperature=0.0, hotwords=PROMPT)

    # Encoder output of the first clip, one 30-s window as Whisper pads it.
    audio = decode_audio(os.path.join(base, rows[0]), sampling_rate=16000)
    fe = model.feature_extractor
    mel = fe(audio, padding=fe.n_samples)[:, : fe.nb_max_frames]
    feats = ctranslate2.StorageView.from_array(np.ascontiguousarray(mel[None].astype(np.float32)))
    states = np.array(model.model.encode(feats, to_cpu=True))[0]
    positions = list(range(0, states.shape[0], 100))
    out = {
        "made_by": f"faster-whisper {faster_whisper.__version__}, ctranslate2 {ctranslate2.__version__}, float32",
        "encoder": {
            "file": rows[0],
            "positions": positions,
            "states": [[round(float(v), 4) for v in states[p]] for p in positions],
        },
        "clips": clips,
        "beam_clips": beam_clips,
        "prompt": PROMPT,
        "prompt_clips": prompt_clips,
    }
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False)
    print(f"wrote {a.out}: {len(clips)} transcripts, encoder states at {len(positions)} positions")


if __name__ == "__main__":
    main()
