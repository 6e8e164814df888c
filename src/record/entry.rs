//! One decision's record: the fields of its walrus.history row, which its
//! NOTIFY event repeats. Built by the apply path (src/apply/), written by
//! record::history, announced by record::notify.

use serde_json::Value;

/// What one history row says.
pub struct Entry<'a> {
    pub action: &'a str,
    pub old_size_mb: i32,
    pub new_size_mb: i32,
    /// Forced checkpoints in the interval that led to the decision.
    pub forced_checkpoints: i64,
    pub checkpoint_timeout_sec: i32,
    pub reason: &'a str,
    /// The strategy that decided.
    pub strategy: &'a str,
    /// The time-of-day profile in force, if any.
    pub profile: Option<String>,
    pub dry_run: bool,
    pub metadata: Value,
}
