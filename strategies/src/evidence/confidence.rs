//! How much evidence stands behind a recommendation.

/// What the extension knows when it is asked for a recommendation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Evidence {
    /// The worker has taken a baseline of the checkpoint counters.
    pub has_baseline: bool,
    /// Requested checkpoints counted since that baseline.
    pub requested_since_baseline: i64,
    /// Consecutive quiet intervals so far.
    pub quiet_intervals: u32,
}

/// The confidence of a strategy that judges from the checkpoint counters
/// alone (multiplicative, additive): 50, +20 with more than 10 requested checkpoints since the
/// baseline, +15 after at least one quiet interval, +15 with a baseline.
pub fn counter_confidence(evidence: &Evidence) -> u8 {
    let mut confidence = 50;
    if evidence.requested_since_baseline > 10 {
        confidence += 20;
    }
    if evidence.quiet_intervals > 0 {
        confidence += 15;
    }
    if evidence.has_baseline {
        confidence += 15;
    }
    confidence
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_rule() {
        let none = Evidence::default();
        assert_eq!(counter_confidence(&none), 50);
        let all = Evidence {
            has_baseline: true,
            requested_since_baseline: 11,
            quiet_intervals: 1,
        };
        assert_eq!(counter_confidence(&all), 100);
        let ten = Evidence {
            has_baseline: true,
            requested_since_baseline: 10,
            quiet_intervals: 0,
        };
        assert_eq!(counter_confidence(&ten), 65, "more than 10, not 10");
    }
}
