//! Instants of `before` / `after` (`spec/SNAPSHOT.md` §3.2): integer milliseconds since the
//! epoch within ±(2^53−1), or RFC 3339 `date-time` strings read strictly by the grammar of
//! RFC 3339 §5.6.
//!
//! jiff's own parser reads a wider format (Temporal/ISO 8601: a comma before the fraction, a
//! space for `T`, no seconds, `+01` offsets, bracketed time zones, `:60` clamped to `:59`), so
//! the grammar is checked here and jiff does the calendar: it refuses impossible dates
//! (`2026-02-30`) and times, and counts the seconds since the epoch.

use jiff::civil::DateTime;
use serde_json::Value;

/// 2^53 − 1: the largest integer every JSON implementation (IEEE-754 doubles) holds exactly.
pub(crate) const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// `n` as an integer when it is integral and within ±(2^53−1); `None` otherwise.
pub(crate) fn safe_integer(n: f64) -> Option<i64> {
    #[allow(clippy::cast_precision_loss)]
    let max = MAX_SAFE_INTEGER as f64;
    // In range, the i64 round trip is exact exactly for integral values.
    #[allow(clippy::cast_possible_truncation)]
    let i = n as i64;
    #[allow(clippy::cast_precision_loss)]
    let integral = i as f64 == n;
    ((-max..=max).contains(&n) && integral).then_some(i)
}

/// A date operand in ms since the epoch: a JSON integer (no fraction or exponent) within
/// ±(2^53−1), or an RFC 3339 `date-time` string ([`rfc3339_ms`]). `None` otherwise.
pub(crate) fn date_ms(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .filter(|i| (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(i)),
        Value::String(s) => rfc3339_ms(s),
        _ => None,
    }
}

/// An RFC 3339 `date-time` as ms since the epoch, or `None` when `s` is not one:
///
/// ```text
/// YYYY-MM-DD ("T" / "t") hh:mm:ss ["." 1*DIGIT] ("Z" / "z" / ("+" / "-") hh:mm)
/// ```
///
/// Refused: a space for `T`, a comma before the fraction, missing seconds, `+hh` offsets,
/// expanded years, annotations, impossible dates and times, and the leap second `:60` (ms
/// since the epoch count no leap seconds). The fraction may have any number of digits; the
/// instant is floored to its millisecond, i.e. digits after the third are ignored (the
/// fraction always adds to the whole second, whatever the sign of the result). `-00:00` is
/// UTC, as `Z`.
pub(crate) fn rfc3339_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let digits = |at: usize, n: usize| -> Option<i32> {
        let mut v = 0i32;
        for i in at..at + n {
            let d = *b.get(i)?;
            if !d.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i32::from(d - b'0');
        }
        Some(v)
    };
    let is = |at: usize, c: &[u8]| b.get(at).is_some_and(|x| c.contains(x));
    let separators = is(4, b"-") && is(7, b"-") && is(10, b"Tt") && is(13, b":") && is(16, b":");
    if !separators {
        return None;
    }
    let (year, month, day) = (digits(0, 4)?, digits(5, 2)?, digits(8, 2)?);
    let (hour, minute, second) = (digits(11, 2)?, digits(14, 2)?, digits(17, 2)?);

    let mut at = 19;
    let mut millis = 0i64;
    if is(at, b".") {
        let start = at + 1;
        at = start;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        if at == start {
            return None;
        }
        for i in start..start + 3 {
            let d = if i < at {
                b.get(i).map_or(0, |d| d - b'0')
            } else {
                0
            };
            millis = millis * 10 + i64::from(d);
        }
    }
    let offset_seconds = match b.get(at) {
        Some(b'Z' | b'z') => {
            at += 1;
            0
        }
        Some(&sign @ (b'+' | b'-')) => {
            let (oh, om) = (digits(at + 1, 2)?, digits(at + 4, 2)?);
            if !is(at + 3, b":") || oh > 23 || om > 59 {
                return None;
            }
            at += 6;
            let seconds = oh * 3600 + om * 60;
            if sign == b'-' { -seconds } else { seconds }
        }
        _ => return None,
    };
    if at != b.len() {
        return None;
    }
    let narrow = |v: i32| i8::try_from(v).ok();
    // jiff checks the calendar and the clock (seconds 00-59: no leap second).
    let local = DateTime::new(
        i16::try_from(year).ok()?,
        narrow(month)?,
        narrow(day)?,
        narrow(hour)?,
        narrow(minute)?,
        narrow(second)?,
        0,
    )
    .ok()?;
    let since_epoch = local.duration_since(DateTime::constant(1970, 1, 1, 0, 0, 0, 0));
    let utc_seconds = since_epoch.as_secs() - i64::from(offset_seconds);
    Some(utc_seconds * 1000 + millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_whole_four_digit_range_and_offsets() {
        assert_eq!(rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            rfc3339_ms("0000-01-01T00:00:00Z"),
            Some(-62_167_219_200_000)
        );
        // Beyond jiff's Timestamp range (it ends on 9999-12-30): counted from the civil time.
        assert_eq!(
            rfc3339_ms("9999-12-31T23:59:59.999-23:59"),
            Some(253_402_300_799_999 + (23 * 60 + 59) * 60_000)
        );
        assert_eq!(rfc3339_ms("1970-01-01T00:00:00.5+00:01"), Some(-59_500));
        assert_eq!(rfc3339_ms("2024-02-29T12:00:00Z"), Some(1_709_208_000_000));
        assert_eq!(rfc3339_ms("2023-02-29T12:00:00Z"), None);
        assert_eq!(rfc3339_ms("1970-01-01T00:00:00+00:60"), None);
        assert_eq!(rfc3339_ms("1970-01-01T00:00:00Z "), None);
        assert_eq!(rfc3339_ms("1970-01-01T00:00:00.1é"), None);
    }

    #[test]
    fn numbers_are_safe_integers_only() {
        assert_eq!(safe_integer(42.0), Some(42));
        assert_eq!(safe_integer(-0.0), Some(0));
        assert_eq!(safe_integer(0.5), None);
        assert_eq!(safe_integer(9_007_199_254_740_992.0), None);
        assert_eq!(safe_integer(f64::NAN), None);
        assert_eq!(
            date_ms(&serde_json::json!(-9_007_199_254_740_991_i64)),
            Some(-MAX_SAFE_INTEGER)
        );
        assert_eq!(date_ms(&serde_json::json!(1000.0)), None);
    }
}
