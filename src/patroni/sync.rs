//! The worker under `walrus.apply_via = patroni` (docs/ha.md): every node
//! keeps its postgresql.auto.conf from shadowing the cluster's value
//! (walrus_strategies::patroni::local_line), and the primary confirms, one
//! interval after a PATCH, that Patroni's value reached this node. [`ClusterSync`]
//! is what the worker remembers between checks.

use std::time::{Duration, SystemTime};

use pgrx::pg_sys;
use pgrx::prelude::*;
use serde_json::json;
use walrus_strategies::patroni::local_line::{LocalLine, local_line};
use walrus_strategies::{Action, ApplyVia, ChangeKind, Decision, Urgency};

use crate::apply::Writer;
use crate::patroni::file_settings::{self, FileSizes};
use crate::pg::process::reload_configuration;
use crate::record::entry::Entry;
use crate::{apply, disk, guc, patroni, patroni::apply_via, pg::alter_system, pg::clock, pg::server, pg::txn, shmem};

/// How long a reconcile PATCH waits before the same one is tried again, at
/// least: a minute, or a whole interval when that is longer, so an
/// unreachable Patroni costs one WARNING and one `failed` row per cycle, as a
/// failed decision does (the disk is checked every 10 s).
const RECONCILE_RETRY_MIN: Duration = Duration::from_secs(60);

fn reconcile_retry() -> Duration {
    RECONCILE_RETRY_MIN.max(Duration::from_secs(server::checkpoint_timeout_secs().max(1) as u64))
}

/// postgresql.auto.conf's modification time and length (every process runs
/// in the data directory); `None` when it cannot be read.
type AutoConfVersion = Option<(SystemTime, u64)>;

fn auto_conf_version() -> AutoConfVersion {
    let metadata = std::fs::metadata(pg_sys::PG_AUTOCONF_FILENAME.to_str().ok()?).ok()?;
    Some((metadata.modified().ok()?, metadata.len()))
}

/// What the worker remembers about Patroni between checks.
#[derive(Default)]
pub struct ClusterSync {
    /// The size the primary last sent to bring the cluster's value in line,
    /// and when (monotonic ns).
    cluster_patch: Option<(i32, i64)>,
    /// Removing this node's postgresql.auto.conf line failed (warned once
    /// until it works).
    local_line_warned: bool,
    /// postgresql.auto.conf as the last look at the files saw it, and whether
    /// it held a max_wal_size line.
    auto_conf_seen: AutoConfVersion,
    local_line_seen: bool,
}

impl ClusterSync {
    /// At every disk check under Patroni: remove this node's
    /// postgresql.auto.conf line once the cluster's value fits its disk, and,
    /// on the primary, bring the cluster's value to what it must be. Off,
    /// dry run, or another `apply_via`: nothing.
    pub fn reconcile_with_cluster(&mut self, writer: &mut Writer) {
        if apply_via::apply_via() != ApplyVia::Patroni || !guc::enabled() || guc::dry_run() {
            return;
        }
        // Reading pg_file_settings parses every configuration file (about
        // 1.5 ms): every 10 s that was half a CPU second per hour on an idle
        // server. Nothing can have changed while postgresql.auto.conf is as
        // last seen and held no max_wal_size line.
        let auto_conf = auto_conf_version();
        if auto_conf.is_some() && auto_conf == self.auto_conf_seen && !self.local_line_seen {
            return;
        }
        let sizes = match txn::guarded(file_settings::read) {
            Ok(Ok(sizes)) => sizes,
            Ok(Err(error)) => return debug1!("pg_walrus: {error}"),
            Err(error) => return debug1!("pg_walrus: could not read the configuration files: {error}"),
        };
        self.auto_conf_seen = auto_conf;
        self.local_line_seen = sizes.local_mb.is_some();
        let disk = shmem::snapshot();
        let disk = disk::limit(&disk);
        let primary = !server::in_recovery();
        match local_line(sizes.local_mb, sizes.cluster_mb, &disk, primary) {
            LocalLine::Keep => {}
            LocalLine::Remove => self.remove_local_line(writer, &sizes),
            LocalLine::PatchCluster { size_mb } => self.patch_cluster(writer, &sizes, size_mb),
        }
    }

