#!/usr/bin/env bash
# Creates <repo>/.venv-ref with the reference front-end dependencies, then
# (re)writes tests/fixtures/mel_reference.json when --write is given.
#
#   scripts/reference/make-venv.sh [--write]
#
# Idempotent: an existing venv whose packages match requirements.txt is kept.
set -euo pipefail
trap 'rc=$?; echo "make-venv: failed (exit $rc) at line $LINENO: $BASH_COMMAND" >&2; exit $rc' ERR

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
REQ="$ROOT/scripts/reference/requirements.txt"
VENV="$ROOT/.venv-ref"
PYTHON="${PYTHON:-python3}"

command -v "$PYTHON" >/dev/null 2>&1 || { echo "make-venv: $PYTHON not found (Python 3.11 is needed)" >&2; exit 1; }
if [[ ! -x "$VENV/bin/python" ]]; then
    echo "make-venv: creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi
# Installed set == pinned set? Then nothing to do.
if ! "$VENV/bin/python" - "$REQ" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if line:
        name, want = line.split("==")
        if version(name) != want:
            sys.exit(1)
PY
then
    echo "make-venv: installing $(grep -v '^#' "$REQ" | tr '\n' ' ')"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQ"
fi
echo "make-venv: ready: $VENV"
if [[ "${1:-}" == "--write" ]]; then
    "$VENV/bin/python" "$ROOT/scripts/reference/mel_reference.py"
fi
