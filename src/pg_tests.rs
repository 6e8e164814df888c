//! Tests that need a live backend, run by `cargo pgrx test` on a cluster
//! that preloads pg_walrus. Everything that needs ALTER SYSTEM, a reload or
//! waiting for the worker lives in the end-to-end suite (tests/e2e) instead:
//! these run inside a transaction.

#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn algorithm_values_are_the_compiled_strategies() {
        use walrus_strategies::{SizingStrategy, Strategy};
        let values = Spi::get_one::<Vec<String>>("SELECT enumvals FROM pg_settings WHERE name = 'walrus.algorithm'")
            .expect("pg_settings query")
            .expect("walrus.algorithm has values");
        let compiled: Vec<String> = Strategy::ALL.iter().map(|s| s.name().to_owned()).collect();
        assert_eq!(
            values, compiled,
            "walrus.algorithm's values must list Strategy::ALL in order"
        );
    }

    fn setting_row(
        name: &str,
    ) -> (
        String,
        Option<String>,
        String,
        String,
        Option<String>,
        Option<String>,
        String,
    ) {
        Spi::connect(|client| {
            let rows = client
                .select(
                    "SELECT setting, unit, context, vartype, min_val, max_val, boot_val
                     FROM pg_settings WHERE name = $1",
                    None,
                    &[name.into()],
                )
                .expect("pg_settings query");
            assert_eq!(rows.len(), 1, "{name} is not in pg_settings");
            let row = rows.first();
            (
                row.get::<String>(1).unwrap().unwrap(),
                row.get::<String>(2).unwrap(),
                row.get::<String>(3).unwrap().unwrap(),
                row.get::<String>(4).unwrap().unwrap(),
                row.get::<String>(5).unwrap(),
                row.get::<String>(6).unwrap(),
                row.get::<String>(7).unwrap().unwrap(),
            )
        })
    }

    #[pg_test]
    fn enable_is_a_sighup_bool_defaulting_on() {
        let (setting, unit, context, vartype, _, _, boot) = setting_row("walrus.enable");
        assert_eq!(
            (
                setting.as_str(),
                unit,
                context.as_str(),
                vartype.as_str(),
                boot.as_str()
            ),
            ("on", None, "sighup", "bool", "on")
        );
        assert_eq!(
            Spi::get_one::<String>("SHOW walrus.enable").unwrap().as_deref(),
            Some("on")
        );
    }

    #[pg_test]
    fn max_is_in_megabytes_with_max_wal_size_range() {
        let (setting, unit, context, vartype, min, max, boot) = setting_row("walrus.max");
        assert_eq!(setting, "4096");
        assert_eq!(unit.as_deref(), Some("MB"));
        assert_eq!(
            (context.as_str(), vartype.as_str(), boot.as_str()),
            ("sighup", "integer", "4096")
        );
        assert_eq!(min.as_deref(), Some("2"));
        // The same upper bound as max_wal_size itself.
        let (_, _, _, _, _, wal_max, _) = setting_row("max_wal_size");
        assert_eq!(max, wal_max);
        assert_eq!(
            Spi::get_one::<String>("SHOW walrus.max").unwrap().as_deref(),
            Some("4GB")
        );
    }

    #[pg_test]
    fn threshold_ranges_from_1_to_1000() {
        let (setting, unit, context, vartype, min, max, _) = setting_row("walrus.threshold");
        assert_eq!(
            (setting.as_str(), unit, context.as_str(), vartype.as_str()),
            ("2", None, "sighup", "integer")
        );
        assert_eq!((min.as_deref(), max.as_deref()), (Some("1"), Some("1000")));
    }

    #[pg_test]
    fn database_is_postmaster_context() {
        let (setting, _, context, vartype, _, _, _) = setting_row("walrus.database");
        assert_eq!(
            (setting.as_str(), context.as_str(), vartype.as_str()),
            ("postgres", "postmaster", "string")
        );
    }

    #[pg_test(error = "parameter \"walrus.threshold\" cannot be changed now")]
    fn session_set_is_refused_for_sighup_settings() {
        Spi::run("SET walrus.threshold = 5").unwrap();
    }

    #[pg_test(error = "invalid configuration parameter name \"walrus.no_such_setting\"")]
    fn walrus_prefix_is_reserved() {
        Spi::run("SET walrus.no_such_setting = 1").unwrap();
    }

    #[pg_test]
    fn worker_is_visible_in_pg_stat_activity() {
        // The worker starts when recovery ends; give it a few seconds.
        let mut seen = 0;
        for _ in 0..100 {
            Spi::run("SELECT pg_stat_clear_snapshot()").unwrap();
            seen = Spi::get_one::<i64>("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_walrus'")
                .unwrap()
                .unwrap();
            if seen > 0 {
                break;
            }
            Spi::run("SELECT pg_sleep(0.1)").unwrap();
        }
        assert_eq!(seen, 1, "exactly one pg_walrus worker");
        let name =
            Spi::get_one::<String>("SELECT application_name FROM pg_stat_activity WHERE backend_type = 'pg_walrus'")
                .unwrap();
        assert_eq!(name.as_deref(), Some("pg_walrus"));
    }

    #[pg_test]
    fn extversion_matches_the_crate_version() {
        let version =
            Spi::get_one::<String>("SELECT extversion FROM pg_extension WHERE extname = 'pg_walrus'").unwrap();
        assert_eq!(version.as_deref(), Some(env!("CARGO_PKG_VERSION")));
    }

    #[pg_test]
    fn functions_and_schema_live_in_walrus() {
        let schema = Spi::get_one::<String>(
            "SELECT n.nspname::text FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
             WHERE e.extname = 'pg_walrus'",
        )
        .unwrap();
        assert_eq!(schema.as_deref(), Some("walrus"));
    }
}
