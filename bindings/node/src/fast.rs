//! The evaluation hot path as plain N-API callbacks.
//!
//! napi-derive wraps every `#[napi]` call in borrow-tracking scopes (thread-local stacks, a
//! hash map of borrowed objects, class-identity checks) that cost ~400 ns per call — more than
//! the evaluation itself. The typed value getters are the calls an application makes per
//! request, so they are raw callbacks here: bound to their client through the function's
//! data, and taking a context *handle* (an `napi_create_external` tagged with its own
//! `napi_type_tag`, so a foreign value is refused and the caller's default comes back instead
//! of a misread) or a plain object. `index.js` calls them; everything else stays on
//! napi-derive. Conversion only: evaluation is `burgee-core`'s, exposures `burgee-client`'s.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_void};
use std::ptr;
use std::sync::Arc;

use burgee_client::{Client as NativeClient, now_ms};
use burgee_core::{
    AttributeValue, Context as CoreContext, ErrorCode, EvalError, EvaluationDetails, MetadataValue,
    Snapshot as CoreSnapshot, TypedDetails,
};
use napi::sys;

/// Tag of context externals.
const CONTEXT_TAG: sys::napi_type_tag = sys::napi_type_tag {
    lower: 0x6275_7267_6565_6374,
    upper: 0x7800_0000_0000_0001,
};

unsafe extern "C" fn finalize<T>(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    if !data.is_null() {
        // SAFETY: `data` is the `Box<T>` leaked by `external` below, finalized exactly once.
        drop(unsafe { Box::from_raw(data.cast::<T>()) });
    }
}

/// A tagged external owning `value`.
fn external<T>(
    env: sys::napi_env,
    value: T,
    tag: &sys::napi_type_tag,
) -> napi::Result<sys::napi_value> {
    let data = Box::into_raw(Box::new(value)).cast::<c_void>();
    let mut out = ptr::null_mut();
    // SAFETY: a valid env from a running callback; `finalize::<T>` frees `data`.
    let status = unsafe {
        sys::napi_create_external(env, data, Some(finalize::<T>), ptr::null_mut(), &mut out)
    };
    if status != sys::Status::napi_ok {
        // SAFETY: not handed to JS; reclaim.
        drop(unsafe { Box::from_raw(data.cast::<T>()) });
        return Err(napi::Error::from_reason("napi_create_external failed"));
    }
    // SAFETY: `out` is the external just created.
    let status = unsafe { sys::napi_type_tag_object(env, out, tag) };
    if status != sys::Status::napi_ok {
        return Err(napi::Error::from_reason("napi_type_tag_object failed"));
    }
    Ok(out)
}

/// The `T` of an external carrying `tag`, or `None` for anything else.
///
/// # Safety
/// `env` and `value` come from the running callback; the reference lives while the JS value
/// is reachable, which covers the callback.
unsafe fn unwrap<'a, T>(
    env: sys::napi_env,
    value: sys::napi_value,
    tag: &sys::napi_type_tag,
) -> Option<&'a T> {
    // Only externals are checked for the tag (N-API throws for null and undefined).
    let mut t = 0;
    // SAFETY: per the function contract.
    let status = unsafe { sys::napi_typeof(env, value, &mut t) };
    if status != sys::Status::napi_ok || t != sys::ValueType::napi_external {
        return None;
    }
    let mut is = false;
    // SAFETY: per the function contract.
    let status = unsafe { sys::napi_check_object_type_tag(env, value, tag, &mut is) };
    if status != sys::Status::napi_ok || !is {
        return None;
    }
    let mut data = ptr::null_mut();
    // SAFETY: tagged by `external::<T>`, so `data` is a live `Box<T>`.
    let status = unsafe { sys::napi_get_value_external(env, value, &mut data) };
    if status != sys::Status::napi_ok || data.is_null() {
        return None;
    }
    // SAFETY: see above.
    Some(unsafe { &*data.cast::<T>() })
}

