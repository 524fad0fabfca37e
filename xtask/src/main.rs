//! `cargo xtask`: the project's task runner (the alias is in
//! `.cargo/config.toml`).
//!
//! * `cargo xtask codec [--hex HEX [--version 3.1.1|5]]`: the codec describes
//!   itself and decodes samples, or decodes your bytes.
//! * `cargo xtask test`: the test suite CI runs.
//! * `cargo xtask deps`: the file-level import cycles of the workspace
//!   (there must be none).
//! * `cargo xtask load [ARGS]`: `mqtt-harness load` in release mode;
//!   `cargo xtask load schema` regenerates the load profile schema;
//!   `cargo xtask load persistence` measures the cost of persistence;
//!   `cargo xtask load faults` tabulates what each broker keeps through
//!   kills and a partition.
//! * `cargo xtask fuzz codec --seconds N [--target NAME]`: a bounded fuzzing
//!   campaign on the codec, with a summary.
//! * `cargo xtask fuzz seeds`: regenerates the checked-in seed corpora.
//! * `cargo xtask fuzz live --target X --minutes N`: a live campaign.
//! * `cargo xtask brokers install [NAMES...]`, `cargo xtask brokers list`: the
//!   local brokers of targets.yaml.
//! * `cargo xtask docker daemon start|stop|status`, `cargo xtask docker image
//!   mosquitto`: a private dockerd and broker images for `docker:NAME` targets.

mod brokers;
mod codec_demo;
mod deps;
mod describe;
mod docker;
mod faults;
mod fuzz;
mod load;
mod prereqs;
mod samples;
mod seeds;
mod test;
mod workspace;

use std::path::Path;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use mqtt_codec::ProtocolVersion;
use workspace::{cargo, exit, root};

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "mqtt-harness task runner"
)]
struct Cli {
    /// What to do.
    #[command(subcommand)]
    command: Command,
}

