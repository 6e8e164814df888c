//! What the configuration files say about max_wal_size, entry by entry
//! (pg_file_settings, which re-reads them on every call): the value the
//! cluster's files set (postgresql.conf, which Patroni writes) and this
//! node's own postgresql.auto.conf line. Read-only, so a standby can ask.

use std::ffi::CString;

use pgrx::prelude::*;
use pgrx::spi::SpiError;

/// max_wal_size as the files set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileSizes {
    /// What postgresql.conf (and what it includes) sets, or the built-in
    /// default when nothing does.
    pub cluster_mb: i32,
    /// This node's postgresql.auto.conf line, if any.
    pub local_mb: Option<i32>,
}

/// Reads both; an entry PostgreSQL could not parse is an error, not a guess.
pub fn read() -> Result<FileSizes, String> {
    let (entries, boot) = Spi::connect(|client| -> Result<_, SpiError> {
        let rows = client.select(
            "SELECT sourcefile, setting FROM pg_catalog.pg_file_settings \
             WHERE name = 'max_wal_size' AND error IS NULL ORDER BY seqno",
            None,
            &[],
        )?;
        let mut entries = Vec::new();
        for row in rows {
            entries.push((
                row.get::<String>(1)?.unwrap_or_default(),
                row.get::<String>(2)?.unwrap_or_default(),
            ));
        }
        let boot = client
            .select(
                "SELECT boot_val FROM pg_catalog.pg_settings WHERE name = 'max_wal_size'",
                None,
                &[],
            )?
            .next()
            .and_then(|row| row.get::<String>(1).ok().flatten())
            .unwrap_or_default();
        Ok((entries, boot))
    })
    .map_err(|e| format!("could not read pg_file_settings: {e}"))?;
    let auto_conf = format!("/{}", pg_sys::PG_AUTOCONF_FILENAME.to_string_lossy());
    let mut sizes = FileSizes {
        cluster_mb: parse_mb(&boot)?,
        local_mb: None,
    };
    // In file order: the last entry of each kind is the one in force.
    for (file, setting) in entries {
        let mb = parse_mb(&setting)?;
        if file.ends_with(&auto_conf) {
            sizes.local_mb = Some(mb);
        } else {
            sizes.cluster_mb = mb;
        }
    }
    Ok(sizes)
}

/// A max_wal_size value ("832MB", "1GB", "64") in MB, by PostgreSQL's own
/// parser.
fn parse_mb(text: &str) -> Result<i32, String> {
    let value = CString::new(text).map_err(|_| format!("max_wal_size = {text:?} is not a value"))?;
    let mut mb = 0;
    // SAFETY: `value` is a NUL-terminated string alive for the call, `mb` a
    // valid out-parameter, and a NULL hintmsg is allowed; parse_int only
    // parses (no catalog access, no ERROR for bad input: it returns false).
    let ok = unsafe {
        pg_sys::parse_int(
            value.as_ptr(),
            &mut mb,
            pg_sys::GUC_UNIT_MB as i32,
            std::ptr::null_mut(),
        )
    };
    if ok {
        Ok(mb)
    } else {
        Err(format!(
            "max_wal_size = {text:?} in the configuration files is not a size"
        ))
    }
}
