//! The WAL disk guard in the server: measures the filesystem that holds
//! pg_wal, keeps what it saw in shared memory, and tells every decision what
//! the disk allows. The rules (the ceiling, the hysteresis, one warning per
//! episode) are `walrus_strategies::disk`; specs/disk.md is the contract.

mod watch;

pub use watch::Watch;

use std::ffi::CStr;
use std::fs;

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::{PgLogLevel, PgSqlErrorCode, pg_sys};
use walrus_strategies::disk::{CHECK_SECS, Clamp, DiskLimit, DiskReading};
use walrus_strategies::evidence::BYTES_PER_MB;

use crate::pg::txn::CaughtPgError;
use crate::shmem::{DiskState, WalrusState};
use crate::{guc, pg::clock, pg::server, pg::txn, shmem};

/// pg_wal, relative to the data directory: every PostgreSQL process runs
/// with the data directory as its working directory, and a `--waldir`
/// symlink is followed by statvfs and read_dir alike.
const PG_WAL: &CStr = c"pg_wal";

/// A measurement older than this (a worker that stopped measuring) no longer
/// lets anything grow.
const STALE_SECS: i64 = 6 * CHECK_SECS as i64;

/// What the disk allows decisions now, from the worker's last measurement.
pub fn limit(state: &WalrusState) -> DiskLimit {
    let fraction = guc::max_wal_disk_fraction();
    if fraction <= 0.0 {
        return DiskLimit::Off;
    }
    let disk = &state.disk;
    let age_secs = (clock::monotonic_ns() - disk.measured_mono_ns) / 1_000_000_000;
    if !disk.ok || disk.measured_mono_ns == 0 || age_secs > STALE_SECS {
        return DiskLimit::Unmeasured;
    }
    DiskLimit::Measured {
        reading: disk.reading,
        fraction,
        ceiling_mb: disk.reading.ceiling_mb(fraction, server::wal_segment_mb()),
        held_at_mb: disk.guard.held(),
    }
}

/// A clamp the worker must apply now, with what it was measured from.
pub struct ClampNeeded {
    pub clamp: Clamp,
    pub reading: DiskReading,
    pub fraction: f64,
}

/// The worker's check: measures (outside any transaction: it opens its own),
/// remembers, warns once per episode, and returns the clamp to apply, if any.
/// With `walrus.enable` off it measures and warns but asks for no clamp:
/// off means pg_walrus writes nothing (the fraction at 0 turns the guard
/// itself off).
pub fn check() -> Option<ClampNeeded> {
    let fraction = guc::max_wal_disk_fraction();
    if fraction <= 0.0 {
        // Off: forget the hold and the episodes, keep the count of clamps.
        shmem::update(|state| {
            state.disk = DiskState {
                clamps: state.disk.clamps,
                ..DiskState::default()
            }
        });
        return None;
    }
    let measured = txn::guarded(measure)
        .map_err(|e: CaughtPgError| e.to_string())
        .and_then(|m| m);
    let measurement = match measured {
        Ok(measurement) => measurement,
        Err(error) => {
            let started_failing = shmem::update(|state| {
                state.disk.ok = false;
                state.disk.guard.measured(false)
            });
            if started_failing == Some(true) {
                ErrorReport::new(
                    PgSqlErrorCode::ERRCODE_WARNING,
                    "pg_walrus: could not measure the WAL disk; growth is blocked until it can be measured",
                    "pg_walrus",
                )
                .set_detail(error)
                .report(PgLogLevel::WARNING);
            }
            return None;
        }
    };
    let reading = measurement.reading;
    let ceiling = reading.ceiling_mb(fraction, server::wal_segment_mb());
    let current = server::max_wal_size_mb();
    let min_size = guc::min_size_mb();
    let may_clamp = guc::enabled();
    let (mono_ns, now) = (clock::monotonic_ns(), clock::now());
    let (recovered, retention_high, below_min_size, clamp) = shmem::update(|state| {
        let disk = &mut state.disk;
        disk.reading = reading;
        disk.ok = true;
        disk.measured_mono_ns = mono_ns;
        disk.measured_at = now;
        (
            disk.guard.measured(true),
            disk.guard.retention(reading.retention_is_high()),
            disk.guard.min_size_conflict(ceiling < min_size),
            if may_clamp {
                disk.guard.check(ceiling, current, mono_ns as f64 / 1e9)
            } else {
                None
            },
        )
    })?;
    if recovered {
        log!("pg_walrus: the WAL disk can be measured again");
    }
    if retention_high {
        warn_retention(&measurement);
    }
    if below_min_size {
        warning!(
            "pg_walrus: the WAL disk ceiling of {ceiling} MB is below walrus.min_size ({min_size} MB); the disk ceiling wins"
        );
    }
    clamp.map(|clamp| ClampNeeded {
        clamp,
        reading,
        fraction,
    })
}

/// What retains the most WAL beyond the checkpoint cycle.
enum Retainer {
    Slot(String),
    Archiver,
    WalKeepSize,
}

struct Measurement {
    reading: DiskReading,
    worst: Option<Retainer>,
}

