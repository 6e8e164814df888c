//! Where sizes go: `walrus.apply_via` and, for Patroni, the REST API's URL
//! and the file that holds its credentials. The credentials themselves are
//! never a setting's value: only the file's name is, and only superusers see
//! it (GUC_SUPERUSER_ONLY).

use std::ffi::{CStr, CString, c_char, c_void};

use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use pgrx::{PostgresGucEnum, pg_guard, pg_sys};
use walrus_strategies::ApplyVia;
use walrus_strategies::patroni::Endpoint;

use crate::pg::guc_check::check_text;

static APPLY_VIA: GucSetting<ApplyViaSetting> = GucSetting::<ApplyViaSetting>::new(ApplyViaSetting::AlterSystem);
static PATRONI_URL: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(Some(c"http://127.0.0.1:8008"));
static PATRONI_AUTH_FILE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);

#[derive(PostgresGucEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum ApplyViaSetting {
    #[name = c"alter_system"]
    AlterSystem,
    #[name = c"patroni"]
    Patroni,
    #[name = c"none"]
    Nowhere,
}

/// Defines the three settings; called from `guc::init`.
pub fn init() {
    GucRegistry::define_enum_guc(
        c"walrus.apply_via",
        c"Where pg_walrus applies max_wal_size: alter_system, patroni or none.",
        c"alter_system: ALTER SYSTEM on this node, standbys mirror the primary. patroni: PATCH /config on \
          walrus.patroni_url, which sets it on every member. none: recommend only (history rows, no write).",
        &APPLY_VIA,
        GucContext::Sighup,
        GucFlags::default(),
    );
    // SAFETY: check_patroni_url is #[pg_guard] and has GucStringCheckHook's
    // signature; the setting is a 'static; we are in _PG_init, the context
    // DefineCustomStringVariable is meant for.
    unsafe {
        GucRegistry::define_string_guc_with_hooks(
            c"walrus.patroni_url",
            c"Patroni's REST API, for walrus.apply_via = patroni.",
            c"http://<IP address or localhost>[:port]; plain HTTP only, no credentials (see walrus.patroni_auth_file).",
            &PATRONI_URL,
            GucContext::Sighup,
            GucFlags::default(),
            Some(check_patroni_url),
            None,
            None,
        );
    }
    GucRegistry::define_string_guc(
        c"walrus.patroni_auth_file",
        c"File holding username:password for Patroni's REST API (Basic auth); empty for none.",
        c"Must be owned by the server's OS user and not readable by group or others (chmod 600).",
        &PATRONI_AUTH_FILE,
        GucContext::Sighup,
        GucFlags::SUPERUSER_ONLY,
    );
}

/// Refuses a URL pg_walrus could not use, or that carries credentials, at
/// SET, ALTER SYSTEM and reload, so the previous value stays in force.
///
/// # Safety
///
/// Only PostgreSQL's GUC code may call this, as walrus.patroni_url's check
/// hook, on the process's main thread: `newval` must point at the candidate
/// value (NULL or a NUL-terminated string guc.c owns), valid for the call.
#[pg_guard]
unsafe extern "C-unwind" fn check_patroni_url(
    newval: *mut *mut c_char,
    _extra: *mut *mut c_void,
    _source: pg_sys::GucSource::Type,
) -> bool {
    // SAFETY: `newval` comes straight from guc.c under this function's
    // contract, which is exactly check_text's.
    unsafe {
        check_text(newval, "The URL must be ASCII.", |url| {
            if url.is_empty() {
                Ok(())
            } else {
                Endpoint::parse(url).map(|_| ())
            }
        })
    }
}

pub fn apply_via() -> ApplyVia {
    match APPLY_VIA.get() {
        ApplyViaSetting::AlterSystem => ApplyVia::AlterSystem,
        ApplyViaSetting::Patroni => ApplyVia::Patroni,
        ApplyViaSetting::Nowhere => ApplyVia::Nowhere,
    }
}

/// `walrus.patroni_url`, as set ("" when emptied).
pub fn patroni_url() -> String {
    text(&PATRONI_URL)
}

/// `walrus.patroni_auth_file`, if set.
pub fn patroni_auth_file() -> Option<String> {
    Some(text(&PATRONI_AUTH_FILE)).filter(|f| !f.is_empty())
}

fn text(setting: &GucSetting<Option<CString>>) -> String {
    setting
        .get()
        .as_deref()
        .map(CStr::to_string_lossy)
        .map(|s| s.into_owned())
        .unwrap_or_default()
}
