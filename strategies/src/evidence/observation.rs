//! What a strategy sees: one interval's evidence and the settings in force.

use crate::disk::DiskLimit;
use crate::evidence::full_pages::{FullPageEvidence, SteadyWal, steady_wal};

/// What the worker measured over one interval (see `evidence::observe`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Observation {
    /// `max_wal_size` in force during the interval, in MB.
    pub current_size_mb: i32,
    /// Requested checkpoints that WAL volume explains: the "forced"
    /// checkpoints of the seeds, and the only ones that grow the size.
    pub forced_checkpoints: i64,
    /// All requested checkpoints, manual CHECKPOINT and the like included.
    pub requested_checkpoints: i64,
    /// Checkpoints started by checkpoint_timeout.
    pub timed_checkpoints: i64,
    /// WAL written during the interval, bytes.
    pub wal_bytes: f64,
    /// Length of the interval as measured on a monotonic clock, in seconds.
    pub interval_secs: f64,
    /// Consecutive quiet intervals ending with this one ([`count_quiet`]).
    pub quiet_intervals: u32,
    /// The interval's full-page images, when the statistics gave them.
    pub full_pages: Option<FullPageEvidence>,
}

impl Observation {
    /// The WAL this interval would have written with time-triggered
    /// checkpoints (`full_pages`), when its checkpoints inflated it.
    pub fn steady_wal(&self, settings: &Settings) -> Option<SteadyWal> {
        let evidence = self.full_pages.as_ref()?;
        let checkpoints = self.requested_checkpoints.saturating_add(self.timed_checkpoints);
        steady_wal(
            self.wal_bytes,
            checkpoints,
            self.interval_secs,
            settings.checkpoint_timeout_secs,
            evidence,
        )
    }

    /// The WAL to size from: the measured WAL, less the full-page images
    /// that forced checkpoints added ([`Observation::steady_wal`]).
    pub fn sizing_wal_bytes(&self, settings: &Settings) -> f64 {
        self.steady_wal(settings)
            .map_or(self.wal_bytes, |steady| steady.wal_bytes)
    }
}

/// The settings (walrus.* and PostgreSQL's own) that bound a decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Forced checkpoints per interval at which growth starts (`walrus.threshold`).
    pub threshold: i32,
    /// Largest size walrus may set, in MB (`walrus.max`).
    pub max_size_mb: i32,
    /// `walrus.shrink_enable`.
    pub shrink_enabled: bool,
    /// `walrus.shrink_factor`: the size is multiplied by this when shrinking.
    pub shrink_factor: f64,
    /// `walrus.shrink_intervals`: quiet intervals in a row before a shrink.
    pub shrink_intervals: i32,
    /// `walrus.min_size`, in MB.
    pub min_size_mb: i32,
    /// PostgreSQL's `min_wal_size`, in MB.
    pub min_wal_size_mb: i32,
    /// PostgreSQL's WAL segment size, in MB.
    pub wal_segment_mb: i32,
    /// `checkpoint_timeout`, in seconds: the length of a full interval.
    pub checkpoint_timeout_secs: f64,
    /// PostgreSQL's `checkpoint_completion_target`.
    pub checkpoint_completion_target: f64,
    /// `walrus.additive_increment`, MB (additive strategy).
    pub additive_increment_mb: i32,
    /// `walrus.ema_alpha` (adaptive strategy).
    pub ema_alpha: f64,
    /// `walrus.target_percentile` (percentile strategy).
    pub target_percentile: f64,
    /// The WAL disk guard's limit (`walrus.max_wal_disk_fraction`).
    pub disk: DiskLimit,
}

impl Default for Settings {
    /// The defaults of the walrus.* settings and of PostgreSQL.
    fn default() -> Self {
        Settings {
            threshold: 2,
            max_size_mb: 4096,
            shrink_enabled: true,
            shrink_factor: 0.75,
            shrink_intervals: 5,
            min_size_mb: 1024,
            min_wal_size_mb: 80,
            wal_segment_mb: 16,
            checkpoint_timeout_secs: 300.0,
            checkpoint_completion_target: 0.9,
            additive_increment_mb: 1024,
            ema_alpha: 0.2,
            target_percentile: 95.0,
            disk: DiskLimit::Off,
        }
    }
}