/// Measures the disk. Needs a transaction (the slots are read with SPI).
fn measure() -> Result<Measurement, String> {
    let available_bytes = available_bytes()?;
    let (pg_wal_bytes, ready_segments) = pg_wal_contents()?;
    let segment_bytes = f64::from(server::wal_segment_mb()) * BYTES_PER_MB;
    let redo = server::redo_lsn();
    let (slot, slot_bytes) = oldest_slot(redo)?.unwrap_or_default();
    // SAFETY: int GUC globals of this process, set at start and by its own
    // reloads only; read by value.
    let keep_mb = unsafe { pg_sys::wal_keep_size_mb };
    let candidates = [
        (Retainer::Slot(slot), slot_bytes),
        (Retainer::Archiver, ready_segments as f64 * segment_bytes),
        (Retainer::WalKeepSize, f64::from(keep_mb.max(0)) * BYTES_PER_MB),
    ];
    let (worst, retained_bytes) = candidates
        .into_iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map_or((None, 0.0), |(retainer, bytes)| {
            ((bytes > 0.0).then_some(retainer), bytes)
        });
    Ok(Measurement {
        reading: DiskReading {
            available_bytes,
            pg_wal_bytes,
            retained_bytes,
        },
        worst,
    })
}

/// Free space on pg_wal's filesystem that a non-root process can use.
fn available_bytes() -> Result<f64, String> {
    let mut fs = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: PG_WAL is a NUL-terminated path; statvfs writes the whole struct
    // on success (checked before it is read) and touches nothing else.
    let rc = unsafe { libc::statvfs(PG_WAL.as_ptr(), fs.as_mut_ptr()) };
    if rc != 0 {
        return Err(format!("statvfs(\"pg_wal\"): {}", std::io::Error::last_os_error()));
    }
    // SAFETY: statvfs returned 0, so it initialised the struct.
    let fs = unsafe { fs.assume_init() };
    Ok(fs.f_bavail as f64 * fs.f_frsize as f64)
}

/// Bytes of the regular files in pg_wal, and how many segments wait for the
/// archiver (`archive_status/*.ready`).
fn pg_wal_contents() -> Result<(f64, usize), String> {
    let path = PG_WAL.to_str().unwrap_or("pg_wal");
    let mut bytes = 0.0;
    for entry in fs::read_dir(path).map_err(|e| format!("reading pg_wal: {e}"))? {
        // A segment recycled or removed between listing and stat is skipped.
        let Ok(meta) = entry.and_then(|e| e.metadata()) else {
            continue;
        };
        if meta.is_file() {
            bytes += meta.len() as f64;
        }
    }
    let ready = match fs::read_dir(format!("{path}/archive_status")) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".ready"))
            .count(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(format!("reading pg_wal/archive_status: {e}")),
    };
    Ok((bytes, ready))
}

/// The slot that holds WAL furthest behind the last checkpoint's redo point,
/// and how much, as `max_slot_wal_keep_size` lets it; `None` without slots.
fn oldest_slot(redo_lsn: u64) -> Result<Option<(String, f64)>, String> {
    // SAFETY: an int GUC global of this process; read by value.
    let keep_limit_mb = unsafe { pg_sys::max_slot_wal_keep_size_mb };
    let query = "SELECT slot_name::text, (restart_lsn - '0/0'::pg_lsn)::int8 \
                 FROM pg_catalog.pg_replication_slots \
                 WHERE restart_lsn IS NOT NULL AND wal_status IS DISTINCT FROM 'lost'";
    Spi::connect(|client| {
        let mut oldest: Option<(String, f64)> = None;
        for row in client.select(query, None, &[])? {
            let (Some(name), Some(restart)) = (row.get::<String>(1)?, row.get::<i64>(2)?) else {
                continue;
            };
            let mut behind = redo_lsn.saturating_sub(u64::try_from(restart).unwrap_or(0)) as f64;
            if keep_limit_mb >= 0 {
                behind = behind.min(f64::from(keep_limit_mb) * BYTES_PER_MB);
            }
            if oldest.as_ref().is_none_or(|(_, most)| behind > *most) {
                oldest = Some((name, behind));
            }
        }
        Ok(oldest)
    })
    .map_err(|e: pgrx::spi::SpiError| format!("reading pg_replication_slots: {e}"))
}

fn warn_retention(measurement: &Measurement) {
    let reading = &measurement.reading;
    let retained = (reading.retained_bytes / BYTES_PER_MB).round();
    let budget = (reading.budget_bytes() / BYTES_PER_MB).round();
    let (message, hint) = match &measurement.worst {
        Some(Retainer::Slot(name)) => (
            format!(
                "pg_walrus: replication slot \"{name}\" retains {retained} MB of WAL, more than half of the WAL disk budget ({budget} MB)"
            ),
            if cfg!(feature = "pg18") {
                "Drop the slot if its consumer is gone, or bound what slots keep with max_slot_wal_keep_size \
                 and idle_replication_slot_timeout."
            } else {
                "Drop the slot if its consumer is gone, or bound what slots keep with max_slot_wal_keep_size."
            },
        ),
        Some(Retainer::Archiver) => (
            format!(
                "pg_walrus: {retained} MB of WAL is waiting for the archiver, more than half of the WAL disk budget ({budget} MB)"
            ),
            "Check archive_command or archive_library: pg_stat_archiver shows the last failure.",
        ),
        Some(Retainer::WalKeepSize) => (
            format!(
                "pg_walrus: wal_keep_size retains {retained} MB of WAL, more than half of the WAL disk budget ({budget} MB)"
            ),
            "Lower wal_keep_size, or give pg_wal a larger filesystem.",
        ),
        None => return,
    };
    ErrorReport::new(PgSqlErrorCode::ERRCODE_WARNING, message, "pg_walrus")
        .set_detail("pg_walrus does not grow max_wal_size into space that retained WAL needs.")
        .set_hint(hint)
        .report(PgLogLevel::WARNING);
}
