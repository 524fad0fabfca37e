//! Writes `scenarios/load/profile.schema.json` (run by `cargo xtask load schema`).

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "scenarios/load/profile.schema.json".into());
    if let Err(e) = std::fs::write(&path, mqtt_swarm::profile::json_schema()) {
        eprintln!("{path}: {e}");
        std::process::exit(1);
    }
    println!("wrote {path}");
}