impl Settings {
    /// Two WAL segments: PostgreSQL accepts a smaller max_wal_size in ALTER
    /// SYSTEM but refuses to start with it. No decision goes below this.
    pub fn absolute_floor_mb(&self) -> i32 {
        self.wal_segment_mb.saturating_mul(2).max(2)
    }

    /// Shrinking stops here: `max(walrus.min_size, min_wal_size, 2 segments)`.
    pub fn shrink_floor_mb(&self) -> i32 {
        self.min_size_mb.max(self.min_wal_size_mb).max(self.absolute_floor_mb())
    }

    /// Growth stops here: the lower of `walrus.max` and the WAL disk
    /// guard's limit, but never below two segments. Every strategy grows
    /// through this, so none of them needs to know about disks.
    pub fn ceiling_mb(&self) -> i32 {
        let max = self.max_size_mb;
        let limit = self.disk.growth_limit_mb().map_or(max, |disk| max.min(disk));
        limit.max(self.absolute_floor_mb())
    }

    /// Whether the disk, not `walrus.max`, sets [`Settings::ceiling_mb`].
    pub fn limited_by_disk(&self) -> bool {
        self.disk.growth_limit_mb().is_some_and(|disk| disk < self.max_size_mb)
    }

    /// What sets the ceiling, for reasons: "walrus.max" or "the WAL disk ceiling".
    pub fn ceiling_name(&self) -> &'static str {
        if self.limited_by_disk() {
            "the WAL disk ceiling"
        } else {
            "walrus.max"
        }
    }

    /// Whether an interval with this many forced checkpoints is quiet.
    pub fn is_quiet(&self, forced_checkpoints: i64) -> bool {
        forced_checkpoints < i64::from(self.threshold)
    }

    /// Whether an interval this long counts as a full one. A second of slack
    /// absorbs scheduling jitter; anything shorter (an interval cut by
    /// `walrus.analyze(apply := true)` or `walrus.reset()`) is partial.
    pub fn is_full_interval(&self, interval_secs: f64) -> bool {
        interval_secs + 1.0 >= self.checkpoint_timeout_secs
    }
}

/// Consecutive quiet intervals after one more interval: a loud interval
/// resets the count; a quiet one counts only if it lasted a full
/// `checkpoint_timeout`, and a partial quiet one leaves the count as it was.
pub fn count_quiet(previous: u32, forced_checkpoints: i64, interval_secs: f64, settings: &Settings) -> u32 {
    if !settings.is_quiet(forced_checkpoints) {
        0
    } else if settings.is_full_interval(interval_secs) {
        previous.saturating_add(1)
    } else {
        previous
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floors_and_ceiling() {
        let s = Settings::default();
        assert_eq!(
            (s.absolute_floor_mb(), s.shrink_floor_mb(), s.ceiling_mb()),
            (32, 1024, 4096)
        );
        let s = Settings {
            min_size_mb: 2,
            min_wal_size_mb: 2,
            max_size_mb: 2,
            ..Settings::default()
        };
        assert_eq!(
            (s.shrink_floor_mb(), s.ceiling_mb()),
            (32, 32),
            "two segments are absolute"
        );
        let s = Settings {
            min_size_mb: 64,
            min_wal_size_mb: 256,
            ..Settings::default()
        };
        assert_eq!(s.shrink_floor_mb(), 256, "min_wal_size raises the floor");
        let s = Settings {
            wal_segment_mb: 1,
            min_size_mb: 2,
            min_wal_size_mb: 2,
            ..Settings::default()
        };
        assert_eq!(s.shrink_floor_mb(), 2);
    }

    #[test]
    fn quiet_counting() {
        let s = Settings {
            checkpoint_timeout_secs: 30.0,
            ..Settings::default()
        };
        // previous, forced, seconds, expected
        let cases = [
            (0, 0, 30.0, 1),
            (4, 1, 30.2, 5),
            (4, 1, 29.5, 5), // within a second of full
            (4, 0, 12.0, 4), // partial quiet interval: neither counts nor resets
            (4, 2, 30.0, 0), // loud resets
            (4, 9, 5.0, 0),  // loud resets even when partial
            (u32::MAX, 0, 30.0, u32::MAX),
        ];
        for (previous, forced, secs, expected) in cases {
            assert_eq!(
                count_quiet(previous, forced, secs, &s),
                expected,
                "{previous} {forced} {secs}"
            );
        }
    }
}