/// Calls `f` with the UTF-8 of a JS string (on the stack up to 255 bytes).
///
/// # Safety
/// `env` and `value` come from the running callback.
unsafe fn with_str<R>(
    env: sys::napi_env,
    value: sys::napi_value,
    f: impl FnOnce(&str) -> R,
) -> Option<R> {
    let mut buf = [0u8; 256];
    let mut len = 0usize;
    // SAFETY: `buf` has `buf.len()` bytes; N-API writes at most len - 1 plus a NUL.
    let status = unsafe {
        sys::napi_get_value_string_utf8(
            env,
            value,
            buf.as_mut_ptr().cast::<c_char>(),
            buf.len(),
            &mut len,
        )
    };
    if status != sys::Status::napi_ok {
        return None;
    }
    if len < buf.len() - 1 {
        return std::str::from_utf8(buf.get(..len)?).ok().map(f);
    }
    // Possibly truncated: ask for the length, then copy into the heap.
    // SAFETY: a null buffer asks for the length only.
    let status =
        unsafe { sys::napi_get_value_string_utf8(env, value, ptr::null_mut(), 0, &mut len) };
    if status != sys::Status::napi_ok {
        return None;
    }
    let mut heap = vec![0u8; len + 1];
    // SAFETY: `heap` has len + 1 bytes.
    let status = unsafe {
        sys::napi_get_value_string_utf8(
            env,
            value,
            heap.as_mut_ptr().cast::<c_char>(),
            heap.len(),
            &mut len,
        )
    };
    if status != sys::Status::napi_ok {
        return None;
    }
    std::str::from_utf8(heap.get(..len)?).ok().map(f)
}

/// Reads a plain JS object into a core context with the rules of `Context::from_json`:
/// strings, numbers, booleans and arrays of strings (enumerable string-keyed members, as
/// `for...in` sees them); `undefined` members are left out; a
/// string `targetingKey` is the targeting key. `None` for anything else (`null`, nested
/// objects, other list items, a non-string `targetingKey`): the evaluation is then an
/// `INVALID_CONTEXT` error, which a value getter answers with the caller's default.
///
/// # Safety
/// Called from a running callback.
unsafe fn object_context(env: sys::napi_env, obj: sys::napi_value) -> Option<CoreContext> {
    // SAFETY (whole body): `env` and every value come from the running callback.
    unsafe {
        let mut t = 0;
        if sys::napi_typeof(env, obj, &mut t) != sys::Status::napi_ok
            || t != sys::ValueType::napi_object
        {
            return None;
        }
        let mut names = ptr::null_mut();
        if sys::napi_get_all_property_names(
            env,
            obj,
            sys::KeyCollectionMode::include_prototypes,
            sys::KeyFilter::enumerable | sys::KeyFilter::skip_symbols,
            sys::KeyConversion::numbers_to_strings,
            &mut names,
        ) != sys::Status::napi_ok
        {
            return None;
        }
        let mut n = 0u32;
        if sys::napi_get_array_length(env, names, &mut n) != sys::Status::napi_ok {
            return None;
        }
        let mut ctx = CoreContext::anonymous();
        for i in 0..n {
            let mut key = ptr::null_mut();
            let mut value = ptr::null_mut();
            if sys::napi_get_element(env, names, i, &mut key) != sys::Status::napi_ok
                || sys::napi_get_property(env, obj, key, &mut value) != sys::Status::napi_ok
            {
                return None;
            }
            add_member(env, &mut ctx, key, value)?;
        }
        Some(ctx)
    }
}

