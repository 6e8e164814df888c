//! What sending sizes to Patroni did, as plain data in shared memory
//! (src/patroni/mod.rs writes it, walrus.status() shows it).

use pgrx::pg_sys;

/// What the last PATCH did, for walrus.status().
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LastPatch {
    #[default]
    Never,
    /// Patroni accepted it (HTTP 200).
    Sent,
    /// It failed; see the error.
    Failed,
    /// A later look found this node running with it.
    Confirmed,
    /// A later look found this node still running with another size.
    NotConfirmed,
}

impl LastPatch {
    pub fn name(self) -> Option<&'static str> {
        match self {
            LastPatch::Never => None,
            LastPatch::Sent => Some("sent"),
            LastPatch::Failed => Some("failed"),
            LastPatch::Confirmed => Some("confirmed"),
            LastPatch::NotConfirmed => Some("not_confirmed"),
        }
    }
}

/// A short message kept in shared memory (which holds plain data only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShortText {
    bytes: [u8; 240],
    len: u8,
}

impl Default for ShortText {
    fn default() -> Self {
        ShortText {
            bytes: [0; 240],
            len: 0,
        }
    }
}

impl ShortText {
    pub fn new(text: &str) -> Self {
        let mut short = ShortText::default();
        // Whole characters only.
        let mut end = text.len().min(short.bytes.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        short.bytes[..end].copy_from_slice(&text.as_bytes()[..end]);
        short.len = end as u8;
        short
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

/// Patroni's part of the shared state.
#[derive(Debug, Clone, Copy, Default)]
pub struct PatroniState {
    pub patches: i64,
    pub failures: i64,
    pub last: LastPatch,
    pub last_size_mb: i32,
    /// The size it was sent to change (the one in force then).
    pub last_from_mb: i32,
    pub last_status: i32,
    /// When it was sent, for people (status()).
    pub last_at: pg_sys::TimestampTz,
    /// When it was sent on the monotonic clock, for the wait before the
    /// worker reports it did not arrive: a duration, so never wall time.
    pub last_at_mono_ns: i64,
    pub last_error: ShortText,
}
