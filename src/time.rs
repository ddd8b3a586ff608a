//! Business time. Storage is UTC (`NaiveDateTime` read as UTC); days, months and
//! settlement periods are local to 遂州, i.e. Asia/Shanghai.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};

/// Asia/Shanghai has been UTC+8 without daylight saving since 1991, so a fixed offset is
/// exact for every date this system stores (and spares us the tz database).
pub fn shanghai() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("constant offset is valid")
}

/// Now in UTC, truncated to microseconds: PostgreSQL keeps microseconds, so values that
/// are hashed (audit chain) must not carry more precision than they come back with.
pub fn now() -> NaiveDateTime {
    truncate_micros(Utc::now().naive_utc())
}

pub fn truncate_micros(t: NaiveDateTime) -> NaiveDateTime {
    let nanos = t.nanosecond() / 1_000 * 1_000;
    t.with_nanosecond(nanos).unwrap_or(t)
}

/// A stored UTC timestamp as an RFC 3339 string in Shanghai time (`+08:00`).
pub fn to_local(t: NaiveDateTime) -> DateTime<FixedOffset> {
    Utc.from_utc_datetime(&t).with_timezone(&shanghai())
}

/// The UTC instant at which a local date begins.
pub fn local_day_start(date: NaiveDate) -> NaiveDateTime {
    let local = date.and_hms_opt(0, 0, 0).expect("midnight exists");
    local - Duration::hours(8)
}

/// Parses a time filter: RFC 3339, or a local date `YYYY-MM-DD`. A date as an upper
/// bound (`end_of_day = true`) means the end of that local day.
pub fn parse_filter(value: &str, end_of_day: bool) -> Result<NaiveDateTime, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&Utc).naive_utc());
    }
    match NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        Ok(d) if end_of_day => Ok(local_day_start(d) + Duration::days(1)),
        Ok(d) => Ok(local_day_start(d)),
        Err(_) => Err(format!(
            "{value:?} is neither RFC 3339 nor a date YYYY-MM-DD"
        )),
    }
}

/// A period of settlement and anomaly scans: a local calendar month `YYYY-MM`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period(String);

impl Period {
    pub fn parse(raw: &str) -> crate::error::ApiResult<Self> {
        let raw = raw.trim();
        let ok = raw.len() == 7
            && raw.as_bytes()[4] == b'-'
            && raw[..4]
                .parse::<i32>()
                .is_ok_and(|y| (2000..=2999).contains(&y))
            && raw[5..].parse::<u32>().is_ok_and(|m| (1..=12).contains(&m))
            && raw[5..].len() == 2;
        if ok {
            Ok(Period(raw.to_owned()))
        } else {
            Err(crate::error::ApiError::invalid_field(
                "period",
                format!("period must be a month YYYY-MM, e.g. 2026-11 (got {raw:?})"),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The UTC instants at which the month begins and the next begins.
    pub fn bounds(&self) -> (NaiveDateTime, NaiveDateTime) {
        let first = NaiveDate::parse_from_str(&format!("{}-01", self.0), "%Y-%m-%d")
            .expect("a parsed period is a month");
        let next = first
            .checked_add_months(chrono::Months::new(1))
            .expect("years up to 2999");
        (local_day_start(first), local_day_start(next))
    }
}

/// The instant `months` calendar months before `t`.
pub fn months_before(t: NaiveDateTime, months: i64) -> NaiveDateTime {
    t.checked_sub_months(chrono::Months::new(months.clamp(0, 1200) as u32))
        .unwrap_or(t)
}

/// Serde helper: serialise stored UTC timestamps as RFC 3339 in Shanghai time.
pub mod rfc3339_local {
    use chrono::NaiveDateTime;
    use serde::Serializer;

    pub fn serialize<S: Serializer>(t: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::to_local(*t).to_rfc3339_opts(chrono::SecondsFormat::Secs, false))
    }

    pub mod option {
        use chrono::NaiveDateTime;
        use serde::Serializer;

        pub fn serialize<S: Serializer>(
            t: &Option<NaiveDateTime>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => super::serialize(t, s),
                None => s.serialize_none(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_dates_start_at_shanghai_midnight() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        assert_eq!(local_day_start(d).to_string(), "2026-10-31 16:00:00");
        assert_eq!(
            parse_filter("2026-11-01", false).unwrap().to_string(),
            "2026-10-31 16:00:00"
        );
        assert_eq!(
            parse_filter("2026-11-01", true).unwrap().to_string(),
            "2026-11-01 16:00:00"
        );
        assert_eq!(
            parse_filter("2026-11-01T08:00:00+08:00", false)
                .unwrap()
                .to_string(),
            "2026-11-01 00:00:00"
        );
        assert!(parse_filter("01/11/2026", false).is_err());
    }

    #[test]
    fn now_has_microsecond_precision() {
        assert_eq!(now().nanosecond() % 1_000, 0);
    }
}
