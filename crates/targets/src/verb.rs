//! The lifecycle verbs: what the harness can do to a broker it runs (see
//! [`crate::lifecycle`] for what each does to each kind of target).

use std::time::Duration;

/// How long `stop` waits for a broker to exit on SIGTERM before SIGKILL.
pub const STOP_WAIT: Duration = Duration::from_secs(10);

/// A lifecycle verb.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lifecycle {
    /// Ends the broker at once, as SIGKILL: nothing flushed, no goodbye.
    Kill,
    /// Ends it cleanly (SIGTERM), with a bounded wait, then SIGKILL.
    Stop,
    /// Starts it again (after a kill or stop; stops it first if it runs):
    /// same port, same config, same data folder.
    Restart,
    /// Freezes it (SIGSTOP): its sockets stay open, nothing is answered.
    Pause,
    /// Thaws a paused broker (SIGCONT).
    Resume,
}

impl Lifecycle {
    /// Every verb.
    pub const ALL: &'static [Lifecycle] = &[
        Lifecycle::Kill,
        Lifecycle::Stop,
        Lifecycle::Restart,
        Lifecycle::Pause,
        Lifecycle::Resume,
    ];

    /// Its name in messages and scenarios.
    pub fn name(self) -> &'static str {
        match self {
            Lifecycle::Kill => "kill",
            Lifecycle::Stop => "stop",
            Lifecycle::Restart => "restart",
            Lifecycle::Pause => "pause",
            Lifecycle::Resume => "resume",
        }
    }
}
