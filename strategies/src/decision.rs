//! What a strategy returns.

use serde_json::Value;

/// The kind of change a decision makes. The names are the ones stored in
/// `walrus.history.action` and returned by `walrus.recommendation()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Leave `max_wal_size` as it is.
    None,
    /// Grow to the size the strategy computed.
    Increase,
    /// Grow, but only to `walrus.max`: the strategy wanted more.
    Capped,
    /// Shrink.
    Decrease,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::None => "none",
            Action::Increase => "increase",
            Action::Capped => "capped",
            Action::Decrease => "decrease",
        }
    }
}

/// A strategy's answer for one interval.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub action: Action,
    pub old_size_mb: i32,
    /// Equal to `old_size_mb` when `action` is [`Action::None`].
    pub new_size_mb: i32,
    /// The size the strategy wanted before `walrus.max` and the other limits
    /// applied; `None` when it wanted no change at all.
    pub computed_size_mb: Option<i32>,
    /// One sentence for a DBA: goes to the log, history and recommendations.
    pub reason: String,
    /// Strategy-specific evidence, stored as history metadata.
    pub metadata: Value,
}

impl Decision {
    /// A decision that keeps the current size.
    pub fn keep(old_size_mb: i32, reason: impl Into<String>, metadata: Value) -> Self {
        Decision {
            action: Action::None,
            old_size_mb,
            new_size_mb: old_size_mb,
            computed_size_mb: None,
            reason: reason.into(),
            metadata,
        }
    }

    /// Whether applying this decision writes a new `max_wal_size`.
    pub fn changes_size(&self) -> bool {
        self.action != Action::None && self.new_size_mb != self.old_size_mb
    }

    /// The strategy wanted to grow but `walrus.max` left no room at all.
    pub fn blocked_at_ceiling(&self) -> bool {
        self.action == Action::None && self.computed_size_mb.is_some_and(|c| c > self.old_size_mb)
    }

    /// Whether a decision whose write failed may be retried now: nobody
    /// changed max_wal_size since (it is still `current_size_mb`), and a grow
    /// still fits under the current ceiling (`walrus.max`, lowered by the WAL
    /// disk ceiling).
    pub fn retry_still_fits(&self, current_size_mb: i32, ceiling_mb: i32) -> bool {
        self.old_size_mb == current_size_mb
            && match self.action {
                Action::Increase | Action::Capped => self.new_size_mb <= ceiling_mb,
                Action::Decrease | Action::None => true,
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(action: Action, old: i32, new: i32) -> Decision {
        Decision {
            action,
            old_size_mb: old,
            new_size_mb: new,
            computed_size_mb: Some(new),
            reason: String::new(),
            metadata: Value::Null,
        }
    }

    #[test]
    fn a_failed_write_is_retried_only_while_it_still_fits() {
        // (action, old, new, size in force now, ceiling now) -> retry
        for (action, old, new, current, ceiling, retry) in [
            (Action::Increase, 32, 192, 32, 4096, true),
            (Action::Capped, 32, 4096, 32, 4096, true),
            // Someone (a DBA, analyze()) changed the size meanwhile.
            (Action::Increase, 32, 192, 64, 4096, false),
            (Action::Decrease, 256, 192, 128, 4096, false),
            // The ceiling came down under it (a filling WAL disk, a lower walrus.max).
            (Action::Increase, 32, 192, 32, 160, false),
            (Action::Capped, 32, 4096, 32, 1024, false),
            // A shrink always fits under the ceiling.
            (Action::Decrease, 256, 192, 256, 64, true),
        ] {
            assert_eq!(
                decision(action, old, new).retry_still_fits(current, ceiling),
                retry,
                "{action:?} {old} -> {new} at {current} under {ceiling}"
            );
        }
    }
}
