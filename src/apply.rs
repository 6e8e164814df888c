//! What happens after a new size is written to postgresql.auto.conf: the one
//! path the worker and `walrus.analyze(apply := true)` share.

use pgrx::prelude::*;
use serde_json::{Value, json};
use walrus_strategies::{Action, Decision};

use crate::history::Entry;
use crate::stats::CheckpointCounts;
use crate::{clock, server, shmem};

/// Logs the resize, counts it in shared memory, and asks the postmaster to
/// reload so the new size takes effect. `rebaseline` starts a new interval
/// at those counters, so the checkpoints that led to this decision are not
/// counted again by the worker's next cycle.
pub fn resized(decision: &Decision, rebaseline: Option<CheckpointCounts>) {
    log!(
        "pg_walrus: resizing max_wal_size from {} MB to {} MB ({})",
        decision.old_size_mb,
        decision.new_size_mb,
        decision.reason
    );
    let now = clock::now();
    shmem::update(|state| {
        state.total_adjustments += 1;
        if decision.action == Action::Decrease {
            state.total_decreases += 1;
        } else {
            state.total_increases += 1;
        }
        state.last_adjustment_time = now;
        state.quiet_intervals = 0;
        // Never move the baseline backwards past a newer reading.
        if let Some(counts) = rebaseline.filter(|c| !state.has_baseline || c.requested >= state.baseline_requested) {
            state.rebaseline(counts, clock::monotonic_ns());
        }
    });
    if let Err(error) = server::request_reload() {
        warning!("pg_walrus: could not signal the postmaster to reload the configuration: {error}");
    }
}

/// The history row for a decision that was applied.
pub fn applied_entry<'a>(decision: &'a Decision, strategy: &str, forced: i64) -> Entry<'a> {
    entry(decision, decision.action.as_str(), strategy, forced, json!({"applied": true}))
}

/// The history row for a decision whose ALTER SYSTEM failed.
pub fn failed_entry<'a>(decision: &'a Decision, strategy: &str, forced: i64, error: &str) -> Entry<'a> {
    entry(decision, "failed", strategy, forced, json!({"applied": false, "error": error, "would_apply": decision.action.as_str()}))
}

fn entry<'a>(decision: &'a Decision, action: &'a str, strategy: &str, forced: i64, extra: Value) -> Entry<'a> {
    let mut metadata = match &decision.metadata {
        Value::Object(map) => Value::Object(map.clone()),
        _ => json!({}),
    };
    metadata["strategy"] = json!(strategy);
    if let (Value::Object(target), Value::Object(extra)) = (&mut metadata, extra) {
        target.extend(extra);
    }
    Entry {
        action,
        old_size_mb: decision.old_size_mb,
        new_size_mb: decision.new_size_mb,
        forced_checkpoints: forced,
        checkpoint_timeout_sec: server::checkpoint_timeout_secs(),
        reason: &decision.reason,
        metadata,
    }
}
