//! What happens after a new size is written to postgresql.auto.conf: the one
//! path the worker and `walrus.analyze(apply := true)` share.

use pgrx::prelude::*;
use serde_json::{Value, json};
use walrus_strategies::{Action, Blocked, Decision};

use crate::history::Entry;
use crate::shmem::WalrusState;
use crate::sizing::Reading;
use crate::{clock, guc, server, shmem};

/// Logs the resize, counts it in shared memory, and asks the postmaster to
/// reload so the new size takes effect. `rebaseline` starts a new interval
/// at those counters, so the checkpoints that led to this decision are not
/// counted again by the worker's next cycle.
/// `now_secs` (monotonic) is when the change counts for the rate limits.
pub fn resized(decision: &Decision, rebaseline: Option<Reading>, now_secs: f64) {
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
        state.recent_changes.record(now_secs);
        // Never move the baseline backwards past a newer reading.
        if let Some(reading) =
            rebaseline.filter(|r| !state.has_baseline || r.counts.requested >= state.baseline_requested)
        {
            state.rebaseline(&reading);
        }
    });
    if let Err(error) = server::request_reload() {
        warning!("pg_walrus: could not signal the postmaster to reload the configuration: {error}");
    }
}

/// A dry-run decision: logged, counted toward the rate limits as if applied,
/// and nothing written to the configuration.
pub fn dry_run(decision: &Decision, now_secs: f64) {
    log!(
        "pg_walrus [DRY-RUN]: would change max_wal_size from {} MB to {} MB ({})",
        decision.old_size_mb,
        decision.new_size_mb,
        decision.reason
    );
    shmem::update(|state| {
        state.total_dry_runs += 1;
        state.recent_changes.record(now_secs);
    });
}

/// Seconds on the monotonic clock, the rate limits' time base.
pub fn now_secs() -> f64 {
    clock::monotonic_ns() as f64 / 1e9
}

/// The history row for a decision that was applied as the `generation`-th
/// write of max_wal_size (rows sorted by it follow the file's history even
/// when concurrent writers commit their rows out of order).
pub fn applied_entry<'a>(decision: &'a Decision, strategy: &'a str, forced: i64, generation: u64) -> Entry<'a> {
    entry(
        decision,
        decision.action.as_str(),
        strategy,
        forced,
        json!({"applied": true, "config_generation": generation}),
    )
}

/// The history row for a decision whose ALTER SYSTEM failed.
pub fn failed_entry<'a>(decision: &'a Decision, strategy: &'a str, forced: i64, error: &str) -> Entry<'a> {
    entry(
        decision,
        "failed",
        strategy,
        forced,
        json!({"applied": false, "error": error, "would_apply": decision.action.as_str()}),
    )
}

/// The history row for a decision made in dry-run mode.
pub fn dry_run_entry<'a>(decision: &'a Decision, strategy: &'a str, forced: i64) -> Entry<'a> {
    let mut entry = entry(
        decision,
        "dry_run",
        strategy,
        forced,
        json!({"dry_run": true, "would_apply": decision.action.as_str()}),
    );
    entry.dry_run = true;
    entry
}

/// The history row for a decision the rate limits held back.
pub fn skipped_entry<'a>(decision: &'a Decision, strategy: &'a str, forced: i64, blocked: &Blocked) -> Entry<'a> {
    let extra = json!({
        "applied": false,
        "blocked_by": blocked.name(),
        "remaining_sec": blocked.remaining_secs().ceil(),
        "would_apply": decision.action.as_str(),
    });
    entry(decision, "skipped", strategy, forced, extra)
}

/// Why a decision cannot be written in recommend-only mode.
pub const RECOMMEND_ONLY_REASON: &str = "allow_alter_system is off: pg_walrus only recommends";

/// Recommend-only mode: the decision is recorded, nothing is attempted.
pub fn recommend_only(decision: &Decision) {
    log!(
        "pg_walrus: recommend-only (allow_alter_system is off): max_wal_size should change from {} MB to {} MB ({})",
        decision.old_size_mb,
        decision.new_size_mb,
        decision.reason
    );
    shmem::update(|state| state.total_skipped += 1);
}

/// The history row for a decision recommend-only mode could not apply.
pub fn recommend_only_entry<'a>(decision: &'a Decision, strategy: &'a str, forced: i64) -> Entry<'a> {
    let extra = json!({"applied": false, "blocked_by": "allow_alter_system", "would_apply": decision.action.as_str()});
    entry(decision, "skipped", strategy, forced, extra)
}

fn entry<'a>(decision: &'a Decision, action: &'a str, strategy: &'a str, forced: i64, extra: Value) -> Entry<'a> {
    let mut metadata = match &decision.metadata {
        Value::Object(map) => Value::Object(map.clone()),
        _ => json!({}),
    };
    metadata["strategy"] = json!(strategy);
    // Stamped by sizing::Regime::decide when a profile was in force.
    let profile = metadata.get("profile").and_then(Value::as_str).map(str::to_owned);
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
        strategy,
        profile,
        dry_run: false,
        metadata,
    }
}

/// Where the rate limits stand now.
pub struct RateLimitStatus {
    pub cooldown_remaining_secs: f64,
    pub changes_this_hour: u32,
    pub max_changes_per_hour: u32,
}

impl RateLimitStatus {
    pub fn of(state: &WalrusState) -> Self {
        let limits = guc::rate_limits();
        let now = now_secs();
        RateLimitStatus {
            cooldown_remaining_secs: state.recent_changes.cooldown_remaining(now, &limits),
            changes_this_hour: state.recent_changes.in_last_hour(now),
            max_changes_per_hour: limits.max_changes_per_hour,
        }
    }
}
