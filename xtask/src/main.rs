//! `cargo xtask <task>`: project automation that is not part of the shipped binaries.

fn main() -> anyhow::Result<()> {
    let task = std::env::args().nth(1).unwrap_or_default();
    anyhow::bail!("unknown task {task:?}; available: package")
}
