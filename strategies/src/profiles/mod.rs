//! Time-of-day profiles (`walrus.profiles`): a JSON array of windows, each
//! overriding some settings while it is active.
//!
//! ```json
//! [{"name": "night_batch", "days": ["Mon","Tue","Wed","Thu","Fri"],
//!   "start_hour": 22, "end_hour": 6, "max_size": 32768, "threshold": 5}]
//! ```
//!
//! Hours are 0..24 in the server's time zone, start inclusive, end exclusive;
//! `start_hour == end_hour` means the whole day. A window that wraps midnight
//! belongs to the day it starts on: Fri 22→6 covers Saturday 02:00. The first
//! matching profile wins.

use serde::Deserialize;

use crate::{Settings, Strategy};

const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// One profile, as written by the DBA (unknown keys are refused).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: String,
    pub days: Vec<String>,
    pub start_hour: u8,
    pub end_hour: u8,
    /// Overrides `walrus.max`, MB.
    #[serde(default)]
    pub max_size: Option<i32>,
    /// Overrides `walrus.threshold`.
    #[serde(default)]
    pub threshold: Option<i32>,
    /// Overrides `walrus.shrink_enable`.
    #[serde(default)]
    pub shrink_enable: Option<bool>,
    /// Overrides `walrus.algorithm`.
    #[serde(default)]
    pub algorithm: Option<String>,
}

/// Day of the week, Monday = 0.
fn day_index(name: &str) -> Option<u8> {
    DAY_NAMES.iter().position(|d| *d == name).map(|i| i as u8)
}

impl Profile {
    fn covers_day(&self, weekday: u8) -> bool {
        self.days.iter().any(|d| day_index(d) == Some(weekday))
    }

    /// Whether the profile is active at `hour` (0..23) of `weekday` (Mon = 0).
    pub fn is_active(&self, weekday: u8, hour: u8) -> bool {
        let (start, end) = (self.start_hour, self.end_hour);
        if start == end {
            self.covers_day(weekday)
        } else if start < end {
            self.covers_day(weekday) && start <= hour && hour < end
        } else {
            // Wraps midnight: the late part on the day it starts, the early
            // part on the next day.
            let yesterday = (weekday + 6) % 7;
            (self.covers_day(weekday) && hour >= start) || (self.covers_day(yesterday) && hour < end)
        }
    }

    /// The settings with this profile's overrides.
    pub fn apply(&self, settings: &Settings) -> Settings {
        let mut s = settings.clone();
        if let Some(max) = self.max_size {
            s.max_size_mb = max;
        }
        if let Some(threshold) = self.threshold {
            s.threshold = threshold;
        }
        if let Some(shrink) = self.shrink_enable {
            s.shrink_enabled = shrink;
        }
        s
    }

    pub fn algorithm(&self) -> Option<Strategy> {
        self.algorithm.as_deref().and_then(Strategy::from_name)
    }
}

/// Parses and validates `walrus.profiles`. Empty (or only blanks) means no
/// profiles. The error names the problem and the profile.
pub fn parse(text: &str) -> Result<Vec<Profile>, String> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let profiles: Vec<Profile> =
        serde_json::from_str(text).map_err(|e| format!("walrus.profiles must be a JSON array of profiles: {e}."))?;
    for (i, p) in profiles.iter().enumerate() {
        let which = if p.name.is_empty() {
            format!("profile {}", i + 1)
        } else {
            format!("profile \"{}\"", p.name)
        };
        if p.name.trim().is_empty() {
            return Err(format!("{which}: \"name\" must not be empty."));
        }
        if profiles[..i].iter().any(|q| q.name == p.name) {
            return Err(format!("{which}: the name is used twice."));
        }
        if p.days.is_empty() {
            return Err(format!(
                "{which}: \"days\" must list at least one of Mon, Tue, Wed, Thu, Fri, Sat, Sun."
            ));
        }
        if let Some(bad) = p.days.iter().find(|d| day_index(d).is_none()) {
            return Err(format!(
                "{which}: \"{bad}\" is not a day; use Mon, Tue, Wed, Thu, Fri, Sat, Sun."
            ));
        }
        if p.start_hour > 23 {
            return Err(format!("{which}: \"start_hour\" must be 0..23, not {}.", p.start_hour));
        }
        if p.end_hour > 24 {
            return Err(format!("{which}: \"end_hour\" must be 0..24, not {}.", p.end_hour));
        }
        if let Some(max) = p.max_size.filter(|&m| m < 2) {
            return Err(format!(
                "{which}: \"max_size\" is in MB and must be 2..2147483647, not {max}."
            ));
        }
        if let Some(t) = p.threshold.filter(|t| !(1..=1000).contains(t)) {
            return Err(format!("{which}: \"threshold\" must be 1..1000, not {t}."));
        }
        if let Some(name) = p.algorithm.as_deref().filter(|a| Strategy::from_name(a).is_none()) {
            return Err(format!(
                "{which}: algorithm \"{name}\" is not compiled in; available: {}.",
                Strategy::names()
            ));
        }
    }
    Ok(profiles)
}

