//! `cargo xtask brokers install [NAMES...]` and `cargo xtask brokers list`:
//! the third-party brokers of `targets.yaml`, installed locally so the
//! harness can start them (`cargo xtask conform --targets mosquitto,...`).
//!
//! Installing is for Debian-like systems (apt-get, run as root or through
//! sudo); elsewhere, or when a needed tool is missing, each broker says what
//! to install by hand. What is already installed is skipped.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// A broker this task knows how to install.
struct Broker {
    /// Its name (the `targets.yaml` targets it serves start with it).
    name: &'static str,
    /// The `targets.yaml` targets it serves.
    targets: &'static [&'static str],
    /// What it is and how it is installed, for the summary.
    how: &'static str,
}

/// The brokers, in install order (quick ones first; rmqtt builds for minutes).
const BROKERS: &[Broker] = &[
    Broker {
        name: "mosquitto",
        targets: &["mosquitto"],
        how: "apt-get install -y mosquitto mosquitto-clients",
    },
    Broker {
        name: "amqtt",
        targets: &["amqtt"],
        how: "python3 -m pip install amqtt",
    },
    Broker {
        name: "aedes",
        targets: &["aedes"],
        how: "npm install --prefix brokers/aedes && npm install -g ./brokers/aedes",
    },
    Broker {
        name: "rumqttd",
        targets: &["rumqttd", "rumqttd-v5"],
        how: "cargo install rumqttd",
    },
    Broker {
        name: "rmqtt",
        targets: &["rmqtt"],
        how: "apt-get install -y protobuf-compiler cmake zlib1g-dev && cargo install rmqttd (a build of several minutes)",
    },
];

/// The program each broker's targets start.
fn program(broker: &str) -> &'static str {
    match broker {
        "mosquitto" => "mosquitto",
        "amqtt" => "amqtt",
        "aedes" => "mqtt-harness-aedes",
        "rumqttd" => "rumqttd",
        "rmqtt" => "rmqttd",
        _ => unreachable!("a broker of BROKERS"),
    }
}

/// What happened to one broker.
enum Outcome {
    /// It was there already.
    Present(PathBuf),
    /// Installed now, in this time.
    Installed(Duration),
    /// Not installed: do this by hand.
    Manual(String),
    /// The install command failed.
    Failed(String),
}

/// `cargo xtask brokers install [NAMES...]`: installs the named brokers
/// (names of brokers or of their targets), all of them without names.
pub(crate) fn install(root: &Path, names: &[String]) -> Result<bool> {
    let chosen = choose(names)?;
    let system = System::detect();
    let mut outcomes = Vec::new();
    for broker in chosen {
        println!("== {}", broker.name);
        let outcome = match installed(root, broker.name) {
            Some(path) => Outcome::Present(path),
            None => {
                let start = Instant::now();
                match install_one(root, &system, broker.name) {
                    Ok(None) => match installed(root, broker.name) {
                        Some(_) => Outcome::Installed(start.elapsed()),
                        None => Outcome::Failed(format!(
                            "installed, but `{}` is not on PATH: add the install folder to PATH",
                            program(broker.name)
                        )),
                    },
                    Ok(Some(manual)) => Outcome::Manual(manual),
                    Err(e) => Outcome::Failed(format!("{e:#}")),
                }
            }
        };
        outcomes.push((broker, outcome));
    }

    println!();
    println!("brokers:");
    let mut ok = true;
    for (broker, outcome) in &outcomes {
        let line = match outcome {
            Outcome::Present(path) => format!("already installed ({})", path.display()),
            Outcome::Installed(took) => format!("installed in {:.0?}", took),
            Outcome::Manual(what) => {
                ok = false;
                format!("NOT installed: {what}")
            }
            Outcome::Failed(why) => {
                ok = false;
                format!("FAILED: {why} (by hand: {})", broker.how)
            }
        };
        println!("  {:<10} {line}", broker.name);
    }
    let targets: Vec<&str> = outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Present(_) | Outcome::Installed(_)))
        .flat_map(|(b, _)| b.targets.iter().copied())
        .collect();
    if !targets.is_empty() {
        println!();
        println!(
            "run them: cargo xtask conform --targets ref,{}",
            targets.join(",")
        );
    }
    Ok(ok)
}

