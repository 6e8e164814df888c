//! Standbys follow their primary's size: the primary publishes the size it
//! runs with in walrus.primary_size ([`primary_size`]); a standby, and a node
//! just promoted, brings its own to that size within its own WAL disk (the
//! rules are `walrus_strategies::standby`; specs/worker.md is the contract).

pub mod primary_size;
