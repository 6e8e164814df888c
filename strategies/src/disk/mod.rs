//! The WAL disk guard: the ceiling the filesystem holding pg_wal puts on
//! max_wal_size, and the guard's memory between checks (hysteresis after a
//! clamp, one warning per episode). Pure logic: the extension measures the
//! disk and passes the numbers in; the ceiling reaches every strategy through
//! [`Settings::ceiling_mb`](crate::Settings::ceiling_mb).
//!
//! max_wal_size is a soft limit: pg_wal peaks near it plus a few segments,
//! about twice that on a standby or with slow checkpoints, and without bound
//! while slots, wal_keep_size or the archiver retain WAL. So the ceiling is a
//! fraction of what pg_wal could use: free space plus what it holds now,
//! minus what is retained beyond the checkpoint cycle.

use serde_json::{Value, json};

use crate::units::BYTES_PER_MB;
use crate::{Action, Decision};

/// How often the worker measures the disk, at most (seconds).
pub const CHECK_SECS: u64 = 10;
/// After a clamp, growth resumes once the ceiling has been this much above
/// the clamped size ...
pub const HOLD_ROOM: f64 = 1.25;
/// ... for this many checks in a row (a minute at 10 s checks) ...
pub const HOLD_CHECKS: u32 = 6;
/// ... spanning at least this long from the first of them. The worker also
/// checks at every cycle and early reaction, so six checks can come closer
/// together than 10 s; the hold is about how long the room has lasted.
pub const HOLD_SECS: f64 = ((HOLD_CHECKS - 1) as u64 * CHECK_SECS) as f64;
/// An unapplied clamp (dry run, recommend-only) is recorded again only when
/// the ceiling falls below this share of the last one recorded.
const RECORD_AGAIN_BELOW: f64 = 0.9;

/// One measurement of the filesystem that holds pg_wal, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DiskReading {
    /// Free space a non-root process can use (`f_bavail × f_frsize`).
    pub available_bytes: f64,
    /// What pg_wal holds now.
    pub pg_wal_bytes: f64,
    /// WAL kept beyond the checkpoint cycle (slots, wal_keep_size, archiver).
    pub retained_bytes: f64,
}

impl DiskReading {
    /// Everything pg_wal could occupy: free space plus its own files.
    pub fn budget_bytes(&self) -> f64 {
        finite_or_zero(self.available_bytes + self.pg_wal_bytes).max(0.0)
    }

    /// The budget less what retention pins down.
    pub fn usable_bytes(&self) -> f64 {
        finite_or_zero(self.budget_bytes() - self.retained_bytes).max(0.0)
    }

    /// `fraction × usable`, rounded down to whole segments, at least two
    /// segments (PostgreSQL refuses to start below that).
    pub fn ceiling_mb(&self, fraction: f64, wal_segment_mb: i32) -> i32 {
        let segment_mb = wal_segment_mb.max(1);
        let fraction = if fraction.is_finite() {
            fraction.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let segments = (fraction * self.usable_bytes() / BYTES_PER_MB / f64::from(segment_mb)).floor();
        // Whole segments that still fit in PostgreSQL's int of MB.
        let segments = segments.clamp(2.0, f64::from(i32::MAX / segment_mb));
        segments as i32 * segment_mb
    }

    /// Whether retention holds more than half of the budget.
    pub fn retention_is_high(&self) -> bool {
        self.retained_bytes > self.budget_bytes() / 2.0
    }

    /// History metadata `disk`.
    pub fn metadata(&self, fraction: f64, ceiling_mb: i32) -> Value {
        json!({
            "available_mb": mb(self.available_bytes),
            "pg_wal_mb": mb(self.pg_wal_bytes),
            "retained_mb": mb(self.retained_bytes),
            "fraction": fraction,
            "ceiling_mb": ceiling_mb,
        })
    }

    /// "25 % of 1200 MB usable on pg_wal's filesystem: 1100 MB free + 100 MB
    /// in pg_wal - 0 MB retained", for reasons and log details.
    pub fn describe(&self, fraction: f64) -> String {
        format!(
            "{:.0} % of {} MB usable on pg_wal's filesystem: {} MB free + {} MB in pg_wal - {} MB retained",
            fraction * 100.0,
            mb(self.usable_bytes()),
            mb(self.available_bytes),
            mb(self.pg_wal_bytes),
            mb(self.retained_bytes)
        )
    }
}

fn finite_or_zero(x: f64) -> f64 {
    if x.is_finite() { x } else { 0.0 }
}

fn mb(bytes: f64) -> i64 {
    (finite_or_zero(bytes) / BYTES_PER_MB).floor() as i64
}

/// What the disk adds to the limits of a decision.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum DiskLimit {
    /// `walrus.max_wal_disk_fraction = 0`: no guard.
    #[default]
    Off,
    /// The disk could not be measured (or not yet): growth is blocked.
    Unmeasured,
    /// The last measurement and what it allows.
    Measured {
        reading: DiskReading,
        fraction: f64,
        ceiling_mb: i32,
        /// Growth held at a clamped size (hysteresis), if any.
        held_at_mb: Option<i32>,
    },
}

