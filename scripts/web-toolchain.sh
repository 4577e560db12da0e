# The nightly Rust that builds the page's threaded module (std rebuilt with
# atomics needs -Z build-std). Pinned so that builds repeat; sourced by
# scripts/setup.sh (installs it) and scripts/build-web.sh (uses it). The
# native build stays on stable.
NIGHTLY=nightly-2026-05-20
