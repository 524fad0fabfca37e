//! # mqtt-span
//!
//! Durations as the harness's YAML files (scenarios, load profiles) and
//! command-line flags write them: `500ms`, `5s`, `2m`, `1m 30s`, at most
//! one hour, since every run is bounded. One parser for the whole
//! workspace, on the well-kept `humantime` crate (its grammar: integers with
//! units `ns`, `us`, `ms`, `s`, `m`, `h` and their long forms, several
//! spans in a row).

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest duration a file or flag may give.
pub const MAX: Duration = Duration::from_secs(3600);

/// A duration written as numbers and units (`500ms`, `5s`, `2m`), at most
/// one hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, JsonSchema)]
#[schemars(
    with = "String",
    description = "A duration such as `500ms`, `5s`, `2m` or `1m 30s` (at most 1 hour)."
)]
pub struct Span(pub Duration);

impl Span {
    /// Parses `500ms`, `5s`, `2m`, `1s 500ms`; a bare number, an unknown
    /// unit or more than an hour is an error that quotes the text.
    pub fn parse(s: &str) -> Result<Span, String> {
        let s = s.trim();
        let d = humantime::parse_duration(s)
            .map_err(|e| format!("`{s}` is not a duration like 500ms, 5s or 2m ({e})"))?;
        if d > MAX {
            return Err(format!("`{s}`: a duration must be between 0 and 1 hour"));
        }
        Ok(Span(d))
    }

    /// The duration.
    pub fn get(self) -> Duration {
        self.0
    }
}

impl std::fmt::Display for Span {
    /// The form [`Span::parse`] reads back: `500ms`, `5s`, `1s 500ms`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_zero() {
            return f.write_str("0s");
        }
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl std::str::FromStr for Span {
    type Err = String;

    fn from_str(s: &str) -> Result<Span, String> {
        Span::parse(s)
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Span::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_rejects_nonsense() {
        assert_eq!(Span::parse("500ms").unwrap().0, Duration::from_millis(500));
        assert_eq!(Span::parse("5s").unwrap().0, Duration::from_secs(5));
        assert_eq!(Span::parse(" 2m ").unwrap().0, Duration::from_secs(120));
        assert_eq!(
            Span::parse("1s 500ms").unwrap().0,
            Duration::from_millis(1500)
        );
        assert_eq!(Span::parse("1h").unwrap().0, MAX);
        assert!(Span::parse("5").is_err());
        assert!(Span::parse("fast").is_err());
        assert!(Span::parse("-1s").is_err());
        let long = Span::parse("2h").unwrap_err();
        assert!(long.contains("1 hour"), "{long}");
        let bare = Span::parse("5").unwrap_err();
        assert!(bare.contains("`5`"), "{bare}");
    }

    #[test]
    fn displays_what_it_parses() {
        for s in ["0s", "500ms", "5s", "1s 500ms", "2m", "1h"] {
            let span = Span::parse(s).unwrap();
            assert_eq!(span.to_string(), s);
            assert_eq!(Span::parse(&span.to_string()).unwrap(), span);
        }
    }

    #[test]
    fn a_bad_duration_in_yaml_is_an_error_with_its_text() {
        #[derive(Debug, Deserialize)]
        struct Doc {
            #[allow(dead_code)]
            wait: Span,
        }
        let e = serde_yaml::from_str::<Doc>("wait: 5 parsecs\n").unwrap_err();
        assert!(e.to_string().contains("5 parsecs"), "{e}");
        let ok: Doc = serde_yaml::from_str("wait: 250ms\n").unwrap();
        assert_eq!(ok.wait.get(), Duration::from_millis(250));
    }
}
