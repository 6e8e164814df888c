//! What happens to a decision that changes max_wal_size, from the rate
//! limits to its history row and event: the one path the worker and
//! `walrus.analyze(apply := true)` take ([`apply`]). Which checks hold for
//! which kind of change is pure logic in the strategies crate
//! (`walrus_strategies::route`); this file carries it out.

mod writer;

pub use writer::Writer;

use pgrx::prelude::*;
use serde_json::{Value, json};
use walrus_strategies::{
    Action, Blocked, ChangeKind, Decision, RateVerdict, Route, Urgency, Withheld, rate_verdict, route,
};

use crate::pg::stats::Reading;
use crate::pg::txn::CaughtPgError;
use crate::record::entry::Entry;
use crate::shmem::WalrusState;
use crate::{guc, patroni, patroni::apply_via, pg::clock, pg::server, shmem};

/// A decision that changes the size, and who asks for it.
#[derive(Clone)]
pub struct Change {
    pub decision: Decision,
    pub kind: ChangeKind,
    /// Whether it answers a storm (then it passes the rate limits) or can
    /// wait (`walrus_strategies::Urgency`).
    pub urgency: Urgency,
    /// The strategy that decided, for history.
    pub strategy: &'static str,
    /// Forced checkpoints in the interval that led to it, for history.
    pub forced: i64,
    /// When it counts for the rate limits: seconds on the monotonic clock.
    pub at_secs: f64,
    /// The counters read for the decision; a kind that rebaselines starts
    /// the next interval at them.
    pub reading: Option<Reading>,
}

/// Where a change ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The rate limits held it back (recorded as `skipped`).
    Held,
    /// Dry run: recorded, not written.
    DryRun,
    /// ALTER SYSTEM is off on this server, or `walrus.apply_via = none`:
    /// recorded, not written.
    RecommendOnly(Withheld),
    /// Another write of max_wal_size came first: nothing written or recorded.
    Superseded,
    /// Written as this config-write generation, reload requested, recorded.
    Applied(u64),
    /// Accepted by Patroni as this config-write generation, recorded; it
    /// takes effect when Patroni has written it on each member and reloaded.
    Sent(u64),
    /// The write raised an ERROR, or Patroni did not take it: warned,
    /// counted, recorded as `failed`.
    Failed,
}

/// Takes `change` down its route. `write` performs ALTER SYSTEM for this
/// caller (under the config-generation check) and returns the new
/// generation, `None` when superseded, or the ERROR it caught (the worker
/// catches; a SQL caller lets an ERROR end its statement instead); a change
/// for Patroni goes through [`send_to_patroni`] at `seen_generation`.
/// `record` writes a history row and its event the way this caller can.
pub fn apply(
    change: &Change,
    seen_generation: u64,
    write: impl FnOnce(i32) -> Result<Option<u64>, CaughtPgError>,
    record: &mut dyn FnMut(&Entry),
) -> Outcome {
    let decision = &change.decision;
    if change.kind.warns_when_capped() && decision.action == Action::Capped {
        // Stamped by walrus_strategies::sizing::limits::annotate_ceiling.
        let ceiling = match decision.metadata.get("limited_by").and_then(Value::as_str) {
            Some("disk") => "the WAL disk ceiling",
            _ => "walrus.max",
        };
        warning!(
            "pg_walrus: computed max_wal_size of {} MB exceeds {ceiling}, capping at {} MB",
            decision.computed_size_mb.unwrap_or(decision.new_size_mb),
            decision.new_size_mb
        );
    }
    let limits = guc::rate_limits();
    let rate_limits = || shmem::update(|state| state.recent_changes.check(change.at_secs, &limits)).unwrap_or(Ok(()));
    let verdict = rate_verdict(change.kind, change.urgency, rate_limits);
    // A storm's grow that passed a limit says so in its log line, history
    // row and event, whatever its route.
    let passed;
    let change = match verdict {
        RateVerdict::PassedForStorm(blocked) => {
            passed = passed_for_storm(change, &blocked);
            &passed
        }
        RateVerdict::NotAsked | RateVerdict::Allowed | RateVerdict::Held(_) => change,
    };
    let decision = &change.decision;
    let (strategy, forced) = (change.strategy, change.forced);
    let counted_at = change.kind.counts_toward_limits().then_some(change.at_secs);
    let apply_via = apply_via::apply_via();
    match route(
        change.kind,
        verdict,
        guc::dry_run(),
        apply_via,
        server::alter_system_allowed(),
    ) {
        Route::Held(blocked) => {
            log_blocked(&blocked);
            shmem::update(|state| state.total_skipped += 1);
            record(&skipped_entry(decision, strategy, forced, &blocked));
            Outcome::Held
        }
        Route::DryRun => {
            dry_run(decision, counted_at);
            record(&dry_run_entry(decision, strategy, forced));
            Outcome::DryRun
        }
        Route::RecommendOnly(why) => {
            recommend_only(decision, why);
            record(&recommend_only_entry(decision, strategy, forced, why));
            Outcome::RecommendOnly(why)
        }
        Route::Patch => match send_to_patroni(seen_generation, decision.new_size_mb, decision.old_size_mb) {
            None => Outcome::Superseded,
            Some((generation, Ok(sent))) => {
                // Patroni writes each member's postgresql.conf and reloads it.
                took_effect(change, counted_at, generation, false, sent.details, record);
                Outcome::Sent(generation)
            }
            Some((_, Err(not_sent))) => {
                warning!(
                    "pg_walrus: could not set max_wal_size to {} MB through Patroni, will retry next cycle: {}",
                    decision.new_size_mb,
                    not_sent.message
                );
                did_not_take(change, &not_sent.message, not_sent.details, record);
                Outcome::Failed
            }
        },
        Route::Write => match write(decision.new_size_mb) {
            Ok(None) => Outcome::Superseded,
            Ok(Some(generation)) => {
                took_effect(change, counted_at, generation, true, json!({}), record);
                Outcome::Applied(generation)
            }
            Err(error) => {
                error.report_warning("pg_walrus: failed to execute ALTER SYSTEM, will retry next cycle");
                did_not_take(change, &error.to_string(), json!({}), record);
                Outcome::Failed
            }
        },
    }
}

