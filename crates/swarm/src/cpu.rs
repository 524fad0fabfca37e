//! CPU time from /proc (Linux): of a process, of this process's threads by
//! name, and which process listens on a TCP port (to find a broker's pid).
//! Elsewhere every reading is `None`.

use std::time::Duration;

/// /proc reports clock ticks of USER_HZ, which is 100 on Linux.
const TICKS_PER_SECOND: f64 = 100.0;

/// utime + stime of a `stat` line (fields 14 and 15, after the `(comm)`).
fn stat_cpu(stat: &str) -> Option<(String, Duration)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_owned();
    let rest: Vec<&str> = stat.get(close + 2..)?.split_whitespace().collect();
    // rest[0] is field 3 (state); utime is field 14, stime 15.
    let utime: u64 = rest.get(11)?.parse().ok()?;
    let stime: u64 = rest.get(12)?.parse().ok()?;
    Some((
        comm,
        Duration::from_secs_f64((utime + stime) as f64 / TICKS_PER_SECOND),
    ))
}

/// CPU time used so far by process `pid` (all its threads).
pub fn process(pid: u32) -> Option<Duration> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat_cpu(&s).map(|(_, d)| d)
}

/// CPU time of this process: (threads whose name starts with `prefix`,
/// all the others). Threads that have ended count in neither.
pub fn own_threads(prefix: &str) -> Option<(Duration, Duration)> {
    let mut matching = Duration::ZERO;
    let mut others = Duration::ZERO;
    for entry in std::fs::read_dir("/proc/self/task").ok()? {
        let Ok(entry) = entry else { continue };
        let Ok(s) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let Some((comm, d)) = stat_cpu(&s) {
            if comm.starts_with(prefix) {
                matching += d;
            } else {
                others += d;
            }
        }
    }
    Some((matching, others))
}

/// The CPU time of this whole process.
pub fn own_process() -> Option<Duration> {
    process(std::process::id())
}

/// The process listening on TCP `port` (IPv4 or IPv6), other than this one.
pub fn listener_pid(port: u16) -> Option<u32> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(inode)) = (f.get(1), f.get(3), f.get(9)) else {
                continue;
            };
            let lport = local
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            if lport == Some(port) && *state == "0A" {
                inodes.push(format!("socket:[{inode}]"));
            }
        }
    }
    if inodes.is_empty() {
        return None;
    }
    let me = std::process::id();
    for proc_entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = proc_entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(proc_entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(link) = std::fs::read_link(fd.path()) {
                if inodes.iter().any(|i| link.as_os_str() == i.as_str()) {
                    return Some(pid);
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_parse_even_with_odd_names() {
        let line = "1234 (tokio (worker) 1) S 1 1 1 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0";
        let (comm, d) = stat_cpu(line).unwrap();
        assert_eq!(comm, "tokio (worker) 1");
        assert_eq!(d, Duration::from_secs(3));
    }

    #[test]
    fn a_listener_of_another_process_is_found_and_self_is_not() {
        // Only meaningful on Linux; elsewhere both are None.
        if std::fs::metadata("/proc/net/tcp").is_err() {
            return;
        }
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        assert_eq!(listener_pid(port), None);
        assert!(own_process().is_some());
        assert!(own_threads("no-such-thread").unwrap().0.is_zero());
    }
}
