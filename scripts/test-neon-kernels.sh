#!/usr/bin/env bash
# The int8 kernels' aarch64 paths under qemu-user: NEON with `sdot`
# (-cpu max) and without (-cpu cortex-a53), each against the shared
# reference (src/kernels/int8/reference.rs), plus the portable path.
# Builds only the kernels (scripts/int8-cross), not the whole product.
#
# Needs: rustup target add aarch64-unknown-linux-gnu;
#        apt-get install qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross
set -euo pipefail
die() { echo "test-neon-kernels: error: $*" >&2; exit 1; }
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
command -v qemu-aarch64 >/dev/null || die "qemu-aarch64 missing: apt-get install qemu-user"
command -v aarch64-linux-gnu-gcc >/dev/null || die "aarch64-linux-gnu-gcc missing: apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross"
cd "$ROOT/scripts/int8-cross"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/int8-cross"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
cargo build --release --target aarch64-unknown-linux-gnu --bin check
BIN="$CARGO_TARGET_DIR/aarch64-unknown-linux-gnu/release/check"
for cpu in max cortex-a53; do
    echo "test-neon-kernels: qemu-aarch64 -cpu $cpu"
    out="$(qemu-aarch64 -cpu "$cpu" -L /usr/aarch64-linux-gnu "$BIN")"
    echo "$out"
    case "$cpu" in
        max) grep -qx "neon-dotprod ok" <<<"$out" || die "the sdot path did not run on -cpu max" ;;
        *) grep -qx "neon ok" <<<"$out" || die "the NEON path did not run" ;;
    esac
done
