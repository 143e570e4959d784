//! Fuzz target `event_batch`: see [`burgee_fuzz::server_targets::event_batch`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = burgee_fuzz::server_targets::event_batch(data);
});