/// Adds one `(name, value)` member to `ctx` with the rules of `object_context`; `None` for a
/// value the context refuses.
///
/// # Safety
/// Called from a running callback.
unsafe fn add_member(
    env: sys::napi_env,
    ctx: &mut CoreContext,
    key: sys::napi_value,
    value: sys::napi_value,
) -> Option<()> {
    // SAFETY (whole body): `env` and every value come from the running callback.
    unsafe {
        let mut t = 0;
        if sys::napi_typeof(env, value, &mut t) != sys::Status::napi_ok {
            return None;
        }
        let attr = match t {
            sys::ValueType::napi_undefined => return Some(()),
            sys::ValueType::napi_string => {
                AttributeValue::String(with_str(env, value, |s: &str| Box::<str>::from(s))?)
            }
            sys::ValueType::napi_number => {
                let mut d = 0.0;
                if sys::napi_get_value_double(env, value, &mut d) != sys::Status::napi_ok {
                    return None;
                }
                AttributeValue::Number(d)
            }
            sys::ValueType::napi_boolean => {
                let mut b = false;
                if sys::napi_get_value_bool(env, value, &mut b) != sys::Status::napi_ok {
                    return None;
                }
                AttributeValue::Bool(b)
            }
            sys::ValueType::napi_object => {
                let mut is_array = false;
                let mut len = 0u32;
                if sys::napi_is_array(env, value, &mut is_array) != sys::Status::napi_ok
                    || !is_array
                    || sys::napi_get_array_length(env, value, &mut len) != sys::Status::napi_ok
                {
                    return None;
                }
                let mut items = Vec::with_capacity(len as usize);
                for j in 0..len {
                    let mut item = ptr::null_mut();
                    let mut it = 0;
                    if sys::napi_get_element(env, value, j, &mut item) != sys::Status::napi_ok
                        || sys::napi_typeof(env, item, &mut it) != sys::Status::napi_ok
                        || it != sys::ValueType::napi_string
                    {
                        return None;
                    }
                    items.push(with_str(env, item, |s: &str| Box::<str>::from(s))?);
                }
                AttributeValue::List(items.into_boxed_slice())
            }
            _ => return None,
        };
        let ok = with_str(env, key, |name| {
            if name == burgee_core::TARGETING_KEY && !matches!(attr, AttributeValue::String(_)) {
                return false;
            }
            ctx.set(name, attr);
            true
        })?;
        if !ok {
            return None;
        }
        Some(())
    }
}

/// The callback's client (the function's data) and its three arguments
/// `(flagKey, context, default)`.
///
/// # Safety
/// Called from a running callback of a function made by `bind`.
unsafe fn args3<'a>(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> Option<(&'a NativeClient, [sys::napi_value; 3])> {
    let mut argv = [ptr::null_mut(); 3];
    let mut argc = 3usize;
    let mut data = ptr::null_mut();
    // SAFETY: `argv` has room for `argc` values.
    let status = unsafe {
        sys::napi_get_cb_info(
            env,
            info,
            &mut argc,
            argv.as_mut_ptr(),
            ptr::null_mut(),
            &mut data,
        )
    };
    if status != sys::Status::napi_ok || argc != 3 || data.is_null() {
        return None;
    }
    // SAFETY: `bind` made `data` a `Box<Arc<NativeClient>>` that lives as long as the function.
    let client: &Arc<NativeClient> = unsafe { &*data.cast::<Arc<NativeClient>>() };
    Some((client, argv))
}

/// Evaluates with the client's snapshot and the context handle, records the exposure, and
/// returns the typed value, or `None` (caller's default) for any problem.
fn evaluate<T>(
    client: &NativeClient,
    flag: &str,
    ctx: &CoreContext,
    get: impl for<'s> FnOnce(&'s CoreSnapshot, u64) -> TypedDetails<'s, T>,
) -> Option<T> {
    client.with_snapshot(|snap| {
        let now = now_ms();
        let t = get(snap, now);
        client.record_exposure(snap, flag, &t.details, ctx, now);
        t.value
    })
}

/// Shared body of the typed callbacks: unwraps the handles, reads the flag key and runs `f`.
///
/// # Safety
/// Called from a running callback.
unsafe fn typed_call(
    env: sys::napi_env,
    info: sys::napi_callback_info,
    f: impl FnOnce(&NativeClient, &str, &CoreContext, sys::napi_value) -> Option<sys::napi_value>,
) -> sys::napi_value {
    // SAFETY: within the callback.
    let Some((client, [flag, ctx, default])) = (unsafe { args3(env, info) }) else {
        let mut undefined = ptr::null_mut();
        // SAFETY: within the callback.
        unsafe { sys::napi_get_undefined(env, &mut undefined) };
        return undefined;
    };
    let run = || -> Option<sys::napi_value> {
        let owned;
        // SAFETY: within the callback.
        let ctx: &CoreContext = match unsafe { unwrap::<Arc<CoreContext>>(env, ctx, &CONTEXT_TAG) }
        {
            Some(handle) => handle,
            None => {
                // A plain object: converted for this call (the fresh-context path).
                // SAFETY: within the callback.
                owned = unsafe { object_context(env, ctx) }?;
                &owned
            }
        };
        // SAFETY: within the callback.
        unsafe { with_str(env, flag, |flag| f(client, flag, ctx, default)) }?
    };
    // Any problem (no snapshot, a foreign handle, a default of another type, a panic) serves
    // the caller's default, as evaluation never throws.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
        Ok(Some(v)) => v,
        _ => default,
    }
}

