//! Writes `scenarios/scenario.schema.json` (run by `cargo xtask schema`).
fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "scenarios/scenario.schema.json".into());
    std::fs::write(&path, mqtt_scenario::json_schema())
        .unwrap_or_else(|e| panic!("cannot write {path}: {e}"));
    println!("wrote {path}");
}
