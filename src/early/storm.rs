//! Pace-based growth's memory across intervals: the pace rule's glances,
//! and the counters read when the current storm began.
//!
//! The steady estimate (`walrus_strategies::early::pace::SteadyPace`) spans
//! the storm so far, from the glance its storm pace began at. Spanning the
//! worker's interval instead, it took few full-page images out for a load
//! that started partway through an interval: the model spreads the images
//! over the whole span, idle minutes included, and the load was sized from
//! nearly its image-inflated pace (a wave like scale-50 pgbench's, 150 s into
//! a 5-minute interval: 5552 MB where the storm's own span asks 3010; the
//! unit test `a_load_that_starts_mid_interval_is_sized_from_its_storm_not_the_interval`).

use walrus_strategies::Settings;
use walrus_strategies::early::pace::{PaceWatch, SteadyPace};

use crate::pg::stats::{self, Reading};
use crate::pg::txn;
use crate::shmem;
use crate::sizing::{self, data_size};

/// Kept by the worker across intervals and lent to each interval's watch: a
/// storm does not end with the interval.
#[derive(Default)]
pub struct PaceMemory {
    /// The pace rule's glances.
    pub glances: PaceWatch,
    storm: Option<StormStart>,
}

/// What was read when the current storm began.
struct StormStart {
    /// The storm it belongs to (`PaceWatch::storm_since`).
    since_secs: f64,
    /// The counters then; why not, when they could not be read.
    reading: Result<Reading, String>,
    /// The databases' pages, measured at the storm's first pace decision and
    /// kept for the storm: a storm of forced checkpoints brings a decision
    /// per checkpoint cycle, seconds apart, and each measure walks every
    /// database's files.
    data_pages: Option<f64>,
}

impl PaceMemory {
    /// After a glance: when a storm has just begun, reads the counters (one
    /// transaction per storm); when none runs, forgets the last one's.
    pub fn note_storm_start(&mut self) {
        let Some(since_secs) = self.glances.storm_since() else {
            self.storm = None;
            return;
        };
        if self.storm.as_ref().is_some_and(|storm| storm.since_secs == since_secs) {
            return;
        }
        let reading = match txn::guarded(stats::read_now) {
            Ok(Some(reading)) => Ok(reading),
            Ok(None) => Err("the checkpoint statistics were unavailable when the storm began".to_owned()),
            Err(error) => Err(format!(
                "the statistics could not be read when the storm began: {error}"
            )),
        };
        self.storm = Some(StormStart {
            since_secs,
            reading,
            data_pages: None,
        });
    }

    /// The steady part of the storm so far: the WAL it would write with
    /// time-triggered checkpoints, from the full-page-image estimate over
    /// the storm's span. Opens a transaction. `Err` says why there is no
    /// estimate (the caller then sizes from the pace as measured).
    pub fn steady_pace(&mut self, settings: &Settings) -> Result<SteadyPace, String> {
        let storm = self
            .storm
            .as_mut()
            .filter(|storm| Some(storm.since_secs) == self.glances.storm_since())
            .ok_or("the storm's start was not read")?;
        let start = storm.reading.clone()?;
        let known_pages = storm.data_pages;
        let settings = settings.clone();
        let (pages, steady) = txn::guarded(move || {
            let pages = known_pages.or_else(data_size::measure_pages);
            (pages, estimate(&start, pages, &settings))
        })
        .map_err(|error| format!("the statistics could not be read: {error}"))?;
        storm.data_pages = pages;
        steady
    }
}

/// The full-page estimate from `start` to now. Inside a transaction.
fn estimate(start: &Reading, pages: Option<f64>, settings: &Settings) -> Result<SteadyPace, String> {
    let now = stats::read_now().ok_or("the checkpoint statistics are unavailable")?;
    let pages = pages.ok_or("the databases' size could not be read")?;
    // The storm's start as the baseline: the worker's own is left alone.
    let mut state = shmem::snapshot();
    state.rebaseline(start);
    state.data_pages = pages;
    let observation =
        sizing::observe(&state, &now, settings).ok_or("the statistics were reset since the storm began")?;
    if observation.full_pages.is_none() {
        return Err("pg_stat_wal gave no full-page image counts for the storm".to_owned());
    }
    SteadyPace::estimated(
        observation.sizing_wal_bytes(settings),
        observation.wal_bytes,
        observation.interval_secs,
    )
    .ok_or_else(|| "no WAL or no time since the storm began".to_owned())
}