/// Body of `fastGetBoolean*`.
///
/// # Safety
/// Called from a running callback.
unsafe fn boolean_body(
    env: sys::napi_env,
    client: &NativeClient,
    flag: &str,
    ctx: &CoreContext,
    default: sys::napi_value,
) -> Option<sys::napi_value> {
    // SAFETY (whole body): within the callback.
    unsafe {
        let mut d = false;
        if sys::napi_get_value_bool(env, default, &mut d) != sys::Status::napi_ok {
            return None;
        }
        let v = evaluate(client, flag, ctx, |s, now| s.get_bool(flag, ctx, now, d))?;
        let mut out = ptr::null_mut();
        (sys::napi_get_boolean(env, v, &mut out) == sys::Status::napi_ok).then_some(out)
    }
}

/// Body of `fastGetNumber*`.
///
/// # Safety
/// Called from a running callback.
unsafe fn number_body(
    env: sys::napi_env,
    client: &NativeClient,
    flag: &str,
    ctx: &CoreContext,
    default: sys::napi_value,
) -> Option<sys::napi_value> {
    // SAFETY (whole body): within the callback.
    unsafe {
        let mut d = 0.0;
        if sys::napi_get_value_double(env, default, &mut d) != sys::Status::napi_ok {
            return None;
        }
        let v = evaluate(client, flag, ctx, |s, now| s.get_float(flag, ctx, now, d))?;
        let mut out = ptr::null_mut();
        (sys::napi_create_double(env, v, &mut out) == sys::Status::napi_ok).then_some(out)
    }
}

/// Body of `fastGetInteger*`.
///
/// # Safety
/// Called from a running callback.
unsafe fn integer_body(
    env: sys::napi_env,
    client: &NativeClient,
    flag: &str,
    ctx: &CoreContext,
    default: sys::napi_value,
) -> Option<sys::napi_value> {
    // SAFETY (whole body): within the callback.
    unsafe {
        let mut d = 0i64;
        if sys::napi_get_value_int64(env, default, &mut d) != sys::Status::napi_ok {
            return None;
        }
        let v = evaluate(client, flag, ctx, |s, now| s.get_integer(flag, ctx, now, d))?;
        let mut out = ptr::null_mut();
        // Integers beyond 2^53 lose precision as JS numbers.
        #[allow(clippy::cast_precision_loss)]
        let status = sys::napi_create_double(env, v as f64, &mut out);
        (status == sys::Status::napi_ok).then_some(out)
    }
}

/// Body of `fastGetString*`.
///
/// # Safety
/// Called from a running callback.
unsafe fn string_body(
    env: sys::napi_env,
    client: &NativeClient,
    flag: &str,
    ctx: &CoreContext,
    default: sys::napi_value,
) -> Option<sys::napi_value> {
    client
        .with_snapshot(|snap| {
            let now = now_ms();
            // The core's default only stands in: on error the caller's string is returned.
            let t = snap.get_string(flag, ctx, now, "");
            client.record_exposure(snap, flag, &t.details, ctx, now);
            if t.details.error.is_some() {
                return Some(default);
            }
            let mut out = ptr::null_mut();
            let len = isize::try_from(t.value.len()).ok()?;
            // SAFETY: within the callback; `t.value` is UTF-8 of `len` bytes.
            let status = unsafe {
                sys::napi_create_string_utf8(env, t.value.as_ptr().cast::<c_char>(), len, &mut out)
            };
            (status == sys::Status::napi_ok).then_some(out)
        })
        .flatten()
}

