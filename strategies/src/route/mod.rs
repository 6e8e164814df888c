//! Which checks a change of max_wal_size passes through on its way to
//! postgresql.auto.conf, by who asked for it. The extension's apply path
//! (src/apply/) follows the [`Route`] this returns; the order of the checks
//! and who skips which live here, as plain logic with table-driven tests.

pub(crate) mod rate_limit;

use crate::{Action, Blocked, Settings};

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

/// How long a change can wait, as the rate limits see it. The cooldown and
/// the hourly cap exist to stop thrashing: a held-back shrink costs some
/// disk for a few minutes, a held-back grow during a storm costs the very
/// forced checkpoints pg_walrus exists to prevent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    /// A grow that answers a storm: at least `walrus.threshold` WAL-explained
    /// forced checkpoints in the interval so far (at its end or early). It
    /// passes the cooldown and the hourly cap, and still counts toward
    /// them, so the shrinks after it stay held.
    Storm,
    /// A shrink, or a grow on less than that: it waits out the limits.
    CanWait,
}

impl Urgency {
    /// The urgency of a decision to `action` made on `forced_checkpoints`
    /// WAL-explained forced checkpoints (the real count, not early
    /// reaction's extrapolation).
    pub fn of(action: Action, forced_checkpoints: i64, settings: &Settings) -> Urgency {
        match action {
            Action::Increase | Action::Capped if !settings.is_quiet(forced_checkpoints) => Urgency::Storm,
            Action::Increase | Action::Capped | Action::Decrease | Action::None => Urgency::CanWait,
        }
    }
}

/// What the rate limits say of one change.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RateVerdict {
    /// The kind is not rate-limited (an explicit call, a clamp, a mirror, a
    /// reconcile): the limits were not asked.
    NotAsked,
    /// The limits allow it.
    Allowed,
    /// The limits hold it back: recorded as `skipped`.
    Held(Blocked),
    /// The limits would hold it back, but it answers a storm: it goes ahead,
    /// and the log, history and event say which limit it passed.
    PassedForStorm(Blocked),
}