/// `cargo xtask brokers list`: every target of `targets.yaml`, installed or
/// missing.
pub(crate) fn list(root: &Path) -> Result<()> {
    let path = root.join("targets.yaml");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let file: serde_yaml::Value =
        serde_yaml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let Some(targets) = file.get("targets").and_then(|t| t.as_mapping()) else {
        bail!("{}: no `targets:` mapping", path.display());
    };
    println!(
        "{:<12} {:<10} {:<22} description",
        "target", "state", "program"
    );
    for (name, def) in targets {
        let name = name.as_str().unwrap_or("?");
        let description = def
            .get("description")
            .and_then(|d| d.as_str())
            .unwrap_or("");
        let command = def
            .get("start")
            .and_then(|s| s.get("command"))
            .and_then(|c| c.as_str());
        let (state, shown) = match command {
            None => ("external".to_owned(), "-".to_owned()),
            Some(command) => {
                // aedes also needs its node_modules.
                let broker = BROKERS
                    .iter()
                    .find(|b| b.targets.contains(&name))
                    .map(|b| b.name);
                let found = match broker {
                    Some(broker) => installed(root, broker).is_some(),
                    None => which(command).is_some(),
                };
                let state = if found { "installed" } else { "missing" };
                (state.to_owned(), command.to_owned())
            }
        };
        println!("{name:<12} {state:<10} {shown:<22} {description}");
    }
    println!();
    println!("install the missing ones: cargo xtask brokers install [NAMES...]");
    Ok(())
}

/// The brokers `names` pick (broker or target names), in install order.
fn choose(names: &[String]) -> Result<Vec<&'static Broker>> {
    if names.is_empty() {
        return Ok(BROKERS.iter().collect());
    }
    let mut chosen: Vec<&'static Broker> = Vec::new();
    for name in names.iter().flat_map(|n| n.split(',')) {
        let name = name.trim();
        if name.is_empty() {
            continue;
        }
        let Some(broker) = BROKERS
            .iter()
            .find(|b| b.name == name || b.targets.contains(&name))
        else {
            let known: Vec<&str> = BROKERS.iter().map(|b| b.name).collect();
            bail!("unknown broker `{name}`: one of {}", known.join(", "));
        };
        if !chosen.iter().any(|b| b.name == broker.name) {
            chosen.push(broker);
        }
    }
    chosen.sort_by_key(|b| BROKERS.iter().position(|x| x.name == b.name));
    Ok(chosen)
}

/// Where the broker is installed, if it is.
fn installed(root: &Path, broker: &str) -> Option<PathBuf> {
    let found = which(program(broker))?;
    if broker == "aedes" && !root.join("brokers/aedes/node_modules/aedes").is_dir() {
        return None;
    }
    Some(found)
}

/// What the system offers to install with.
struct System {
    /// `apt-get` is there (a Debian-like system).
    apt: bool,
    /// Running as root.
    root: bool,
    /// `sudo` is there.
    sudo: bool,
}

impl System {
    fn detect() -> System {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == "0");
        System {
            apt: which("apt-get").is_some(),
            root,
            sudo: which("sudo").is_some(),
        }
    }

    /// `apt-get install -y packages`, through sudo when not root; `Ok(Some)`
    /// says what to do by hand when apt-get cannot be used.
    fn apt_install(&self, packages: &[&str]) -> Result<Option<String>> {
        if !self.apt {
            return Ok(Some(format!(
                "no apt-get here: install {} with your system's package manager",
                packages.join(" ")
            )));
        }
        let mut command = if self.root {
            Command::new("apt-get")
        } else if self.sudo {
            let mut c = Command::new("sudo");
            c.arg("apt-get");
            c
        } else {
            return Ok(Some(format!(
                "not root and no sudo: run `apt-get install -y {}` as root",
                packages.join(" ")
            )));
        };
        command.args(["install", "-y"]).args(packages);
        run(&mut command)?;
        Ok(None)
    }
}

