//! NOTIFY events: one per decision that reaches history, sent with
//! `pg_notify($1, $2)` and bound parameters in the same transaction as the
//! history row (so listeners get it at commit, together with the row).

use pgrx::prelude::*;
use pgrx::spi::SpiError;
use serde_json::json;

use crate::record::entry::Entry;

/// PostgreSQL refuses NOTIFY payloads of 8000 bytes or more.
const MAX_PAYLOAD_BYTES: usize = 7999;
/// NAMEDATALEN - 1: longer channel names would be truncated by PostgreSQL.
const MAX_CHANNEL_BYTES: usize = 63;

/// `walrus.notify_channel` must be empty (no events) or a plain lowercase
/// identifier, so that `LISTEN walrus_events` works unquoted and no value can
/// smuggle anything else.
pub fn validate_channel(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Ok(());
    }
    if name.len() > MAX_CHANNEL_BYTES {
        return Err(format!(
            "Channel names are at most {MAX_CHANNEL_BYTES} bytes; this one has {}.",
            name.len()
        ));
    }
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    if !first_ok || !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        return Err(
            "A channel must be a plain lowercase identifier: a-z, 0-9 and _, not starting with a digit.".to_owned(),
        );
    }
    Ok(())
}

/// The event as compact JSON, always under PostgreSQL's payload limit: the
/// reason is shortened (on a character boundary, with an ellipsis) if needed.
pub fn payload(entry: &Entry, timestamp: &str) -> String {
    let render = |reason: &str| {
        json!({
            "event": "adjustment",
            "action": entry.action,
            "old_size_mb": entry.old_size_mb,
            "new_size_mb": entry.new_size_mb,
            "timestamp": timestamp,
            "forced_checkpoints": entry.forced_checkpoints,
            "reason": reason,
            "strategy": entry.strategy,
            "profile": entry.profile,
            "dry_run": entry.dry_run,
        })
        .to_string()
    };
    let mut reason: String = entry.reason.to_owned();
    loop {
        let text = render(&reason);
        if text.len() <= MAX_PAYLOAD_BYTES {
            return text;
        }
        // Escaping can make a character cost up to 6 bytes in JSON.
        let excess = text.len() - MAX_PAYLOAD_BYTES;
        let keep = reason.chars().count().saturating_sub(excess.div_ceil(6).max(1) + 1);
        reason = reason.chars().take(keep).collect::<String>() + "…";
    }
}

/// Queues the event; PostgreSQL delivers it when the transaction commits.
pub fn send(channel: &str, payload: &str) -> Result<(), SpiError> {
    Spi::run_with_args("SELECT pg_catalog.pg_notify($1, $2)", &[channel.into(), payload.into()])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(reason: &str) -> Entry<'_> {
        Entry {
            action: "increase",
            old_size_mb: 64,
            new_size_mb: 192,
            forced_checkpoints: 2,
            checkpoint_timeout_sec: 30,
            reason,
            strategy: "multiplicative",
            profile: None,
            dry_run: false,
            metadata: json!({}),
        }
    }

    #[test]
    fn channel_names() {
        for good in ["", "walrus_events", "_x", "a1", &"a".repeat(63)] {
            assert_eq!(validate_channel(good), Ok(()), "{good}");
        }
        for bad in [
            "Walrus",
            "walrus-events",
            "1abc",
            "a b",
            "x;drop table t",
            "\"q\"",
            "é",
            &"a".repeat(64),
        ] {
            assert!(validate_channel(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn payload_is_compact_json_with_the_original_keys() {
        let text = payload(&entry("2 forced checkpoints"), "2026-01-01T00:00:00.000000+00:00");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["event"], "adjustment");
        assert_eq!(
            (v["old_size_mb"].as_i64(), v["new_size_mb"].as_i64()),
            (Some(64), Some(192))
        );
        assert_eq!(v["strategy"], "multiplicative");
        assert!(!text.contains(": "), "compact");
    }

    #[test]
    fn payload_stays_under_the_limit_whatever_the_reason() {
        for reason in ["x".repeat(10_000), "\"'\\;".repeat(3000), "é\u{1}".repeat(5000)] {
            let text = payload(&entry(&reason), "t");
            assert!(text.len() <= MAX_PAYLOAD_BYTES, "{} bytes", text.len());
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert!(v["reason"].as_str().unwrap().ends_with('…'));
        }
    }
}
