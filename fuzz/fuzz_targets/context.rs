//! Fuzz target `context`: see [`burgee_fuzz::core_targets::context`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = burgee_fuzz::core_targets::context(data);
});
