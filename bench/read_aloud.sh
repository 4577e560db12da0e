# Sourced by bench/spoken.sh and bench/asr_noise.sh: Festival's Russian
# voice reads each line `id<TAB>text` of a script into DIR/id.wav (kept
# between runs). The voice writes an empty file for what it cannot read.
read_aloud() {
  local script="$1" dir="$2" scratch id text
  scratch="$(mktemp -d)"
  mkdir -p "$dir"
  while IFS=$'\t' read -r id text; do
    [[ -s "$dir/$id.wav" ]] && continue
    printf '%s\n' "$text" > "$scratch/$id.txt"
    text2wave -eval '(voice_msu_ru_nsh_clunits)' "$scratch/$id.txt" -o "$dir/$id.wav" > /dev/null 2>&1 || true
  done < "$script"
  rm -rf "$scratch"
}
