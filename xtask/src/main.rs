//! `cargo xtask`: the project's task runner (placeholder, filled in below).
fn main() {}
