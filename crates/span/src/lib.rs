//! Durations in scenarios: `500ms`, `5s`, `2m`.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};

/// A duration written as a number and a unit (`ms`, `s`, `m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[schemars(
    with = "String",
    description = "A duration such as `500ms`, `5s` or `2m`."
)]
pub struct Span(pub Duration);

impl Span {
    /// Parses `500ms`, `5s`, `1.5s`, `2m`.
    pub fn parse(s: &str) -> Result<Span, String> {
        let s = s.trim();
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let value: f64 = num
            .parse()
            .map_err(|_| format!("`{s}` is not a duration like 500ms, 5s or 2m"))?;
        let secs = match unit.trim() {
            "ms" => value / 1000.0,
            "s" => value,
            "m" => value * 60.0,
            _ => return Err(format!("`{s}`: unit must be ms, s or m")),
        };
        if !(0.0..=3600.0).contains(&secs) {
            return Err(format!("`{s}`: a duration must be between 0 and 1 hour"));
        }
        Ok(Span(Duration::from_secs_f64(secs)))
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Span::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_rejects_nonsense() {
        assert_eq!(Span::parse("500ms").unwrap().0, Duration::from_millis(500));
        assert_eq!(Span::parse("1.5s").unwrap().0, Duration::from_millis(1500));
        assert_eq!(Span::parse("2m").unwrap().0, Duration::from_secs(120));
        assert!(Span::parse("5").is_err());
        assert!(Span::parse("fast").is_err());
        assert!(Span::parse("2h").is_err());
    }
}