    fn remove_local_line(&mut self, writer: &mut Writer, sizes: &FileSizes) {
        let local_mb = sizes.local_mb.unwrap_or_default();
        let writes = shmem::config_writes();
        let result = txn::guarded(move || {
            shmem::write_config(writes.generation, sizes.cluster_mb, alter_system::reset_max_wal_size)
        });
        match result {
            Ok(Some(generation)) => {
                writer.adopt_generation(generation);
                log!(
                    "pg_walrus: removed max_wal_size = {local_mb} MB from this node's postgresql.auto.conf: \
                     the cluster's value of {} MB (walrus.apply_via = patroni) is in force",
                    sizes.cluster_mb
                );
                if let Err(error) = server::request_reload() {
                    warning!("pg_walrus: could not signal the postmaster to reload the configuration: {error}");
                }
                reload_configuration();
            }
            // Another write came first: look again at the next check.
            Ok(None) => {}
            // Once per episode: this is tried again every 10 s.
            Err(error) => {
                if !std::mem::replace(&mut self.local_line_warned, true) {
                    error.report_warning("pg_walrus: could not remove max_wal_size from postgresql.auto.conf");
                }
                return;
            }
        }
        self.local_line_warned = false;
    }

    /// The primary sends Patroni the size it runs with (adopting it) or the
    /// size its disk holds; the line goes at a later check, once Patroni's
    /// postgresql.conf says so.
    fn patch_cluster(&mut self, writer: &mut Writer, sizes: &FileSizes, size_mb: i32) {
        let now = clock::monotonic_ns();
        if self
            .cluster_patch
            .is_some_and(|(size, at)| size == size_mb && now - at < reconcile_retry().as_nanos() as i64)
        {
            return;
        }
        self.cluster_patch = Some((size_mb, now));
        let local_mb = sizes.local_mb.unwrap_or(size_mb);
        let (action, reason) = if size_mb < sizes.cluster_mb {
            (
                Action::Decrease,
                format!(
                    "the cluster's max_wal_size of {} MB exceeds what this primary's WAL disk holds ({size_mb} MB)",
                    sizes.cluster_mb
                ),
            )
        } else {
            (
                Action::Increase,
                format!(
                    "this primary runs with max_wal_size = {local_mb} MB from postgresql.auto.conf, above the \
                     cluster's {} MB: adopted as the cluster's value",
                    sizes.cluster_mb
                ),
            )
        };
        log!("pg_walrus: setting the cluster's max_wal_size to {size_mb} MB through Patroni: {reason}");
        let change = apply::Change {
            decision: Decision {
                action,
                old_size_mb: sizes.cluster_mb,
                new_size_mb: size_mb,
                computed_size_mb: Some(size_mb),
                reason,
                metadata: json!({"reconcile": true, "local_mb": sizes.local_mb}),
            },
            kind: ChangeKind::Reconcile,
            // Not rate-limited: the limits are never asked.
            urgency: Urgency::CanWait,
            strategy: "patroni",
            forced: 0,
            at_secs: apply::now_secs(),
            reading: None,
        };
        writer.apply_change(&change);
    }
}

/// One interval after a PATCH (the worker's or analyze()'s): is the size
/// in force here? Either way it is said once (a LOG line, or a WARNING
/// and a `failed` row saying why).
pub fn confirm_patch(writer: &mut Writer) {
    let sent = shmem::snapshot().patroni;
    if sent.last != patroni::state::LastPatch::Sent {
        return;
    }
    let pending = (sent.last_size_mb, sent.last_from_mb);
    let running = server::max_wal_size_mb();
    if running == pending.0 {
        patroni::confirmed(true, "");
        log!(
            "pg_walrus: Patroni applied max_wal_size = {} MB on this node",
            pending.0
        );
        return;
    }
    let waited_secs = (clock::monotonic_ns() - sent.last_at_mono_ns) / 1_000_000_000;
    if waited_secs < i64::from(server::checkpoint_timeout_secs()) {
        return;
    }
    let why = match txn::guarded(file_settings::read) {
        Ok(Ok(FileSizes {
            local_mb: Some(local), ..
        })) => {
            format!("this node's postgresql.auto.conf sets max_wal_size = {local} MB, which shadows Patroni's value")
        }
        Ok(Ok(FileSizes { cluster_mb, .. })) => format!(
            "this node's postgresql.conf still says {cluster_mb} MB after {waited_secs} s: Patroni has not \
             written the cluster's value here (paused, or not running?)"
        ),
        Ok(Err(error)) => error,
        Err(error) => error.to_string(),
    };
    let message = format!(
        "Patroni accepted max_wal_size = {} MB, but this node still runs with {running} MB: {why}",
        pending.0
    );
    warning!("pg_walrus: {message}");
    patroni::confirmed(false, &message);
    shmem::update(|state| state.total_failed += 1);
    let action = if pending.0 > pending.1 {
        Action::Increase
    } else {
        Action::Decrease
    };
    writer.record(&Entry {
        action: "failed",
        old_size_mb: running,
        new_size_mb: pending.0,
        forced_checkpoints: 0,
        checkpoint_timeout_sec: server::checkpoint_timeout_secs(),
        reason: &message,
        strategy: "patroni",
        profile: None,
        dry_run: false,
        metadata: json!({
            "applied": false,
            "apply_via": "patroni",
            "confirmed": false,
            "error": why,
            "would_apply": action.as_str(),
        }),
    });
}
