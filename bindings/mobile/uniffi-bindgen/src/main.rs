//! `uniffi-bindgen` for `burgee-mobile`: `uniffi-bindgen generate --library libburgee_mobile.so
//! --language kotlin|swift --out-dir DIR`. A binary of its own so the heavy `cli` feature is
//! built only where bindings are generated, never into the mobile library.

fn main() {
    uniffi::uniffi_bindgen_main();
}
