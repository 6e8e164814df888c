//! What the strategies would do now: walrus.recommendation(), walrus.recommendations(),
//! and walrus.analyze(), which applies the recommendation when asked (superusers only).

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::{JsonB, PgLogLevel, PgSqlErrorCode};
use serde_json::{Value, json};
use walrus_strategies::{Action, ChangeKind, SizingStrategy, Strategy, Urgency};

use super::{require_primary, require_superuser};
use crate::sizing::{self, Recommendation, Regime};
use crate::{apply, guc, pg::alter_system, pg::server, pg::stats, record::history, shmem};

/// What the active strategy would do now, judging the interval so far.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn recommendation() -> JsonB {
    let regime = Regime::now();
    JsonB(recommendation_of(&regime, regime.algorithm))
}

/// What a named strategy would do now (any compiled one, active or not).
#[pg_extern(name = "recommendation")]
#[search_path(pg_catalog, pg_temp)]
fn recommendation_for(strategy: &str) -> JsonB {
    JsonB(recommendation_of(&Regime::now(), algorithm_named(strategy)))
}

/// Every compiled strategy's recommendation, side by side.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::type_complexity)]
fn recommendations() -> TableIterator<
    'static,
    (
        name!(strategy, String),
        name!(active, bool),
        name!(current_size_mb, i32),
        name!(recommended_size_mb, i32),
        name!(action, String),
        name!(reason, String),
        name!(confidence, i32),
    ),
> {
    let regime = Regime::now();
    let active = regime.algorithm;
    let state = shmem::snapshot();
    let reading = stats::read_now();
    let rows: Vec<_> = Strategy::ALL
        .iter()
        .map(|&algorithm| match &reading {
            Some(reading) => {
                let rec = sizing::recommend(&state, reading, &regime, algorithm);
                let d = rec.decision;
                (
                    rec.strategy.to_owned(),
                    algorithm == active,
                    d.old_size_mb,
                    d.new_size_mb,
                    d.action.as_str().to_owned(),
                    d.reason,
                    i32::from(rec.confidence),
                )
            }
            None => {
                let current = server::max_wal_size_mb();
                (
                    algorithm.name().to_owned(),
                    algorithm == active,
                    current,
                    current,
                    "error".to_owned(),
                    "checkpoint statistics unavailable".to_owned(),
                    0,
                )
            }
        })
        .collect();
    TableIterator::new(rows)
}

