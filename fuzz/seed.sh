#!/usr/bin/env bash
# Writes the seed corpus of each fuzz target (fuzz/corpus/<target>/seed-*):
# tiny files of each container made with ffmpeg, less the magic that the
# target puts in front itself. Kept in the repository (a few KB each), so
# this only needs re-running when the seeds should change.
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
ff() { ffmpeg -nostdin -v error -y "$@"; }
v=(-f lavfi -i "testsrc2=size=32x24:rate=10:duration=0.4")
a=(-f lavfi -i "sine=frequency=440:sample_rate=8000:duration=0.4")
h264=(-c:v libx264 -preset ultrafast -g 2 -pix_fmt yuv420p)
ff "${v[@]}" "${a[@]}" "${h264[@]}" -bf 0 -c:a libmp3lame -ar 8000 "$tmp/h264-mp3.avi"
ff "${v[@]}" "${a[@]}" -c:v mpeg4 -c:a pcm_s16le "$tmp/mpeg4-pcm.avi"
ff "${v[@]}" "${a[@]}" "${h264[@]}" -c:a aac -b:a 16k "$tmp/h264-aac.flv"
ff "${v[@]}" "${a[@]}" -c:v flv -c:a libmp3lame -ar 11025 "$tmp/flv1-mp3.flv"
ff "${v[@]}" "${a[@]}" "${h264[@]}" -c:a aac -b:a 16k "$tmp/h264-aac.mp4"
ff "${v[@]}" "${a[@]}" "${h264[@]}" -c:a aac -b:a 16k "$tmp/h264-aac.mkv"
ff "${v[@]}" "${a[@]}" -c:v libvpx-vp9 -deadline realtime -c:a libopus "$tmp/vp9-opus.webm"
ff "${a[@]}" -c:a pcm_s16le "$tmp/pcm.wav"
ff "${a[@]}" -c:a libvorbis "$tmp/vorbis.ogg"
mkdir -p corpus/{avi,flv,mp4,matroska,probe,audio_front_end}
python3 - "$tmp" <<'PY'
import hashlib, os, struct, sys
tmp = sys.argv[1]
def put(target, name, data):
    with open(os.path.join("corpus", target, "seed-" + name), "wb") as f:
        f.write(data)
for name in ("h264-mp3.avi", "mpeg4-pcm.avi"):
    put("avi", name, open(os.path.join(tmp, name), "rb").read()[12:])
for name in ("h264-aac.flv", "flv1-mp3.flv"):
    put("flv", name, open(os.path.join(tmp, name), "rb").read()[9:])
mp4 = open(os.path.join(tmp, "h264-aac.mp4"), "rb").read()
put("mp4", "h264-aac.mp4", mp4[struct.unpack(">I", mp4[:4])[0]:])
for name in ("h264-aac.mkv", "vp9-opus.webm"):
    put("matroska", name, open(os.path.join(tmp, name), "rb").read()[4:])
for name in ("pcm.wav", "vorbis.ogg"):
    put("probe", name, open(os.path.join(tmp, name), "rb").read())
# channels, 24-bit rate, then 16-bit samples: a short tone and noise.
tone = b"".join(struct.pack("<h", int(8000 * ((i * 37) % 200 - 100) / 100)) for i in range(4000))
put("audio_front_end", "stereo-44k", bytes([1]) + (44100).to_bytes(3, "little") + tone)
put("audio_front_end", "mono-8k", bytes([0]) + (8000 - 1000).to_bytes(3, "little") + hashlib.sha256(b"seed").digest() * 64)
PY
du -sh corpus/*
