//! The proxy: loopback listeners, one per group of clients, that relay
//! every accepted connection to one upstream broker through a tap, and the
//! registry through which link faults reach each connection at run time.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use mqtt_client::Endpoint;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
use tokio::task::{JoinHandle, JoinSet};

use crate::link::{LinkFault, LinkSpec, Selector};
use crate::relay::{relay, LinkCtl};
use crate::tap::{Tap, TapParts, Transparent};

/// The group of the listener every proxy starts with.
pub const DEFAULT_GROUP: &str = "default";

/// One open connection, as [`Proxy::links`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    /// Its number (accept order, from 0, across all listeners).
    pub id: u64,
    /// The group of the listener that accepted it.
    pub group: String,
    /// The client's address.
    pub peer: SocketAddr,
    /// The faults in force.
    pub spec: LinkSpec,
}

struct Conn {
    group: String,
    peer: SocketAddr,
    spec: watch::Sender<LinkSpec>,
    reset: Arc<Notify>,
}

struct Inner {
    upstream: SocketAddr,
    seed: u64,
    accepted: AtomicU64,
    conns: Mutex<BTreeMap<u64, Conn>>,
    /// The faults of each group, for its connections to come.
    groups: Mutex<BTreeMap<String, LinkSpec>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

type Spawn = dyn Fn(TcpListener, String) -> JoinHandle<()> + Send + Sync;

/// A running proxy; dropping it stops it and every connection it relays.
pub struct Proxy {
    inner: Arc<Inner>,
    spawn: Arc<Spawn>,
    listeners: Mutex<Vec<(String, SocketAddr, JoinHandle<()>)>>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Proxy(to {})", self.inner.upstream)
    }
}

impl Proxy {
    /// A proxy to `upstream` that forwards bytes untouched (until a link
    /// fault says otherwise), listening on a free loopback port for the
    /// [`DEFAULT_GROUP`].
    pub async fn transparent(upstream: SocketAddr) -> io::Result<Proxy> {
        Proxy::start(upstream, 0, |_| (Transparent, None)).await
    }

    /// A proxy to `upstream` whose connection number `n` goes through the
    /// tap `taps(n)` gives; `seed` makes jitter repeatable.
    pub async fn start<T, F>(upstream: SocketAddr, seed: u64, taps: F) -> io::Result<Proxy>
    where
        T: Tap,
        F: Fn(u64) -> TapParts<T> + Send + Sync + 'static,
    {
        let inner = Arc::new(Inner {
            upstream,
            seed,
            accepted: AtomicU64::new(0),
            conns: Mutex::new(BTreeMap::new()),
            groups: Mutex::new(BTreeMap::new()),
        });
        let taps = Arc::new(taps);
        let spawn: Arc<Spawn> = {
            let inner = inner.clone();
            Arc::new(move |listener, group| {
                tokio::spawn(accept_loop(listener, group, inner.clone(), taps.clone()))
            })
        };
        let proxy = Proxy {
            inner,
            spawn,
            listeners: Mutex::new(Vec::new()),
        };
        proxy.listen(DEFAULT_GROUP).await?;
        Ok(proxy)
    }

    /// Opens a listener (a free loopback port) for the clients of `group`;
    /// the address of an existing group's listener if it has one.
    pub async fn listen(&self, group: &str) -> io::Result<SocketAddr> {
        if let Some(addr) = self.group_addr(group) {
            return Ok(addr);
        }
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        lock(&self.inner.groups)
            .entry(group.to_owned())
            .or_default();
        let task = (self.spawn)(listener, group.to_owned());
        lock(&self.listeners).push((group.to_owned(), addr, task));
        Ok(addr)
    }