impl DiskLimit {
    /// The highest size growth may reach because of the disk: `None` with no
    /// guard, 0 when unmeasured (no growth at all).
    pub fn growth_limit_mb(&self) -> Option<i32> {
        match *self {
            DiskLimit::Off => None,
            DiskLimit::Unmeasured => Some(0),
            DiskLimit::Measured {
                ceiling_mb, held_at_mb, ..
            } => Some(held_at_mb.map_or(ceiling_mb, |held| held.min(ceiling_mb))),
        }
    }

    /// The disk ceiling itself, when measured.
    pub fn ceiling_mb(&self) -> Option<i32> {
        match *self {
            DiskLimit::Measured { ceiling_mb, .. } => Some(ceiling_mb),
            _ => None,
        }
    }

    /// What a decision the disk limited says about it: a clause for the
    /// reason and the `disk` metadata.
    pub fn explain(&self) -> (String, Value) {
        match *self {
            DiskLimit::Off => (String::new(), Value::Null),
            DiskLimit::Unmeasured => ("the WAL disk cannot be measured".into(), json!({"measured": false})),
            DiskLimit::Measured {
                reading,
                fraction,
                ceiling_mb,
                held_at_mb,
            } => {
                let mut clause = reading.describe(fraction);
                if let Some(held) = held_at_mb.filter(|&h| h < ceiling_mb) {
                    clause.push_str(&format!("; held at {held} MB since a clamp"));
                }
                (clause, reading.metadata(fraction, ceiling_mb))
            }
        }
    }
}

/// A clamp the guard asks for: lower max_wal_size from `from_mb` to `to_mb`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clamp {
    pub from_mb: i32,
    pub to_mb: i32,
}

impl Clamp {
    /// The decision that lowers max_wal_size to the ceiling, with the
    /// measurement in its reason and metadata.
    pub fn decision(&self, reading: &DiskReading, fraction: f64) -> Decision {
        Decision {
            action: Action::Decrease,
            old_size_mb: self.from_mb,
            new_size_mb: self.to_mb,
            computed_size_mb: Some(self.to_mb),
            reason: format!(
                "max_wal_size of {} MB exceeds the WAL disk ceiling of {} MB ({})",
                self.from_mb,
                self.to_mb,
                reading.describe(fraction)
            ),
            metadata: json!({
                "clamp": true,
                "limited_by": "disk",
                "disk": reading.metadata(fraction, self.to_mb),
            }),
        }
    }
}

/// The guard's memory between checks, kept in shared memory.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DiskGuard {
    /// Growth is held at this size since a clamp (0: not held).
    pub held_at_mb: i32,
    /// Checks in a row with the ceiling at least [`HOLD_ROOM`] above the hold.
    pub roomy_checks: u32,
    /// When the first of those checks was made (monotonic seconds).
    pub roomy_since_secs: f64,
    /// The last clamp asked for and not known to have failed.
    pub last_clamp: Option<Clamp>,
    /// Measuring failed at the last check (one WARNING per episode).
    pub failing: bool,
    /// Retention above half the budget was warned about (one per episode).
    pub retention_warned: bool,
    /// A ceiling below walrus.min_size was warned about (one per episode).
    pub min_size_warned: bool,
}

impl DiskGuard {
    /// One check with a good measurement at `now_secs` (monotonic): the
    /// clamp to make now, if any, and the hysteresis bookkeeping.
    pub fn check(&mut self, ceiling_mb: i32, current_mb: i32, now_secs: f64) -> Option<Clamp> {
        if current_mb > ceiling_mb {
            self.held_at_mb = if self.held_at_mb > 0 {
                self.held_at_mb.min(ceiling_mb)
            } else {
                ceiling_mb
            };
            self.roomy_checks = 0;
            let clamp = Clamp {
                from_mb: current_mb,
                to_mb: ceiling_mb,
            };
            let already = self.last_clamp.is_some_and(|last| {
                last.from_mb == current_mb && f64::from(ceiling_mb) >= f64::from(last.to_mb) * RECORD_AGAIN_BELOW
            });
            if already {
                return None;
            }
            self.last_clamp = Some(clamp);
            return Some(clamp);
        }
        if self.held_at_mb > 0 {
            if f64::from(ceiling_mb) >= f64::from(self.held_at_mb) * HOLD_ROOM {
                if self.roomy_checks == 0 {
                    self.roomy_since_secs = now_secs;
                }
                self.roomy_checks += 1;
                if self.roomy_checks >= HOLD_CHECKS && now_secs - self.roomy_since_secs >= HOLD_SECS {
                    self.held_at_mb = 0;
                    self.roomy_checks = 0;
                    self.last_clamp = None;
                }
            } else {
                self.roomy_checks = 0;
                // The disk filled further without a clamp being needed (the
                // size is already below): the hold follows the ceiling down.
                self.held_at_mb = self.held_at_mb.min(ceiling_mb);
            }
        }
        None
    }

