//! The standard traces: WAL per interval (MB) with the load changes marked.
//! Intervals are one checkpoint_timeout (5 minutes at the default).

use std::ops::Range;

use super::PageModel;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TraceInterval {
    pub wal_mb: f64,
    /// Manual CHECKPOINTs (or base backups...) in the interval.
    pub manual_checkpoints: u32,
    /// Full-page images that depend on the checkpoints; `None`: the WAL is
    /// `wal_mb` whatever the checkpoints.
    pub pages: Option<PageModel>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    pub name: &'static str,
    pub intervals: Vec<TraceInterval>,
    /// Indexes where the load changes; 0 is always one.
    pub changes: Vec<usize>,
}

impl Trace {
    /// The stretches between load changes.
    pub fn segments(&self) -> Vec<Range<usize>> {
        let mut bounds = self.changes.clone();
        bounds.push(self.intervals.len());
        bounds.windows(2).map(|w| w[0]..w[1]).collect()
    }

    /// The same trace with full-page images by `model` in every interval.
    pub(crate) fn with_pages(mut self, model: PageModel) -> Trace {
        for interval in &mut self.intervals {
            interval.pages = Some(model);
        }
        self
    }

    pub(crate) fn from_levels(name: &'static str, levels: &[(usize, f64)]) -> Trace {
        let mut intervals = Vec::new();
        let mut changes = Vec::new();
        for &(count, wal_mb) in levels {
            changes.push(intervals.len());
            intervals.extend(std::iter::repeat_n(
                TraceInterval {
                    wal_mb,
                    manual_checkpoints: 0,
                    pages: None,
                },
                count,
            ));
        }
        Trace {
            name,
            intervals,
            changes,
        }
    }
}

pub fn standard_traces() -> Vec<Trace> {
    let diurnal = Trace {
        name: "diurnal",
        // One day of 5-minute intervals: 150 MB at night, 1650 MB at the peak.
        intervals: (0..288)
            .map(|i| TraceInterval {
                wal_mb: 900.0 - 750.0 * (2.0 * std::f64::consts::PI * i as f64 / 288.0).cos(),
                manual_checkpoints: 0,
                pages: None,
            })
            .collect(),
        changes: vec![0],
    };
    let mut spikes = Trace::from_levels("batch_spikes", &[]);
    for _ in 0..4 {
        for (count, wal_mb) in [(21, 150.0), (3, 1800.0)] {
            spikes.changes.push(spikes.intervals.len());
            spikes.intervals.extend(std::iter::repeat_n(
                TraceInterval {
                    wal_mb,
                    manual_checkpoints: 0,
                    pages: None,
                },
                count,
            ));
        }
    }
    let noise = Trace {
        name: "checkpoint_noise",
        // A light load with six manual CHECKPOINTs every fourth interval.
        intervals: (0..60)
            .map(|i| TraceInterval {
                wal_mb: 40.0,
                manual_checkpoints: if i % 4 == 3 { 6 } else { 0 },
                pages: None,
            })
            .collect(),
        changes: vec![0],
    };
    let ramp = Trace {
        name: "slow_ramp",
        intervals: (0..120)
            .map(|i| TraceInterval {
                wal_mb: 100.0 + 15.0 * i as f64,
                manual_checkpoints: 0,
                pages: None,
            })
            .collect(),
        changes: vec![0],
    };
    // The step up again, with full-page images: 2 GB of pages, images 60 %
    // of the WAL at one checkpoint per timeout (pgbench's were 85 %).
    let paged = Trace::from_levels("step_up_with_page_images", &[(20, 200.0), (40, 1800.0)]).with_pages(PageModel {
        pages: 262_144.0,
        image_share: 0.6,
        image_bytes: 8000.0,
        record_bytes: 100.0,
    });
    vec![
        Trace::from_levels("step_up", &[(20, 200.0), (40, 1800.0)]),
        paged,
        Trace::from_levels("step_down", &[(30, 1800.0), (40, 200.0)]),
        diurnal,
        spikes,
        noise,
        ramp,
    ]
}

/// The real-server benchmark's load, for a 30 s `checkpoint_timeout` and a
/// server starting at 64 MB: pgbench TPC-B at scale 20 (41 088 pages of
/// data), about 300 MB of WAL per 30 s with time-triggered checkpoints, 85 %
/// of it full-page images (measured on PostgreSQL 15 with fsync on; see
/// `full_pages`).
pub fn pgbench_storm(intervals: usize) -> Trace {
    Trace::from_levels("pgbench_storm", &[(intervals, 300.0)]).with_pages(PageModel {
        pages: 41_088.0,
        image_share: 0.85,
        image_bytes: 8000.0,
        record_bytes: 70.0,
    })
}