// ---- details ----

/// A JS string.
///
/// # Safety
/// Called from a running callback.
unsafe fn js_string(env: sys::napi_env, s: &str) -> Option<sys::napi_value> {
    let mut out = ptr::null_mut();
    let len = isize::try_from(s.len()).ok()?;
    // SAFETY: within the callback; `s` is UTF-8 of `len` bytes.
    let status =
        unsafe { sys::napi_create_string_utf8(env, s.as_ptr().cast::<c_char>(), len, &mut out) };
    (status == sys::Status::napi_ok).then_some(out)
}

/// `obj[name] = value`; `name` is NUL-terminated.
///
/// # Safety
/// Called from a running callback.
unsafe fn set(
    env: sys::napi_env,
    obj: sys::napi_value,
    name: &[u8],
    value: sys::napi_value,
) -> Option<()> {
    // SAFETY: within the callback; `name` ends with NUL.
    let status = unsafe { sys::napi_set_named_property(env, obj, name.as_ptr().cast(), value) };
    (status == sys::Status::napi_ok).then_some(())
}

/// A new plain object.
///
/// # Safety
/// Called from a running callback.
unsafe fn object(env: sys::napi_env) -> Option<sys::napi_value> {
    let mut out = ptr::null_mut();
    // SAFETY: within the callback.
    (unsafe { sys::napi_create_object(env, &mut out) } == sys::Status::napi_ok).then_some(out)
}

/// The details object (`EvaluationDetails` of `index.d.ts`): `flagKey`, `value`, `reason`,
/// `flagMetadata`, and `variant`, `ruleId`, `errorCode`, `errorMessage` when present.
///
/// # Safety
/// Called from a running callback.
unsafe fn details_object(
    env: sys::napi_env,
    flag: &str,
    value: sys::napi_value,
    d: &EvaluationDetails<'_>,
) -> Option<sys::napi_value> {
    // SAFETY (whole body): within the callback.
    unsafe {
        let obj = object(env)?;
        set(env, obj, b"flagKey\0", js_string(env, flag)?)?;
        set(env, obj, b"value\0", value)?;
        if let Some(v) = d.variant {
            set(env, obj, b"variant\0", js_string(env, v)?)?;
        }
        set(env, obj, b"reason\0", js_string(env, d.reason.as_str())?)?;
        if let Some(r) = d.rule_id {
            set(env, obj, b"ruleId\0", js_string(env, r)?)?;
        }
        if let Some(e) = &d.error {
            set(env, obj, b"errorCode\0", js_string(env, e.code.as_str())?)?;
            set(env, obj, b"errorMessage\0", js_string(env, &e.message)?)?;
        }
        let meta = object(env)?;
        for (k, v) in d.metadata.iter() {
            let mut jv = ptr::null_mut();
            let status = match v {
                MetadataValue::String(s) => {
                    jv = js_string(env, s)?;
                    sys::Status::napi_ok
                }
                MetadataValue::Number(n) => sys::napi_create_double(env, *n, &mut jv),
                MetadataValue::Bool(b) => sys::napi_get_boolean(env, *b, &mut jv),
            };
            let key = js_string(env, k)?;
            if status != sys::Status::napi_ok
                || sys::napi_set_property(env, meta, key, jv) != sys::Status::napi_ok
            {
                return None;
            }
        }
        set(env, obj, b"flagMetadata\0", meta)?;
        Some(obj)
    }
}

/// Details of an error with the caller's default as the value.
///
/// # Safety
/// Called from a running callback.
unsafe fn error_object(
    env: sys::napi_env,
    flag: &str,
    default: sys::napi_value,
    e: &EvalError,
) -> Option<sys::napi_value> {
    // SAFETY (whole body): within the callback.
    unsafe {
        let obj = object(env)?;
        set(env, obj, b"flagKey\0", js_string(env, flag)?)?;
        set(env, obj, b"value\0", default)?;
        set(env, obj, b"reason\0", js_string(env, "ERROR")?)?;
        set(env, obj, b"errorCode\0", js_string(env, e.code.as_str())?)?;
        set(env, obj, b"errorMessage\0", js_string(env, &e.message)?)?;
        set(env, obj, b"flagMetadata\0", object(env)?)?;
        Some(obj)
    }
}

