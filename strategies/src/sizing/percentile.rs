//! percentile: sizes for the `walrus.target_percentile` of WAL per interval
//! over the recent intervals (the last 64), through PostgreSQL's trigger rule,
//! and never for less than the last interval's WAL. Conservative: it keeps
//! room for the busy intervals it has seen, so it absorbs recurring spikes,
//! and gives disk back only once they have left its window.

use serde_json::json;

use crate::evidence::confidence::Evidence;
use crate::evidence::state::StrategyState;
use crate::evidence::{BYTES_PER_MB, evidence_metadata, size_for_wal_mb, wal_per_timeout};
use crate::sizing::target::steer;
use crate::{Decision, Observation, Settings, SizingStrategy};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Percentile;

/// The `p`-th percentile (nearest rank) of the finite values; `None` if
/// there are none. Sorting uses `total_cmp`, so NaN cannot panic it.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    let mut finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() {
        return None;
    }
    finite.sort_by(f64::total_cmp);
    let p = if p.is_finite() { p.clamp(0.0, 100.0) } else { 100.0 };
    let rank = ((p / 100.0) * finite.len() as f64).ceil().max(1.0) as usize;
    Some(finite[rank.min(finite.len()) - 1])
}

impl SizingStrategy for Percentile {
    fn name(&self) -> &'static str {
        "percentile"
    }

    fn decide(&self, obs: &Observation, settings: &Settings, state: &StrategyState) -> Decision {
        let mut metadata = evidence_metadata(obs);
        let walls: Vec<f64> = state
            .ring
            .iter()
            .map(|s| wal_per_timeout(s.sizing_wal_bytes(), s.interval_secs, settings))
            .collect();
        let Some(expected) = percentile(&walls, settings.target_percentile) else {
            return Decision::keep(obs.current_size_mb, "no WAL samples yet", metadata);
        };
        // Never size for less than the interval just seen.
        let last = wal_per_timeout(obs.sizing_wal_bytes(settings), obs.interval_secs, settings);
        metadata["percentile"] = json!(settings.target_percentile);
        metadata["samples"] = json!(walls.len());
        let basis = format!(
            "p{} of {} intervals is {:.0} MB of WAL",
            settings.target_percentile,
            walls.len(),
            expected / BYTES_PER_MB
        );
        let need = size_for_wal_mb(expected, settings);
        steer(
            obs,
            settings,
            need.max(size_for_wal_mb(last, settings)),
            need,
            metadata,
            &basis,
        )
    }

    /// 40, plus 3 per sample up to 20 samples: a percentile of few samples is
    /// a guess.
    fn confidence(&self, _evidence: &Evidence, state: &StrategyState) -> u8 {
        (40 + 3 * state.ring.len().min(20)) as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 95.0), Some(95.0));
        assert_eq!(percentile(&v, 100.0), Some(100.0));
        assert_eq!(percentile(&v, 50.0), Some(50.0));
        assert_eq!(percentile(&[3.0], 95.0), Some(3.0));
        assert_eq!(percentile(&[], 95.0), None);
    }

    #[test]
    fn nan_and_infinities_never_panic() {
        assert_eq!(percentile(&[f64::NAN, 2.0, f64::INFINITY, 1.0], 100.0), Some(2.0));
        assert_eq!(percentile(&[f64::NAN], 95.0), None);
        assert_eq!(percentile(&[1.0, 2.0], f64::NAN), Some(2.0));
    }
}
