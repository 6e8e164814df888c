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
    /// Under Patroni, the primary brings the cluster's value in line with
    /// what it runs with or what its disk holds (`patroni::local_line`):
    /// this node's size does not change.
    Reconcile,
}

impl ChangeKind {
    /// Whether the rate limits can hold the change back. Every applied or
    /// dry-run change counts toward them, whoever asked.
    pub fn rate_limited(self) -> bool {
        match self {
            ChangeKind::Automatic => true,
            ChangeKind::Explicit | ChangeKind::Safety | ChangeKind::Mirror | ChangeKind::Reconcile => false,
        }
    }

    /// Whether an applied (or dry-run) change counts toward the rate limits
    /// afterwards. A standby's mirroring follows the primary's changes,
    /// which the primary already counted: counting them again would hold
    /// back the promoted node's first change of its own.
    /// A reconcile leaves this node's size as it is.
    pub fn counts_toward_limits(self) -> bool {
        !matches!(self, ChangeKind::Mirror | ChangeKind::Reconcile)
    }

    /// Whether an applied change starts a new interval at the counters read
    /// for it. The worker's own cycle has already moved the baseline; an
    /// explicit change must, or the next cycle would count the checkpoints
    /// that led to it again.
    pub fn rebaselines(self) -> bool {
        match self {
            ChangeKind::Automatic | ChangeKind::Safety | ChangeKind::Mirror | ChangeKind::Reconcile => false,
            ChangeKind::Explicit => true,
        }
    }

    /// Whether growth capped by walrus.max is worth a WARNING: the worker's
    /// decisions are unattended; an explicit call returns the recommendation
    /// to the caller, who sees the cap there.
    pub fn warns_when_capped(self) -> bool {
        self == ChangeKind::Automatic
    }

    /// Whether the change sets the size for the whole cluster (under
    /// `walrus.apply_via = patroni`, through Patroni's configuration) or only
    /// for this node: a disk clamp protects this node's disk now, whatever
    /// the network does, and mirroring is a standby's own.
    pub fn sizes_the_cluster(self) -> bool {
        match self {
            ChangeKind::Automatic | ChangeKind::Explicit | ChangeKind::Reconcile => true,
            ChangeKind::Safety | ChangeKind::Mirror => false,
        }
    }
}

/// Where sizes go: `walrus.apply_via`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ApplyVia {
    /// ALTER SYSTEM on this node (standbys mirror the primary's size).
    #[default]
    AlterSystem,
    /// `PATCH /config` on Patroni's REST API: every member gets the size.
    Patroni,
    /// Nowhere: pg_walrus only recommends (CloudNativePG, config as code).
    Nowhere,
}

impl ApplyVia {
    /// The setting's value that names it.
    pub fn name(self) -> &'static str {
        match self {
            ApplyVia::AlterSystem => "alter_system",
            ApplyVia::Patroni => "patroni",
            ApplyVia::Nowhere => "none",
        }
    }
}

/// Why a change is only recommended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withheld {
    /// `allow_alter_system` is off (PostgreSQL 17+).
    AlterSystemOff,
    /// `walrus.apply_via = none`: recommend-only by choice.
    ApplyViaNone,
}

impl Withheld {
    /// The setting that withholds the change, as history's `blocked_by`.
    pub fn setting(self) -> &'static str {
        match self {
            Withheld::AlterSystemOff => "allow_alter_system",
            Withheld::ApplyViaNone => "walrus.apply_via",
        }
    }

    /// The setting and its value, for log lines: "allow_alter_system is off".
    pub fn state(self) -> &'static str {
        match self {
            Withheld::AlterSystemOff => "allow_alter_system is off",
            Withheld::ApplyViaNone => "walrus.apply_via is none",
        }
    }

    /// Why nothing is written, for analyze()'s answer.
    pub fn reason(self) -> &'static str {
        match self {
            Withheld::AlterSystemOff => "allow_alter_system is off: pg_walrus only recommends",
            Withheld::ApplyViaNone => "walrus.apply_via is none: pg_walrus only recommends",
        }
    }
}

/// What happens to a decision that changes the size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Route {
    /// The rate limits hold it back: recorded as `skipped`.
    Held(Blocked),
    /// `walrus.dry_run`: logged and recorded, counted toward the rate limits.
    DryRun,
    /// Recorded, not written: ALTER SYSTEM is off on this server, or
    /// `walrus.apply_via = none`.
    RecommendOnly(Withheld),
    /// Write it on this node (ALTER SYSTEM, config-generation check, reload).
    Write,
    /// Send it to Patroni (`PATCH /config`), which writes it on every member.
    Patch,
}

