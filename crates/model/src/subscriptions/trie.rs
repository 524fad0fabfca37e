//! A topic trie keyed by level (MQTT 3.1.1 §4.7, MQTT 5.0 §4.7): matching a
//! topic name visits only the branches that can match it, never every
//! subscription.

use std::collections::BTreeMap;

/// A trie of topic filters, one node per level. Each node holds the values
/// stored under the filter that ends there, keyed by `K` (e.g. the client
/// id). Ordered maps keep iteration deterministic.
#[derive(Debug, Clone)]
pub struct TopicTrie<K, V> {
    root: Node<K, V>,
    len: usize,
}

#[derive(Debug, Clone)]
struct Node<K, V> {
    children: BTreeMap<Box<str>, Node<K, V>>,
    /// The whole filter ending at this node (set once a value is stored).
    filter: Box<str>,
    values: BTreeMap<K, V>,
}

impl<K, V> Default for Node<K, V> {
    fn default() -> Self {
        Node {
            children: BTreeMap::new(),
            filter: Box::from(""),
            values: BTreeMap::new(),
        }
    }
}

impl<K, V> Default for TopicTrie<K, V> {
    fn default() -> Self {
        TopicTrie {
            root: Node::default(),
            len: 0,
        }
    }
}

impl<K: Ord, V> TopicTrie<K, V> {
    /// An empty trie.
    pub fn new() -> Self {
        TopicTrie::default()
    }

    /// How many values are stored.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Stores `value` under `filter` and `key`, returning the value it
    /// replaces.
    pub fn insert(&mut self, filter: &str, key: K, value: V) -> Option<V> {
        let mut node = &mut self.root;
        for level in filter.split('/') {
            node = node.children.entry(Box::from(level)).or_default();
        }
        if node.filter.is_empty() {
            node.filter = Box::from(filter);
        }
        let old = node.values.insert(key, value);
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    /// The value under `filter` and `key`.
    pub fn get(&self, filter: &str, key: &K) -> Option<&V> {
        let mut node = &self.root;
        for level in filter.split('/') {
            node = node.children.get(level)?;
        }
        node.values.get(key)
    }

    /// Removes the value under `filter` and `key`, pruning empty nodes.
    pub fn remove(&mut self, filter: &str, key: &K) -> Option<V> {
        let levels: Vec<&str> = filter.split('/').collect();
        let old = remove_at(&mut self.root, &levels, key);
        if old.is_some() {
            self.len -= 1;
        }
        old
    }

    /// Calls `f(filter, key, value)` for every value whose filter matches
    /// `topic`. Filters starting with a wildcard do not match topics
    /// starting with `$` (MQTT-4.7.2-1). Cost: the matching branches only.
    pub fn for_each_match<'a, F>(&'a self, topic: &str, mut f: F)
    where
        F: FnMut(&'a str, &'a K, &'a V),
    {
        let levels: Vec<&str> = topic.split('/').collect();
        let dollar = topic.starts_with('$');
        walk(&self.root, &levels, 0, dollar, &mut f);
    }
}

fn emit<'a, K, V, F: FnMut(&'a str, &'a K, &'a V)>(node: &'a Node<K, V>, f: &mut F) {
    for (k, v) in &node.values {
        f(&node.filter, k, v);
    }
}

fn walk<'a, K, V, F: FnMut(&'a str, &'a K, &'a V)>(
    node: &'a Node<K, V>,
    levels: &[&str],
    depth: usize,
    dollar: bool,
    f: &mut F,
) {
    let wildcards = !(depth == 0 && dollar);
    if wildcards {
        // `#` matches the parent level and everything below (§4.7.1.2).
        if let Some(hash) = node.children.get("#") {
            emit(hash, f);
        }
    }
    let Some(level) = levels.get(depth) else {
        emit(node, f);
        return;
    };
    if *level != "+" && *level != "#" {
        if let Some(child) = node.children.get(*level) {
            walk(child, levels, depth + 1, dollar, f);
        }
    }
    if wildcards {
        if let Some(plus) = node.children.get("+") {
            walk(plus, levels, depth + 1, dollar, f);
        }
    }
}

fn remove_at<K: Ord, V>(node: &mut Node<K, V>, levels: &[&str], key: &K) -> Option<V> {
    let Some((first, rest)) = levels.split_first() else {
        return node.values.remove(key);
    };
    let child = node.children.get_mut(*first)?;
    let old = remove_at(child, rest, key);
    if child.values.is_empty() && child.children.is_empty() {
        node.children.remove(*first);
    }
    old
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_codec::topic::matches;

    fn matched(trie: &TopicTrie<u32, ()>, topic: &str) -> Vec<String> {
        let mut out = Vec::new();
        trie.for_each_match(topic, |f, _, _| out.push(f.to_owned()));
        out.sort();
        out
    }

    #[test]
    fn agrees_with_the_reference_matcher() {
        let filters = [
            "#",
            "+",
            "a",
            "a/#",
            "a/+",
            "a/b",
            "+/b",
            "+/+",
            "/+",
            "a/b/#",
            "$SYS/#",
            "$SYS/+",
            "+/monitor",
            "a/+/c",
            "",
            "/",
            "a/",
        ];
        let mut trie = TopicTrie::new();
        for f in filters {
            trie.insert(f, 0u32, ());
        }
        for topic in [
            "a",
            "a/b",
            "a/b/c",
            "/x",
            "x/b",
            "$SYS/monitor",
            "$SYS",
            "a/",
            "/",
            "b",
            "a/x/c",
        ] {
            let mut expected: Vec<String> = filters
                .iter()
                .filter(|f| !f.is_empty() && matches(f, topic))
                .map(|f| f.to_string())
                .collect();
            expected.sort();
            let got: Vec<String> = matched(&trie, topic)
                .into_iter()
                .filter(|f| !f.is_empty())
                .collect();
            assert_eq!(got, expected, "topic {topic}");
        }
    }

    #[test]
    fn dollar_topics_skip_leading_wildcards_mqtt_4_7_2_1() {
        let mut trie = TopicTrie::new();
        trie.insert("#", 1u32, ());
        trie.insert("+/x", 2, ());
        trie.insert("$SYS/#", 3, ());
        assert_eq!(matched(&trie, "$SYS/x"), vec!["$SYS/#".to_string()]);
    }

    #[test]
    fn remove_prunes() {
        let mut trie = TopicTrie::new();
        trie.insert("a/b/c", 1u32, ());
        trie.insert("a/b", 2, ());
        assert_eq!(trie.len(), 2);
        assert!(trie.remove("a/b/c", &1).is_some());
        assert!(trie.remove("a/b/c", &1).is_none());
        assert_eq!(matched(&trie, "a/b"), vec!["a/b".to_string()]);
        assert!(trie.remove("a/b", &2).is_some());
        assert!(trie.is_empty());
        assert!(trie.root.children.is_empty());
    }
}