/// Which typed getter a details call runs.
#[derive(Clone, Copy)]
enum Kind {
    Boolean,
    String,
    Number,
    Integer,
}

/// Evaluates `kind` and builds its details object, recording the exposure.
///
/// # Safety
/// Called from a running callback.
unsafe fn typed_details(
    env: sys::napi_env,
    kind: Kind,
    client: &NativeClient,
    snap: &CoreSnapshot,
    flag: &str,
    ctx: &CoreContext,
    default: sys::napi_value,
) -> Option<sys::napi_value> {
    let now = now_ms();
    let mismatch = |what: &str| EvalError {
        code: ErrorCode::TypeMismatch,
        message: format!("the default value must be {what}"),
    };
    // SAFETY (whole body): within the callback.
    unsafe {
        let mut out = ptr::null_mut();
        let details = match kind {
            Kind::Boolean => {
                let mut d = false;
                if sys::napi_get_value_bool(env, default, &mut d) != sys::Status::napi_ok {
                    return error_object(env, flag, default, &mismatch("a boolean"));
                }
                let t = snap.get_bool(flag, ctx, now, d);
                if sys::napi_get_boolean(env, t.value, &mut out) != sys::Status::napi_ok {
                    return None;
                }
                t.details
            }
            Kind::String => {
                let mut t = 0;
                if sys::napi_typeof(env, default, &mut t) != sys::Status::napi_ok
                    || t != sys::ValueType::napi_string
                {
                    return error_object(env, flag, default, &mismatch("a string"));
                }
                let t = snap.get_string(flag, ctx, now, "");
                out = if t.details.error.is_some() {
                    default
                } else {
                    js_string(env, t.value)?
                };
                t.details
            }
            Kind::Number => {
                let mut d = 0.0;
                if sys::napi_get_value_double(env, default, &mut d) != sys::Status::napi_ok {
                    return error_object(env, flag, default, &mismatch("a number"));
                }
                let t = snap.get_float(flag, ctx, now, d);
                if sys::napi_create_double(env, t.value, &mut out) != sys::Status::napi_ok {
                    return None;
                }
                t.details
            }
            Kind::Integer => {
                let mut d = 0i64;
                if sys::napi_get_value_int64(env, default, &mut d) != sys::Status::napi_ok {
                    return error_object(env, flag, default, &mismatch("an integer"));
                }
                let t = snap.get_integer(flag, ctx, now, d);
                #[allow(clippy::cast_precision_loss)] // as JS numbers
                let v = t.value as f64;
                if sys::napi_create_double(env, v, &mut out) != sys::Status::napi_ok {
                    return None;
                }
                t.details
            }
        };
        client.record_exposure(snap, flag, &details, ctx, now);
        details_object(env, flag, out, &details)
    }
}

/// `(flagKey, context, default)` → details; never throws: a bad context gives
/// `INVALID_CONTEXT`, no snapshot `GENERAL`, both with the default as the value.
///
/// # Safety
/// Called from a running callback of a function made by `bind`.
unsafe fn details_call(
    env: sys::napi_env,
    info: sys::napi_callback_info,
    kind: Kind,
) -> sys::napi_value {
    let mut undefined = ptr::null_mut();
    // SAFETY: within the callback.
    unsafe { sys::napi_get_undefined(env, &mut undefined) };
    // SAFETY: within the callback.
    let Some((client, [flag, ctx, default])) = (unsafe { args3(env, info) }) else {
        return undefined;
    };
    let run = || -> Option<sys::napi_value> {
        // SAFETY: within the callback.
        unsafe {
            with_str(env, flag, |flag| {
                let owned;
                let ctx: &CoreContext = match unwrap::<Arc<CoreContext>>(env, ctx, &CONTEXT_TAG) {
                    Some(handle) => handle,
                    None => match object_context(env, ctx) {
                        Some(c) => {
                            owned = c;
                            &owned
                        }
                        None => {
                            let e = EvalError {
                                code: ErrorCode::InvalidContext,
                                message: "the context must be a Context or a plain object of \
                                          strings, numbers, booleans and lists of strings"
                                    .into(),
                            };
                            return error_object(env, flag, default, &e);
                        }
                    },
                };
                match client.with_snapshot(|snap| {
                    typed_details(env, kind, client, snap, flag, ctx, default)
                }) {
                    Some(v) => v,
                    None => {
                        let (status, last) = client.status();
                        let e = burgee_client::not_ready_error(
                            &status,
                            last.as_ref().map(|(_, m)| m.as_str()),
                        );
                        error_object(env, flag, default, &e)
                    }
                }
            })?
        }
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
        Ok(Some(v)) => v,
        _ => undefined,
    }
}

