#!/usr/bin/env bash
# Builds the test and benchmark data set (nothing of it is committed).
#
#   scripts/fetch-test-data.sh [DIR]        default DIR: <repo>/tests/data
#
# DIR/asterisk/   Russian IVR prompts (Debian asterisk-core-sounds-ru 1.6.1,
#                 CC-BY-3.0, one female voice, 8 kHz mono 16-bit WAV):
#   <name>.wav, digits/<n>.wav, ...   the prompts, same layout as the package
#   transcripts.tsv   every prompt that has speech and a transcript:
#                     "relative/path.wav<TAB>reference text", no header,
#                     paths relative to this directory, sorted by path
#   sample60.tsv      60 clips of >= 2 s, evenly spaced in path order (same format)
#   sample12.tsv      every 5th line of sample60.tsv (fast test suite)
#   durations.tsv     "relative/path.wav<TAB>seconds" for every line of transcripts.tsv
#   COPYRIGHT         licence of the prompts
# DIR/media/      synthetic creatives and broken inputs (bit-identical on re-runs):
#   voice.txt         the voice-over script (UTF-8); voice.{wav,mp3,m4a,ogg,flac}
#                     audio only, voice.mp4 (H.264+AAC), voice.webm (VP9+Opus),
#                     voice.avi (MPEG-4+MP3): Festival's Russian voice, 7.5 s
#   music.wav, music.mp4   12 s of music without speech; silence.wav 5 s
#   long_speech.wav   ~80 s of prompts with 0.3 s gaps (16 kHz); long_speech.txt its
#                     reference text; long_speech.tsv "start_s<TAB>end_s<TAB>prompt<TAB>text"
#   empty.wav, random.mp4, notes.txt, truncated.mp3   not decodable (or only in part)
#   misnamed.wbm      voice.ogg under a wrong extension
#   manifest.tsv      "file<TAB>kind<TAB>reference text", kind one of
#                     speech | music | silence | broken | misnamed
# DIR/screen/     24 creatives with text on screen and no speech, and
#                 manifest.jsonl with their text (scripts/make-screen-set.py)
#
# Needs ffmpeg, festival + festvox-ru (Russian voice), apt-get/dpkg-deb and
# python3; missing tools are installed with apt-get (as root, or via sudo).
# Re-running does nothing when every output exists.
set -euo pipefail
set -o errtrace

die() { echo "fetch-test-data: error: $*" >&2; exit 1; }
trap 'rc=$?; echo "fetch-test-data: failed (exit $rc) at line $LINENO: $BASH_COMMAND" >&2; exit $rc' ERR

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${1:-$ROOT/tests/data}"
mkdir -p "$DIR" 2>/dev/null || die "cannot create $DIR"
DIR="$(cd "$DIR" && pwd)"
AST="$DIR/asterisk"
MEDIA="$DIR/media"

# Bump when the recipe changes: outputs of an older recipe are rebuilt.
RECIPE=2
STAMP="$DIR/.fetch-test-data.recipe"

AST_OUT=(transcripts.tsv sample60.tsv sample12.tsv durations.tsv COPYRIGHT)
MEDIA_OUT=(voice.txt voice.wav voice.mp3 voice.m4a voice.ogg voice.flac voice.mp4
           voice.webm voice.avi music.wav music.mp4 silence.wav
           long_speech.wav long_speech.txt long_speech.tsv
           empty.wav random.mp4 notes.txt truncated.mp3 misnamed.wbm manifest.tsv)

if [[ -f "$STAMP" && "$(cat "$STAMP")" != "$RECIPE" ]]; then
    echo "fetch-test-data: recipe changed, rebuilding $AST and $MEDIA"
    rm -rf -- "$AST" "$MEDIA" "$STAMP"
fi

all_present() {
    local f
    for f in "${AST_OUT[@]}"; do [[ -f "$AST/$f" ]] || return 1; done
    for f in "${MEDIA_OUT[@]}"; do [[ -e "$MEDIA/$f" ]] || return 1; done
    return 0
}
# DIR/screen/: creatives whose message is only on screen, with their text
# (scripts/make-screen-set.py; it skips the work when up to date).
python3 "$ROOT/scripts/make-screen-set.py" "$DIR/screen"

