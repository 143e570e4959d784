//! Evaluation on the held snapshot, for every binding: the core's typed getters, the exposure
//! recorded ([`Client::record_exposure`]) for each served value, and the not-ready answer
//! (the caller's default with `GENERAL`, [`Client::not_ready`]) before the first snapshot.
//!
//! Value getters (`get_bool`, ...) give the value alone; details getters (`*_details`) give a
//! [`Resolution`] (OpenFeature's details) that each binding converts to its host's object.
//! Times are the system clock's ([`crate::now_ms`]).

use burgee_core::engine::{Resolution, resolve_json};
use burgee_core::{Context, EvalError, EvaluationDetails, Snapshot, ValueKind};
use serde_json::{Map, Value};

use crate::{Client, not_ready_error, now_ms};

impl Client {
    /// The error evaluations answer while no snapshot is held: `GENERAL`, naming the status
    /// and the last error.
    pub fn not_ready(&self) -> EvalError {
        let (status, last) = self.status();
        not_ready_error(&status, last.as_ref().map(|(_, m)| m.as_str()))
    }

    /// Runs `eval` with the held snapshot and the current time, then records the exposure of
    /// the details it returns; `None` without a snapshot.
    fn served<R>(
        &self,
        flag_key: &str,
        ctx: &Context,
        eval: impl FnOnce(&Snapshot, u64) -> (R, EvaluationDetails<'_>),
    ) -> Option<R> {
        self.with_snapshot(|snap| {
            let now = now_ms();
            let (out, details) = eval(snap, now);
            self.record_exposure(snap, flag_key, &details, ctx, now);
            out
        })
    }

    /// The value of a `boolean` flag (exposure recorded); `default` on any error or before the
    /// first snapshot.
    pub fn get_bool(&self, flag_key: &str, ctx: &Context, default: bool) -> bool {
        self.served(flag_key, ctx, |s, now| {
            let t = s.get_bool(flag_key, ctx, now, default);
            (t.value, t.details)
        })
        .unwrap_or(default)
    }

    /// The value of an `integer` flag (exposure recorded); `default` on any error.
    pub fn get_integer(&self, flag_key: &str, ctx: &Context, default: i64) -> i64 {
        self.served(flag_key, ctx, |s, now| {
            let t = s.get_integer(flag_key, ctx, now, default);
            (t.value, t.details)
        })
        .unwrap_or(default)
    }

    /// The value of a `float` flag (exposure recorded); `default` on any error (an `integer`
    /// flag is a `TYPE_MISMATCH`).
    pub fn get_float(&self, flag_key: &str, ctx: &Context, default: f64) -> f64 {
        self.served(flag_key, ctx, |s, now| {
            let t = s.get_float(flag_key, ctx, now, default);
            (t.value, t.details)
        })
        .unwrap_or(default)
    }

    /// `out(Some(value))` with the value of a `string` flag (exposure recorded), or
    /// `out(None)` on any error or before the first snapshot (the host then serves its own
    /// default): the host builds its string from the snapshot's without an intermediate copy.
    pub fn get_string_with<R>(
        &self,
        flag_key: &str,
        ctx: &Context,
        mut out: impl FnMut(Option<&str>) -> R,
    ) -> R {
        let served = self.served(flag_key, ctx, |s, now| {
            // The core's default only stands in, so the details borrow the snapshot alone.
            let t = s.get_string(flag_key, ctx, now, "");
            let value = t.details.error.is_none().then(|| out(Some(t.value)));
            (value, t.details)
        });
        match served.flatten() {
            Some(r) => r,
            None => out(None),
        }
    }

    /// The value of a `string` flag (exposure recorded); `default` on any error.
    pub fn get_string(&self, flag_key: &str, ctx: &Context, default: &str) -> String {
        self.get_string_with(flag_key, ctx, |v| v.unwrap_or(default).to_owned())
    }

    /// Typed evaluation named at run time with a JSON default (for dynamically typed hosts),
    /// exposure recorded: the served value as JSON, or `default` on any error — also
    /// `TYPE_MISMATCH` when `default` is not of `kind`, and the [`Client::not_ready`] error
    /// before the first snapshot.
    pub fn get_json(
        &self,
        kind: ValueKind,
        flag_key: &str,
        ctx: &Context,
        default: &Value,
    ) -> Resolution<Value> {
        self.with_snapshot(|snap| {
            let now = now_ms();
            resolve_json(snap, kind, flag_key, ctx, now, default, |d| {
                self.record_exposure(snap, flag_key, d, ctx, now);
            })
        })
        .unwrap_or_else(|| Resolution::error(flag_key, default.clone(), self.not_ready()))
    }

    /// Details of a `boolean` flag (exposure recorded).
    pub fn get_bool_details(
        &self,
        flag_key: &str,
        ctx: &Context,
        default: bool,
    ) -> Resolution<bool> {
        self.details(flag_key, ctx, default, |s, now| {
            let t = s.get_bool(flag_key, ctx, now, default);
            (t.value, t.details)
        })
    }

    /// Details of an `integer` flag (exposure recorded).
    pub fn get_integer_details(
        &self,
        flag_key: &str,
        ctx: &Context,
        default: i64,
    ) -> Resolution<i64> {
        self.details(flag_key, ctx, default, |s, now| {
            let t = s.get_integer(flag_key, ctx, now, default);
            (t.value, t.details)
        })
    }

    /// Details of a `float` flag (exposure recorded).
    pub fn get_float_details(
        &self,
        flag_key: &str,
        ctx: &Context,
        default: f64,
    ) -> Resolution<f64> {
        self.details(flag_key, ctx, default, |s, now| {
            let t = s.get_float(flag_key, ctx, now, default);
            (t.value, t.details)
        })
    }

    /// Details of a `string` flag (exposure recorded).
    pub fn get_string_details(
        &self,
        flag_key: &str,
        ctx: &Context,
        default: &str,
    ) -> Resolution<String> {
        self.details(flag_key, ctx, default.to_owned(), |s, now| {
            let t = s.get_string(flag_key, ctx, now, "");
            let value = match t.details.error {
                None => t.value.to_owned(),
                Some(_) => default.to_owned(),
            };
            (value, t.details)
        })
    }

    /// Details of an `object` flag (remote configuration; exposure recorded).
    pub fn get_object_details(
        &self,
        flag_key: &str,
        ctx: &Context,
        default: &Map<String, Value>,
    ) -> Resolution<Map<String, Value>> {
        let default = Value::Object(default.clone());
        self.get_json(ValueKind::Object, flag_key, ctx, &default)
            .map(|v| match v {
                Value::Object(m) => m,
                _ => Map::new(), // not reached: an object flag serves an object
            })
    }

    fn details<T>(
        &self,
        flag_key: &str,
        ctx: &Context,
        default: T,
        eval: impl FnOnce(&Snapshot, u64) -> (T, EvaluationDetails<'_>),
    ) -> Resolution<T> {
        self.with_snapshot(|snap| {
            let now = now_ms();
            let (value, details) = eval(snap, now);
            self.record_exposure(snap, flag_key, &details, ctx, now);
            Resolution::new(flag_key, value, &details)
        })
        .unwrap_or_else(|| Resolution::error(flag_key, default, self.not_ready()))
    }
}
