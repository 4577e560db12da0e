use int8_cross::kernels::int8::{self, Epilogue, Int8Matrix, Path};
use int8_cross::kernels::math::Act;
#[path = "../../../../src/kernels/int8/reference.rs"]
#[allow(dead_code)]
mod reference;
#[allow(dead_code)]
fn _uses(_: Act, _: Epilogue, _: Option<Int8Matrix>) {}
fn main() {
    println!("chosen: {}", int8::path_name());
    for p in Path::ALL.into_iter().filter(|p| p.supported()) {
        reference::check_path(p).unwrap();
        println!("{} ok", p.name());
    }
}