/// A change written (ALTER SYSTEM, `reload`) or accepted by Patroni as
/// `generation`: logged, counted, the interval rebaselined if its kind
/// does, and recorded with `details` in the row's metadata.
fn took_effect(
    change: &Change,
    counted_at: Option<f64>,
    generation: u64,
    reload: bool,
    details: Value,
    record: &mut dyn FnMut(&Entry),
) {
    let decision = &change.decision;
    let rebaseline = change.reading.filter(|_| change.kind.rebaselines());
    resized(decision, rebaseline, counted_at, reload);
    let mut entry = applied_entry(decision, change.strategy, change.forced, generation);
    merge(&mut entry.metadata, details);
    record(&entry);
}

/// A change that did not take (the caller has warned): counted, and
/// recorded as `failed` with `message` and `details`.
fn did_not_take(change: &Change, message: &str, details: Value, record: &mut dyn FnMut(&Entry)) {
    shmem::update(|state| state.total_failed += 1);
    let mut entry = failed_entry(&change.decision, change.strategy, change.forced, message);
    merge(&mut entry.metadata, details);
    record(&entry);
}

/// Sends the size to Patroni unless another write of max_wal_size happened
/// since `seen_generation`. The generation is taken first, under the lock,
/// and the request goes out after it is released: the lock is never held
/// across the network. `None` when superseded.
pub fn send_to_patroni(
    seen_generation: u64,
    size_mb: i32,
    from_mb: i32,
) -> Option<(u64, Result<patroni::Sent, patroni::NotSent>)> {
    let generation = shmem::write_config(seen_generation, size_mb, || ())?;
    Some((generation, patroni::send(size_mb, from_mb)))
}

fn merge(metadata: &mut Value, extra: Value) {
    if let (Value::Object(target), Value::Object(extra)) = (metadata, extra) {
        target.extend(extra);
    }
}

/// `change` with the limit it passed in its metadata (`rate_limit_passed`:
/// which limit, how long it had left), logged and counted.
fn passed_for_storm(change: &Change, blocked: &Blocked) -> Change {
    let limit = match *blocked {
        Blocked::Cooldown { remaining_secs } => {
            format!("cooldown active ({} seconds remaining)", remaining_secs.ceil())
        }
        Blocked::HourlyLimit { changes, limit, .. } => format!("hourly limit reached ({changes} of {limit})"),
    };
    log!(
        "pg_walrus: {limit}, but {} forced checkpoints are being taken: growing anyway",
        change.forced
    );
    shmem::update(|state| state.total_storm_passes += 1);
    let mut passed = change.clone();
    merge(
        &mut passed.decision.metadata,
        json!({"rate_limit_passed": {
            "blocked_by": blocked.name(),
            "remaining_sec": blocked.remaining_secs().ceil(),
            "forced_checkpoints": change.forced,
        }}),
    );
    passed
}

