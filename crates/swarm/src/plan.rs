//! A profile expanded into clients: every client's topic and client id,
//! every subscription stream (a subscriber, or all members of a shared
//! subscription group together), which streams each publisher's messages
//! must reach, and which clients this shard runs.

use std::collections::HashMap;

use crate::profile::{Profile, Role};
use crate::template::{expand, Fill};

/// One shard of a run split over processes or machines: `index` of `count`
/// (`--shard 0/4`). Client `n` belongs to shard `n % count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This shard, from 0.
    pub index: u32,
    /// How many shards.
    pub count: u32,
}

impl Default for Shard {
    fn default() -> Self {
        Shard { index: 0, count: 1 }
    }
}

impl Shard {
    /// Parses `i/N`.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("`{s}`: a shard is written i/N, like 0/4"))?;
        let index: u32 = i
            .trim()
            .parse()
            .map_err(|_| format!("`{s}`: bad shard index"))?;
        let count: u32 = n
            .trim()
            .parse()
            .map_err(|_| format!("`{s}`: bad shard count"))?;
        if count == 0 || index >= count {
            return Err(format!("`{s}`: need 0 <= i < N"));
        }
        Ok(Shard { index, count })
    }

    /// Whether client `n` runs here.
    pub fn owns(self, n: u32) -> bool {
        n % self.count == self.index
    }
}

/// One client of the profile.
#[derive(Debug, Clone)]
pub struct ClientPlan {
    /// Index in the profile (the publisher id of its messages).
    pub n: u32,
    /// Index of its group in the profile.
    pub group: usize,
    /// Index in its group.
    pub id: u32,
    /// Publisher or subscriber.
    pub role: Role,
    /// Publishers: the topic. Subscribers: the filter as subscribed
    /// (`$share/...` included).
    pub topic: String,
    /// The MQTT client identifier.
    pub client_id: String,
    /// Subscribers: their stream.
    pub stream: Option<u32>,
    /// Whether this shard runs it.
    pub local: bool,
}

/// Where messages are accounted: one subscriber, or a shared subscription
/// group (its members together must receive each message once).
#[derive(Debug, Clone)]
pub struct StreamPlan {
    /// For reports: the subscriber's client id or `$share/<name>/<filter>`.
    pub name: String,
    /// The filter messages are matched against (without `$share/`).
    pub filter: String,
    /// The subscription's maximum QoS.
    pub qos: u8,
    /// Its subscribers (profile indexes).
    pub members: Vec<u32>,
    /// Every member runs in this shard.
    pub local: bool,
}

/// A profile expanded.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Every client of the profile, indexed by `n`.
    pub clients: Vec<ClientPlan>,
    /// Every stream.
    pub streams: Vec<StreamPlan>,
    /// Per client `n`: the streams its messages must reach (empty for
    /// subscribers).
    pub expect: Vec<Vec<u32>>,
    /// Group names, by index.
    pub groups: Vec<String>,
    /// The shard.
    pub shard: Shard,
}

impl Plan {
    /// Expands `profile`; `tag` makes client ids unique to the run.
    pub fn new(profile: &Profile, shard: Shard, tag: &str) -> Result<Plan, String> {
        let mut clients = Vec::new();
        let mut streams: Vec<StreamPlan> = Vec::new();
        let mut shared: HashMap<(String, String), u32> = HashMap::new();
        let mut n: u32 = 0;
        for (gi, g) in profile.groups.iter().enumerate() {
            for id in 0..g.count {
                let fill = Fill {
                    group: &g.name,
                    id,
                    n,
                };
                let topic =
                    expand(&g.topic, fill).map_err(|e| format!("group `{}`: {e}", g.name))?;
                let client_id = format!("{tag}-{}-{id}", g.name);
                let local = shard.owns(n);
                let mut stream = None;
                let mut subscribed = topic.clone();
                if g.role == Role::Subscriber {
                    let qos = match g.qos {
                        crate::profile::QosMix::One(q) => q,
                        crate::profile::QosMix::Mix(_) => 0,
                    };
                    let s = match &g.shared {
                        Some(share) => {
                            subscribed = format!("$share/{share}/{topic}");
                            let key = (share.clone(), topic.clone());
                            *shared.entry(key).or_insert_with(|| {
                                streams.push(StreamPlan {
                                    name: subscribed.clone(),
                                    filter: topic.clone(),
                                    qos,
                                    members: Vec::new(),
                                    local: true,
                                });
                                streams.len() as u32 - 1
                            })
                        }
                        None => {
                            streams.push(StreamPlan {
                                name: client_id.clone(),
                                filter: topic.clone(),
                                qos,
                                members: Vec::new(),
                                local: true,
                            });
                            streams.len() as u32 - 1
                        }
                    };
                    let sp = &mut streams[s as usize];
                    sp.members.push(n);
                    sp.local &= local;
                    stream = Some(s);
                }
                clients.push(ClientPlan {
                    n,
                    group: gi,
                    id,
                    role: g.role,
                    topic: subscribed,
                    client_id,
                    stream,
                    local,
                });
                n = n
                    .checked_add(1)
                    .ok_or_else(|| "more than 2^32 clients".to_string())?;
            }
        }
        let expect = expectations(&clients, &streams);
        Ok(Plan {
            clients,
            streams,
            expect,
            groups: profile.groups.iter().map(|g| g.name.clone()).collect(),
            shard,
        })
    }

