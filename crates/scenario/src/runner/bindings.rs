//! Per-run names: a fresh topic prefix and fresh client ids for every
//! scenario run, so runs never see each other's messages or sessions, and
//! packet ids saved by `expect` steps.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::packet::Bindings;

/// The names of one scenario run.
#[derive(Debug, Clone)]
pub struct RunBindings {
    prefix: String,
    run: String,
    saved: Arc<Mutex<HashMap<String, u16>>>,
}

impl RunBindings {
    /// Names for run number `run` (unique within the process) and `salt`
    /// (distinct between processes, e.g. the start time).
    pub fn new(run: u64, salt: u64) -> Self {
        // `z` is not a hex digit: no two (salt, run) pairs give one tag.
        let tag = format!("{:x}z{:x}", salt & 0xFFFF_FFFF, run);
        RunBindings {
            prefix: format!("mh/{tag}"),
            run: tag,
            saved: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The topic prefix, `mh/<tag>`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The client id of client `name`: letters and digits only, at most 23
    /// bytes, which every server must accept (MQTT-3.1.3-5).
    pub fn client_id(&self, name: &str) -> String {
        let clean: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
        let mut id = format!("mh{}{}", self.run, clean);
        if id.len() > 23 {
            // Keep the run tag, shorten the name.
            let keep = 23usize.saturating_sub(2 + self.run.len());
            id = format!("mh{}{}", self.run, &clean[..keep.min(clean.len())]);
            id.truncate(23);
        }
        id
    }

    /// Remembers a packet id.
    pub fn save_id(&self, name: &str, id: u16) {
        self.saved
            .lock()
            .expect("no panic while holding the lock")
            .insert(name.to_owned(), id);
    }
}

impl Bindings for RunBindings {
    fn substitute(&self, s: &str) -> String {
        if !s.contains('{') {
            return s.to_owned();
        }
        let mut out = String::with_capacity(s.len() + 16);
        let mut rest = s;
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            match after.find('}') {
                Some(end) => {
                    let key = &after[..end];
                    match key {
                        "prefix" => out.push_str(&self.prefix),
                        k if k.starts_with("id:") => out.push_str(&self.client_id(&k[3..])),
                        _ => {
                            out.push('{');
                            out.push_str(key);
                            out.push('}');
                        }
                    }
                    rest = &after[end + 1..];
                }
                None => {
                    out.push_str(&rest[start..]);
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        out
    }

    fn saved_id(&self, name: &str) -> Option<u16> {
        self.saved
            .lock()
            .expect("no panic while holding the lock")
            .get(name)
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_replaced_and_ids_are_short_and_alphanumeric() {
        let b = RunBindings::new(7, 0xABCDEF);
        assert_eq!(b.substitute("{prefix}/a"), format!("{}/a", b.prefix()));
        let id = b.substitute("{id:subscriber_with_a_long_name}");
        assert!(
            id.len() <= 23 && id.chars().all(|c| c.is_ascii_alphanumeric()),
            "{id}"
        );
        assert_eq!(b.substitute("{unknown}"), "{unknown}");
        assert_eq!(b.substitute("no braces"), "no braces");
        assert_ne!(
            RunBindings::new(8, 0xABCDEF).client_id("a"),
            b.client_id("a")
        );
    }
}