/// The tasks.
#[derive(Debug, Subcommand)]
enum Command {
    /// The codec's self-description and sample decodes, or decode given bytes.
    Codec {
        /// Bytes to decode, in hex ("30 07 00 03 61 2f 62 68 69", "0x3007...").
        #[arg(long, value_name = "HEX")]
        hex: Option<String>,
        /// Protocol version of the bytes: 3.1.1 or 5. Without it the bytes are
        /// decoded as a server does, learning the version from CONNECT.
        #[arg(long, value_name = "3.1.1|5", value_parser = parse_version, requires = "hex")]
        version: Option<ProtocolVersion>,
    },
    /// The project's test suite: unit, integration and doc tests, a fuzz
    /// smoke of each codec target, and conformance against ref and
    /// mosquitto with the baseline gate.
    Test,
    /// The conformance job (`mqtt-harness conform`); arguments pass through,
    /// e.g. `cargo xtask conform --targets ref,mosquitto`.
    Conform {
        /// Arguments of `mqtt-harness conform`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Coverage of the statement catalogs by the scenario library.
    Coverage,
    /// The file-level import graph of every crate, and its cycles (exit
    /// status 1 when there is one).
    Deps,
    /// Load runs (`mqtt-harness load`, release build); arguments pass
    /// through, e.g. `cargo xtask load --profile scenarios/load/pairs.yaml
    /// --target mosquitto`, `cargo xtask load capacity ...`, `cargo xtask
    /// load merge ...`; `cargo xtask load schema` regenerates the profile
    /// schema; `cargo xtask load persistence` compares ref, ref-durable,
    /// ref-durable-batch, mosquitto and mosquitto-persist on one QoS 1 profile
    /// (reports/persistence.md); `cargo xtask load faults [--targets a,b]`
    /// runs the faults smoke profile on each broker (reports/faults.md).
    Load {
        /// Arguments of `mqtt-harness load`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// The local brokers of targets.yaml: install them, or list them.
    Brokers {
        /// What to do.
        #[command(subcommand)]
        what: BrokersCommand,
    },
    /// Regenerates scenarios/scenario.schema.json from the scenario types.
    Schema,
    /// Fuzzing campaigns (nightly and cargo-fuzz).
    /// A private Docker daemon and broker images for `docker:NAME` targets.
    Docker {
        /// What to do.
        #[command(subcommand)]
        what: DockerCommand,
    },
    Fuzz {
        /// What to fuzz.
        #[command(subcommand)]
        what: FuzzCommand,
    },
}

/// `cargo xtask brokers ...`.
#[derive(Debug, Subcommand)]
enum BrokersCommand {
    /// Installs brokers (Debian-like systems; elsewhere says what to install),
    /// skipping those already installed: mosquitto, amqtt, aedes, rumqttd,
    /// rmqtt, or all without names.
    Install {
        /// Brokers or target names; all without.
        names: Vec<String>,
    },
    /// The targets of targets.yaml, installed or missing.
    List,
}

/// `cargo xtask docker ...`.
#[derive(Debug, Subcommand)]
enum DockerCommand {
    /// Builds a broker's image by `docker import` from the installed binary.
    Image {
        /// The broker (mosquitto).
        name: String,
    },
    /// Starts, stops or shows the private dockerd (socket in target/docker/).
    Daemon {
        /// start, stop or status.
        #[arg(value_parser = ["start", "stop", "status"])]
        action: String,
    },
}

/// `cargo xtask fuzz ...`.
#[derive(Debug, Subcommand)]
enum FuzzCommand {
    /// Runs the codec fuzz targets, each for a bounded time, and summarises.
    Codec {
        /// Seconds per target.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Only this target.
        #[arg(long, value_name = "NAME", value_parser = clap::builder::PossibleValuesParser::new(fuzz::CODEC_TARGETS))]
        target: Option<String>,
        /// Sanitizer to build with (address finds memory errors in unsafe
        /// dependencies, at about half the speed).
        #[arg(long, default_value = "none", value_parser = ["none", "address"])]
        sanitizer: String,
    },
    /// Regenerates the seed corpora in fuzz/seeds/ from the encoder.
    Seeds,
    /// A live campaign against a broker (`mqtt-harness fuzz`, release
    /// build): `cargo xtask fuzz live --target mosquitto --minutes 10`.
    Live {
        /// `ref`, a loopback tcp:// address, a targets.yaml name, or several
        /// comma separated (differential).
        #[arg(long, default_value = "ref")]
        target: String,
        /// Minutes to run.
        #[arg(long, default_value_t = 1.0)]
        minutes: f64,
        /// More arguments of `mqtt-harness fuzz` (e.g. --seed 3 --concurrency 8).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// Parses `--version`.
fn parse_version(s: &str) -> Result<ProtocolVersion, String> {
    match s.trim().to_ascii_lowercase().trim_start_matches('v') {
        "3.1.1" | "311" | "4" => Ok(ProtocolVersion::V311),
        "5" | "5.0" => Ok(ProtocolVersion::V5),
        _ => Err(format!("unknown MQTT version {s:?}: use 3.1.1 or 5")),
    }
}

/// Runs `mqtt-harness <command> <args>` (built in the dev profile, which is
/// quick to build and fast enough for IO-bound conformance runs).
fn harness(root: &Path, command: &str, args: &[String]) -> anyhow::Result<ExitCode> {
    let status = std::process::Command::new(cargo())
        .args(["run", "-q", "-p", "mqtt-harness", "--", command])
        .args(args)
        .current_dir(root)
        .status()?;
    Ok(exit(status))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            // `{:#}` gives the cause chain on one line and no backtrace.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a task.
fn run(command: Command) -> anyhow::Result<ExitCode> {
    let root = root();
    match command {
        Command::Codec { hex: None, .. } => codec_demo::run().map(|()| ExitCode::SUCCESS),
        Command::Codec {
            hex: Some(hex),
            version,
        } => codec_demo::decode_hex(&hex, version),
        Command::Test => test::run(&root).map(|()| ExitCode::SUCCESS),
        Command::Conform { args } => harness(&root, "conform", &args),
        Command::Coverage => harness(&root, "coverage", &[]),
        Command::Deps => deps::run(&root).map(|clean| {
            if clean {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }),
        Command::Load { args } if args.first().map(String::as_str) == Some("faults") => {
            faults::run(&root, &args[1..])
        }
        Command::Load { args } => load::run(&root, &args),
        Command::Brokers {
            what: BrokersCommand::Install { names },
        } => brokers::install(&root, &names).map(|ok| {
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }),
        Command::Brokers {
            what: BrokersCommand::List,
        } => brokers::list(&root).map(|()| ExitCode::SUCCESS),
        Command::Schema => {
            let status = std::process::Command::new(cargo())
                .args([
                    "run",
                    "-q",
                    "-p",
                    "mqtt-scenario",
                    "--example",
                    "write_schema",
                ])
                .current_dir(&root)
                .status()?;
            Ok(exit(status))
        }
        Command::Fuzz {
            what:
                FuzzCommand::Codec {
                    seconds,
                    target,
                    sanitizer,
                },
        } => fuzz::codec(
            &root,
            &fuzz::Options {
                seconds,
                target,
                sanitizer,
            },
        )
        .map(|()| ExitCode::SUCCESS),
        Command::Docker { what } => match what {
            DockerCommand::Image { name } => docker::image(&root, &name),
            DockerCommand::Daemon { action } => match action.as_str() {
                "start" => docker::daemon_start(&root),
                "stop" => docker::daemon_stop(&root),
                _ => docker::daemon_status(&root),
            },
        }
        .map(|()| ExitCode::SUCCESS),
        Command::Fuzz {
            what: FuzzCommand::Seeds,
        } => seeds::write(&root).map(|()| ExitCode::SUCCESS),
        Command::Fuzz {
            what:
                FuzzCommand::Live {
                    target,
                    minutes,
                    args,
                },
        } => fuzz::live(&root, &target, minutes, &args).map(|()| ExitCode::SUCCESS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn versions_parse() {
        assert_eq!(parse_version("3.1.1"), Ok(ProtocolVersion::V311));
        assert_eq!(parse_version("5"), Ok(ProtocolVersion::V5));
        assert_eq!(parse_version("v5.0"), Ok(ProtocolVersion::V5));
        assert!(parse_version("3.1").is_err());
    }
}
