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

python3 - "$BIN" "$OUT" <<'PY'
import json, os, resource, subprocess, sys, time
bin_, out = sys.argv[1], sys.argv[2]

def run(cmd):
    """Wall time and peak RSS (MB) of one child process."""
    started = time.time()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
    stdout = p.stdout.read()
    return time.time() - started, usage.ru_maxrss / 1024, stdout, status

print(f"{'file':<16} {'size':>8}  {'creative-filter transcribe':>34}  {'ffmpeg, first 10 min':>22}")
print(f"{'':<16} {'GB':>8}  {'s':>8} {'peak MB':>9} {'truncated':>10} {'words':>5}  {'s':>8} {'peak MB':>9}")
for name in ["two-hours.wav", "two-hours.mp4", "two-hours.avi"]:
    path = os.path.join(out, name)
    gb = os.path.getsize(path) / 1e9
    t, rss, stdout, status = run([bin_, "transcribe", path])
    report = json.loads(stdout.decode().strip().splitlines()[-1])
    if "error" in report:
        sys.exit(f"{name}: {report['error']}")
    ft, frss, _, _ = run(["ffmpeg", "-nostdin", "-v", "error", "-t", "600", "-i", path, "-vn", "-ac", "1", "-ar", "16000", "-f", "null", "-"])
    print(f"{name:<16} {gb:>8.2f}  {t:>8.1f} {rss:>9.0f} {str(report['truncated']):>10} {len(report['text'].split()):>5}  {ft:>8.1f} {frss:>9.0f}")
PY
