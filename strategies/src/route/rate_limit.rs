//! Rate limiting: a cooldown after each change and a cap on changes in any
//! rolling 60 minutes. Pure and fixed-size, so the worker keeps it in shared
//! memory and the simulator applies the very same rules.
//!
//! Times are seconds on a monotonic clock (any origin), so a wall-clock step
//! can neither stretch nor cut a cooldown.

/// Changes remembered for the hourly window. The worker decides at most
/// twice per checkpoint_timeout (30 s at least): once at the end of each
/// interval and at most once early inside it (`early`), i.e. at most 240
/// times an hour. So 256 entries always hold every change that matters for
/// a limit up to 256, and a limit above 256 can only be reached by
/// walrus.analyze(apply := true), which bypasses the limits anyway.
pub const RECENT_CHANGES: usize = 256;

const HOUR_SECS: f64 = 3600.0;

/// `walrus.cooldown_sec` and `walrus.max_changes_per_hour`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimits {
    pub cooldown_secs: f64,
    /// 0 blocks every automatic change.
    pub max_changes_per_hour: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            cooldown_secs: 300.0,
            max_changes_per_hour: 4,
        }
    }
}

/// Why a change may not happen now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Blocked {
    Cooldown {
        remaining_secs: f64,
    },
    HourlyLimit {
        changes: u32,
        limit: u32,
        remaining_secs: f64,
    },
}

impl Blocked {
    /// The name stored in history as `metadata.blocked_by`.
    pub fn name(&self) -> &'static str {
        match self {
            Blocked::Cooldown { .. } => "cooldown",
            Blocked::HourlyLimit { .. } => "hourly_limit",
        }
    }

    pub fn remaining_secs(&self) -> f64 {
        match *self {
            Blocked::Cooldown { remaining_secs } | Blocked::HourlyLimit { remaining_secs, .. } => remaining_secs,
        }
    }
}

/// The times of recent changes, oldest overwritten first. Plain data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecentChanges {
    at_secs: [f64; RECENT_CHANGES],
    len: usize,
    next: usize,
}

impl Default for RecentChanges {
    fn default() -> Self {
        RecentChanges {
            at_secs: [0.0; RECENT_CHANGES],
            len: 0,
            next: 0,
        }
    }
}

impl RecentChanges {
    pub fn record(&mut self, now_secs: f64) {
        self.at_secs[self.next] = now_secs;
        self.next = (self.next + 1) % RECENT_CHANGES;
        self.len = (self.len + 1).min(RECENT_CHANGES);
    }

    fn times(&self) -> impl Iterator<Item = f64> + '_ {
        self.at_secs[..self.len].iter().copied()
    }

    /// The latest change, if any.
    pub fn last(&self) -> Option<f64> {
        self.times().reduce(f64::max)
    }

    /// Changes in the 60 minutes before `now_secs`.
    pub fn in_last_hour(&self, now_secs: f64) -> u32 {
        self.times().filter(|&t| now_secs - t < HOUR_SECS).count() as u32
    }

    /// Seconds left of the cooldown after the latest change (0 when none).
    pub fn cooldown_remaining(&self, now_secs: f64, limits: &RateLimits) -> f64 {
        self.last()
            .map_or(0.0, |last| (limits.cooldown_secs - (now_secs - last)).max(0.0))
    }

    /// Whether an automatic change may happen at `now_secs`.
    pub fn check(&self, now_secs: f64, limits: &RateLimits) -> Result<(), Blocked> {
        let changes = self.in_last_hour(now_secs);
        if changes >= limits.max_changes_per_hour {
            // The window frees a slot when its oldest change turns an hour old.
            let oldest_in_window = self.times().filter(|&t| now_secs - t < HOUR_SECS).reduce(f64::min);
            let remaining_secs = oldest_in_window.map_or(HOUR_SECS, |t| (t + HOUR_SECS - now_secs).max(0.0));
            return Err(Blocked::HourlyLimit {
                changes,
                limit: limits.max_changes_per_hour,
                remaining_secs,
            });
        }
        let remaining_secs = self.cooldown_remaining(now_secs, limits);
        if remaining_secs > 0.0 {
            return Err(Blocked::Cooldown { remaining_secs });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: RateLimits = RateLimits {
        cooldown_secs: 300.0,
        max_changes_per_hour: 4,
    };

    #[test]
    fn cooldown_after_each_change() {
        let mut recent = RecentChanges::default();
        assert_eq!(recent.check(0.0, &LIMITS), Ok(()));
        recent.record(1000.0);
        assert_eq!(
            recent.check(1100.0, &LIMITS),
            Err(Blocked::Cooldown { remaining_secs: 200.0 })
        );
        // A change at one cycle and the check at the next, one checkpoint_timeout
        // later, are exactly a cooldown apart with the defaults: allowed.
        assert_eq!(recent.check(1300.0, &LIMITS), Ok(()));
    }

    #[test]
    fn hourly_limit_is_a_rolling_window() {
        let mut recent = RecentChanges::default();
        for t in [0.0, 300.0, 600.0, 900.0] {
            assert_eq!(recent.check(t, &LIMITS), Ok(()), "at {t}");
            recent.record(t);
        }
        match recent.check(1200.0, &LIMITS) {
            Err(Blocked::HourlyLimit {
                changes: 4,
                limit: 4,
                remaining_secs,
            }) => assert_eq!(remaining_secs, 2400.0),
            other => panic!("{other:?}"),
        }
        // The first change leaves the window an hour after it happened.
        assert_eq!(recent.check(3600.0, &LIMITS), Ok(()));
        assert_eq!(recent.in_last_hour(3600.0), 3);
    }

    #[test]
    fn zero_per_hour_blocks_everything() {
        let limits = RateLimits {
            cooldown_secs: 0.0,
            max_changes_per_hour: 0,
        };
        let recent = RecentChanges::default();
        assert!(matches!(
            recent.check(5.0, &limits),
            Err(Blocked::HourlyLimit {
                changes: 0,
                limit: 0,
                ..
            })
        ));
    }

    #[test]
    fn no_limits_allow_everything() {
        let limits = RateLimits {
            cooldown_secs: 0.0,
            max_changes_per_hour: 1000,
        };
        let mut recent = RecentChanges::default();
        for i in 0..500 {
            assert_eq!(recent.check(f64::from(i), &limits), Ok(()));
            recent.record(f64::from(i));
        }
        assert_eq!(
            recent.in_last_hour(500.0),
            RECENT_CHANGES as u32,
            "the ring holds the latest 256"
        );
    }

    #[test]
    fn ring_keeps_the_latest() {
        let mut recent = RecentChanges::default();
        for i in 0..(RECENT_CHANGES + 10) {
            recent.record(i as f64);
        }
        assert_eq!(recent.last(), Some((RECENT_CHANGES + 9) as f64));
    }
}
