//! The worker's state, in shared memory so that SQL functions in any backend
//! see it and `walrus.reset()` / `walrus.analyze(apply := true)` can change it.
//!
//! One struct behind one LWLock. Every read-modify-write happens inside a
//! single `update()` call, never as several small ones.

use std::sync::atomic::{AtomicBool, Ordering};

use pgrx::lwlock::PgLwLock;
use pgrx::pg_shmem_init;
use pgrx::prelude::*;
use pgrx::shmem::PGRXSharedMemory;

use walrus_strategies::disk::{DiskGuard, DiskReading};
use walrus_strategies::{RecentChanges, StrategyState};

use crate::pg::stats::Reading;

/// Plain data, no pointers: it lives in shared memory.
#[derive(Debug, Clone, Copy, Default)]
pub struct WalrusState {
    /// pid of the running worker, 0 when none has registered.
    pub worker_pid: i32,
    /// Counters and time (CLOCK_MONOTONIC ns) at the start of the interval
    /// being measured; `has_baseline` is false until the first reading.
    pub has_baseline: bool,
    pub baseline_requested: i64,
    pub baseline_timed: i64,
    /// The counters' reset time at the baseline.
    pub baseline_reset_at: pg_sys::TimestampTz,
    pub baseline_mono_ns: i64,
    /// WAL insert position and the last checkpoint's redo point then.
    pub baseline_insert_lsn: u64,
    pub baseline_redo_lsn: u64,
    /// pg_stat_wal's counters then (records, full-page images).
    pub baseline_wal: Option<crate::pg::compat::WalCounts>,
    /// Pages of every database, measured for the interval being closed
    /// (`data_size::refresh_for`); 0 = not measured.
    pub data_pages: f64,
    /// `timestamptz` of the last check and the last applied change; 0 = never.
    pub last_check_time: pg_sys::TimestampTz,
    pub last_adjustment_time: pg_sys::TimestampTz,
    pub total_adjustments: i64,
    pub total_increases: i64,
    pub total_decreases: i64,
    /// Cycles that compared two readings of the counters.
    pub analysis_cycles: i64,
    pub quiet_intervals: u32,
    /// Forced checkpoints in the last completed interval.
    pub last_forced: i64,
    /// Size the active strategy recommended at the last cycle, in MB.
    pub last_recommendation_mb: i32,
    /// Forced checkpoints summed over all compared intervals.
    pub total_forced: i64,
    pub total_skipped: i64,
    /// Grows that answered a storm past a rate limit (`walrus_strategies::RateVerdict`).
    pub total_storm_passes: i64,
    pub total_failed: i64,
    pub total_dry_runs: i64,
    /// Times of recent changes (applied or dry-run), for the rate limits.
    pub recent_changes: RecentChanges,
    /// What every compiled strategy remembers (owned by the strategies crate).
    pub strategies: StrategyState,
    /// What the WAL disk guard saw last (src/disk/).
    pub disk: DiskState,
    /// On a standby: the primary's published size at the last look (0 =
    /// none seen), and when this node last changed its own to follow it.
    pub primary_size_mb: i32,
    pub mirrored_at: pg_sys::TimestampTz,
    /// When this node's worker saw it promoted (0 = never).
    pub promoted_at: pg_sys::TimestampTz,
    /// What sending sizes to Patroni did (src/patroni/).
    pub patroni: crate::patroni::state::PatroniState,
}

/// What the guard saw last, in shared memory (plain data).
#[derive(Debug, Clone, Copy, Default)]
pub struct DiskState {
    pub reading: DiskReading,
    /// The last check measured the disk.
    pub ok: bool,
    /// When the last good measurement was taken: CLOCK_MONOTONIC ns (0 =
    /// never) and timestamptz.
    pub measured_mono_ns: i64,
    pub measured_at: pg_sys::TimestampTz,
    pub guard: DiskGuard,
    /// Clamps applied.
    pub clamps: i64,
}

// SAFETY: Copy plain data (integers, floats, bools, fixed arrays and Options of
// them, including RecentChanges, StrategyState and DiskState: no pointers, no heap), so the bytes
// mean the same in every process mapping the segment; it is written only as a
// whole valid value (Default at shmem startup, then through STATE's guards).
unsafe impl PGRXSharedMemory for WalrusState {}

// SAFETY: "pg_walrus_state" is used by nothing else (ShmemInitStruct key and
// LWLock tranche name, prefixed with the extension's name), and STATE is only
// touched after pg_shmem_init! in _PG_init (guarded by `available()`).
static STATE: PgLwLock<WalrusState> = unsafe { PgLwLock::new(c"pg_walrus_state") };

