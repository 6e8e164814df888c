//! Clocks: a monotonic one for durations, PostgreSQL's for timestamps.
//!
//! Durations (interval lengths, later cooldowns) use CLOCK_MONOTONIC, which
//! every process on the machine shares, so a value one process stores in
//! shared memory means the same to another, and a wall-clock step cannot
//! stretch or cut an interval. Timestamps shown to people use PostgreSQL's
//! clock and are formatted as ISO 8601 in UTC.

use pgrx::pg_sys;

/// Nanoseconds on CLOCK_MONOTONIC: every duration the extension measures.
/// A test build (cargo feature `test-clock`) adds the offset a test moves,
/// or stands still until moved (src/pg/test_clock.rs).
pub fn monotonic_ns() -> i64 {
    let real = real_monotonic_ns();
    #[cfg(feature = "test-clock")]
    let real = crate::pg::test_clock::now_ns(real);
    real
}

fn real_monotonic_ns() -> i64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // CLOCK_MONOTONIC cannot fail on Linux with a valid pointer.
    // SAFETY: `ts` is a live, writable timespec on this stack frame; clock_gettime
    // only writes through it and keeps no reference.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

/// The worker has done everything due up to `evaluated_at_ns` (a
/// `monotonic_ns()` reading) and is about to sleep. The test clock's
/// function waits for this; a release build does nothing here.
#[cfg_attr(not(feature = "test-clock"), allow(unused_variables))]
pub fn settled(evaluated_at_ns: i64) {
    #[cfg(feature = "test-clock")]
    crate::pg::test_clock::settled(evaluated_at_ns);
}

/// The worker finished a cycle (counted for the test clock's function; a
/// release build does nothing here).
pub fn cycle_done() {
    #[cfg(feature = "test-clock")]
    crate::pg::test_clock::cycle_done();
}

/// Seconds between two `monotonic_ns()` readings.
pub fn seconds_between(earlier_ns: i64, later_ns: i64) -> f64 {
    (later_ns.saturating_sub(earlier_ns)) as f64 / 1e9
}

/// Now, as a PostgreSQL `timestamptz` (microseconds since 2000-01-01 UTC).
pub fn now() -> pg_sys::TimestampTz {
    // SAFETY: GetCurrentTimestamp is just gettimeofday() arithmetic: no shared
    // state, no transaction, no allocation, never raises; valid in any process.
    unsafe { pg_sys::GetCurrentTimestamp() }
}

/// The weekday (Monday = 0) and hour (0..23) now, in the server's time zone
/// (the `TimeZone` setting), by PostgreSQL's own clock and zone database.
pub fn local_weekday_hour() -> (u8, u8) {
    const PG_EPOCH_UNIX_SECS: i64 = 946_684_800;
    let unix: pg_sys::pg_time_t = now().div_euclid(1_000_000) + PG_EPOCH_UNIX_SECS;
    // SAFETY: `unix` outlives the call. session_timezone is never NULL once
    // InitializeGUCOptions ran (pg_timezone_initialize sets it to the built-in
    // "GMT" zone, the TimeZone assign hook only stores validated zones), which
    // the postmaster does before loading us and every backend/worker inherits.
    let tm = unsafe { pg_sys::pg_localtime(&unix, pg_sys::session_timezone) };
    if tm.is_null() {
        // Only for an unusable zone; UTC arithmetic is the sane fallback.
        let days = unix.div_euclid(86_400);
        return (((days + 3).rem_euclid(7)) as u8, (unix.rem_euclid(86_400) / 3600) as u8);
    }
    // SAFETY: non-NULL (checked above) and points at localtime.c's static
    // `struct pg_tm`, which only the next pg_localtime/pg_gmtime call in this
    // single-threaded process overwrites; both fields are copied out below
    // before any other PostgreSQL call.
    let tm = unsafe { &*tm };
    // tm_wday counts from Sunday.
    (((tm.tm_wday + 6) % 7) as u8, tm.tm_hour as u8)
}

/// `2025-12-30T10:15:30.000000+00:00`: ISO 8601, UTC, microseconds.
pub fn iso8601_utc(ts: pg_sys::TimestampTz) -> String {
    const USECS_PER_DAY: i64 = 86_400_000_000;
    // Days from 1970-01-01 to 2000-01-01, PostgreSQL's epoch.
    const PG_EPOCH_DAYS: i64 = 10_957;
    let days = ts.div_euclid(USECS_PER_DAY);
    let usecs_of_day = ts.rem_euclid(USECS_PER_DAY);
    let (year, month, day) = civil_from_days(days + PG_EPOCH_DAYS);
    let secs = usecs_of_day / 1_000_000;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}+00:00",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        usecs_of_day % 1_000_000
    )
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::iso8601_utc;

    #[test]
    fn formats_postgres_timestamps() {
        assert_eq!(iso8601_utc(0), "2000-01-01T00:00:00.000000+00:00");
        assert_eq!(iso8601_utc(-1), "1999-12-31T23:59:59.999999+00:00");
        // 2025-12-30 10:15:30.123456 UTC, the seed's example plus microseconds.
        assert_eq!(iso8601_utc(820_404_930_123_456), "2025-12-30T10:15:30.123456+00:00");
        // Leap day.
        assert_eq!(iso8601_utc(8_825 * 86_400_000_000), "2024-02-29T00:00:00.000000+00:00");
    }
}
