//! Units shared by every module: the lowest layer of the crate.

/// Bytes in a megabyte as PostgreSQL counts its MB settings.
pub const BYTES_PER_MB: f64 = 1024.0 * 1024.0;
