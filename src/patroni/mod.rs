//! `walrus.apply_via = patroni` in the server: reads the URL and the
//! credentials file, sends the size to Patroni (walrus_strategies::patroni
//! does the HTTP), and keeps what the last attempt did in shared memory for
//! walrus.status(). Nothing here ever puts the credentials in a message.

pub mod apply_via;
pub mod file_settings;
pub mod state;
mod sync;

pub use sync::{ClusterSync, confirm_patch};

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::MetadataExt;

use serde_json::{Value, json};
use walrus_strategies::patroni::{self, Credentials, Endpoint};

use crate::patroni::state::{LastPatch, PatroniState, ShortText};
use crate::{pg::clock, shmem};

/// The most of the credentials file that is read.
const MAX_AUTH_FILE_BYTES: u64 = 4096;

/// What a PATCH that Patroni accepted says for history.
pub struct Sent {
    pub details: Value,
}

/// Why the size could not be sent, with what history should say.
pub struct NotSent {
    pub message: String,
    pub details: Value,
}

/// Sends `size_mb` (replacing `from_mb`) to Patroni (`PATCH /config`),
/// bounded in time, and remembers the outcome.
pub fn send(size_mb: i32, from_mb: i32) -> Result<Sent, NotSent> {
    let url = apply_via::patroni_url();
    let result = attempt(&url, size_mb);
    let (now, now_ns) = (clock::now(), clock::monotonic_ns());
    shmem::update(|state| {
        let patroni = &mut state.patroni;
        patroni.last_size_mb = size_mb;
        patroni.last_from_mb = from_mb;
        patroni.last_at = now;
        patroni.last_at_mono_ns = now_ns;
        match &result {
            Ok((_, status)) => {
                patroni.patches += 1;
                patroni.last = LastPatch::Sent;
                patroni.last_status = i32::from(*status);
                patroni.last_error = ShortText::default();
            }
            Err((message, status)) => {
                patroni.failures += 1;
                patroni.last = LastPatch::Failed;
                patroni.last_status = status.map_or(0, i32::from);
                patroni.last_error = ShortText::new(message);
            }
        }
    });
    match result {
        Ok((attempts, status)) => Ok(Sent {
            details: json!({"apply_via": "patroni", "patroni": {"url": url, "status": status, "attempts": attempts}}),
        }),
        Err((message, status)) => Err(NotSent {
            details: json!({"apply_via": "patroni", "patroni": {"url": url, "status": status}}),
            message,
        }),
    }
}

/// One change: (attempts, final status) or (message, final status).
fn attempt(url: &str, size_mb: i32) -> Result<(u32, u16), (String, Option<u16>)> {
    if url.is_empty() {
        return Err(("walrus.patroni_url is empty".into(), None));
    }
    let endpoint = Endpoint::parse(url).map_err(|e| (format!("walrus.patroni_url: {e}"), None))?;
    let credentials = credentials().map_err(|e| (e, None))?;
    let report = patroni::patch_max_wal_size(&endpoint, credentials.as_ref(), size_mb, patroni::REQUEST_TIMEOUT);
    match report.result {
        Ok(()) => Ok((report.attempts, report.status.unwrap_or(200))),
        Err(error) => Err((format!("PATCH {endpoint}/config: {error}"), report.status)),
    }
}

/// The credentials from walrus.patroni_auth_file, if one is set. The file
/// must belong to the server's OS user (the data directory's owner) and be
/// private to it, as PostgreSQL demands of its own key files.
fn credentials() -> Result<Option<Credentials>, String> {
    let Some(path) = apply_via::patroni_auth_file() else {
        return Ok(None);
    };
    // Named by setting only: the setting is superuser-only, and these
    // messages reach history rows and status().
    let named = "walrus.patroni_auth_file";
    let file = File::open(&path).map_err(|e| format!("could not open {named}: {e}"))?;
    let metadata = file.metadata().map_err(|e| format!("could not stat {named}: {e}"))?;
    // Every backend runs in the data directory, which PostgreSQL insists
    // the server's OS user owns.
    let server_uid = std::fs::metadata(".").map(|m| m.uid()).ok();
    if server_uid.is_some_and(|uid| uid != metadata.uid()) {
        return Err(format!("{named} must be owned by the server's OS user"));
    }
    if metadata.mode() & 0o077 != 0 {
        return Err(format!(
            "{named} has group or world access (mode {:04o}); it must be u=rw (0600) or less",
            metadata.mode() & 0o7777
        ));
    }
    let mut text = String::new();
    file.take(MAX_AUTH_FILE_BYTES)
        .read_to_string(&mut text)
        .map_err(|e| format!("could not read {named}: {e}"))?;
    Credentials::parse(&text).map(Some).map_err(|e| format!("{named}: {e}"))
}

/// Records what a later look found: whether this node runs with the size
/// last sent.
pub fn confirmed(ok: bool, why_not: &str) {
    shmem::update(|state| {
        state.patroni.last = if ok {
            LastPatch::Confirmed
        } else {
            LastPatch::NotConfirmed
        };
        state.patroni.last_error = ShortText::new(why_not);
    });
}

/// walrus.status()'s `patroni` object.
pub fn status_json(state: &PatroniState) -> Value {
    json!({
        "url": apply_via::patroni_url(),
        "auth_file_set": apply_via::patroni_auth_file().is_some(),
        "patches": state.patches,
        "failures": state.failures,
        "last_outcome": state.last.name(),
        "last_size_mb": (state.last != LastPatch::Never).then_some(state.last_size_mb),
        "last_http_status": (state.last_status > 0).then_some(state.last_status),
        "last_at": (state.last != LastPatch::Never).then(|| clock::iso8601_utc(state.last_at)),
        "last_error": Some(state.last_error.as_str()).filter(|e| !e.is_empty()),
    })
}
