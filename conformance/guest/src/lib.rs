//! # burgee-conformance-guest
//!
//! [`burgee_conformance_runner::run`] — and through it `burgee-core` — behind a plain C ABI,
//! built as a `cdylib` for `wasm32-unknown-unknown` (no wasm-bindgen, no WASI: the module
//! imports nothing) and driven by `burgee-conformance-host` in wasmtime.
//!
//! It must never hold logic of its own: it only moves bytes across the boundary, so whatever
//! the host observes through it is what the core does on wasm32.
//!
//! ```text
//!  host                                   guest (linear memory)
//!  burgee_alloc(n) ─────────────────────► n zeroed bytes; their address
//!  write the request there
//!  burgee_run(addr, n) ─────────────────► run(request) ─► response, kept alive
//!  ◄─ (response address << 32) | length
//!  read the response
//!  burgee_dealloc(addr, n), burgee_dealloc(response address, length)
//! ```
//!
//! The ABI is for wasm32: addresses and lengths are 32-bit and `burgee_run` packs two of them
//! into one `u64`. A buffer is freed with exactly the address and length it was handed out
//! with, once.

use std::ptr;

/// Allocates `len` zeroed bytes in linear memory for the host to write into and returns their
/// address. Free them with [`burgee_dealloc`]`(address, len)`.
#[unsafe(no_mangle)]
pub extern "C" fn burgee_alloc(len: usize) -> *mut u8 {
    Box::into_raw(vec![0u8; len].into_boxed_slice()).cast::<u8>()
}

/// Frees a buffer handed out by [`burgee_alloc`] or [`burgee_run`].
///
/// # Safety
/// `ptr` and `len` must be exactly the address and length of one such buffer, not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn burgee_dealloc(ptr: *mut u8, len: usize) {
    // SAFETY: by the contract above, `ptr..ptr+len` is a live `Box<[u8]>` of length `len`
    // that `burgee_alloc` or `burgee_run` leaked with `Box::into_raw`; rebuilding that box
    // with the same length and dropping it frees it exactly once.
    drop(unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(ptr, len)) });
}

/// Runs the request in `ptr..ptr+len` (see `burgee-conformance-runner` for its shape) and
/// returns its response as `(address << 32) | length`; the host frees it with
/// [`burgee_dealloc`]`(address, length)`.
///
/// # Safety
/// `ptr..ptr+len` must be a buffer from [`burgee_alloc`]`(len)`, not yet freed, that nothing
/// writes to during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn burgee_run(ptr: *const u8, len: usize) -> u64 {
    // SAFETY: by the contract above, `ptr` points to `len` initialised bytes (burgee_alloc
    // zeroes them, the host then overwrites them) that stay valid and unchanged for the call.
    let request = unsafe { std::slice::from_raw_parts(ptr, len) };
    let response = burgee_conformance_runner::run(request).into_boxed_slice();
    let len = response.len();
    let addr = Box::into_raw(response).cast::<u8>() as usize;
    // On wasm32 both are 32-bit, so the packing is lossless there (the only target it is for).
    ((addr as u64) << 32) | len as u64
}
