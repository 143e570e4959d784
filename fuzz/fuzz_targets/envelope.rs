//! Fuzz target `envelope`: see [`burgee_fuzz::core_targets::envelope`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = burgee_fuzz::core_targets::envelope(data);
});
