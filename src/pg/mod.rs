//! PostgreSQL primitives: what the server says (settings, WAL positions,
//! recovery), its statistics, the monotonic clock, guarded transactions,
//! ALTER SYSTEM, and version differences. Nothing here knows about sizing,
//! the worker or the SQL surface: modules above depend on these, never the
//! other way round (scripts/check_module_cycles.py checks it).

pub mod alter_system;
pub mod clock;
pub mod compat;
pub mod guc_check;
pub mod process;
pub mod server;
pub mod stats;
#[cfg(feature = "test-clock")]
pub mod test_clock;
pub mod txn;