/// The rate limits' verdict on a change of `kind` and `urgency`;
/// `rate_limits` is asked only when the kind is rate-limited.
/// `walrus.max_changes_per_hour = 0` stops every automatic change, storms
/// included: it is the setting's documented off switch, not a cap.
pub fn rate_verdict(
    kind: ChangeKind,
    urgency: Urgency,
    rate_limits: impl FnOnce() -> Result<(), Blocked>,
) -> RateVerdict {
    if !kind.rate_limited() {
        return RateVerdict::NotAsked;
    }
    match (rate_limits(), urgency) {
        (Ok(()), _) => RateVerdict::Allowed,
        (Err(blocked @ Blocked::HourlyLimit { limit: 0, .. }), _) => RateVerdict::Held(blocked),
        (Err(blocked), Urgency::Storm) => RateVerdict::PassedForStorm(blocked),
        (Err(blocked), Urgency::CanWait) => RateVerdict::Held(blocked),
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

/// The route of a size-changing decision of `kind` that the rate limits
/// judged `verdict` ([`rate_verdict`]); dry run comes before recommend-only
/// (a dry run writes nothing either way, and says so). Under Patroni a
/// cluster-wide change needs no ALTER SYSTEM, and a node-local one (a disk
/// clamp) still does.
pub fn route(
    kind: ChangeKind,
    verdict: RateVerdict,
    dry_run: bool,
    apply_via: ApplyVia,
    alter_system_allowed: bool,
) -> Route {
    if let RateVerdict::Held(blocked) = verdict {
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

    /// The route of a change that can wait (a shrink, a grow on weak
    /// evidence), the limits allowing it or not.
    fn waiting(kind: ChangeKind, allow: bool, dry_run: bool, via: ApplyVia, allowed: bool) -> Route {
        let limits = || if allow { Ok(()) } else { Err(COOLDOWN) };
        route(
            kind,
            rate_verdict(kind, Urgency::CanWait, limits),
            dry_run,
            via,
            allowed,
        )
    }

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
            assert_eq!(
                waiting(kind, allow, dry_run, ApplyVia::AlterSystem, allowed),
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
            assert_eq!(
                waiting(kind, allow, dry_run, ApplyVia::Patroni, allowed),
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
                assert_eq!(waiting(kind, true, false, ApplyVia::Nowhere, allowed), none);
                // Dry run still says what it would do, as it does everywhere.
                assert_eq!(waiting(kind, true, true, ApplyVia::Nowhere, allowed), Route::DryRun);
            }
        }
        // The rate limits still hold an automatic change back first: the
        // same accounting as recommend-only under allow_alter_system = off.
        assert_eq!(
            waiting(ChangeKind::Automatic, false, false, ApplyVia::Nowhere, true),
            Route::Held(COOLDOWN)
        );
    }

    #[test]
    fn explicit_changes_never_consult_the_rate_limits() {
        for kind in [
            ChangeKind::Explicit,
            ChangeKind::Safety,
            ChangeKind::Mirror,
            ChangeKind::Reconcile,
        ] {
            for urgency in [Urgency::Storm, Urgency::CanWait] {
                let asked = std::cell::Cell::new(false);
                let verdict = rate_verdict(kind, urgency, || {
                    asked.set(true);
                    Err(COOLDOWN)
                });
                assert_eq!(verdict, RateVerdict::NotAsked, "{kind:?}");
                assert!(!asked.get(), "{kind:?}");
            }
        }
    }

    const HOURLY: Blocked = Blocked::HourlyLimit {
        changes: 4,
        limit: 4,
        remaining_secs: 600.0,
    };
    const OFF_SWITCH: Blocked = Blocked::HourlyLimit {
        changes: 0,
        limit: 0,
        remaining_secs: 3600.0,
    };

    #[test]
    fn a_storm_passes_the_rate_limits_and_what_can_wait_does_not() {
        use RateVerdict::{Allowed, Held, PassedForStorm};
        use Urgency::{CanWait, Storm};
        // (urgency, what the limits say) -> verdict
        let table = [
            (Storm, Ok(()), Allowed),
            (CanWait, Ok(()), Allowed),
            (Storm, Err(COOLDOWN), PassedForStorm(COOLDOWN)),
            (CanWait, Err(COOLDOWN), Held(COOLDOWN)),
            (Storm, Err(HOURLY), PassedForStorm(HOURLY)),
            (CanWait, Err(HOURLY), Held(HOURLY)),
            // walrus.max_changes_per_hour = 0 turns automatic changes off.
            (Storm, Err(OFF_SWITCH), Held(OFF_SWITCH)),
            (CanWait, Err(OFF_SWITCH), Held(OFF_SWITCH)),
        ];
        for (urgency, limits, want) in table {
            assert_eq!(
                rate_verdict(ChangeKind::Automatic, urgency, || limits),
                want,
                "{urgency:?} {limits:?}"
            );
        }
    }

    #[test]
    fn a_storm_that_passed_the_limits_takes_the_route_any_change_takes() {
        let passed = RateVerdict::PassedForStorm(COOLDOWN);
        let auto = ChangeKind::Automatic;
        assert_eq!(route(auto, passed, false, ApplyVia::AlterSystem, true), Route::Write);
        assert_eq!(route(auto, passed, true, ApplyVia::AlterSystem, true), Route::DryRun);
        assert_eq!(route(auto, passed, false, ApplyVia::AlterSystem, false), OFF);
        assert_eq!(route(auto, passed, false, ApplyVia::Patroni, true), Route::Patch);
        assert_eq!(
            route(auto, passed, false, ApplyVia::Nowhere, true),
            Route::RecommendOnly(Withheld::ApplyViaNone)
        );
    }

    #[test]
    fn only_a_grow_on_threshold_forced_checkpoints_is_a_storm() {
        let s = Settings {
            threshold: 2,
            ..Settings::default()
        };
        // (action, WAL-explained forced checkpoints) -> urgency
        for (action, forced, want) in [
            (Action::Increase, 2, Urgency::Storm),
            (Action::Capped, 7, Urgency::Storm),
            (Action::Increase, 1, Urgency::CanWait),
            (Action::Increase, 0, Urgency::CanWait),
            (Action::Decrease, 9, Urgency::CanWait),
            (Action::None, 9, Urgency::CanWait),
        ] {
            assert_eq!(Urgency::of(action, forced, &s), want, "{action:?} {forced}");
        }
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
