//! WAL per statement from pg_stat_statements, when it is installed in the
//! worker's database: each growth's history row names the statements that
//! wrote the most WAL since the previous cycle.

use std::collections::HashMap;

use pgrx::prelude::*;
use serde_json::{Value, json};

/// WAL bytes per queryid, summed over users and databases.
pub type WalByQuery = HashMap<i64, f64>;

/// The counters now, or `None` when pg_stat_statements is not installed in
/// this database. Needs a transaction; raises if it is installed but not
/// loaded (the caller's guarded transaction turns that into "none").
pub fn snapshot() -> Option<WalByQuery> {
    let schema = Spi::get_one::<String>(
        "SELECT pg_catalog.quote_ident(n.nspname)
         FROM pg_catalog.pg_extension AS e JOIN pg_catalog.pg_namespace AS n ON n.oid = e.extnamespace
         WHERE e.extname = 'pg_stat_statements'",
    )
    .ok()
    .flatten()?;
    let query = format!(
        "SELECT queryid, pg_catalog.sum(wal_bytes)::pg_catalog.float8
         FROM {schema}.pg_stat_statements WHERE queryid IS NOT NULL GROUP BY queryid"
    );
    Spi::connect(|client| {
        let rows = client.select(&query, None, &[]).ok()?;
        Some(
            rows.filter_map(|row| Some((row.get::<i64>(1).ok()??, row.get::<f64>(2).ok()??)))
                .collect(),
        )
    })
}

/// The `n` statements whose WAL grew most between two snapshots (a reset of
/// pg_stat_statements makes deltas negative: those are left out).
pub fn top_growth(before: &WalByQuery, after: &WalByQuery, n: usize) -> Vec<(i64, f64)> {
    let mut grown: Vec<(i64, f64)> = after
        .iter()
        .map(|(id, wal)| (*id, wal - before.get(id).copied().unwrap_or(0.0)))
        .filter(|(_, delta)| *delta > 0.0)
        .collect();
    grown.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    grown.truncate(n);
    grown
}

/// The history metadata form: `[{"queryid": .., "wal_bytes": ..}, ...]`.
pub fn metadata(top: &[(i64, f64)]) -> Value {
    Value::Array(
        top.iter()
            .map(|(id, wal)| json!({"queryid": id, "wal_bytes": wal.round()}))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_not_totals() {
        let before: WalByQuery = [(1, 1000.0), (2, 50.0), (3, 9e9)].into();
        let after: WalByQuery = [(1, 1500.0), (2, 5050.0), (3, 9e9), (4, 700.0)].into();
        assert_eq!(
            top_growth(&before, &after, 3),
            vec![(2, 5000.0), (4, 700.0), (1, 500.0)]
        );
        // After a reset the old totals are gone: nothing negative is listed.
        let reset: WalByQuery = [(1, 10.0)].into();
        assert_eq!(top_growth(&after, &reset, 3), vec![]);
    }
}