/// The first profile active at `hour` of `weekday` (Mon = 0).
pub fn active(profiles: &[Profile], weekday: u8, hour: u8) -> Option<&Profile> {
    profiles.iter().find(|p| p.is_active(weekday, hour))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MON: u8 = 0;
    const FRI: u8 = 4;
    const SAT: u8 = 5;
    const SUN: u8 = 6;

    fn profile(days: &[&str], start: u8, end: u8) -> Profile {
        Profile {
            name: "p".into(),
            days: days.iter().map(|d| d.to_string()).collect(),
            start_hour: start,
            end_hour: end,
            max_size: None,
            threshold: None,
            shrink_enable: None,
            algorithm: None,
        }
    }

    #[test]
    fn windows() {
        let business = profile(&["Mon", "Tue", "Wed", "Thu", "Fri"], 9, 18);
        assert!(business.is_active(MON, 9), "start is inclusive");
        assert!(business.is_active(MON, 17));
        assert!(!business.is_active(MON, 18), "end is exclusive");
        assert!(!business.is_active(SAT, 12));

        let night = profile(&["Fri"], 22, 6);
        assert!(night.is_active(FRI, 22));
        assert!(night.is_active(FRI, 23));
        assert!(night.is_active(SAT, 2), "Fri 22->6 covers Saturday 02:00");
        assert!(!night.is_active(SAT, 6));
        assert!(!night.is_active(FRI, 2), "Friday 02:00 belongs to Thursday's window");
        assert!(!night.is_active(SAT, 22));

        let sunday_night = profile(&["Sun"], 23, 1);
        assert!(sunday_night.is_active(MON, 0), "wraps across the week boundary");

        let all_day = profile(&["Sat", "Sun"], 0, 0);
        assert!(all_day.is_active(SUN, 0) && all_day.is_active(SAT, 23));
        assert!(!all_day.is_active(MON, 12));

        let to_midnight = profile(&["Mon"], 20, 24);
        assert!(to_midnight.is_active(MON, 23) && !to_midnight.is_active(MON, 19));
    }

    #[test]
    fn first_match_wins() {
        let text = r#"[{"name":"a","days":["Mon"],"start_hour":0,"end_hour":0,"threshold":5},
                       {"name":"b","days":["Mon"],"start_hour":0,"end_hour":0,"threshold":9}]"#;
        let profiles = parse(text).unwrap();
        assert_eq!(active(&profiles, MON, 3).map(|p| p.name.as_str()), Some("a"));
        assert_eq!(active(&profiles, SUN, 3), None);
    }

    #[test]
    fn overrides() {
        let p = Profile {
            max_size: Some(64),
            threshold: Some(7),
            shrink_enable: Some(false),
            ..profile(&["Mon"], 0, 0)
        };
        let s = p.apply(&Settings::default());
        assert_eq!((s.max_size_mb, s.threshold, s.shrink_enabled), (64, 7, false));
        assert_eq!(s.min_size_mb, Settings::default().min_size_mb, "the rest untouched");
    }

    #[test]
    fn validation_names_the_problem() {
        let cases = [
            ("{", "JSON array"),
            (r#"{"name":"x"}"#, "JSON array"),
            (
                r#"[{"name":"x","days":["Mon"],"start_hour":1,"end_hour":2,"colour":"red"}]"#,
                "unknown field `colour`",
            ),
            (
                r#"[{"name":"x","days":["Mon"],"start_hour":1}]"#,
                "missing field `end_hour`",
            ),
            (
                r#"[{"name":"x","days":["Monday"],"start_hour":1,"end_hour":2}]"#,
                "\"Monday\" is not a day",
            ),
            (
                r#"[{"name":"x","days":[],"start_hour":1,"end_hour":2}]"#,
                "at least one of",
            ),
            (
                r#"[{"name":"x","days":["Mon"],"start_hour":24,"end_hour":2}]"#,
                "\"start_hour\" must be 0..23",
            ),
            (
                r#"[{"name":"x","days":["Mon"],"start_hour":1,"end_hour":25}]"#,
                "\"end_hour\" must be 0..24",
            ),
            (
                r#"[{"name":"x","days":["Mon"],"start_hour":-1,"end_hour":2}]"#,
                "JSON array",
            ),
            (
                r#"[{"name":"x","days":["Mon"],"start_hour":1,"end_hour":2,"max_size":1}]"#,
                "\"max_size\" is in MB",
            ),
            (
                r#"[{"name":"x","days":["Mon"],"start_hour":1,"end_hour":2,"threshold":0}]"#,
                "\"threshold\" must be 1..1000",
            ),
            (
                r#"[{"name":"x","days":["Mon"],"start_hour":1,"end_hour":2,"algorithm":"fibonacci"}]"#,
                "not compiled in",
            ),
            (
                r#"[{"name":"","days":["Mon"],"start_hour":1,"end_hour":2}]"#,
                "must not be empty",
            ),
            (
                r#"[{"name":"x","days":["Mon"],"start_hour":1,"end_hour":2},{"name":"x","days":["Tue"],"start_hour":1,"end_hour":2}]"#,
                "used twice",
            ),
        ];
        for (text, expected) in cases {
            let error = parse(text).unwrap_err();
            assert!(error.contains(expected), "{text}: {error}");
        }
        assert_eq!(parse("").unwrap(), vec![]);
        assert_eq!(parse("  ").unwrap(), vec![]);
        assert_eq!(parse("[]").unwrap(), vec![]);
    }
}
