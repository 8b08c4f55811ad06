use netdiscover::rules::{RuleSet, Selection};
#[test]
fn scratch() {
    let dir = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/sigma_corpus/rules/windows/process_creation"));
    let (set, _warnings) = RuleSet::load(&[dir]);
    let mut none = Vec::new();
    for r in set.rules() {
        let sel = set.select(&Selection { rules: vec![r.meta.id.clone()], ..Default::default() }).unwrap();
        if set.required_literals(&sel).is_none() { none.push(r.path.file_name().unwrap().to_string_lossy().into_owned()); }
    }
    println!("{} of {} rules have no prefilter literal", none.len(), set.len());
    for n in none.iter().take(400) { println!("  {n}"); }
}