macro_rules! details_callbacks {
    ($($name:ident, $kind:expr;)*) => {$(
        unsafe extern "C" fn $name(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
            // SAFETY: N-API calls this with a live env and info.
            unsafe { details_call(env, info, $kind) }
        }
    )*};
}

details_callbacks! {
    get_boolean_details, Kind::Boolean;
    get_string_details, Kind::String;
    get_number_details, Kind::Number;
    get_integer_details, Kind::Integer;
}

/// A typed body: `(env, client, flag, context, default JS value)` → the JS value to return.
type Body = unsafe fn(
    sys::napi_env,
    &NativeClient,
    &str,
    &CoreContext,
    sys::napi_value,
) -> Option<sys::napi_value>;

/// Most attributes the pair form carries (more go through the object form).
const MAX_PAIRS: usize = 32;

/// `(flagKey, default, name1, value1, name2, value2, ...)`: a fresh context passed as
/// arguments (`index.js` spreads a plain object's members), so one `napi_get_cb_info` reads
/// them all.
///
/// # Safety
/// Called from a running callback.
unsafe fn pairs_call(
    env: sys::napi_env,
    info: sys::napi_callback_info,
    body: Body,
) -> sys::napi_value {
    let mut argv = [ptr::null_mut(); 2 + 2 * MAX_PAIRS];
    let mut argc = argv.len();
    let mut data = ptr::null_mut();
    // SAFETY: `argv` has room for `argc` values.
    let status = unsafe {
        sys::napi_get_cb_info(
            env,
            info,
            &mut argc,
            argv.as_mut_ptr(),
            ptr::null_mut(),
            &mut data,
        )
    };
    let mut undefined = ptr::null_mut();
    if status != sys::Status::napi_ok || argc < 2 || data.is_null() {
        // SAFETY: within the callback.
        unsafe { sys::napi_get_undefined(env, &mut undefined) };
        return undefined;
    }
    // SAFETY: `bind` made `data` a `Box<Arc<NativeClient>>` that lives as long as the function.
    let client: &Arc<NativeClient> = unsafe { &*data.cast::<Arc<NativeClient>>() };
    let [flag, default, ..] = argv;
    let run = || -> Option<sys::napi_value> {
        if argc > argv.len() || (argc - 2) % 2 != 0 {
            return None;
        }
        let mut ctx = CoreContext::anonymous();
        for pair in argv.get(2..argc)?.chunks_exact(2) {
            let [k, v] = pair else { return None };
            // SAFETY: within the callback.
            unsafe { add_member(env, &mut ctx, *k, *v) }?;
        }
        // SAFETY: within the callback.
        unsafe { with_str(env, flag, |flag| body(env, client, flag, &ctx, default)) }?
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
        Ok(Some(v)) => v,
        _ => default,
    }
}

macro_rules! callbacks {
    ($($handle:ident, $pairs:ident, $body:ident;)*) => {$(
        unsafe extern "C" fn $handle(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
            // SAFETY: N-API calls this with a live env and info.
            unsafe { typed_call(env, info, |client, flag, ctx, default| $body(env, client, flag, ctx, default)) }
        }
        unsafe extern "C" fn $pairs(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
            // SAFETY: N-API calls this with a live env and info.
            unsafe { pairs_call(env, info, $body) }
        }
    )*};
}

