//! Under `walrus.apply_via = patroni` the cluster's size lives in Patroni's
//! configuration, which Patroni writes into each member's postgresql.conf.
//! A `max_wal_size` line in a node's own postgresql.auto.conf shadows it
//! (PostgreSQL reads that file last), so every node removes its line, with
//! one exception: a node whose WAL disk cannot hold the cluster's size keeps
//! (or gets, from the disk guard) a local line at what its disk allows,
//! because safety beats consistency. The primary also brings the cluster's
//! value to what it can hold, and adopts a larger local size it already
//! runs with (from `alter_system` days) before dropping the line, so
//! switching to Patroni never throws away a size the load needed.

use crate::disk::DiskLimit;

/// What to do about this node's postgresql.auto.conf line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalLine {
    /// Nothing to do: no line, or a line the disk still needs.
    Keep,
    /// The cluster's value fits: remove the line (ALTER SYSTEM RESET).
    Remove,
    /// Set the cluster's value to this first (the primary only); the line
    /// goes at a later look, once Patroni has written the value.
    PatchCluster { size_mb: i32 },
}

/// The rule. `local_mb` is this node's postgresql.auto.conf value, if any;
/// `cluster_mb` what the rest of its configuration (Patroni's
/// postgresql.conf, or the built-in default) sets; `disk` this node's disk
/// limit (with the guard's hold after a clamp).
pub fn local_line(local_mb: Option<i32>, cluster_mb: i32, disk: &DiskLimit, primary: bool) -> LocalLine {
    let Some(local_mb) = local_mb else {
        return LocalLine::Keep;
    };
    let limit = disk.growth_limit_mb();
    let fits = |size: i32| limit.is_none_or(|limit| size <= limit);
    if fits(cluster_mb) {
        if primary && local_mb > cluster_mb && fits(local_mb) {
            LocalLine::PatchCluster { size_mb: local_mb }
        } else {
            LocalLine::Remove
        }
    } else if primary {
        // The disk guard keeps this node safe with the local line; the
        // cluster's value comes down to what the primary can hold.
        match limit {
            // Unmeasured: nothing is known to fit; keep the line and wait.
            Some(0) | None => LocalLine::Keep,
            Some(limit) => LocalLine::PatchCluster {
                size_mb: limit.min(local_mb),
            },
        }
    } else {
        LocalLine::Keep
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disk::DiskReading;

    fn measured(ceiling_mb: i32, held_at_mb: Option<i32>) -> DiskLimit {
        DiskLimit::Measured {
            reading: DiskReading::default(),
            fraction: 0.25,
            ceiling_mb,
            held_at_mb,
        }
    }

    #[test]
    fn the_rule_on_standbys_and_the_primary() {
        use LocalLine::{Keep, PatchCluster, Remove};
        let off = DiskLimit::Off;
        let roomy = measured(4096, None);
        let small = measured(500, None);
        let held = measured(4096, Some(500));
        // (local, cluster, disk, primary) -> what to do
        let table = [
            // No line: nothing to do anywhere.
            (None, 800, &small, true, Keep),
            (None, 800, &small, false, Keep),
            // The cluster's value fits: the line goes.
            (Some(500), 800, &roomy, false, Remove),
            (Some(500), 800, &roomy, true, Remove),
            (Some(2000), 800, &off, false, Remove),
            (Some(800), 800, &roomy, true, Remove),
            // A standby's disk cannot hold it: the clamp stays.
            (Some(500), 800, &small, false, Keep),
            // ... nor while the guard still holds growth after a clamp.
            (Some(500), 800, &held, false, Keep),
            // ... and an unmeasured disk keeps the line too.
            (Some(500), 800, &DiskLimit::Unmeasured, false, Keep),
            (Some(500), 800, &DiskLimit::Unmeasured, true, Keep),
            // The primary brings the cluster down to what it can hold.
            (Some(500), 800, &small, true, PatchCluster { size_mb: 500 }),
            (Some(400), 800, &small, true, PatchCluster { size_mb: 400 }),
            (Some(500), 800, &held, true, PatchCluster { size_mb: 500 }),
            // ... and adopts a larger size it runs with that fits.
            (Some(2000), 800, &roomy, true, PatchCluster { size_mb: 2000 }),
            (Some(2000), 800, &off, true, PatchCluster { size_mb: 2000 }),
            // A larger local size that does not fit is not adopted.
            (Some(5000), 800, &roomy, true, Remove),
        ];
        for (local, cluster, disk, primary, want) in table {
            assert_eq!(
                local_line(local, cluster, disk, primary),
                want,
                "local={local:?} cluster={cluster} disk={disk:?} primary={primary}"
            );
        }
    }

    #[test]
    fn after_the_patch_the_line_goes() {
        // The primary's clamp at 500 was sent to Patroni; once its
        // postgresql.conf says 500, the rule removes the line.
        let small = measured(500, Some(500));
        assert_eq!(
            local_line(Some(500), 800, &small, true),
            LocalLine::PatchCluster { size_mb: 500 }
        );
        assert_eq!(local_line(Some(500), 500, &small, true), LocalLine::Remove);
    }
}
