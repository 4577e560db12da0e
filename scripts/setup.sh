#!/usr/bin/env bash
# Installs what building and testing need on a fresh Debian machine:
# ffmpeg (reference decoder for tests), Festival's Russian voice (generated
# test creatives), the wasm32 target. Skips what is already there.
set -euo pipefail
need=()
command -v ffmpeg >/dev/null || need+=(ffmpeg)
command -v text2wave >/dev/null || need+=(festival)
[ -d /usr/share/festival/voices/russian ] || need+=(festvox-ru)
command -v python3 >/dev/null || need+=(python3 python3-pip)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
rustup target list --installed 2>/dev/null | grep -q wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
