//! Which checks a change of max_wal_size passes through on its way to
//! postgresql.auto.conf, by who asked for it. The extension's apply path
//! (src/apply.rs) follows the [`Route`] this returns; the order of the checks
//! and who skips which live here, as plain logic with table-driven tests.

use crate::Blocked;

/// Who asks for a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// The worker's decision at the end of an interval (or early reaction's).
    Automatic,
    /// `walrus.analyze(apply := true)`: a superuser asked for it now.
    Explicit,
    /// The WAL disk guard lowers a size the disk can no longer hold.
    Safety,
    /// A standby (or a node just promoted) follows its primary's size.
    Mirror,
}

impl ChangeKind {
    /// Whether the rate limits can hold the change back. Every applied or
    /// dry-run change counts toward them, whoever asked.
    pub fn rate_limited(self) -> bool {
        match self {
            ChangeKind::Automatic => true,
            ChangeKind::Explicit | ChangeKind::Safety | ChangeKind::Mirror => false,
        }
    }

    /// Whether an applied (or dry-run) change counts toward the rate limits
    /// afterwards. A standby's mirroring follows the primary's changes,
    /// which the primary already counted: counting them again would hold
    /// back the promoted node's first change of its own.
    pub fn counts_toward_limits(self) -> bool {
        self != ChangeKind::Mirror
    }

    /// Whether an applied change starts a new interval at the counters read
    /// for it. The worker's own cycle has already moved the baseline; an
    /// explicit change must, or the next cycle would count the checkpoints
    /// that led to it again.
    pub fn rebaselines(self) -> bool {
        match self {
            ChangeKind::Automatic | ChangeKind::Safety | ChangeKind::Mirror => false,
            ChangeKind::Explicit => true,
        }
    }

    /// Whether growth capped by walrus.max is worth a WARNING: the worker's
    /// decisions are unattended; an explicit call returns the recommendation
    /// to the caller, who sees the cap there.
    pub fn warns_when_capped(self) -> bool {
        self == ChangeKind::Automatic
    }
}

/// What happens to a decision that changes the size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Route {
    /// The rate limits hold it back: recorded as `skipped`.
    Held(Blocked),
    /// `walrus.dry_run`: logged and recorded, counted toward the rate limits.
    DryRun,
    /// ALTER SYSTEM is off on this server (`allow_alter_system`): recorded.
    RecommendOnly,
    /// Write it (ALTER SYSTEM, config-generation check, reload).
    Write,
}

/// The route of a size-changing decision of `kind`. `rate_limits` is asked
/// only when the kind is rate-limited; dry run comes before recommend-only
/// (a dry run writes nothing either way, and says so).
pub fn route(
    kind: ChangeKind,
    rate_limits: impl FnOnce() -> Result<(), Blocked>,
    dry_run: bool,
    alter_system_allowed: bool,
) -> Route {
    if kind.rate_limited()
        && let Err(blocked) = rate_limits()
    {
        return Route::Held(blocked);
    }
    if dry_run {
        Route::DryRun
    } else if !alter_system_allowed {
        Route::RecommendOnly
    } else {
        Route::Write
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COOLDOWN: Blocked = Blocked::Cooldown { remaining_secs: 42.0 };

    #[test]
    fn every_kind_and_condition() {
        use ChangeKind::{Automatic, Explicit, Mirror, Safety};
        use Route::{DryRun, Held, RecommendOnly, Write};
        // (kind, limits allow, dry run, ALTER SYSTEM allowed) -> route
        let table = [
            (Automatic, true, false, true, Write),
            (Automatic, false, false, true, Held(COOLDOWN)),
            (Automatic, false, true, false, Held(COOLDOWN)),
            (Automatic, true, true, true, DryRun),
            (Automatic, true, true, false, DryRun),
            (Automatic, true, false, false, RecommendOnly),
            (Explicit, true, false, true, Write),
            (Explicit, false, false, true, Write),
            (Explicit, false, true, true, DryRun),
            (Explicit, false, false, false, RecommendOnly),
            // A clamp is never held back, and dry run and recommend-only
            // record it as they record anything.
            (Safety, false, false, true, Write),
            (Safety, false, true, true, DryRun),
            (Safety, false, false, false, RecommendOnly),
            // A standby follows its primary whatever the limits; dry run
            // and recommend-only hold for it as for any change.
            (Mirror, false, false, true, Write),
            (Mirror, false, true, true, DryRun),
            (Mirror, false, false, false, RecommendOnly),
        ];
        for (kind, allow, dry_run, allowed, want) in table {
            let limits = || if allow { Ok(()) } else { Err(COOLDOWN) };
            assert_eq!(
                route(kind, limits, dry_run, allowed),
                want,
                "{kind:?} allow={allow} dry_run={dry_run}"
            );
        }
    }

    #[test]
    fn explicit_changes_never_consult_the_rate_limits() {
        let asked = std::cell::Cell::new(false);
        route(
            ChangeKind::Explicit,
            || {
                asked.set(true);
                Err(COOLDOWN)
            },
            false,
            true,
        );
        assert!(!asked.get());
    }

    #[test]
    fn what_each_kind_does_besides_the_route() {
        use ChangeKind::{Automatic, Explicit, Mirror, Safety};
        // (kind, rate-limited, counts toward the limits, rebaselines, warns when capped)
        for (kind, limited, counts, rebaselines, warns) in [
            (Automatic, true, true, false, true),
            (Explicit, false, true, true, false),
            (Safety, false, true, false, false),
            (Mirror, false, false, false, false),
        ] {
            assert_eq!(
                (
                    kind.rate_limited(),
                    kind.counts_toward_limits(),
                    kind.rebaselines(),
                    kind.warns_when_capped()
                ),
                (limited, counts, rebaselines, warns)
            );
        }
    }
}
