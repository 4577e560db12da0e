#!/usr/bin/env python3
"""The peer for `creative-filter bench screen`: the tesseract command-line
tool on frames ffmpeg extracts, one a second at most 1280 px wide — every
sampled frame read, no change detection, no cleaning beyond dropping
repeated lines.

    bench/screen_peer.py SET_DIR MODELS_DIR > peer.jsonl

One JSON line per creative of SET_DIR/manifest.jsonl: {"file", "text",
"seconds"} (ffmpeg and tesseract wall time). The same traineddata
(MODELS_DIR), languages (rus+eng), page segmentation (sparse text) and one
OpenMP thread, as the product uses.
"""

import json
import os
import subprocess
import sys
import tempfile
import time


def main():
    set_dir, models = sys.argv[1], sys.argv[2]
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    with open(os.path.join(set_dir, "manifest.jsonl"), encoding="utf-8") as f:
        items = [json.loads(line) for line in f if line.strip()]
    for item in items:
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            subprocess.run(
                ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", os.path.join(set_dir, item["file"]),
                 "-vf", "fps=1,scale='min(1280,iw)':-2", os.path.join(tmp, "%03d.png")],
                check=True,
            )
            lines = []
            for frame in sorted(os.listdir(tmp)):
                out = subprocess.run(
                    ["tesseract", os.path.join(tmp, frame), "stdout", "--tessdata-dir", models,
                     "-l", "rus+eng", "--psm", "11", "--oem", "1"],
                    check=True, capture_output=True, text=True, env=env,
                ).stdout
                for line in out.splitlines():
                    line = line.strip()
                    if line and line not in lines:
                        lines.append(line)
            seconds = time.perf_counter() - t
        print(json.dumps({"file": item["file"], "text": "\n".join(lines), "seconds": seconds}, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
