#!/usr/bin/env bash
# Large creatives: 2-hour files of about 2 GB (WAV, MP4 with its index at
# the end, AVI), transcribed by the CLI, which analyses the first 10 minutes
# and says so ("truncated": true). Prints, per file, its size, the wall time,
# the CLI's peak resident memory and the part of it that is the file's own
# mapped pages, side by side with ffmpeg decoding the same 10 minutes.
#
#   bench/large.sh            (files are made once in bench/out/large, ~6 GB)
set -euo pipefail
trap 'rc=$?; echo "bench/large: failed (exit $rc) at line $LINENO: $BASH_COMMAND" >&2; exit $rc' ERR

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="$ROOT/bench/out/large"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/creative-filter"
mkdir -p "$OUT"
cargo build --release --quiet
ff() { ffmpeg -nostdin -v error -y "$@"; }
VOICE="$ROOT/tests/data/media/voice.wav"
[[ -f "$VOICE" ]] || scripts/fetch-test-data.sh >/dev/null

# One minute of 720p pictures over the voice-over and a tone, looped to two hours without re-encoding.
if [[ ! -f "$OUT/two-hours.mp4" ]]; then
    ff -f lavfi -i "testsrc2=size=1280x720:rate=25:duration=60" -i "$VOICE" -f lavfi -i "sine=f=300:r=44100:d=60" \
       -filter_complex "[1][2]amix=inputs=2:duration=longest[a]" -map 0:v -map "[a]" \
       -c:v libx264 -preset veryfast -b:v 2200k -pix_fmt yuv420p -c:a aac -b:a 96k "$OUT/minute.mp4"
    ff -stream_loop 119 -i "$OUT/minute.mp4" -c copy "$OUT/two-hours.mp4"
fi
if [[ ! -f "$OUT/two-hours.avi" ]]; then
    ff -i "$OUT/minute.mp4" -c:v copy -bsf:v h264_mp4toannexb -c:a libmp3lame -b:a 96k "$OUT/minute.avi"
    ff -stream_loop 119 -i "$OUT/minute.avi" -c copy "$OUT/two-hours.avi"
fi
if [[ ! -f "$OUT/two-hours.wav" ]]; then
    ff -i "$VOICE" -f lavfi -i "sine=f=300:r=48000:d=7200" -filter_complex "[0]aresample=48000[v];[v][1]amix=inputs=2:duration=longest,aformat=channel_layouts=stereo[a]" \
       -map "[a]" -c:a pcm_s24le "$OUT/two-hours.wav"
fi

MODELS="$OUT/models"
rm -rf "$MODELS"; mkdir -p "$MODELS"
for f in "$ROOT"/models/*; do ln -s "$f" "$MODELS/"; done
rm "$MODELS/manifest.json"; cp "$ROOT/models/manifest.json" "$MODELS/"
"$BIN" --models "$MODELS" models import xclip "$ROOT/tests/fixtures/tiny-xclip" >/dev/null
cp "$ROOT/tests/data/media/voice.mp4" "$OUT/seven-seconds.mp4"

python3 - "$BIN" "$OUT" "$MODELS" <<'PY'
import json, os, subprocess, sys, time
bin_, out, models = sys.argv[1], sys.argv[2], sys.argv[3]

def run(cmd):
    """Wall time and peak RSS (MB) of one child process."""
    started = time.time()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
    stdout = p.stdout.read()
    return time.time() - started, usage.ru_maxrss / 1024, stdout, status

def report(stdout):
    r = json.loads(stdout.decode().strip().splitlines()[-1])
    if "error" in r:
        sys.exit(f"{name}: {r['error']}")
    return r

print(f"{'file':<18} {'size':>7}  {'transcribe':>26}  {'classify, video branch on':>30}  {'ffmpeg, 10 min':>15}")
print(f"{'':<18} {'GB':>7}  {'s':>6} {'peak MB':>8} {'truncated':>10}  {'s':>6} {'peak MB':>8} {'modality':>14}  {'s':>5} {'peak MB':>8}")
for name in ["seven-seconds.mp4", "two-hours.wav", "two-hours.mp4", "two-hours.avi"]:
    path = os.path.join(out, name)
    gb = os.path.getsize(path) / 1e9
    t, rss, stdout, _ = run([bin_, "transcribe", path])
    heard = report(stdout)
    ct, crss, stdout, _ = run([bin_, "--models", models, "classify", "--no-cache", path])
    decided = report(stdout)
    ft, frss, _, _ = run(["ffmpeg", "-nostdin", "-v", "error", "-t", "600", "-i", path, "-vn", "-ac", "1", "-ar", "16000", "-f", "null", "-"])
    print(f"{name:<18} {gb:>7.2f}  {t:>6.1f} {rss:>8.0f} {str(heard['truncated']):>10}  {ct:>6.1f} {crss:>8.0f} {decided['modality']:>14}  {ft:>5.1f} {frss:>8.0f}")
PY