    /// The clients this shard runs.
    pub fn local_clients(&self) -> impl Iterator<Item = &ClientPlan> {
        self.clients.iter().filter(|c| c.local)
    }
}

/// For each publisher, the streams whose filter matches its topic. Exact
/// filters are looked up; only wildcard filters are matched one by one.
fn expectations(clients: &[ClientPlan], streams: &[StreamPlan]) -> Vec<Vec<u32>> {
    let mut exact: HashMap<&str, Vec<u32>> = HashMap::new();
    let mut wild: Vec<(&str, u32)> = Vec::new();
    for (i, s) in streams.iter().enumerate() {
        if s.filter.contains(['+', '#']) {
            wild.push((&s.filter, i as u32));
        } else {
            exact.entry(&s.filter).or_default().push(i as u32);
        }
    }
    clients
        .iter()
        .map(|c| {
            if c.role != Role::Publisher {
                return Vec::new();
            }
            let mut v = exact.get(c.topic.as_str()).cloned().unwrap_or_default();
            v.extend(
                wild.iter()
                    .filter(|(f, _)| mqtt_codec::topic::matches(f, &c.topic))
                    .map(|(_, i)| *i),
            );
            v.sort_unstable();
            v
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(text: &str) -> Profile {
        Profile::from_yaml(text, "t.yaml").unwrap()
    }

    #[test]
    fn pairs_match_one_to_one_and_shared_groups_make_one_stream() {
        let p = profile(
            "
name: t
duration: 1s
groups:
  - {name: p, role: publisher, count: 3, topic: 'pairs/{id}', rate: 1}
  - {name: s, role: subscriber, count: 3, topic: 'pairs/{id}'}
  - {name: w, role: subscriber, count: 2, topic: 'pairs/+', shared: work, qos: 1}
",
        );
        let plan = Plan::new(&p, Shard::default(), "x").unwrap();
        assert_eq!(plan.clients.len(), 8);
        assert_eq!(plan.streams.len(), 4);
        let shared = &plan.streams[3];
        assert_eq!(shared.members, vec![6, 7]);
        assert_eq!(shared.name, "$share/work/pairs/+");
        assert_eq!(plan.clients[6].topic, "$share/work/pairs/+");
        for i in 0..3 {
            assert_eq!(plan.expect[i], vec![i as u32, 3]);
        }
        assert!(plan.expect[3].is_empty());
        assert_eq!(plan.clients[4].client_id, "x-s-1");
    }

    #[test]
    fn shards_split_clients_and_mark_split_streams() {
        let p = profile(
            "
name: t
duration: 1s
groups:
  - {name: p, role: publisher, count: 3, topic: 'a', rate: 1}
  - {name: w, role: subscriber, count: 2, topic: 'a', shared: g}
",
        );
        let plan = Plan::new(&p, Shard::parse("1/2").unwrap(), "x").unwrap();
        let local: Vec<u32> = plan.local_clients().map(|c| c.n).collect();
        assert_eq!(local, vec![1, 3]);
        assert!(!plan.streams[0].local);
        assert!(Shard::parse("2/2").is_err());
        assert!(Shard::parse("1").is_err());
    }
}