callbacks! {
    get_boolean, get_boolean_pairs, boolean_body;
    get_number, get_number_pairs, number_body;
    get_integer, get_integer_pairs, integer_body;
    get_string, get_string_pairs, string_body;
}

/// The fast getters of one client, as an object of functions that carry the client in their
/// data (no handle to unwrap per call): `boolean`, `string`, `number`, `integer`, each
/// `(flagKey, context, default)` with a context handle or a plain object, and
/// `booleanPairs`, `stringPairs`, `numberPairs`, `integerPairs`, each
/// `(flagKey, default, name1, value1, ...)`, and `booleanDetails`, `stringDetails`,
/// `numberDetails`, `integerDetails` (`(flagKey, context, default)` → details object).
pub(crate) fn bind(env: &napi::Env, client: &Arc<NativeClient>) -> napi::Result<Handle> {
    type Callback = unsafe extern "C" fn(sys::napi_env, sys::napi_callback_info) -> sys::napi_value;
    let env = env.raw();
    let fns: [(&str, Callback); 12] = [
        ("boolean", get_boolean),
        ("string", get_string),
        ("number", get_number),
        ("integer", get_integer),
        ("booleanPairs", get_boolean_pairs),
        ("stringPairs", get_string_pairs),
        ("numberPairs", get_number_pairs),
        ("integerPairs", get_integer_pairs),
        ("booleanDetails", get_boolean_details),
        ("stringDetails", get_string_details),
        ("numberDetails", get_number_details),
        ("integerDetails", get_integer_details),
    ];
    let fail = |what: &str| napi::Error::from_reason(format!("binding the fast getters: {what}"));
    let mut object = ptr::null_mut();
    // SAFETY: a live env in a `#[napi]` call.
    if unsafe { sys::napi_create_object(env, &mut object) } != sys::Status::napi_ok {
        return Err(fail("napi_create_object"));
    }
    for (name, cb) in fns {
        let data = Box::into_raw(Box::new(Arc::clone(client))).cast::<c_void>();
        let mut f = ptr::null_mut();
        let len = isize::try_from(name.len()).unwrap_or(0);
        // SAFETY: a live env; `name` outlives the call; `data` stays valid until the
        // finalizer below frees it with the function.
        let created = unsafe {
            sys::napi_create_function(
                env,
                name.as_ptr().cast::<c_char>(),
                len,
                Some(cb),
                data,
                &mut f,
            )
        };
        if created != sys::Status::napi_ok {
            // SAFETY: not handed to JS; reclaim.
            drop(unsafe { Box::from_raw(data.cast::<Arc<NativeClient>>()) });
            return Err(fail("napi_create_function"));
        }
        // SAFETY: `f` is the function just created; the finalizer frees `data` exactly once.
        let finalizer = unsafe {
            sys::napi_add_finalizer(
                env,
                f,
                data,
                Some(finalize::<Arc<NativeClient>>),
                ptr::null_mut(),
                ptr::null_mut(),
            )
        };
        if finalizer != sys::Status::napi_ok {
            return Err(fail("napi_add_finalizer"));
        }
        let key = format!("{name}\0");
        // SAFETY: `object` and `f` are live values; `key` is NUL-terminated.
        let set = unsafe { sys::napi_set_named_property(env, object, key.as_ptr().cast(), f) };
        if set != sys::Status::napi_ok {
            return Err(fail("napi_set_named_property"));
        }
    }
    Ok(Handle(object))
}

/// A value made here (a tagged context external, the object of bound getters) returned to JS
/// from a `#[napi]` method.
pub struct Handle(sys::napi_value);

impl Handle {
    /// The context handle of `ctx`.
    pub(crate) fn context(env: &napi::Env, ctx: Arc<CoreContext>) -> napi::Result<Handle> {
        external(env.raw(), ctx, &CONTEXT_TAG).map(Handle)
    }
}

impl napi::bindgen_prelude::TypeName for Handle {
    fn type_name() -> &'static str {
        "external"
    }
    fn value_type() -> napi::ValueType {
        napi::ValueType::External
    }
}

impl napi::bindgen_prelude::ToNapiValue for Handle {
    unsafe fn to_napi_value(_env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        Ok(val.0)
    }
}
