//! Topic Names and Topic Filters (MQTT 3.1.1 §4.7, MQTT 5.0 §4.7 and
//! §4.8.2 for `$share/`): validation and matching.

use crate::error::{ErrorKind, Violation};
use crate::reason::ReasonCode;
use crate::scan::find_any;
use crate::version::ProtocolVersion;

/// Checks a Topic Name of a PUBLISH or Will: no wildcards (MQTT-3.3.2-2),
/// at least one character (MQTT-4.7.3-1). An empty name is allowed in 5.0
/// when `alias_present` (a Topic Alias stands in for it, §3.3.2.3.4).
pub fn validate_topic_name(
    name: &str,
    version: ProtocolVersion,
    alias_present: bool,
) -> Result<(), Violation> {
    if name.is_empty() {
        if version.is_v5() && alias_present {
            return Ok(());
        }
        return Err(Violation::protocol(
            ErrorKind::EmptyTopicName,
            &["MQTT-4.7.3-1"],
            version.pick("4.7.3", "3.3.2.1"),
        ));
    }
    if has_wildcard(name) {
        return Err(Violation::new(
            ErrorKind::TopicNameHasWildcard(name.to_owned()),
            version.pick(
                &["MQTT-3.3.2-2", "MQTT-4.7.1-1"],
                &["MQTT-3.3.2-2", "MQTT-4.7.0-1"],
            ),
            "3.3.2.1",
            ReasonCode::TOPIC_NAME_INVALID,
        ));
    }
    Ok(())
}

/// True when `s` contains `+` or `#`.
pub(crate) fn has_wildcard(s: &str) -> bool {
    find_any(s.as_bytes(), [b'+', b'#']).is_some()
}

/// A `$share/{ShareName}/{filter}` subscription, split (MQTT 5.0 §4.8.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedFilter<'a> {
    /// The ShareName.
    pub group: &'a str,
    /// The Topic Filter after the ShareName.
    pub filter: &'a str,
}

/// Splits a shared subscription filter, or returns `None` for a filter that
/// does not start with `$share/`. Does not validate; see
/// [`validate_topic_filter`].
pub fn split_shared(filter: &str) -> Option<SharedFilter<'_>> {
    let rest = filter.strip_prefix("$share/")?;
    let (group, filter) = rest.split_once('/').unwrap_or((rest, ""));
    Some(SharedFilter { group, filter })
}

/// Checks a Topic Filter of SUBSCRIBE or UNSUBSCRIBE: at least one
/// character (MQTT-4.7.3-1); `#` alone or after `/` and last
/// (MQTT-4.7.1-2 in 3.1.1, MQTT-4.7.1-1 in 5.0); `+` a whole level
/// (MQTT-4.7.1-3 in 3.1.1, MQTT-4.7.1-2 in 5.0); in 5.0 the `$share/`
/// form (MQTT-4.8.2-1, MQTT-4.8.2-2).
pub fn validate_topic_filter(filter: &str, version: ProtocolVersion) -> Result<(), Violation> {
    if filter.is_empty() {
        return Err(filter_error(filter, "empty", &["MQTT-4.7.3-1"], "4.7.3"));
    }
    if version.is_v5() {
        if let Some(shared) = split_shared(filter) {
            return validate_shared(filter, shared);
        }
    }
    validate_wildcards(filter, version)
}

fn validate_shared(whole: &str, shared: SharedFilter<'_>) -> Result<(), Violation> {
    // MQTT-4.8.2-1: a ShareName of at least one character; MQTT-4.8.2-2: no
    // '/', '+' or '#' in it, and followed by '/' and a Topic Filter.
    let err = |problem, statements: &'static [&'static str]| {
        Err(Violation::protocol(
            ErrorKind::InvalidSharedSubscription {
                filter: whole.to_owned(),
                problem,
            },
            statements,
            "4.8.2",
        ))
    };
    if shared.group.is_empty() {
        return err("empty ShareName", &["MQTT-4.8.2-1"]);
    }
    if shared.group.contains(['+', '#']) {
        return err("ShareName contains a wildcard", &["MQTT-4.8.2-2"]);
    }
    if !whole["$share/".len() + shared.group.len()..].starts_with('/') || shared.filter.is_empty() {
        return err(
            "ShareName is not followed by '/' and a topic filter",
            &["MQTT-4.8.2-2"],
        );
    }
    validate_wildcards(shared.filter, ProtocolVersion::V5).map_err(|mut v| {
        v.kind = ErrorKind::InvalidTopicFilter {
            filter: whole.to_owned(),
            problem: match v.kind {
                ErrorKind::InvalidTopicFilter { problem, .. } => problem,
                _ => "invalid",
            },
        };
        v
    })
}

