//! Standbys follow their primary's size: the primary publishes the size it
//! runs with in walrus.primary_size ([`primary_size`]); a standby, and a node
//! just promoted, brings its own to that size within its own WAL disk (the
//! rules are `walrus_strategies::standby`; specs/worker.md is the contract).

mod mirror;
pub mod primary_size;

pub use mirror::{Mirror, mirrors_itself, promoted_while_away};

/// What a standby's own max_wal_size cannot do, said with every WARNING
/// about a standby disk smaller than the primary's size: WAL is removed only
/// at restartpoints, and a restartpoint can only be made at a checkpoint
/// record the primary wrote (CreateRestartPoint in xlog.c). Measured with
/// scripts/bench_standby_retention.sh: a standby at 32 MB kept 432 MB of a
/// 400 MB burst, at 1 GB 448 MB (docs/ha.md).
pub const STANDBY_RETENTION_HINT: &str = "A standby removes WAL only at restartpoints, which follow the \
     primary's checkpoints: it keeps the WAL written since the primary's last checkpoint, whatever its own \
     max_wal_size. Keep the primary's max_wal_size within this disk (walrus.max on the primary).";
