//! Fuzz target `snapshot`: see [`burgee_fuzz::core_targets::snapshot`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = burgee_fuzz::core_targets::snapshot(data);
});