fn validate_wildcards(filter: &str, version: ProtocolVersion) -> Result<(), Violation> {
    // The levels that hold a wildcard, in order (a level without one
    // cannot break a rule); within a level the '#' rule first. Bytes
    // suffice: '/', '#' and '+' are ASCII and never part of a multi-byte
    // character.
    let bytes = filter.as_bytes();
    if wildcards_stand_alone(bytes) {
        return Ok(());
    }
    let mut from = 0;
    while let Some(at) = next_wildcard(bytes, from) {
        let before = bytes.get(..at).unwrap_or_default();
        let start = before.iter().rposition(|&b| b == b'/').map_or(0, |s| s + 1);
        let after = bytes.get(at..).unwrap_or_default();
        let end = after
            .iter()
            .position(|&b| b == b'/')
            .map_or(bytes.len(), |e| at + e);
        let level = bytes.get(start..end).unwrap_or_default();
        let (hash, plus) = (level.contains(&b'#'), level.contains(&b'+'));
        check_level(filter, level, hash, plus, end == bytes.len(), version)?;
        from = end;
    }
    Ok(())
}

/// True when every `+` is a whole level and every `#` a whole level that
/// ends the filter: then no level breaks a rule. A quick test, one look at
/// the neighbours of each wildcard; when it fails, the level by level
/// check finds and names the error.
#[inline]
fn wildcards_stand_alone(bytes: &[u8]) -> bool {
    let mut from = 0;
    while let Some(at) = next_wildcard(bytes, from) {
        let starts_level = at == 0 || bytes.get(at - 1) == Some(&b'/');
        let next = bytes.get(at + 1);
        let ends_level = match bytes.get(at) {
            Some(b'#') => next.is_none(),
            _ => next.is_none_or(|&b| b == b'/'),
        };
        if !(starts_level && ends_level) {
            return false;
        }
        from = at + 1;
    }
    true
}

/// The position of the first `#` or `+` at or after `from`.
fn next_wildcard(bytes: &[u8], from: usize) -> Option<usize> {
    let at = find_any(bytes.get(from..)?, [b'#', b'+'])?;
    Some(from + at)
}

/// The wildcard rules for one level of a filter: `hash` and `plus` say
/// whether it contains `#` and `+`, `last` whether it is the last level.
fn check_level(
    filter: &str,
    level: &[u8],
    hash: bool,
    plus: bool,
    last: bool,
    version: ProtocolVersion,
) -> Result<(), Violation> {
    if hash && (level != b"#" || !last) {
        return Err(filter_error(
            filter,
            "'#' must be a whole level and the last one",
            version.pick(&["MQTT-4.7.1-2"], &["MQTT-4.7.1-1"]),
            "4.7.1.2",
        ));
    }
    if plus && level != b"+" {
        return Err(filter_error(
            filter,
            "'+' must occupy a whole level",
            version.pick(&["MQTT-4.7.1-3"], &["MQTT-4.7.1-2"]),
            "4.7.1.3",
        ));
    }
    Ok(())
}

fn filter_error(
    filter: &str,
    problem: &'static str,
    statements: &'static [&'static str],
    section: &'static str,
) -> Violation {
    Violation::new(
        ErrorKind::InvalidTopicFilter {
            filter: filter.to_owned(),
            problem,
        },
        statements,
        section,
        ReasonCode::MALFORMED_PACKET,
    )
}

