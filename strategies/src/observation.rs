//! What a strategy sees: one interval's evidence and the settings in force.

/// What the worker measured over one interval.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// `max_wal_size` in force during the interval, in MB.
    pub current_size_mb: i32,
    /// Checkpoints requested during the interval (not started by
    /// `checkpoint_timeout`): the "forced" checkpoints of the seeds.
    pub forced_checkpoints: i64,
    /// Length of the interval as measured on a monotonic clock, in seconds.
    pub interval_secs: f64,
}

/// The settings (walrus.* GUCs) that bound a decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Forced checkpoints per interval at which growth starts (`walrus.threshold`).
    pub threshold: i32,
    /// Largest size walrus may set, in MB (`walrus.max`).
    pub max_size_mb: i32,
}
