//! The int8 kernels' WebAssembly paths in a real browser (headless
//! Chromium: node 20 miscomputes relaxed SIMD), against the same reference
//! as the native paths. Run by `scripts/test-wasm-kernels.sh`, once per
//! build flavour of the page (`+simd128`, `+simd128,+relaxed-simd`).
#![cfg(target_arch = "wasm32")]

use creative_filter::kernels::int8::{self, Epilogue, Int8Matrix, Path};
use creative_filter::kernels::math::Act;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

#[path = "../src/kernels/int8/reference.rs"]
#[allow(dead_code)]
mod reference;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn the_build_chooses_its_wasm_path() {
    #[cfg(target_feature = "relaxed-simd")]
    assert_eq!(int8::path(), Path::WasmRelaxed);
    #[cfg(not(target_feature = "relaxed-simd"))]
    assert_eq!(int8::path(), Path::WasmSimd128);
}

#[wasm_bindgen_test]
fn every_wasm_path_equals_the_reference_bit_for_bit() {
    let paths: Vec<Path> = Path::ALL.into_iter().filter(|p| p.supported()).collect();
    assert!(paths.len() >= 2, "only {paths:?}");
    for p in paths {
        reference::check_path(p);
    }
}

/// `Act` and `Epilogue` are used by the shared reference.
#[allow(dead_code)]
fn _uses(_: Act, _: Epilogue, _: Option<Int8Matrix>) {}
