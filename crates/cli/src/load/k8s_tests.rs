//! The commands in deploy/k8s/ are this CLI's: each Job's shell command,
//! with its variables set as Kubernetes sets them, parses with the current
//! flags into the run it is meant to be, and the merge job's glob matches
//! the files the shards write.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Parser;
use serde_yaml::Value;

use super::{LoadArgs, LoadCommand};
use crate::{Cli, Command};

fn manifest(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy/k8s")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The container's `sh -c` script and its environment (values, or a
/// stand-in for those Kubernetes fills in).
fn script(job: &Value) -> (String, BTreeMap<String, String>) {
    let c = &job["spec"]["template"]["spec"]["containers"][0];
    let command: Vec<&str> = c["command"]
        .as_sequence()
        .expect("a command list")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(command, ["/bin/sh", "-c"], "the script runs under sh -c");
    let script = c["args"][0].as_str().expect("one script").to_owned();
    let mut env = BTreeMap::new();
    for e in c["env"].as_sequence().into_iter().flatten() {
        let name = e["name"].as_str().expect("env name").to_owned();
        let value = match e["value"].as_str() {
            Some(v) => v.to_owned(),
            None => format!("<{name} from the downward API>"),
        };
        env.insert(name, value);
    }
    (script, env)
}

/// The words sh makes of `script`: `$X` and `${X}` expanded from `env`,
/// split on blanks outside double quotes (all these scripts use).
fn words(script: &str, env: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quoted = false;
    let mut chars = script.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            '$' => {
                let braced = chars.peek() == Some(&'{');
                if braced {
                    chars.next();
                }
                let mut name = String::new();
                while let Some(&n) = chars.peek() {
                    if n.is_ascii_alphanumeric() || n == '_' {
                        name.push(n);
                        chars.next();
                    } else {
                        break;
                    }
                }
                if braced {
                    assert_eq!(chars.next(), Some('}'), "unclosed ${{{name}");
                }
                word.push_str(
                    env.get(&name)
                        .unwrap_or_else(|| panic!("${name} is not set")),
                );
                in_word = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    assert!(!quoted, "unbalanced quotes in {script}");
    if in_word {
        out.push(word);
    }
    out
}

fn load_args(words: Vec<String>) -> LoadArgs {
    let words: Vec<String> = words.into_iter().skip_while(|w| w == "exec").collect();
    match Cli::try_parse_from(&words) {
        Ok(Cli {
            command: Command::Load(args),
        }) => args,
        Ok(other) => panic!("not a load command: {other:?}"),
        Err(e) => panic!("`{}` does not parse: {e}", words.join(" ")),
    }
}

/// `*` matches any run of characters (the shell's glob, without the rest).
fn glob(pattern: &str, s: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == s,
        Some((head, tail)) => {
            s.starts_with(head)
                && (0..=s.len() - head.len())
                    .any(|i| s.is_char_boundary(head.len() + i) && glob(tail, &s[head.len() + i..]))
        }
    }
}

#[test]
fn every_shard_of_the_job_parses_into_its_shard() {
    let job = manifest("shards-job.yaml");
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"].as_str(), Some("Indexed"));
    let n = spec["completions"].as_u64().expect("completions");
    assert_eq!(spec["parallelism"].as_u64(), Some(n));
    let (script, mut env) = script(&job);
    assert_eq!(
        env.get("SHARDS").map(String::as_str),
        Some(n.to_string().as_str())
    );
    for i in 0..n {
        env.insert("JOB_COMPLETION_INDEX".into(), i.to_string());
        let args = load_args(words(&script, &env));
        assert!(args.command.is_none(), "a plain load run");
        let run = &args.run;
        let shard = run.shard.expect("--shard");
        assert_eq!((u64::from(shard.index), u64::from(shard.count)), (i, n));
        assert_eq!(run.profile, [PathBuf::from("/profile/profile.yaml")]);
        assert_eq!(run.reports, Path::new("/reports"));
        assert!(run.quiet);
        let barrier = run.barrier.as_ref().expect("--barrier");
        assert!(
            barrier.starts_with("/reports/barrier"),
            "{}",
            barrier.display()
        );
        assert!(run.target.starts_with("tcp://"), "{}", run.target);
    }
}

#[test]
fn the_merge_job_parses_and_finds_what_the_shards_write() {
    let (merge_script, env) = script(&manifest("merge-job.yaml"));
    let args = load_args(words(&merge_script, &env));
    let Some(LoadCommand::Merge(m)) = args.command.map(|c| *c) else {
        panic!("not `load merge`");
    };
    assert!(!m.no_accounting, "the merge accounts for delivery too");
    let [pattern] = &m.logs[..] else {
        panic!("one glob: {:?}", m.logs);
    };
    // What shard 2 of 4 of the shards job writes for its target.
    let (shards_script, mut shards_env) = script(&manifest("shards-job.yaml"));
    shards_env.insert("JOB_COMPLETION_INDEX".into(), "2".into());
    let run = load_args(words(&shards_script, &shards_env)).run;
    let dir = mqtt_swarm::report::folder(&run.reports, &run.target);
    let hlog = dir.join("scale-10k.shard-2-of-4.hlog");
    let pattern = pattern.to_str().expect("utf-8");
    assert!(
        glob(pattern, hlog.to_str().expect("utf-8")),
        "{pattern} misses {}",
        hlog.display()
    );
    let ledger = mqtt_swarm::report::ledger_beside(&hlog);
    assert!(ledger
        .to_string_lossy()
        .ends_with("scale-10k.shard-2-of-4.ledger.json"));
    // The ledgers themselves do not match the glob (they are found beside
    // each log, not merged as logs).
    assert!(!glob(pattern, ledger.to_str().expect("utf-8")));
}

#[test]
fn the_shell_word_splitter_splits_like_sh() {
    let env = BTreeMap::from([
        ("A".to_owned(), "x y".to_owned()),
        ("B".to_owned(), "2".to_owned()),
    ]);
    assert_eq!(
        words(r#"exec run "$A" ${B}/4 -o "a b""#, &env),
        ["exec", "run", "x y", "2/4", "-o", "a b"]
    );
    assert!(glob(
        "/r/*/load/*.shard-*-of-*.hlog",
        "/r/t/load/p.shard-0-of-2.hlog"
    ));
    assert!(!glob("/r/*/load/*.hlog", "/r/t/load/p.json"));
}
