//! Fuzz target `event_log`: see [`burgee_fuzz::server_targets::event_log`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = burgee_fuzz::server_targets::event_log(data);
});