if all_present; then
    echo "fetch-test-data: up to date in $DIR"
    exit 0
fi

# ---------------------------------------------------------------- tools
APT_UPDATED=0
apt_install() {
    local sudo=()
    if [[ "$(id -u)" != 0 ]]; then
        command -v sudo >/dev/null 2>&1 || die "missing $*; install them (apt-get install -y $*) or run as root"
        sudo=(sudo)
    fi
    if [[ $APT_UPDATED == 0 ]]; then
        echo "fetch-test-data: apt-get update"
        "${sudo[@]}" apt-get update -qq || die "apt-get update failed"
        APT_UPDATED=1
    fi
    echo "fetch-test-data: apt-get install $*"
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "$@" >/dev/null \
        || die "apt-get install $* failed"
}
FESTVOX_DIR=/usr/share/festival/voices/russian/msu_ru_nsh_clunits
missing=()
command -v ffmpeg  >/dev/null 2>&1 || missing+=(ffmpeg)
command -v ffprobe >/dev/null 2>&1 || missing+=(ffmpeg)
command -v text2wave >/dev/null 2>&1 || missing+=(festival)
[[ -d "$FESTVOX_DIR" ]] || missing+=(festvox-ru)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if ((${#missing[@]})); then
    # shellcheck disable=SC2207
    missing=($(printf '%s\n' "${missing[@]}" | sort -u))
    apt_install "${missing[@]}"
fi
command -v apt-get  >/dev/null 2>&1 || die "apt-get not found (a Debian/Ubuntu system is needed)"
command -v dpkg-deb >/dev/null 2>&1 || die "dpkg-deb not found"

TMP="$(mktemp -d "$DIR/.tmp.XXXXXX")"
cleanup() { rm -rf -- "$TMP"; }
trap cleanup EXIT

FF=(ffmpeg -nostdin -hide_banner -loglevel error -y)
# output options: no random stream serials/UIDs, no tool version tags
BITEXACT=(-fflags +bitexact -flags:v +bitexact -flags:a +bitexact -map_metadata -1)

# ------------------------------------------------------------- asterisk
ast_present() {
    local f
    for f in "${AST_OUT[@]}"; do [[ -f "$AST/$f" ]] || return 1; done
}
if ! ast_present; then
    echo "fetch-test-data: downloading asterisk-core-sounds-ru"
    mkdir -p "$TMP/deb" "$TMP/x"
    if ! (cd "$TMP/deb" && apt-get download asterisk-core-sounds-ru asterisk-core-sounds-ru-wav) >"$TMP/apt.log" 2>&1; then
        # The package lists may be missing (fresh container): refresh them once.
        if [[ $APT_UPDATED == 0 ]]; then
            sudo=(); [[ "$(id -u)" == 0 ]] || sudo=(sudo)
            "${sudo[@]}" apt-get update -qq || die "apt-get update failed"
            APT_UPDATED=1
        fi
        (cd "$TMP/deb" && apt-get download asterisk-core-sounds-ru asterisk-core-sounds-ru-wav) >"$TMP/apt.log" 2>&1 \
            || die "apt-get download asterisk-core-sounds-ru{,-wav} failed: $(tail -1 "$TMP/apt.log")"
    fi
    for deb in "$TMP"/deb/*.deb; do dpkg-deb -x "$deb" "$TMP/x"; done
    SRC="$TMP/x/usr/share/asterisk/sounds/ru_RU_f_IvrvoiceRU"
    TXT="$TMP/x/usr/share/doc/asterisk-core-sounds-ru/core-sounds-ru.txt.gz"
    [[ -d "$SRC" && -f "$TXT" ]] || die "unexpected layout of the asterisk-core-sounds-ru packages"
    rm -rf -- "$AST.new"
    mkdir -p "$AST.new"
    cp -r "$SRC"/. "$AST.new"/
    cat "$TMP/x/usr/share/doc/asterisk-core-sounds-ru-wav/copyright" > "$AST.new/COPYRIGHT"
    python3 - "$AST.new" "$TXT" <<'PY'
import gzip, os, re, sys, wave

out, txt = sys.argv[1], sys.argv[2]

# core-sounds-ru.txt: "; comment" lines, blank lines and "name: text" lines,
# where name is the prompt path without ".wav" (e.g. "digits/5").
CYR = re.compile(r"[А-Яа-яЁё]")
LAT2CYR = str.maketrans("aAcCeEoOpPxXyBHKMT", "аАсСеЕоОрРхХуВНКМТ")
NONSPEECH = re.compile(r"^\s*[\[(<].*[\])>]\s*$")  # "[beep]", "(1 second of silence)"

def clean(name, text):
    text = text.strip()
    # one entry repeats its own name: "conf-adminmenu: conf-adminmenu: ..."
    if text.startswith(name + ":"):
        text = text[len(name) + 1:].strip()
    if not text or NONSPEECH.match(text):
        return None
    # symbol prompts carry the symbol in brackets: "Точка [.]"
    text = re.sub(r"\s*\[[^\]]*\]", "", text)
    # words mixing Cyrillic with look-alike Latin letters ("первoe")
    text = " ".join(w.translate(LAT2CYR) if CYR.search(w) else w for w in text.split())
    return text or None

refs = {}
with gzip.open(txt, "rt", encoding="utf-8") as f:
    for line in f:
        line = line.rstrip("\r\n")
        if not line.strip() or line.lstrip().startswith(";"):
            continue
        name, sep, text = line.partition(":")
        if not sep:
            continue
        name = name.strip()
        t = clean(name, text)
        if t is not None:
            refs[name] = t

rows = []
for name, text in refs.items():
    rel = name + ".wav"
    path = os.path.join(out, rel)
    if not os.path.isfile(path):
        continue
    with wave.open(path, "rb") as w:
        dur = w.getnframes() / w.getframerate()
    rows.append((rel, text.replace("\t", " "), dur))
rows.sort(key=lambda r: r[0])
if len(rows) < 500:
    sys.exit(f"only {len(rows)} prompts with transcripts (expected ~550)")

def write(name, items, cols):
    with open(os.path.join(out, name), "w", encoding="utf-8", newline="\n") as f:
        for r in items:
            f.write("\t".join(cols(r)) + "\n")

write("transcripts.tsv", rows, lambda r: (r[0], r[1]))
write("durations.tsv", rows, lambda r: (r[0], f"{r[2]:.4f}"))
long_ = [r for r in rows if r[2] >= 2.0]
n = len(long_)
sample60 = [long_[i * n // 60] for i in range(60)]
write("sample60.tsv", sample60, lambda r: (r[0], r[1]))
write("sample12.tsv", sample60[::5], lambda r: (r[0], r[1]))
print(f"fetch-test-data: asterisk: {len(rows)} transcribed prompts "
      f"({sum(r[2] for r in rows) / 60:.1f} min), {n} of >= 2 s; "
      f"sample60 {sum(r[2] for r in sample60):.0f} s")
PY
    rm -rf -- "$AST"
    mv "$AST.new" "$AST"
fi

# ---------------------------------------------------------------- media
mkdir -p "$MEDIA"
# make OUT CMD... : runs CMD with $OUT_TMP as the output path unless OUT exists
make_file() {
    local out="$1"; shift
    [[ -e "$MEDIA/$out" ]] && return 0
    local ext="${out##*.}"
    OUT_TMP="$TMP/out.$ext"
    rm -f -- "$OUT_TMP"
    "$@"
    mv -- "$OUT_TMP" "$MEDIA/$out"
}

VOICE_TEXT='Оформите кредитную карту с кешбэком десять процентов. Доставка карты бесплатно.'
gen_voice_txt() { printf '%s\n' "$VOICE_TEXT" > "$OUT_TMP"; }
gen_voice_wav() {
    # festvox-ru reads UTF-8 text (README.Debian); KOI8-R input yields no speech.
    text2wave -eval '(voice_msu_ru_nsh_clunits)' "$MEDIA/voice.txt" -o "$TMP/festival.wav" \
        >"$TMP/festival.log" 2>&1 || die "text2wave failed: $(tail -1 "$TMP/festival.log")"
    if grep -q 'no rule matches' "$TMP/festival.log"; then
        die "festival could not read the voice-over text: $(head -1 "$TMP/festival.log")"
    fi
    # 0.5 s of silence before and after, as in a real creative
    "${FF[@]}" -i "$TMP/festival.wav" -af "adelay=500:all=1,apad=pad_dur=0.5" \
        -ar 16000 -ac 1 -c:a pcm_s16le "${BITEXACT[@]}" "$OUT_TMP"
    python3 - "$OUT_TMP" <<'PY'
import array, math, sys, wave
with wave.open(sys.argv[1], "rb") as w:
    sr, n = w.getframerate(), w.getnframes()
    a = array.array("h", w.readframes(n))
dur = n / sr
rms = math.sqrt(sum(x * x for x in a) / max(len(a), 1)) / 32768
# the script is ~80 characters: Festival speaks it in about 5-9 s
if not (4.0 <= dur <= 14.0) or rms < 0.01:
    sys.exit(f"voice-over looks wrong: {dur:.2f} s, rms {rms:.4f}")
PY
}
VIDEO_IN=(-f lavfi -i "testsrc=size=320x240:rate=25")
audio_secs() { ffprobe -v error -show_entries format=duration -of default=nw=1:nk=1 "$1"; }
gen_mp3()  { "${FF[@]}" -i "$MEDIA/voice.wav" -c:a libmp3lame -b:a 128k "${BITEXACT[@]}" "$OUT_TMP"; }
gen_m4a()  { "${FF[@]}" -i "$MEDIA/voice.wav" -c:a aac -b:a 128k "${BITEXACT[@]}" "$OUT_TMP"; }
gen_ogg()  { "${FF[@]}" -i "$MEDIA/voice.wav" -c:a libvorbis -q:a 4 "${BITEXACT[@]}" "$OUT_TMP"; }
gen_flac() { "${FF[@]}" -i "$MEDIA/voice.wav" -c:a flac "${BITEXACT[@]}" "$OUT_TMP"; }
gen_mp4()  {
    "${FF[@]}" "${VIDEO_IN[@]}" -i "$MEDIA/voice.wav" -t "$(audio_secs "$MEDIA/voice.wav")" -map 0:v -map 1:a \
        -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac -b:a 128k -ar 44100 "${BITEXACT[@]}" "$OUT_TMP"
}
gen_webm() {
    "${FF[@]}" "${VIDEO_IN[@]}" -i "$MEDIA/voice.wav" -t "$(audio_secs "$MEDIA/voice.wav")" -map 0:v -map 1:a \
        -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -b:v 300k -c:a libopus -b:a 64k "${BITEXACT[@]}" "$OUT_TMP"
}
gen_avi()  {
    "${FF[@]}" "${VIDEO_IN[@]}" -i "$MEDIA/voice.wav" -t "$(audio_secs "$MEDIA/voice.wav")" -map 0:v -map 1:a \
        -c:v mpeg4 -q:v 5 -c:a libmp3lame -b:a 128k -ar 44100 "${BITEXACT[@]}" "$OUT_TMP"
}

# 12 s of music without speech: an arpeggio over a C-Am-F-G pad, kick and hi-hat.
MUSIC_SECS=12
gen_music_wav() {
    local d=$MUSIC_SECS
    # chord root in semitones from C4, changes every 3 s: C, A, F, G
    local root='if(lt(mod(t,12),3),0,if(lt(mod(t,12),6),-3,if(lt(mod(t,12),9),-7,-5)))'
    # arpeggio steps (8 per second): root, third, fifth, octave, fifth, third
    local step='mod(floor(t*8),6)'
    local third="if(eq($root,-3),3,4)"   # minor third on A, major elsewhere
    local iv="if(eq($step,0),0,if(eq($step,1)+eq($step,5),$third,if(eq($step,2)+eq($step,4),7,12)))"
    local arp="0.22*sin(2*PI*261.63*pow(2,($root+$iv)/12)*t)*min(1,200*mod(t,0.125))*exp(-20*mod(t,0.125))"
    local pad="0.10*sin(2*PI*130.81*pow(2,$root/12)*t)"
    local kick='0.7*sin(2*PI*(50+90*exp(-30*mod(t,0.5)))*mod(t,0.5))*exp(-9*mod(t,0.5))'
    local hat='0.04*(2*random(0)-1)*exp(-70*mod(t+0.25,0.5))'
    "${FF[@]}" \
        -f lavfi -i "aevalsrc=exprs='$arp':s=44100:d=$d" \
        -f lavfi -i "aevalsrc=exprs='$pad':s=44100:d=$d" \
        -f lavfi -i "sine=f=196.00:r=44100:d=$d" \
        -f lavfi -i "sine=f=329.63:r=44100:d=$d" \
        -f lavfi -i "aevalsrc=exprs='$kick':s=44100:d=$d" \
        -f lavfi -i "aevalsrc=exprs='$hat':s=44100:d=$d" \
        -filter_complex "[2]volume=0.05[g];[3]volume=0.04[e];[0][1][g][e][4][5]amix=inputs=6:normalize=0,volume=0.7,alimiter=limit=0.9,afade=t=in:d=0.3,afade=t=out:st=$((d - 1)):d=1[a]" \
        -map "[a]" -ar 44100 -ac 1 -c:a pcm_s16le "${BITEXACT[@]}" "$OUT_TMP"
}
gen_music_mp4() {
    "${FF[@]}" -f lavfi -i "smptebars=size=320x240:rate=25" -i "$MEDIA/music.wav" -t "$MUSIC_SECS" \
        -map 0:v -map 1:a -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac -b:a 128k "${BITEXACT[@]}" "$OUT_TMP"
}
gen_silence() { "${FF[@]}" -f lavfi -i "anullsrc=r=16000:cl=mono" -t 5 -c:a pcm_s16le "${BITEXACT[@]}" "$OUT_TMP"; }

# long_speech.wav: asterisk prompts joined with 0.3 s gaps, 16 kHz, 70-90 s long,
# chosen so that 30 s and 60 s (Whisper window edges) fall inside speech.
gen_long_speech() {
    python3 - "$AST" "$TMP/long" <<'PY'
import os, re, sys, wave
ast, out = sys.argv[1], sys.argv[2]
dur = dict(l.rstrip("\n").split("\t") for l in open(os.path.join(ast, "durations.tsv"), encoding="utf-8"))
rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(ast, "transcripts.tsv"), encoding="utf-8")]
# plain sentences: no digits or Latin, so the reference text is what is spoken
cands = [(p, t, float(dur[p])) for p, t in rows
         if 2.0 <= float(dur[p]) <= 8.0 and not re.search(r"[0-9A-Za-z]", t)]
GAP, EDGES = 0.3, (30.0, 60.0)
picked, t0 = [], 0.0
for p, text, d in cands[::3]:
    start, end = t0, t0 + d
    # a window edge inside (or within 0.3 s of) the gap after this clip: skip it
    if any(end - 0.3 <= e < end + GAP + 0.3 for e in EDGES):
        continue
    picked.append((p, text, start, end))
    t0 = end + GAP
    if t0 >= 75.0:
        break
total = t0 - GAP
if not (70.0 <= total <= 90.0):
    sys.exit(f"long_speech would be {total:.1f} s")
for e in EDGES:
    if not any(s + 0.3 <= e <= en - 0.3 for _, _, s, en in picked):
        sys.exit(f"window edge {e} s falls outside speech")
os.makedirs(out, exist_ok=True)
gap = os.path.join(out, "gap.wav")
with wave.open(os.path.join(ast, picked[0][0]), "rb") as w:
    params = w.getparams()
with wave.open(gap, "wb") as w:
    w.setparams(params)
    w.writeframes(b"\0\0" * round(GAP * params.framerate))
with open(os.path.join(out, "list.txt"), "w") as f:
    for i, (p, *_rest) in enumerate(picked):
        if i:
            f.write(f"file '{gap}'\n")
        f.write("file '%s'\n" % os.path.join(ast, p).replace("'", "'\\''"))
with open(os.path.join(out, "long_speech.txt"), "w", encoding="utf-8") as f:
    f.write(" ".join(t for _, t, _, _ in picked) + "\n")
with open(os.path.join(out, "long_speech.tsv"), "w", encoding="utf-8") as f:
    for p, t, s, e in picked:
        f.write(f"{s:.3f}\t{e:.3f}\t{p}\t{t}\n")
print(f"fetch-test-data: long_speech: {len(picked)} prompts, {total:.1f} s")
PY
    "${FF[@]}" -f concat -safe 0 -i "$TMP/long/list.txt" -ar 16000 -ac 1 -c:a pcm_s16le "${BITEXACT[@]}" "$OUT_TMP"
}
gen_long_txt() { cp "$TMP/long/long_speech.txt" "$OUT_TMP"; }
gen_long_tsv() { cp "$TMP/long/long_speech.tsv" "$OUT_TMP"; }

gen_empty()  { : > "$OUT_TMP"; }
gen_random() {
    python3 - "$OUT_TMP" <<'PY'
import hashlib, sys
data = b"".join(hashlib.sha256(b"creative-filter random.mp4 %d" % i).digest() for i in range(128))
open(sys.argv[1], "wb").write(data)  # 4096 bytes
PY
}
gen_notes() {
    printf '%s\n' "Заметки к креативу: озвучка, 15 секунд, без музыки." \
        "This is a plain text file, not audio or video." > "$OUT_TMP"
}
gen_truncated() {
    local size
    size=$(wc -c < "$MEDIA/voice.mp3")
    head -c $((size * 30 / 100)) "$MEDIA/voice.mp3" > "$OUT_TMP"
}
gen_misnamed() { cp "$MEDIA/voice.ogg" "$OUT_TMP"; }
gen_manifest() {
    local ref long
    ref="$(cat "$MEDIA/voice.txt")"
    long="$(cat "$MEDIA/long_speech.txt")"
    {
        for f in voice.wav voice.mp3 voice.m4a voice.ogg voice.flac voice.mp4 voice.webm voice.avi; do
            printf '%s\tspeech\t%s\n' "$f" "$ref"
        done
        printf '%s\tspeech\t%s\n' long_speech.wav "$long"
        printf '%s\tmusic\t\n' music.wav music.mp4
        printf '%s\tsilence\t\n' silence.wav
        printf '%s\tbroken\t\n' empty.wav random.mp4 notes.txt truncated.mp3
        printf '%s\tmisnamed\t%s\n' misnamed.wbm "$ref"
    } > "$OUT_TMP"
}

echo "fetch-test-data: building media in $MEDIA"
make_file voice.txt     gen_voice_txt
make_file voice.wav     gen_voice_wav
make_file voice.mp3     gen_mp3
make_file voice.m4a     gen_m4a
make_file voice.ogg     gen_ogg
make_file voice.flac    gen_flac
make_file voice.mp4     gen_mp4
make_file voice.webm    gen_webm
make_file voice.avi     gen_avi
make_file music.wav     gen_music_wav
make_file music.mp4     gen_music_mp4
make_file silence.wav   gen_silence
if [[ ! -e "$MEDIA/long_speech.wav" || ! -e "$MEDIA/long_speech.txt" || ! -e "$MEDIA/long_speech.tsv" ]]; then
    rm -f -- "$MEDIA/long_speech.wav" "$MEDIA/long_speech.txt" "$MEDIA/long_speech.tsv"
    make_file long_speech.wav gen_long_speech
    make_file long_speech.txt gen_long_txt
    make_file long_speech.tsv gen_long_tsv
fi
make_file empty.wav     gen_empty
make_file random.mp4    gen_random
make_file notes.txt     gen_notes
make_file truncated.mp3 gen_truncated
make_file misnamed.wbm  gen_misnamed
make_file manifest.tsv  gen_manifest

all_present || die "some outputs are missing after the build"
echo "$RECIPE" > "$STAMP"
echo "fetch-test-data: done: $DIR"
