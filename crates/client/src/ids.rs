//! Packet Identifier allocation: a new SUBSCRIBE, UNSUBSCRIBE or QoS > 0
//! PUBLISH needs a non-zero id not in use (MQTT-2.3.1-1 and MQTT-2.3.1-2 in
//! 3.1.1, MQTT-2.2.1-3 in 5.0).

use std::collections::HashSet;

/// Hands out unused non-zero Packet Identifiers, in increasing order,
/// wrapping after 65,535 and skipping ids still in use. Ids stay in use
/// until [`PacketIds::release`]; since allocation moves forward, an id is
/// only reused after the other 65,534 have been handed out.
#[derive(Debug, Clone)]
pub struct PacketIds {
    next: u16,
    in_use: HashSet<u16>,
}

impl Default for PacketIds {
    fn default() -> Self {
        PacketIds {
            next: 1,
            in_use: HashSet::new(),
        }
    }
}

impl PacketIds {
    /// An allocator whose first id is 1.
    pub fn new() -> Self {
        PacketIds::default()
    }

    /// The next unused id, now marked in use; `None` when all 65,535 are.
    pub fn allocate(&mut self) -> Option<u16> {
        if self.in_use.len() >= usize::from(u16::MAX) {
            return None;
        }
        loop {
            let id = self.next;
            self.next = if id == u16::MAX { 1 } else { id + 1 };
            if self.in_use.insert(id) {
                return Some(id);
            }
        }
    }

    /// Marks `id` free again (after its flow completed); true if it was in
    /// use.
    pub fn release(&mut self, id: u16) -> bool {
        self.in_use.remove(&id)
    }

    /// Marks `id` in use (an id the test chose itself); false if it already
    /// was.
    pub fn reserve(&mut self, id: u16) -> bool {
        id != 0 && self.in_use.insert(id)
    }

    /// True when `id` is in use.
    pub fn is_in_use(&self, id: u16) -> bool {
        self.in_use.contains(&id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_non_zero_unused_and_wrap() {
        let mut ids = PacketIds::new();
        assert_eq!(ids.allocate(), Some(1));
        assert!(ids.reserve(2));
        assert_eq!(ids.allocate(), Some(3));
        ids.next = u16::MAX;
        assert_eq!(ids.allocate(), Some(u16::MAX));
        // 1, 2 and 3 are in use: wraps past zero and them.
        assert_eq!(ids.allocate(), Some(4));
        assert!(ids.release(1));
        assert!(!ids.release(1));
        assert!(!ids.reserve(0));
    }

    #[test]
    fn exhaustion_is_reported_not_looped() {
        let mut ids = PacketIds::new();
        for _ in 0..u16::MAX {
            assert!(ids.allocate().is_some());
        }
        assert_eq!(ids.allocate(), None);
        ids.release(40_000);
        assert_eq!(ids.allocate(), Some(40_000));
    }
}
