//! Fuzz target `server_bodies`: see [`burgee_fuzz::server_targets::server_bodies`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = burgee_fuzz::server_targets::server_bodies(data);
});
