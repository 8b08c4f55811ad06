use netdiscover::rules::RuleSet;
#[test]
fn scratch() {
    let dir = std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/sigma_corpus/rules/windows/process_creation"
    ));
    let t = std::time::Instant::now();
    let (set, warnings) = RuleSet::load(&[dir]);
    println!(
        "loaded {} rules in {:?}, {} warnings",
        set.len(),
        t.elapsed(),
        warnings.len()
    );
    for w in &warnings {
        println!("{w}");
    }
}