    /// The clamp did not take (the write failed or was superseded): ask
    /// again at the next check.
    pub fn clamp_not_applied(&mut self) {
        self.last_clamp = None;
    }

    /// Growth held at this size, if a clamp holds it.
    pub fn held(&self) -> Option<i32> {
        (self.held_at_mb > 0).then_some(self.held_at_mb)
    }

    /// Records whether this check could measure; true when the state changed
    /// (the first failure of an episode, or the first success after one).
    pub fn measured(&mut self, ok: bool) -> bool {
        std::mem::replace(&mut self.failing, !ok) == ok
    }

    /// Records whether retention is high; true when it just became so.
    pub fn retention(&mut self, high: bool) -> bool {
        !std::mem::replace(&mut self.retention_warned, high) && high
    }

    /// Records whether the ceiling is below walrus.min_size; true when it
    /// just became so.
    pub fn min_size_conflict(&mut self, conflict: bool) -> bool {
        !std::mem::replace(&mut self.min_size_warned, conflict) && conflict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: f64 = BYTES_PER_MB;

    fn reading(available_mb: f64, pg_wal_mb: f64, retained_mb: f64) -> DiskReading {
        DiskReading {
            available_bytes: available_mb * MB,
            pg_wal_bytes: pg_wal_mb * MB,
            retained_bytes: retained_mb * MB,
        }
    }

    #[test]
    fn ceiling_is_a_fraction_of_what_pg_wal_could_use_in_whole_segments() {
        // (available, pg_wal, retained, fraction, segment) -> ceiling
        let cases = [
            (1100.0, 100.0, 0.0, 0.25, 16, 288),    // 300 MB -> 18 segments
            (1100.0, 100.0, 200.0, 0.25, 16, 240),  // 250 MB -> 15 segments
            (1000.0, 0.0, 0.0, 0.25, 64, 192),      // 250 MB -> 3 segments of 64
            (10.0, 0.0, 0.0, 0.25, 16, 32),         // floor: 2 segments
            (100.0, 50.0, 500.0, 0.25, 16, 32),     // retention above the budget: floor
            (1e10, 0.0, 0.0, 1.0, 16, 2147483632),  // huge: saturates in whole segments
            (1000.0, 0.0, 0.0, f64::NAN, 16, 32),   // NaN fraction: floor, never a panic
            (f64::INFINITY, 0.0, 0.0, 0.5, 16, 32), // nonsense reading: floor
            (4096.0, 0.0, 0.0, 1.0, 16, 4096),
        ];
        for (available, pg_wal, retained, fraction, segment, want) in cases {
            let r = reading(available, pg_wal, retained);
            assert_eq!(r.ceiling_mb(fraction, segment), want, "{r:?} x {fraction}");
            assert_eq!(want % segment, 0);
        }
    }

    #[test]
    fn limit_follows_the_ceiling_and_the_hold() {
        let r = reading(1000.0, 0.0, 0.0);
        assert_eq!(DiskLimit::Off.growth_limit_mb(), None);
        assert_eq!(DiskLimit::Unmeasured.growth_limit_mb(), Some(0));
        let measured = |held| DiskLimit::Measured {
            reading: r,
            fraction: 0.25,
            ceiling_mb: 240,
            held_at_mb: held,
        };
        assert_eq!(measured(None).growth_limit_mb(), Some(240));
        assert_eq!(measured(Some(128)).growth_limit_mb(), Some(128));
        assert_eq!(measured(Some(512)).growth_limit_mb(), Some(240));
        let (clause, metadata) = measured(Some(128)).explain();
        assert!(
            clause.contains("25 % of 1000 MB usable") && clause.contains("held at 128 MB"),
            "{clause}"
        );
        assert_eq!(metadata["ceiling_mb"], 240);
    }

    #[test]
    fn clamps_when_the_size_is_above_the_ceiling_and_holds_growth() {
        let mut guard = DiskGuard::default();
        assert_eq!(guard.check(1024, 512, 0.0), None);
        assert_eq!(guard.held(), None);
        assert_eq!(
            guard.check(256, 512, 0.0),
            Some(Clamp {
                from_mb: 512,
                to_mb: 256
            })
        );
        assert_eq!(guard.held(), Some(256));
        // Applied: the size is now the ceiling; no clamp, still held.
        assert_eq!(guard.check(256, 256, 0.0), None);
        assert_eq!(guard.held(), Some(256));
    }

    #[test]
    fn growth_resumes_only_after_enough_roomy_checks_in_a_row() {
        let mut guard = DiskGuard::default();
        guard.check(256, 512, 0.0);
        let roomy = (256.0 * HOLD_ROOM) as i32;
        let mut now = 0.0;
        let mut every_ten_seconds = || {
            now += CHECK_SECS as f64;
            now
        };
        for _ in 0..HOLD_CHECKS - 1 {
            guard.check(roomy, 256, every_ten_seconds());
        }
        // A tight check in between starts the count again.
        guard.check(roomy - 16, 256, every_ten_seconds());
        for _ in 0..HOLD_CHECKS - 1 {
            guard.check(roomy, 256, every_ten_seconds());
            assert_eq!(guard.held(), Some(256));
        }
        guard.check(roomy, 256, every_ten_seconds());
        assert_eq!(guard.held(), None, "released after {HOLD_CHECKS} roomy checks in a row");
    }

    #[test]
    fn checks_in_quick_succession_do_not_shorten_the_hold() {
        // Cycles and early reactions check the disk between the 10 s checks:
        // six roomy checks within 31 s are not a minute of room.
        let mut guard = DiskGuard::default();
        guard.check(256, 512, 0.0);
        let roomy = (256.0 * HOLD_ROOM) as i32;
        for at in [100.0, 100.5, 110.5, 120.5, 130.5, 131.5, 140.0] {
            guard.check(roomy, 256, at);
            assert_eq!(guard.held(), Some(256), "still held at {at} s");
        }
        guard.check(roomy, 256, 100.0 + HOLD_SECS);
        assert_eq!(guard.held(), None, "released {HOLD_SECS} s after the first roomy check");
    }

    #[test]
    fn the_hold_follows_a_ceiling_that_keeps_falling() {
        let mut guard = DiskGuard::default();
        guard.check(256, 512, 0.0);
        assert_eq!(guard.check(192, 160, 0.0), None, "already below the ceiling: no clamp");
        assert_eq!(guard.held(), Some(192));
    }

    #[test]
    fn an_unapplied_clamp_is_not_asked_again_until_things_change() {
        let mut guard = DiskGuard::default();
        assert!(guard.check(256, 1024, 0.0).is_some());
        // Dry run: the size stays; the same clamp is not asked for again ...
        assert_eq!(guard.check(256, 1024, 0.0), None);
        assert_eq!(guard.check(240, 1024, 0.0), None);
        // ... until the ceiling falls by more than a tenth, or the size changes.
        assert_eq!(
            guard.check(224, 1024, 0.0),
            Some(Clamp {
                from_mb: 1024,
                to_mb: 224
            })
        );
        assert_eq!(
            guard.check(224, 2048, 0.0),
            Some(Clamp {
                from_mb: 2048,
                to_mb: 224
            })
        );
        // A failed write asks again at the next check.
        guard.clamp_not_applied();
        assert_eq!(
            guard.check(224, 2048, 0.0),
            Some(Clamp {
                from_mb: 2048,
                to_mb: 224
            })
        );
    }

    #[test]
    fn a_clamp_is_a_decrease_that_names_the_disk() {
        let clamp = Clamp {
            from_mb: 1024,
            to_mb: 240,
        };
        let d = clamp.decision(&reading(900.0, 100.0, 40.0), 0.25);
        assert_eq!((d.action, d.old_size_mb, d.new_size_mb), (Action::Decrease, 1024, 240));
        assert!(d.changes_size());
        assert!(
            d.reason
                .starts_with("max_wal_size of 1024 MB exceeds the WAL disk ceiling of 240 MB (25 % of 960 MB usable"),
            "{}",
            d.reason
        );
        assert_eq!(d.metadata["clamp"], true);
        assert_eq!(d.metadata["disk"]["retained_mb"], 40);
    }

    #[test]
    fn episodes_warn_once() {
        let mut guard = DiskGuard::default();
        assert!(!guard.measured(true), "a first good measurement is no news");
        assert!(guard.measured(false), "starts failing: warn");
        assert!(!guard.measured(false), "still failing: quiet");
        assert!(guard.measured(true), "recovered: log");
        assert!(!guard.measured(true));

        assert!(!guard.retention(false));
        assert!(guard.retention(true));
        assert!(!guard.retention(true));
        assert!(!guard.retention(false));
        assert!(guard.retention(true), "a new episode warns again");

        assert!(guard.min_size_conflict(true));
        assert!(!guard.min_size_conflict(true));
    }

    #[test]
    fn retention_is_high_above_half_the_budget() {
        assert!(!reading(900.0, 100.0, 500.0).retention_is_high());
        assert!(reading(900.0, 100.0, 501.0).retention_is_high());
    }
}
