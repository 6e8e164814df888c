//! The strategies' memory between cycles: plain, fixed-size data that the
//! extension keeps in shared memory (no heap pointers), so a restarted
//! backend or a SQL function sees the same state the worker built.
//!
//! The crate owns the combined type: a strategy that needs state adds its
//! field here (behind its feature) and nothing in the extension changes.

/// Bumped whenever the layout changes, so a mismatched reader can tell.
pub const STATE_VERSION: u32 = 3;

/// Recent intervals kept for the WAL-based strategies and status().
pub const WAL_RING_LEN: usize = 64;

/// One completed interval, as every strategy sees it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct IntervalSample {
    /// WAL written in the interval, bytes.
    pub wal_bytes: f64,
    pub interval_secs: f64,
    pub requested: i64,
    pub timed: i64,
    /// Requested checkpoints that WAL volume explains.
    pub forced: i64,
    /// `max_wal_size` in force, MB.
    pub size_mb: i32,
    /// Of `wal_bytes`, the full-page images that the interval's forced
    /// checkpoints added (`full_pages`): not the load's, the storm's.
    pub storm_images_bytes: f64,
}

impl IntervalSample {
    /// The interval as every strategy records it: `storm_images_bytes` is
    /// what [`Observation::steady_wal`](crate::Observation::steady_wal) takes
    /// out of the measured WAL.
    pub fn of(observation: &crate::Observation, settings: &crate::Settings) -> IntervalSample {
        IntervalSample {
            wal_bytes: observation.wal_bytes,
            interval_secs: observation.interval_secs,
            requested: observation.requested_checkpoints,
            timed: observation.timed_checkpoints,
            forced: observation.forced_checkpoints,
            size_mb: observation.current_size_mb,
            storm_images_bytes: (observation.wal_bytes - observation.sizing_wal_bytes(settings)).max(0.0),
        }
    }

    /// The WAL to size from: measured, less the storm's full-page images.
    pub fn sizing_wal_bytes(&self) -> f64 {
        // Only a real deduction touches the figure: NaN stays NaN, for the
        // strategies to ignore.
        if self.storm_images_bytes > 0.0 {
            (self.wal_bytes - self.storm_images_bytes).max(0.0)
        } else {
            self.wal_bytes
        }
    }

    pub fn wal_bytes_per_sec(&self) -> f64 {
        if self.interval_secs > 0.0 {
            self.wal_bytes / self.interval_secs
        } else {
            0.0
        }
    }
}

/// The last [`WAL_RING_LEN`] intervals, oldest overwritten first.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WalRing {
    samples: [IntervalSample; WAL_RING_LEN],
    len: usize,
    next: usize,
}

impl Default for WalRing {
    fn default() -> Self {
        WalRing {
            samples: [IntervalSample::default(); WAL_RING_LEN],
            len: 0,
            next: 0,
        }
    }
}

impl WalRing {
    pub fn push(&mut self, sample: IntervalSample) {
        self.samples[self.next] = sample;
        self.next = (self.next + 1) % WAL_RING_LEN;
        self.len = (self.len + 1).min(WAL_RING_LEN);
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &IntervalSample> {
        let start = (self.next + WAL_RING_LEN - self.len) % WAL_RING_LEN;
        (0..self.len).map(move |i| &self.samples[(start + i) % WAL_RING_LEN])
    }

    pub fn last(&self) -> Option<&IntervalSample> {
        self.iter().last()
    }
}

/// adaptive's moving average (`crate::sizing::adaptive`).
#[cfg(feature = "adaptive")]
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct AdaptiveState {
    /// WAL per interval the load is expected to need, bytes (normalised to
    /// checkpoint_timeout).
    pub ema_wal_bytes: f64,
    /// EMA of the absolute change between intervals, bytes: how steady the
    /// load is (for the confidence only).
    pub ema_change_bytes: f64,
    pub samples: u32,
    /// The average was last raised by an interval with forced checkpoints.
    pub inflated: bool,
}

/// Everything the compiled strategies remember.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StrategyState {
    pub version: u32,
    pub ring: WalRing,
    #[cfg(feature = "adaptive")]
    pub adaptive: AdaptiveState,
}

impl Default for StrategyState {
    fn default() -> Self {
        StrategyState {
            version: STATE_VERSION,
            ring: WalRing::default(),
            #[cfg(feature = "adaptive")]
            adaptive: AdaptiveState::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_the_latest_in_order() {
        let mut ring = WalRing::default();
        assert!(ring.is_empty() && ring.last().is_none());
        for i in 0..(WAL_RING_LEN + 5) {
            ring.push(IntervalSample {
                wal_bytes: i as f64,
                ..Default::default()
            });
        }
        let walls: Vec<f64> = ring.iter().map(|s| s.wal_bytes).collect();
        assert_eq!(walls.len(), WAL_RING_LEN);
        assert_eq!(walls[0], 5.0);
        assert_eq!(ring.last().unwrap().wal_bytes, (WAL_RING_LEN + 4) as f64);
    }

    #[test]
    fn state_is_small() {
        // The budget for walrus's shared memory is 1 MB; this stays a few KiB.
        assert!(
            std::mem::size_of::<StrategyState>() < 8 * 1024,
            "{}",
            std::mem::size_of::<StrategyState>()
        );
    }
}
