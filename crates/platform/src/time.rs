//! Timestamps as the API shows them: kept in UTC with microseconds, rendered offset-less in
//! `APP_TIMEZONE` as `yyyy-MM-ddTHH:mm:ss` plus a fraction without trailing zeros, the format the
//! original API gave and its frontend parses.

use chrono::{NaiveDateTime, Timelike, Utc};
use chrono_tz::Tz;

/// Default of `APP_TIMEZONE`: the original service ran in Seoul.
pub const DEFAULT_TIMEZONE: Tz = chrono_tz::Asia::Seoul;

/// The current UTC time, cut to the microseconds the databases keep, so what a handler returns
/// equals what a later read returns.
pub fn now_utc() -> NaiveDateTime {
    let now = Utc::now().naive_utc();
    now.with_nanosecond(now.nanosecond() / 1_000 * 1_000)
        .unwrap_or(now)
}

/// Renders UTC `at` in `zone` as `yyyy-MM-ddTHH:mm:ss` plus a fraction without trailing zeros.
pub fn render(zone: Tz, at: NaiveDateTime) -> String {
    let local = at.and_utc().with_timezone(&zone);
    let mut text = local.format("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = local.nanosecond() % 1_000_000_000;
    if nanos != 0 {
        let fraction = format!("{nanos:09}");
        text.push('.');
        text.push_str(fraction.trim_end_matches('0'));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").unwrap()
    }

    #[test]
    fn seoul_is_nine_hours_ahead_of_utc() {
        let rendered = render(chrono_tz::Asia::Seoul, at("2024-02-01 02:54:22.123456"));
        assert_eq!(rendered, "2024-02-01T11:54:22.123456");
    }

    #[test]
    fn trailing_zeros_of_the_fraction_are_dropped() {
        let rendered = render(chrono_tz::UTC, at("2024-02-01 02:54:22.120000"));
        assert_eq!(rendered, "2024-02-01T02:54:22.12");
    }

    #[test]
    fn a_whole_second_has_no_fraction() {
        let rendered = render(chrono_tz::UTC, at("2024-02-01 02:54:22"));
        assert_eq!(rendered, "2024-02-01T02:54:22");
    }

    #[test]
    fn now_keeps_whole_microseconds() {
        assert_eq!(now_utc().nanosecond() % 1_000, 0);
    }
}