fn log_blocked(blocked: &Blocked) {
    match *blocked {
        Blocked::Cooldown { remaining_secs } => {
            debug1!("pg_walrus: cooldown period active");
            log!(
                "pg_walrus: adjustment blocked - cooldown active ({} seconds remaining)",
                remaining_secs.ceil()
            );
        }
        Blocked::HourlyLimit { changes, limit, .. } => {
            debug1!("pg_walrus: hourly change limit reached");
            log!("pg_walrus: adjustment blocked - hourly limit reached ({changes} of {limit})");
        }
    }
}

/// Logs the resize, counts it in shared memory, and asks the postmaster to
/// reload so the new size takes effect. `rebaseline` starts a new interval
/// at those counters, so the checkpoints that led to this decision are not
/// counted again by the worker's next cycle.
/// `now_secs` (monotonic) is when the change counts for the rate limits
/// (`None`: it does not count). `reload` is false when someone else (Patroni)
/// writes the file and reloads.
fn resized(decision: &Decision, rebaseline: Option<Reading>, now_secs: Option<f64>, reload: bool) {
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
        if let Some(now_secs) = now_secs {
            state.recent_changes.record(now_secs);
        }
        // Never move the baseline backwards past a newer reading.
        if let Some(reading) =
            rebaseline.filter(|r| !state.has_baseline || r.counts.requested >= state.baseline_requested)
        {
            state.rebaseline(&reading);
        }
    });
    if reload && let Err(error) = server::request_reload() {
        warning!("pg_walrus: could not signal the postmaster to reload the configuration: {error}");
    }
}

/// A dry-run decision: logged, counted toward the rate limits as if applied,
/// and nothing written to the configuration.
fn dry_run(decision: &Decision, now_secs: Option<f64>) {
    log!(
        "pg_walrus [DRY-RUN]: would change max_wal_size from {} MB to {} MB ({})",
        decision.old_size_mb,
        decision.new_size_mb,
        decision.reason
    );
    shmem::update(|state| {
        state.total_dry_runs += 1;
        if let Some(now_secs) = now_secs {
            state.recent_changes.record(now_secs);
        }
    });
}

/// Seconds on the monotonic clock, the rate limits' time base.
pub fn now_secs() -> f64 {
    clock::monotonic_ns() as f64 / 1e9
}

/// The history row for a decision that was applied as the `generation`-th
/// write of max_wal_size (rows sorted by it follow the file's history even
/// when concurrent writers commit their rows out of order).
fn applied_entry<'a>(decision: &'a Decision, strategy: &'a str, forced: i64, generation: u64) -> Entry<'a> {
    entry(
        decision,
        decision.action.as_str(),
        strategy,
        forced,
        json!({"applied": true, "config_generation": generation}),
    )
}

/// The history row for a decision whose ALTER SYSTEM failed.
fn failed_entry<'a>(decision: &'a Decision, strategy: &'a str, forced: i64, error: &str) -> Entry<'a> {
    entry(
        decision,
        "failed",
        strategy,
        forced,
        json!({"applied": false, "error": error, "would_apply": decision.action.as_str()}),
    )
}

/// The history row for a decision made in dry-run mode.
fn dry_run_entry<'a>(decision: &'a Decision, strategy: &'a str, forced: i64) -> Entry<'a> {
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
fn skipped_entry<'a>(decision: &'a Decision, strategy: &'a str, forced: i64, blocked: &Blocked) -> Entry<'a> {
    let extra = json!({
        "applied": false,
        "blocked_by": blocked.name(),
        "remaining_sec": blocked.remaining_secs().ceil(),
        "would_apply": decision.action.as_str(),
    });
    entry(decision, "skipped", strategy, forced, extra)
}

/// Recommend-only mode: the decision is recorded, nothing is attempted.
fn recommend_only(decision: &Decision, why: Withheld) {
    log!(
        "pg_walrus: recommend-only ({}): max_wal_size should change from {} MB to {} MB ({})",
        why.state(),
        decision.old_size_mb,
        decision.new_size_mb,
        decision.reason
    );
    shmem::update(|state| state.total_skipped += 1);
}

/// The history row for a decision recommend-only mode could not apply.
fn recommend_only_entry<'a>(decision: &'a Decision, strategy: &'a str, forced: i64, why: Withheld) -> Entry<'a> {
    let extra = json!({"applied": false, "blocked_by": why.setting(), "would_apply": decision.action.as_str()});
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
