//! `ALTER SYSTEM SET max_wal_size`, from C.
//!
//! ALTER SYSTEM cannot run through SPI (it refuses to run inside a
//! transaction block), so the extension builds the same parse tree the
//! grammar would and hands it to `AlterSystemSetConfigFile`, which applies
//! every check the statement does (privileges, value range, PG 17's
//! allow_alter_system) and writes postgresql.auto.conf atomically.

use pgrx::PgBox;
use pgrx::pg_sys;

/// Writes `max_wal_size = <size_mb>` to postgresql.auto.conf. Needs a
/// transaction; raises a PostgreSQL ERROR on failure. The new value takes
/// effect at the next configuration reload (see `server::request_reload`).
pub fn set_max_wal_size(size_mb: i32) {
    alter_max_wal_size(Some(size_mb));
}

/// `ALTER SYSTEM RESET max_wal_size`: removes the line from
/// postgresql.auto.conf, so the rest of the configuration (Patroni's
/// postgresql.conf) decides. Allowed during recovery, like any ALTER SYSTEM.
pub fn reset_max_wal_size() {
    alter_max_wal_size(None);
}

/// SET to `size_mb`, or RESET with `None`.
fn alter_max_wal_size(size_mb: Option<i32>) {
    // SAFETY: IsTransactionState only reads this process's CurrentTransactionState;
    // it neither allocates nor raises.
    if !unsafe { pg_sys::IsTransactionState() } {
        // AlterSystemSetConfigFile does catalog lookups (superuser(), the
        // parameter ACL) that need a live transaction and resource owner.
        pgrx::error!("pg_walrus: ALTER SYSTEM needs an open transaction");
    }
    // SAFETY: checked just above that we are in a live (not aborted)
    // transaction, so palloc'd nodes and pstrdup live in its memory context
    // for the whole call; every node tag matches its struct (PG 15+ A_Const
    // with an inline Integer, isnull = false from palloc0); lappend(NIL, ..)
    // makes a fresh list. The pg_sys calls are pg_guard-wrapped, so an ERROR
    // (privileges, value range, file I/O) becomes a panic that frees `stmt`
    // (still in a live context) and unwinds to the caller's abort.
    // RESET has no arguments (NIL), as the grammar builds it.
    unsafe {
        let mut set = PgBox::<pg_sys::VariableSetStmt>::alloc_node(pg_sys::NodeTag::T_VariableSetStmt);
        set.name = pg_sys::pstrdup(c"max_wal_size".as_ptr());
        if let Some(size_mb) = size_mb {
            // The value as the integer literal `ALTER SYSTEM SET max_wal_size = 1024`
            // produces: max_wal_size's unit is MB, so no unit suffix is needed.
            let mut value = PgBox::<pg_sys::A_Const>::alloc_node(pg_sys::NodeTag::T_A_Const);
            value.val.ival.type_ = pg_sys::NodeTag::T_Integer;
            value.val.ival.ival = size_mb;
            value.location = -1;
            set.kind = pg_sys::VariableSetKind::VAR_SET_VALUE;
            set.args = pg_sys::lappend(std::ptr::null_mut(), value.into_pg().cast());
        } else {
            set.kind = pg_sys::VariableSetKind::VAR_RESET;
        }

        let mut stmt = PgBox::<pg_sys::AlterSystemStmt>::alloc_node(pg_sys::NodeTag::T_AlterSystemStmt);
        stmt.setstmt = set.into_pg();
        pg_sys::AlterSystemSetConfigFile(stmt.as_ptr());
    }
}
