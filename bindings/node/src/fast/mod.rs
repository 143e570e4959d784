//! The evaluation hot path as plain N-API callbacks.
//!
//! napi-derive wraps every `#[napi]` call in borrow-tracking scopes (thread-local stacks, a
//! hash map of borrowed objects, class-identity checks) that cost ~400 ns per call — more than
//! the evaluation itself. The typed value getters are the calls an application makes per
//! request, so they are raw callbacks here: bound to their client through the function's
//! data, and taking a context *handle* (an `napi_create_external` tagged with its own
//! `napi_type_tag`, so a foreign value is refused and the caller's default comes back instead
//! of a misread) or a plain object. `index.js` calls them; everything else stays on
//! napi-derive. Conversion only: evaluation with exposures is `burgee-client`'s (its typed
//! getters); the raw N-API helpers are in [`raw`].
#![allow(unsafe_code)]

mod raw;

use std::ffi::{c_char, c_void};
use std::ptr;
use std::sync::Arc;

use burgee_client::{Client as NativeClient, Resolution};
use burgee_core::{Context as CoreContext, ErrorCode, EvalError};
use napi::sys;

pub(crate) use raw::details_object;
use raw::{
    CONTEXT_TAG, add_member, args3, external, finalize, js_string, object_context, unwrap, with_str,
};

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
        let v = client.get_bool(flag, ctx, d);
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
        let v = client.get_float(flag, ctx, d);
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
        let v = client.get_integer(flag, ctx, d);
        let mut out = ptr::null_mut();
        // Integers beyond 2^53 lose precision as JS numbers.
        #[allow(clippy::cast_precision_loss)]
        let status = sys::napi_create_double(env, v as f64, &mut out);
        (status == sys::Status::napi_ok).then_some(out)
    }
}

/// Body of `fastGetString*`: the caller's own string on error.
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
    client.get_string_with(flag, ctx, |v| match v {
        // SAFETY: within the callback.
        Some(s) => unsafe { js_string(env, s) },
        None => Some(default),
    })
}

// ---- details ----

/// Which typed getter a details call runs.
#[derive(Clone, Copy)]
enum Kind {
    Boolean,
    String,
    Number,
    Integer,
}

/// Details of an error raised before evaluation, with the caller's default as the value.
///
/// # Safety
/// Called from a running callback.
unsafe fn error_object(
    env: sys::napi_env,
    flag: &str,
    default: sys::napi_value,
    e: EvalError,
) -> Option<sys::napi_value> {
    // SAFETY: within the callback.
    unsafe { details_object(env, &Resolution::error(flag, (), e), default) }
}

/// The client's details getter of `kind` (exposure recorded) as a details object; a default
/// of another type is a `TYPE_MISMATCH` with the default served.
///
/// # Safety
/// Called from a running callback.
unsafe fn typed_details(
    env: sys::napi_env,
    kind: Kind,
    client: &NativeClient,
    flag: &str,
    ctx: &CoreContext,
    default: sys::napi_value,
) -> Option<sys::napi_value> {
    let mismatch = |what: &str| EvalError {
        code: ErrorCode::TypeMismatch,
        message: format!("the default value must be {what}"),
    };
    // SAFETY (whole body): within the callback.
    unsafe {
        let mut out = ptr::null_mut();
        match kind {
            Kind::Boolean => {
                let mut d = false;
                if sys::napi_get_value_bool(env, default, &mut d) != sys::Status::napi_ok {
                    return error_object(env, flag, default, mismatch("a boolean"));
                }
                let r = client.get_bool_details(flag, ctx, d);
                if sys::napi_get_boolean(env, r.value, &mut out) != sys::Status::napi_ok {
                    return None;
                }
                details_object(env, &r, out)
            }
            Kind::String => {
                let mut t = 0;
                if sys::napi_typeof(env, default, &mut t) != sys::Status::napi_ok
                    || t != sys::ValueType::napi_string
                {
                    return error_object(env, flag, default, mismatch("a string"));
                }
                let r = client.get_string_details(flag, ctx, "");
                let value = if r.error.is_some() {
                    default
                } else {
                    js_string(env, &r.value)?
                };
                details_object(env, &r, value)
            }
            Kind::Number => {
                let mut d = 0.0;
                if sys::napi_get_value_double(env, default, &mut d) != sys::Status::napi_ok {
                    return error_object(env, flag, default, mismatch("a number"));
                }
                let r = client.get_float_details(flag, ctx, d);
                if sys::napi_create_double(env, r.value, &mut out) != sys::Status::napi_ok {
                    return None;
                }
                details_object(env, &r, out)
            }
            Kind::Integer => {
                let mut d = 0i64;
                if sys::napi_get_value_int64(env, default, &mut d) != sys::Status::napi_ok {
                    return error_object(env, flag, default, mismatch("an integer"));
                }
                let r = client.get_integer_details(flag, ctx, d);
                #[allow(clippy::cast_precision_loss)] // as JS numbers
                let v = r.value as f64;
                if sys::napi_create_double(env, v, &mut out) != sys::Status::napi_ok {
                    return None;
                }
                details_object(env, &r, out)
            }
        }
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
                            return error_object(env, flag, default, e);
                        }
                    },
                };
                typed_details(env, kind, client, flag, ctx, default)
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
pub struct Handle(pub(crate) sys::napi_value);

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
