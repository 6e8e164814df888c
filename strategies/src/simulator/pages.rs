//! Full-page images in the simulator: a load whose WAL depends on how often
//! checkpoints come.
//!
//! The load changes pages at a constant rate, at random among `pages`. The
//! first change to a page after a checkpoint logs the whole page, so `t`
//! seconds into a checkpoint cycle the images so far are
//! `pages (1 - e^(-u t / pages))`: at one checkpoint per timeout the images
//! make `image_share` of the trace's WAL, and every extra checkpoint starts
//! them over. This is the model `full_pages::steady_wal` inverts; the real
//! server's figures it was checked against are in that module.

use crate::evidence::BYTES_PER_MB;

/// A trace interval's full-page-image behaviour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PageModel {
    /// Pages the load changes, at random among them.
    pub pages: f64,
    /// The images' share of the interval's WAL at one checkpoint per timeout.
    pub image_share: f64,
    /// Bytes per image, and per record without an image.
    pub image_bytes: f64,
    pub record_bytes: f64,
}

/// The server's block size the simulated images come from.
pub const BLOCK_BYTES: f64 = 8192.0;

/// One interval's load under a [`PageModel`], in per-second terms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct PagedLoad {
    model: PageModel,
    /// Page changes per second.
    changes_per_sec: f64,
    /// WAL other than images, bytes per second.
    other_bytes_per_sec: f64,
}

impl PagedLoad {
    /// The load that writes `wal_mb` per `timeout_secs` at one checkpoint per
    /// timeout, `model.image_share` of it as images.
    pub(super) fn new(model: PageModel, wal_mb: f64, timeout_secs: f64) -> PagedLoad {
        let wal = wal_mb.max(0.0) * BYTES_PER_MB;
        // Images per cycle can never exceed the pages.
        let images = (model.image_share.clamp(0.0, 1.0) * wal / model.image_bytes).min(model.pages * 0.999);
        let changes_per_sec = -model.pages / timeout_secs * (1.0 - images / model.pages).ln();
        PagedLoad {
            model,
            changes_per_sec,
            other_bytes_per_sec: (wal - images * model.image_bytes).max(0.0) / timeout_secs,
        }
    }

    /// Images written from `from` to `to` seconds after a checkpoint.
    pub(super) fn images_between(&self, from: f64, to: f64) -> f64 {
        let decay = |t: f64| (-self.changes_per_sec * t / self.model.pages).exp();
        self.model.pages * (decay(from) - decay(to))
    }

    /// WAL written from `from` to `to` seconds after a checkpoint, bytes.
    pub(super) fn wal_between(&self, from: f64, to: f64) -> f64 {
        self.other_bytes_per_sec * (to - from) + self.model.image_bytes * self.images_between(from, to)
    }

    /// Records written in `secs` (those without images, at their size).
    pub(super) fn records(&self, secs: f64) -> f64 {
        self.other_bytes_per_sec * secs / self.model.record_bytes.max(1.0)
    }

    /// Seconds from `since` (after a checkpoint) until `bytes` more WAL are
    /// written, if within `window`: WAL only grows, so bisection finds it.
    pub(super) fn secs_until(&self, since: f64, bytes: f64, window: f64) -> Option<f64> {
        if self.wal_between(since, since + window) < bytes {
            return None;
        }
        let (mut low, mut high) = (0.0, window);
        for _ in 0..60 {
            let mid = 0.5 * (low + high);
            if self.wal_between(since, since + mid) < bytes {
                low = mid;
            } else {
                high = mid;
            }
        }
        Some(high)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODEL: PageModel = PageModel {
        pages: 41_088.0,
        image_share: 0.85,
        image_bytes: 8000.0,
        record_bytes: 70.0,
    };

    #[test]
    fn one_cycle_per_timeout_writes_the_trace_wal() {
        let load = PagedLoad::new(MODEL, 300.0, 30.0);
        let wal = load.wal_between(0.0, 30.0);
        assert!((wal / BYTES_PER_MB - 300.0).abs() < 1e-6, "{wal}");
        let images = load.images_between(0.0, 30.0) * MODEL.image_bytes;
        assert!((images / wal - 0.85).abs() < 1e-9);
    }

    #[test]
    fn more_cycles_write_more_images() {
        let load = PagedLoad::new(MODEL, 300.0, 30.0);
        let one = load.wal_between(0.0, 30.0);
        let thirty = 30.0 * load.wal_between(0.0, 1.0);
        assert!(thirty > 1.5 * one, "{thirty} against {one}");
    }

    #[test]
    fn bisection_finds_the_trigger() {
        let load = PagedLoad::new(MODEL, 300.0, 30.0);
        let secs = load.secs_until(2.0, 16.0 * BYTES_PER_MB, 28.0).unwrap();
        assert!((load.wal_between(2.0, 2.0 + secs) / BYTES_PER_MB - 16.0).abs() < 1e-6);
        assert_eq!(load.secs_until(2.0, 1e12, 28.0), None);
    }
}