/// Serialises writes of max_wal_size by the worker and walrus.analyze(apply):
/// held only across check, ALTER SYSTEM and bump, never across anything that
/// can wait on a heavyweight lock (LWLock waits cannot be interrupted).
#[derive(Debug, Clone, Copy, Default)]
pub struct ConfigWrites {
    /// Bumped by every max_wal_size pg_walrus writes.
    pub generation: u64,
    /// The size the last write set, MB.
    pub size_mb: i32,
    /// When it was written (timestamptz).
    pub written_at: pg_sys::TimestampTz,
}

// SAFETY: Copy plain data (two integers and a timestamp), no pointers; only
// written as whole valid values under CONFIG_WRITES' LWLock.
unsafe impl PGRXSharedMemory for ConfigWrites {}

// SAFETY: "pg_walrus_config_writes" is unique (distinct from STATE's name and
// prefixed with the extension's), and it is only used after pg_shmem_init!.
static CONFIG_WRITES: PgLwLock<ConfigWrites> = unsafe { PgLwLock::new(c"pg_walrus_config_writes") };

/// Set in the postmaster while preloading, inherited by every backend it
/// forks: without preload there is no shared memory to touch.
static AVAILABLE: AtomicBool = AtomicBool::new(false);

/// Requests the segment. Call from `_PG_init`, only while preloading.
pub fn init() {
    pg_shmem_init!(STATE);
    pg_shmem_init!(CONFIG_WRITES);
    AVAILABLE.store(true, Ordering::Relaxed);
}

/// Bytes of shared memory pg_walrus asks for (the LWLocks come from
/// PostgreSQL's named tranches).
pub fn footprint_bytes() -> usize {
    std::mem::size_of::<WalrusState>() + std::mem::size_of::<ConfigWrites>()
}

/// The current config-write generation (0 when not preloaded).
pub fn config_writes() -> ConfigWrites {
    if available() {
        *CONFIG_WRITES.share()
    } else {
        ConfigWrites::default()
    }
}

/// Writes a new size unless another write happened since `seen_generation`:
/// `write` runs under the lock (it raises on failure, which releases it).
/// Returns the new generation, or `None` when the decision was superseded.
pub fn write_config(seen_generation: u64, size_mb: i32, write: impl FnOnce()) -> Option<u64> {
    if !available() {
        write();
        return Some(0);
    }
    let mut writes = CONFIG_WRITES.exclusive();
    if writes.generation != seen_generation {
        return None;
    }
    write();
    writes.generation += 1;
    writes.size_mb = size_mb;
    // SAFETY: GetCurrentTimestamp only calls gettimeofday: no lock, allocation or
    // ERROR, so it is fine while holding the LWLock, in any process.
    writes.written_at = unsafe { pg_sys::GetCurrentTimestamp() };
    Some(writes.generation)
}

pub fn available() -> bool {
    AVAILABLE.load(Ordering::Relaxed)
}

/// A consistent copy of the state; all zeros when not preloaded.
pub fn snapshot() -> WalrusState {
    if available() {
        *STATE.share()
    } else {
        WalrusState::default()
    }
}

/// Runs `change` under the exclusive lock. `None` when not preloaded.
pub fn update<R>(change: impl FnOnce(&mut WalrusState) -> R) -> Option<R> {
    if !available() {
        return None;
    }
    let mut state = STATE.exclusive();
    Some(change(&mut state))
}

/// The worker's pid if it registered and its process is alive: a worker
/// that crashed leaves its pid behind, which no live backend then has.
pub fn running_worker_pid(state: &WalrusState) -> Option<i32> {
    // SAFETY: called from SQL functions in backends (MyProc set, so the shared
    // ProcArrayLock it takes internally can be waited on) on a copied state, with
    // no pg_walrus LWLock held; the returned PGPROC is only NULL-tested, never read.
    (state.worker_pid != 0 && !unsafe { pg_sys::BackendPidGetProc(state.worker_pid) }.is_null())
        .then_some(state.worker_pid)
}

impl WalrusState {
    /// Starts a new interval at this reading.
    pub fn rebaseline(&mut self, reading: &Reading) {
        self.has_baseline = true;
        self.baseline_requested = reading.counts.requested;
        self.baseline_timed = reading.counts.timed;
        self.baseline_reset_at = reading.counts.reset_at;
        self.baseline_mono_ns = reading.mono_ns;
        self.baseline_insert_lsn = reading.insert_lsn;
        self.baseline_redo_lsn = reading.redo_lsn;
        self.baseline_wal = reading.wal;
    }
}
