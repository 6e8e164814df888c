//! What the extension records and announces: one decision's entry, its
//! walrus.history row and NOTIFY event, the statements that wrote the most
//! WAL (pg_stat_statements) for its metadata, and the watch on the installed
//! SQL objects' version that those records need.

pub mod entry;
pub mod history;
pub mod notify;
pub mod queries;
pub mod sql_objects;