/// The recommendation, applied when `apply` is true (superusers only).
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn analyze(apply: default!(bool, false)) -> JsonB {
    if apply {
        require_superuser("walrus.analyze(apply := true)");
    }
    if !guc::enabled() {
        return JsonB(json!({"analyzed": false, "reason": "extension is disabled"}));
    }
    if apply {
        require_primary("walrus.analyze(apply := true)");
        // ALTER SYSTEM refuses transaction blocks; so does its SQL front door.
        // SAFETY: a backend running this SQL function inside its statement's
        // transaction, as PreventInTransactionBlock expects; the name is a
        // static C string; it raises an ordinary ERROR, which pg_guard turns
        // into a Rust panic unwinding to pgrx's function boundary.
        unsafe { pg_sys::PreventInTransactionBlock(true, c"walrus.analyze(apply := true)".as_ptr()) };
    }
    // Before the recommendation: a write between here and ours makes it stale.
    let writes = shmem::config_writes();
    let regime = Regime::now();
    let Some(reading) = stats::read_now() else {
        return JsonB(
            json!({"analyzed": true, "recommendation": stats_unavailable_json(regime.algorithm), "applied": false}),
        );
    };
    let rec = sizing::recommend(&shmem::snapshot(), &reading, &regime, regime.algorithm);
    let applies = matches!(
        rec.decision.action,
        Action::Increase | Action::Capped | Action::Decrease
    );
    let mut result = json!({"analyzed": true, "recommendation": recommendation_json(&rec), "applied": false});
    if apply && applies && rec.decision.changes_size() {
        // An explicit superuser action: the rate limits do not hold it back,
        // but it counts toward them.
        let change = apply::Change {
            decision: rec.decision,
            kind: ChangeKind::Explicit,
            // Not rate-limited: the limits are never asked.
            urgency: Urgency::CanWait,
            strategy: rec.strategy,
            forced: rec.forced_checkpoints,
            at_secs: apply::now_secs(),
            reading: Some(reading),
        };
        // An ERROR in ALTER SYSTEM ends this statement, as it would its own.
        let write = |new_size| {
            Ok(if written_during_this_statement(&writes) {
                None
            } else {
                shmem::write_config(writes.generation, new_size, || alter_system::set_max_wal_size(new_size))
            })
        };
        let outcome = apply::apply(
            &change,
            writes.generation,
            write,
            &mut |entry| match history::record(entry) {
                Ok(()) => {}
                Err(history::HistoryError::Missing) => warning!("pg_walrus: history table does not exist"),
                Err(history::HistoryError::Spi(error)) => warning!("pg_walrus: could not record history: {error}"),
            },
        );
        match outcome {
            apply::Outcome::Applied(_) => result["applied"] = json!(true),
            apply::Outcome::DryRun => {
                result["reason"] = json!("walrus.dry_run is on: the change was recorded, not applied")
            }
            apply::Outcome::Sent(_) => {
                result["applied"] = json!(true);
                result["apply_via"] = json!("patroni");
            }
            apply::Outcome::RecommendOnly(why) => result["reason"] = json!(why.reason()),
            // Only Patroni's failures come back here: a failed ALTER SYSTEM
            // raised an ERROR instead.
            apply::Outcome::Failed => {
                let error = shmem::snapshot().patroni.last_error;
                result["reason"] = json!(format!("Patroni did not take the change: {}", error.as_str()));
            }
            // This session's max_wal_size predates a write by the worker or
            // another analyze: the recommendation is stale.
            apply::Outcome::Superseded => {
                result["reason"] = json!("max_wal_size was changed moments ago; run walrus.analyze again")
            }
            // Not rate-limited.
            apply::Outcome::Held => {}
        }
    }
    JsonB(result)
}

fn recommendation_json(rec: &Recommendation) -> Value {
    json!({
        "current_size_mb": rec.decision.old_size_mb,
        "recommended_size_mb": rec.decision.new_size_mb,
        "action": rec.decision.action.as_str(),
        "reason": rec.decision.reason,
        "confidence": rec.confidence,
        "strategy": rec.strategy,
    })
}

fn recommendation_of(regime: &Regime, algorithm: Strategy) -> Value {
    match stats::read_now() {
        Some(reading) => recommendation_json(&sizing::recommend(&shmem::snapshot(), &reading, regime, algorithm)),
        None => stats_unavailable_json(algorithm),
    }
}

/// A compiled strategy by name, or an error that lists them.
fn algorithm_named(name: &str) -> Strategy {
    Strategy::from_name(name).unwrap_or_else(|| {
        ErrorReport::new(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!("unknown strategy \"{name}\""),
            "pg_walrus",
        )
        .set_detail(format!("Available strategies: {}.", Strategy::names()))
        .report(PgLogLevel::ERROR);
        unreachable!("ERROR does not return")
    })
}

fn stats_unavailable_json(algorithm: Strategy) -> Value {
    let current = server::max_wal_size_mb();
    json!({
        "current_size_mb": current,
        "recommended_size_mb": current,
        "action": "error",
        "reason": "checkpoint statistics unavailable",
        "confidence": 0,
        "strategy": algorithm.name(),
    })
}

/// A session processes configuration reloads between statements, and
/// analyze(apply := true) is always a statement of its own: its view of
/// max_wal_size can only be stale if pg_walrus wrote the file during this
/// statement, or moments before it (the reload signal still in flight).
fn written_during_this_statement(writes: &shmem::ConfigWrites) -> bool {
    const SIGNAL_SLACK_USECS: i64 = 1_000_000;
    // SAFETY: reads this backend's statement start time, set when the
    // current statement began; a plain read of process-local state.
    let started = unsafe { pg_sys::GetCurrentStatementStartTimestamp() };
    writes.generation > 0
        && writes.size_mb != server::max_wal_size_mb()
        && writes.written_at >= started - SIGNAL_SLACK_USECS
}
