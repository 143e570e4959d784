//! Fuzz target `sse`: see [`burgee_fuzz::client_targets::sse`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = burgee_fuzz::client_targets::sse(data);
});
