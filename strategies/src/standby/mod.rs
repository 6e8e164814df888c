//! A standby follows its primary's max_wal_size: the size a node must run
//! with the moment it is promoted. The primary publishes the size it runs
//! with; a standby (and a freshly promoted node) brings its own to that size,
//! bounded by its own WAL disk. Pure logic: the extension reads the record
//! and applies the result.

use serde_json::json;

use crate::disk::DiskLimit;
use crate::{Action, Decision};

/// What a standby should set, given the primary's published size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MirrorTarget {
    pub size_mb: i32,
    /// This node's disk ceiling kept it below the primary's size.
    pub capped_by_disk: bool,
}

/// The size to mirror: the primary's, at most this node's disk allows (a
/// disk that cannot be measured allows no growth: the node keeps a larger
/// size only if it already has it), never below two segments.
pub fn target(primary_mb: i32, current_mb: i32, disk: &DiskLimit, floor_mb: i32) -> MirrorTarget {
    let wanted = primary_mb.max(floor_mb);
    let allowed = match disk {
        DiskLimit::Off => wanted,
        DiskLimit::Unmeasured => wanted.min(current_mb.max(floor_mb)),
        DiskLimit::Measured { ceiling_mb, .. } => wanted.min((*ceiling_mb).max(floor_mb)),
    };
    MirrorTarget {
        size_mb: allowed,
        capped_by_disk: allowed < wanted,
    }
}

/// The decision that brings this node from `current_mb` to the mirrored
/// size; `None` when it already runs with it. `why` says what is followed
/// ("the primary's size", "the former primary's size, on promotion").
pub fn decision(target: MirrorTarget, primary_mb: i32, current_mb: i32, why: &str) -> Option<Decision> {
    if target.size_mb == current_mb {
        return None;
    }
    let action = if target.size_mb > current_mb {
        Action::Increase
    } else {
        Action::Decrease
    };
    let mut reason = format!("following {why}: {primary_mb} MB");
    if target.capped_by_disk {
        reason.push_str(&format!(
            ", capped at this node's WAL disk ceiling ({} MB)",
            target.size_mb
        ));
    }
    Some(Decision {
        action,
        old_size_mb: current_mb,
        new_size_mb: target.size_mb,
        computed_size_mb: Some(primary_mb),
        reason,
        metadata: json!({
            "mirror": true,
            "primary_size_mb": primary_mb,
            "capped_by_disk": target.capped_by_disk,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disk::DiskReading;

    fn measured(ceiling_mb: i32) -> DiskLimit {
        DiskLimit::Measured {
            reading: DiskReading::default(),
            fraction: 0.25,
            ceiling_mb,
            held_at_mb: None,
        }
    }

    #[test]
    fn follows_the_primary_within_the_disk() {
        // (primary, current, disk, floor) -> (target, capped)
        let cases = [
            (832, 64, DiskLimit::Off, 32, 832, false),
            (832, 64, measured(4096), 32, 832, false),
            (832, 64, measured(512), 32, 512, true),
            (832, 1024, measured(512), 32, 512, true),
            (64, 832, measured(4096), 32, 64, false),
            (16, 832, DiskLimit::Off, 32, 32, false),
            // Unmeasured: no growth, but a shrink toward the primary is fine.
            (832, 64, DiskLimit::Unmeasured, 32, 64, true),
            (64, 832, DiskLimit::Unmeasured, 32, 64, false),
        ];
        for (primary, current, disk, floor, want, capped) in cases {
            assert_eq!(
                target(primary, current, &disk, floor),
                MirrorTarget {
                    size_mb: want,
                    capped_by_disk: capped
                },
                "{primary} from {current} with {disk:?}"
            );
        }
    }

    #[test]
    fn a_decision_only_when_the_size_changes() {
        let t = target(832, 64, &measured(4096), 32);
        let d = decision(t, 832, 64, "the primary's size").unwrap();
        assert_eq!((d.action, d.old_size_mb, d.new_size_mb), (Action::Increase, 64, 832));
        assert_eq!(d.reason, "following the primary's size: 832 MB");
        assert_eq!(d.metadata["mirror"], true);
        assert!(decision(target(832, 832, &DiskLimit::Off, 32), 832, 832, "x").is_none());
        let capped = decision(target(832, 64, &measured(512), 32), 832, 64, "the primary's size").unwrap();
        assert!(
            capped
                .reason
                .ends_with("capped at this node's WAL disk ceiling (512 MB)"),
            "{}",
            capped.reason
        );
        let down = decision(target(64, 832, &DiskLimit::Off, 32), 64, 832, "the primary's size").unwrap();
        assert_eq!(down.action, Action::Decrease);
    }
}
