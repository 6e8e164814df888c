//! Pace-based growth in the simulator (`Scenario::pace_growth`): the worker's
//! rule (`early::pace`) asked once per interval, [`CONFIRM_SECS`] into it,
//! when the pace has held that long. The trace's loads run at a constant
//! pace within an interval, so the pace seen over the last 2 s is the WAL
//! the checkpointer is writing then (images included), and the steady share
//! is the trace's figure over it: what the load writes with one checkpoint
//! per timeout.

use super::{Checkpointer, PagedLoad, TraceInterval};
use crate::Decision;
use crate::Settings;
use crate::early::pace::{self, CONFIRM_SECS, PACE_WINDOW_SECS, Projection};
use crate::evidence::{BYTES_PER_MB, pace_forces_checkpoint, trigger_distance_bytes};

/// How far into an interval the pace rule is asked.
pub(super) fn decision_secs(settings: &Settings) -> f64 {
    CONFIRM_SECS.min(settings.checkpoint_timeout_secs)
}

/// The worker's pace decision at this point of `interval` (the checkpointer
/// has played [`decision_secs`] of it at `size_mb`), if any.
pub(super) fn decide(
    checkpointer: &Checkpointer,
    interval: &TraceInterval,
    size_mb: i32,
    settings: &Settings,
) -> Option<Decision> {
    let timeout = settings.checkpoint_timeout_secs;
    let steady = interval.wal_mb.max(0.0) * BYTES_PER_MB / timeout;
    let since = checkpointer.secs_since_checkpoint;
    let window = PACE_WINDOW_SECS.min(since.max(0.0));
    let measured = match interval
        .pages
        .map(|model| PagedLoad::new(model, interval.wal_mb, timeout))
    {
        Some(load) if window > 0.0 => load.wal_between(since - window, since) / window,
        _ => steady,
    };
    if !pace_forces_checkpoint(measured, 1.0, size_mb, settings) {
        return None;
    }
    let to_trigger = (trigger_distance_bytes(size_mb, settings) - checkpointer.wal_since_redo).max(0.0);
    let projection = Projection {
        pace_bytes_per_sec: measured,
        held_secs: decision_secs(settings),
        to_trigger_bytes: to_trigger,
        secs_to_trigger: if measured > 0.0 {
            to_trigger / measured
        } else {
            f64::INFINITY
        },
        secs_to_timed: (timeout - since).max(0.0),
        last_cycle_wal_bytes: None,
    };
    // The trace's steady pace is known: the share makes it exact.
    let steady = pace::SteadyPace {
        share: if measured > 0.0 { steady / measured } else { 1.0 },
        storm_bytes_per_sec: 0.0,
        storm_secs: decision_secs(settings),
    };
    pace::decide(&projection, steady, size_mb, settings)
}
