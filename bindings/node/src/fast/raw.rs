//! Raw N-API helpers of the fast path: tagged externals (context handles), strings, plain
//! objects, the context of a plain object, arguments, and the details object.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_void};
use std::ptr;
use std::sync::Arc;

use burgee_client::{Client as NativeClient, Resolution};
use burgee_core::{AttributeValue, Context as CoreContext, MetadataValue};
use napi::sys;

/// Tag of context externals.
pub(crate) const CONTEXT_TAG: sys::napi_type_tag = sys::napi_type_tag {
    lower: 0x6275_7267_6565_6374,
    upper: 0x7800_0000_0000_0001,
};

pub(crate) unsafe extern "C" fn finalize<T>(
    _env: sys::napi_env,
    data: *mut c_void,
    _hint: *mut c_void,
) {
    if !data.is_null() {
        // SAFETY: `data` is the `Box<T>` leaked by `external` below, finalized exactly once.
        drop(unsafe { Box::from_raw(data.cast::<T>()) });
    }
}

/// A tagged external owning `value`.
pub(crate) fn external<T>(
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
pub(crate) unsafe fn unwrap<'a, T>(
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
pub(crate) unsafe fn with_str<R>(
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
pub(crate) unsafe fn object_context(
    env: sys::napi_env,
    obj: sys::napi_value,
) -> Option<CoreContext> {
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
pub(crate) unsafe fn add_member(
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
pub(crate) unsafe fn args3<'a>(
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

/// A JS string.
///
/// # Safety
/// Called from a running callback.
pub(crate) unsafe fn js_string(env: sys::napi_env, s: &str) -> Option<sys::napi_value> {
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
pub(crate) unsafe fn set(
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
pub(crate) unsafe fn object(env: sys::napi_env) -> Option<sys::napi_value> {
    let mut out = ptr::null_mut();
    // SAFETY: within the callback.
    (unsafe { sys::napi_create_object(env, &mut out) } == sys::Status::napi_ok).then_some(out)
}

/// The details object (`EvaluationDetails` of `index.d.ts`) of a [`Resolution`] whose value
/// is already the JS `value`: `flagKey`, `value`, `reason`, `flagMetadata`, and `variant`,
/// `ruleId`, `errorCode`, `errorMessage` when present. The one details conversion of this
/// package (the napi-derive methods return it too).
///
/// # Safety
/// Called from a running callback (or `#[napi]` call) with a live `env`.
pub(crate) unsafe fn details_object<T>(
    env: sys::napi_env,
    r: &Resolution<T>,
    value: sys::napi_value,
) -> Option<sys::napi_value> {
    // SAFETY (whole body): within the callback.
    unsafe {
        let obj = object(env)?;
        set(env, obj, b"flagKey\0", js_string(env, &r.flag_key)?)?;
        set(env, obj, b"value\0", value)?;
        if let Some(v) = &r.variant {
            set(env, obj, b"variant\0", js_string(env, v)?)?;
        }
        set(env, obj, b"reason\0", js_string(env, r.reason.as_str())?)?;
        if let Some(id) = &r.rule_id {
            set(env, obj, b"ruleId\0", js_string(env, id)?)?;
        }
        if let Some(e) = &r.error {
            set(env, obj, b"errorCode\0", js_string(env, e.code.as_str())?)?;
            set(env, obj, b"errorMessage\0", js_string(env, &e.message)?)?;
        }
        let meta = object(env)?;
        for (k, v) in &r.metadata {
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