    /// Where the [`DEFAULT_GROUP`]'s clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.group_addr(DEFAULT_GROUP)
            .expect("a proxy starts with its default listener")
    }

    /// Where `group`'s clients connect, if it has a listener.
    pub fn group_addr(&self, group: &str) -> Option<SocketAddr> {
        lock(&self.listeners)
            .iter()
            .find(|(g, _, _)| g == group)
            .map(|(_, a, _)| *a)
    }

    /// [`Self::addr`] as an endpoint for clients.
    pub fn endpoint(&self) -> Endpoint {
        Endpoint::parse(&format!("tcp://{}", self.addr())).expect("a loopback address parses")
    }

    /// The broker it relays to.
    pub fn upstream(&self) -> SocketAddr {
        self.inner.upstream
    }

    /// Connections accepted so far, on every listener.
    pub fn connections(&self) -> u64 {
        self.inner.accepted.load(Ordering::Relaxed)
    }

    /// The connections open now.
    pub fn links(&self) -> Vec<LinkInfo> {
        lock(&self.inner.conns)
            .iter()
            .map(|(&id, c)| LinkInfo {
                id,
                group: c.group.clone(),
                peer: c.peer,
                spec: *c.spec.borrow(),
            })
            .collect()
    }

    /// Adds `fault` to the links `sel` picks (for a group or all, also to
    /// the connections yet to come); returns how many open links changed.
    pub fn apply(&self, sel: &Selector, fault: LinkFault) -> usize {
        self.update(sel, |s| s.with(fault))
    }

    /// Clears every fault of the links `sel` picks.
    pub fn heal(&self, sel: &Selector) -> usize {
        self.update(sel, |_| LinkSpec::default())
    }

    /// Resets (RST both ways) the open links `sel` picks.
    pub fn reset(&self, sel: &Selector) -> usize {
        let conns = lock(&self.inner.conns);
        let mut n = 0;
        for (&id, c) in conns.iter() {
            if picks(sel, id, &c.group) {
                c.reset.notify_one();
                n += 1;
            }
        }
        n
    }

    fn update(&self, sel: &Selector, f: impl Fn(LinkSpec) -> LinkSpec) -> usize {
        {
            let mut groups = lock(&self.inner.groups);
            for (g, spec) in groups.iter_mut() {
                if matches!(sel, Selector::All) || matches!(sel, Selector::Group(x) if x == g) {
                    *spec = f(*spec);
                }
            }
        }
        let conns = lock(&self.inner.conns);
        let mut n = 0;
        for (&id, c) in conns.iter() {
            if picks(sel, id, &c.group) {
                c.spec.send_modify(|s| *s = f(*s));
                n += 1;
            }
        }
        n
    }

    /// Stops listening and closes every relayed connection.
    pub async fn stop(self) {
        let tasks: Vec<JoinHandle<()>> =
            lock(&self.listeners).drain(..).map(|(_, _, t)| t).collect();
        for t in tasks {
            t.abort();
            let _ = t.await;
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        for (_, _, t) in lock(&self.listeners).iter() {
            t.abort();
        }
    }
}

fn picks(sel: &Selector, id: u64, group: &str) -> bool {
    match sel {
        Selector::All => true,
        Selector::Conn(c) => *c == id,
        Selector::Group(g) => g == group,
    }
}

async fn accept_loop<T, F>(listener: TcpListener, group: String, inner: Arc<Inner>, taps: Arc<F>)
where
    T: Tap,
    F: Fn(u64) -> TapParts<T> + Send + Sync + 'static,
{
    // Dropped with this task when the proxy stops: aborts every relay.
    let mut relays = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let id = inner.accepted.fetch_add(1, Ordering::Relaxed);
                    let spec = lock(&inner.groups).get(&group).copied().unwrap_or_default();
                    let (tx, rx) = watch::channel(spec);
                    let reset = Arc::new(Notify::new());
                    lock(&inner.conns).insert(id, Conn {
                        group: group.clone(),
                        peer,
                        spec: tx,
                        reset: reset.clone(),
                    });
                    let parts = taps(id);
                    let inner = inner.clone();
                    relays.spawn(async move {
                        let ctl = LinkCtl { spec: rx, reset };
                        relay(stream, inner.upstream, parts, ctl, inner.seed ^ id).await;
                        lock(&inner.conns).remove(&id);
                    });
                }
                Err(e) => {
                    tracing::debug!("netfault proxy: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = relays.join_next(), if !relays.is_empty() => {}
        }
    }
}