/// Installs one broker: `Ok(None)` when done, `Ok(Some(what))` when it must
/// be done by hand.
fn install_one(root: &Path, system: &System, broker: &str) -> Result<Option<String>> {
    let need = |tool: &str, package: &str| -> Option<String> {
        which(tool)
            .is_none()
            .then(|| format!("`{tool}` is missing: install {package}, then run this again"))
    };
    match broker {
        "mosquitto" => system.apt_install(&["mosquitto", "mosquitto-clients"]),
        "amqtt" => {
            if let Some(missing) = need("python3", "Python 3 (3.10 or newer) with pip") {
                return Ok(Some(missing));
            }
            run(Command::new("python3").args(["-m", "pip", "install", "amqtt"]))?;
            Ok(None)
        }
        "aedes" => {
            if let Some(missing) = need("npm", "Node.js 20 or newer with npm") {
                return Ok(Some(missing));
            }
            let dir = root.join("brokers/aedes");
            // The dependencies, pinned by package.json, into brokers/aedes/node_modules...
            run(Command::new("npm")
                .args(["install", "--no-audit", "--no-fund"])
                .current_dir(&dir))?;
            // ...and the launcher on PATH as `mqtt-harness-aedes` (npm links a
            // folder rather than copying it).
            run(Command::new("npm")
                .args(["install", "-g", "--no-audit", "--no-fund"])
                .arg(&dir))?;
            Ok(None)
        }
        "rumqttd" => {
            run(cargo().args(["install", "rumqttd"]))?;
            Ok(None)
        }
        "rmqtt" => {
            // rmqttd's build needs protoc, cmake and zlib.
            if system.apt {
                if let Some(manual) =
                    system.apt_install(&["protobuf-compiler", "cmake", "zlib1g-dev"])?
                {
                    return Ok(Some(manual));
                }
            } else if let Some(missing) =
                need("protoc", "protoc (protobuf-compiler)").or_else(|| need("cmake", "cmake"))
            {
                return Ok(Some(format!("{missing} (rmqttd also needs zlib headers)")));
            }
            println!("(rmqttd builds for several minutes)");
            run(cargo().args(["install", "rmqttd"]))?;
            Ok(None)
        }
        _ => unreachable!("a broker of BROKERS"),
    }
}

/// The cargo that runs this xtask.
fn cargo() -> Command {
    Command::new(crate::workspace::cargo())
}

/// Runs a command, its output going straight to ours.
fn run(command: &mut Command) -> Result<()> {
    let shown = format!(
        "{} {}",
        command.get_program().to_string_lossy(),
        command
            .get_args()
            .map(OsStr::to_string_lossy)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!("$ {shown}");
    let status = command
        .status()
        .with_context(|| format!("starting `{shown}`"))?;
    if !status.success() {
        bail!("`{shown}` failed ({status})");
    }
    Ok(())
}

/// The program's path on PATH (and in the sbin folders, where Debian puts
/// mosquitto, which are not on a user's PATH).
fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file() || path.with_extension("exe").is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_pick_brokers_once_in_install_order() {
        let names = [
            "rmqtt".to_owned(),
            "rumqttd-v5,mosquitto,rumqttd".to_owned(),
        ];
        let chosen: Vec<&str> = choose(&names).unwrap().iter().map(|b| b.name).collect();
        assert_eq!(chosen, ["mosquitto", "rumqttd", "rmqtt"]);
        assert_eq!(choose(&[]).unwrap().len(), BROKERS.len());
        assert!(choose(&["hivemq".to_owned()]).is_err());
    }

    #[test]
    fn every_broker_has_a_program() {
        for broker in BROKERS {
            assert!(!program(broker.name).is_empty());
        }
    }
}