/// True when `topic` matches `filter` (§4.7): `+` matches one level, `#` any
/// number of trailing levels including the parent, and a filter starting
/// with a wildcard does not match a topic starting with `$` (MQTT-4.7.2-1).
/// Both are compared byte for byte, without normalisation (MQTT-4.7.3-4).
/// A `$share/` prefix must be removed by the caller.
pub fn matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(fl), Some(tl)) if fl == tl => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProtocolVersion::*;

    #[test]
    fn matching_follows_section_4_7() {
        assert!(matches("sport/tennis/player1/#", "sport/tennis/player1"));
        assert!(matches(
            "sport/tennis/player1/#",
            "sport/tennis/player1/ranking"
        ));
        assert!(matches("sport/#", "sport"));
        assert!(matches("#", "a/b/c"));
        assert!(matches("sport/tennis/+", "sport/tennis/player1"));
        assert!(!matches("sport/tennis/+", "sport/tennis/player1/ranking"));
        assert!(!matches("sport/+", "sport"));
        assert!(matches("sport/+", "sport/"));
        assert!(matches("+/+", "/finance"));
        assert!(matches("/+", "/finance"));
        assert!(!matches("+", "/finance"));
        assert!(!matches("#", "$SYS/x"));
        assert!(!matches("+/monitor/Clients", "$SYS/monitor/Clients"));
        assert!(matches("$SYS/#", "$SYS/monitor/Clients"));
        assert!(matches("$SYS/monitor/+", "$SYS/monitor/Clients"));
        assert!(!matches("a/b", "A/b"));
    }

    #[test]
    fn filters_follow_the_wildcard_rules() {
        for ok in ["#", "+", "a/#", "+/+", "/+", "a/+/b", "$share/g/a/#"] {
            assert!(validate_topic_filter(ok, V5).is_ok(), "{ok}");
        }
        for bad in [
            "a#",
            "a/#/b",
            "a+",
            "a/b+/c",
            "",
            "$share/g",
            "$share//a",
            "$share/g+/a",
        ] {
            assert!(validate_topic_filter(bad, V5).is_err(), "{bad}");
        }
        // In 3.1.1 `$share/g` is an ordinary filter.
        assert!(validate_topic_filter("$share/g", V311).is_ok());
    }

    #[test]
    fn a_plus_inside_a_whole_eight_byte_word_is_found() {
        // Found by the fuzz targets (fuzz/): a word-at-a-time scan that
        // looked for '#' alone in whole words let these pass as valid.
        for bad in [
            "aaaaaaa+",
            "senrs+o.s",
            "Y+/Y[YYY/+/",
            "$share(w+rkers/jobs/#",
        ] {
            assert!(validate_topic_filter(bad, V311).is_err(), "{bad}");
            assert!(validate_topic_filter(bad, V5).is_err(), "{bad}");
        }
    }

    #[test]
    fn topic_names_have_no_wildcards() {
        assert!(validate_topic_name("a/b", V311, false).is_ok());
        assert!(validate_topic_name("a/+", V311, false).is_err());
        assert!(validate_topic_name("", V311, false).is_err());
        assert!(validate_topic_name("", V5, true).is_ok());
        assert!(validate_topic_name("", V5, false).is_err());
    }

    /// `validate_wildcards` scans for wildcards instead of splitting every
    /// filter into levels; this is the level-by-level form it replaced. Both
    /// must give the same verdict and the same error for every filter over
    /// a small alphabet (with a multi-byte character).
    #[test]
    fn wildcard_scan_agrees_with_the_level_by_level_rules() {
        fn levels(filter: &str, version: ProtocolVersion) -> Result<(), Violation> {
            let mut levels = filter.split('/').peekable();
            while let Some(level) = levels.next() {
                let last = levels.peek().is_none();
                if level.contains('#') && (level != "#" || !last) {
                    return Err(filter_error(
                        filter,
                        "'#' must be a whole level and the last one",
                        version.pick(&["MQTT-4.7.1-2"], &["MQTT-4.7.1-1"]),
                        "4.7.1.2",
                    ));
                }
                if level.contains('+') && level != "+" {
                    return Err(filter_error(
                        filter,
                        "'+' must occupy a whole level",
                        version.pick(&["MQTT-4.7.1-3"], &["MQTT-4.7.1-2"]),
                        "4.7.1.3",
                    ));
                }
            }
            Ok(())
        }
        let check = |f: &str| {
            for v in [V311, V5] {
                assert_eq!(validate_wildcards(f, v), levels(f, v), "{f:?} {v}");
            }
            let any = f.bytes().any(|b| b == b'+' || b == b'#');
            assert_eq!(has_wildcard(f), any, "{f:?}");
        };
        let alphabet = ["a", "/", "+", "#", "\u{e9}"];
        // Every filter of up to 6 characters...
        let mut filters = vec![String::new()];
        for _ in 0..6 {
            filters = filters
                .iter()
                .flat_map(|f| alphabet.iter().map(move |c| format!("{f}{c}")))
                .collect();
            filters.iter().for_each(|f| check(f));
        }
        // ...and longer ones, which the scan reads eight bytes at a time:
        // mostly plain characters, so that the wildcards fall anywhere.
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            let mut f = String::new();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            for i in 0..seed % 40 {
                let pick = (seed >> (i % 60)) % 16;
                f.push_str(alphabet.get(pick as usize).unwrap_or(&"a"));
            }
            check(&f);
        }
    }
}