/// The route of a size-changing decision of `kind`. `rate_limits` is asked
/// only when the kind is rate-limited; dry run comes before recommend-only
/// (a dry run writes nothing either way, and says so). Under Patroni a
/// cluster-wide change needs no ALTER SYSTEM, and a node-local one (a disk
/// clamp) still does.
pub fn route(
    kind: ChangeKind,
    rate_limits: impl FnOnce() -> Result<(), Blocked>,
    dry_run: bool,
    apply_via: ApplyVia,
    alter_system_allowed: bool,
) -> Route {
    if kind.rate_limited()
        && let Err(blocked) = rate_limits()
    {
        return Route::Held(blocked);
    }
    match apply_via {
        _ if dry_run => Route::DryRun,
        ApplyVia::Nowhere => Route::RecommendOnly(Withheld::ApplyViaNone),
        ApplyVia::Patroni if kind.sizes_the_cluster() => Route::Patch,
        _ if !alter_system_allowed => Route::RecommendOnly(Withheld::AlterSystemOff),
        ApplyVia::AlterSystem | ApplyVia::Patroni => Route::Write,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_withheld_change_names_its_setting_the_same_way_everywhere() {
        for why in [Withheld::AlterSystemOff, Withheld::ApplyViaNone] {
            assert!(why.state().starts_with(why.setting()), "{why:?}");
            assert!(why.reason().starts_with(why.state()), "{why:?}");
        }
    }

    const COOLDOWN: Blocked = Blocked::Cooldown { remaining_secs: 42.0 };

    const OFF: Route = Route::RecommendOnly(Withheld::AlterSystemOff);

    #[test]
    fn every_kind_and_condition_under_alter_system() {
        use ChangeKind::{Automatic, Explicit, Mirror, Safety};
        use Route::{DryRun, Held, Write};
        // (kind, limits allow, dry run, ALTER SYSTEM allowed) -> route
        let table = [
            (Automatic, true, false, true, Write),
            (Automatic, false, false, true, Held(COOLDOWN)),
            (Automatic, false, true, false, Held(COOLDOWN)),
            (Automatic, true, true, true, DryRun),
            (Automatic, true, true, false, DryRun),
            (Automatic, true, false, false, OFF),
            (Explicit, true, false, true, Write),
            (Explicit, false, false, true, Write),
            (Explicit, false, true, true, DryRun),
            (Explicit, false, false, false, OFF),
            // A clamp is never held back, and dry run and recommend-only
            // record it as they record anything.
            (Safety, false, false, true, Write),
            (Safety, false, true, true, DryRun),
            (Safety, false, false, false, OFF),
            // A standby follows its primary whatever the limits; dry run
            // and recommend-only hold for it as for any change.
            (Mirror, false, false, true, Write),
            (Mirror, false, true, true, DryRun),
            (Mirror, false, false, false, OFF),
        ];
        for (kind, allow, dry_run, allowed, want) in table {
            let limits = || if allow { Ok(()) } else { Err(COOLDOWN) };
            assert_eq!(
                route(kind, limits, dry_run, ApplyVia::AlterSystem, allowed),
                want,
                "{kind:?} allow={allow} dry_run={dry_run}"
            );
        }
    }

    #[test]
    fn under_patroni_cluster_sizes_are_patched_and_clamps_stay_local() {
        use ChangeKind::{Automatic, Explicit, Mirror, Reconcile, Safety};
        use Route::{DryRun, Held, Patch, Write};
        // (kind, limits allow, dry run, ALTER SYSTEM allowed) -> route
        let table = [
            (Automatic, true, false, true, Patch),
            // Patroni writes its own postgresql.conf: allow_alter_system
            // does not stand in the way of a cluster-wide size.
            (Automatic, true, false, false, Patch),
            (Automatic, false, false, true, Held(COOLDOWN)),
            (Automatic, true, true, true, DryRun),
            (Explicit, false, false, false, Patch),
            (Explicit, true, true, true, DryRun),
            // Safety beats consistency: a clamp protects this node's disk
            // now, with ALTER SYSTEM, whatever Patroni's API does.
            (Safety, false, false, true, Write),
            (Safety, false, false, false, OFF),
            (Safety, false, true, true, DryRun),
            (Mirror, false, false, true, Write),
            (Reconcile, false, false, false, Patch),
        ];
        for (kind, allow, dry_run, allowed, want) in table {
            let limits = || if allow { Ok(()) } else { Err(COOLDOWN) };
            assert_eq!(
                route(kind, limits, dry_run, ApplyVia::Patroni, allowed),
                want,
                "{kind:?} allow={allow} dry_run={dry_run} allowed={allowed}"
            );
        }
    }

    #[test]
    fn apply_via_none_only_recommends_whoever_asks() {
        let none = Route::RecommendOnly(Withheld::ApplyViaNone);
        for kind in [
            ChangeKind::Automatic,
            ChangeKind::Explicit,
            ChangeKind::Safety,
            ChangeKind::Mirror,
        ] {
            for allowed in [true, false] {
                assert_eq!(route(kind, || Ok(()), false, ApplyVia::Nowhere, allowed), none);
                // Dry run still says what it would do, as it does everywhere.
                assert_eq!(route(kind, || Ok(()), true, ApplyVia::Nowhere, allowed), Route::DryRun);
            }
        }
        // The rate limits still hold an automatic change back first: the
        // same accounting as recommend-only under allow_alter_system = off.
        assert_eq!(
            route(ChangeKind::Automatic, || Err(COOLDOWN), false, ApplyVia::Nowhere, true),
            Route::Held(COOLDOWN)
        );
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
            ApplyVia::AlterSystem,
            true,
        );
        assert!(!asked.get());
    }

    #[test]
    fn what_each_kind_does_besides_the_route() {
        use ChangeKind::{Automatic, Explicit, Mirror, Reconcile, Safety};
        // (kind, rate-limited, counts toward the limits, rebaselines, warns when capped, cluster-wide)
        for (kind, limited, counts, rebaselines, warns, cluster) in [
            (Automatic, true, true, false, true, true),
            (Explicit, false, true, true, false, true),
            (Safety, false, true, false, false, false),
            (Mirror, false, false, false, false, false),
            (Reconcile, false, false, false, false, true),
        ] {
            assert_eq!(
                (
                    kind.rate_limited(),
                    kind.counts_toward_limits(),
                    kind.rebaselines(),
                    kind.warns_when_capped(),
                    kind.sizes_the_cluster()
                ),
                (limited, counts, rebaselines, warns, cluster)
            );
        }
    }
}
