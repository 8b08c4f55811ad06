//! Loading rule places into a [`RuleSet`]: macros first (YAML and `macros.conf`), then every
//! detection is expanded, compiled and its slots mapped to the set's shared field list.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::compile::{compile_search_unrecorded, CompiledSearch};
use super::error::{RuleError, Warning};
use super::expr::{Cond, Ex, Src};
use super::macros::{Macro, MacroTable};
use super::model::{classify, rule_meta, DocKind, Ignored, RawDoc, RuleMeta, Score};
use super::parallel::{cores, drop_off_thread, in_parallel, in_parts_mut};
use super::prefilter::{FastHash, LiteralIndex, RequiredLiteral};
use super::sigma::{self, SigmaRule, SigmaSettings};

/// A piece of a risk message: literal text or a `$field$` token.
#[derive(Debug, Clone)]
pub(crate) enum MsgPart {
    Text(String),
    Field(Option<Src>),
}

/// One scored entity of a compiled rule, in [`RuleMeta::risk_entities`] order: where its
/// value comes from, and its message (an intermediate finding's own, or the finding's title).
#[derive(Debug, Clone)]
pub(crate) struct EntityOut {
    pub(crate) kind: String,
    pub(crate) score: Score,
    pub(crate) src: Option<Src>,
    pub(crate) message: Vec<MsgPart>,
    pub(crate) is_finding: bool,
}

/// One compiled detection.
#[derive(Debug, Clone)]
pub struct Rule {
    pub meta: RuleMeta,
    /// The file the rule came from.
    pub path: PathBuf,
    /// The search after macro expansion (what was compiled).
    pub expanded_search: String,
    pub(crate) cond: Cond,
    pub(crate) entities: Vec<EntityOut>,
    /// The finding's title, for rules with a finding.
    pub(crate) finding_title: Option<Vec<MsgPart>>,
    pub(crate) threat_srcs: Vec<Option<Src>>,
    /// For a Sigma rule, what reports need of its Sigma form (`None` for ESCU rules).
    pub sigma: Option<Box<super::sigma::SigmaInfo>>,
}

/// Every loaded rule, compiled, sharing one field (slot) list.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    pub(crate) rules: Vec<Rule>,
    pub(crate) fields: Vec<String>,
    pub(crate) index: LiteralIndex,
}

/// Detection and macro sources gathered from rule places before compilation.
#[derive(Debug)]
pub struct Sources {
    pub detections: Vec<(PathBuf, RawDoc)>,
    pub macros: MacroTable,
    /// Sigma rules, told apart from ESCU content by their `detection:` and `logsource:`.
    pub sigma: Vec<(PathBuf, SigmaRule)>,
    pub sigma_settings: SigmaSettings,
    /// The threads reading, compiling and indexing may use (see [`Sources::on_threads`]).
    threads: usize,
}

impl Default for Sources {
    fn default() -> Self {
        Sources::new()
    }
}

impl Sources {
    /// A fresh source set with the built-in (Splunk_SA_CIM) macros, read and compiled on
    /// every core.
    pub fn new() -> Self {
        Sources {
            detections: Vec::new(),
            macros: MacroTable::with_builtins(),
            sigma: Vec::new(),
            sigma_settings: SigmaSettings::default(),
            threads: cores(),
        }
    }

    /// Reads, compiles and indexes on `threads` threads (at least 1; the calling thread is
    /// one of them): `scan --threads N` loads its rules on the `N` threads it was given. The
    /// set is the same whatever the number.
    pub fn on_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// Reads every `*.yml`/`*.yaml` (detections and macros) and every `macros.conf` below `dir`,
    /// in sorted path order. Unreadable or invalid files become warnings. Files are read and
    /// parsed on the set's threads, then taken in order, as one thread would.
    pub fn add_dir(&mut self, dir: &Path, warnings: &mut Vec<Warning>) {
        let mut files = Vec::new();
        collect_files(dir, &mut files, warnings);
        for (path, read) in files
            .iter()
            .zip(in_parallel(self.threads, &files, |path| read_source(path)))
        {
            self.add_read(path, read, warnings);
        }
    }

    /// Reads one file (YAML detection/macro, or `*.conf` macros).
    pub fn add_file(&mut self, path: &Path, warnings: &mut Vec<Warning>) {
        self.add_read(path, read_source(path), warnings);
    }

    fn add_read(
        &mut self,
        path: &Path,
        read: Result<Source, RuleError>,
        warnings: &mut Vec<Warning>,
    ) {
        let doc = match read {
            Ok(Source::Conf(text)) => {
                for error in self.macros.add_conf(&text, path) {
                    warnings.push(Warning { error });
                }
                return;
            }
            Ok(Source::SigmaSettings(text)) => {
                if let Err(e) = self.sigma_settings.merge_text(&text) {
                    warnings.push(Warning {
                        error: invalid_file(path, format!("sigma_settings: {e}")),
                    });
                }
                return;
            }
            Ok(Source::Sigma(rule)) => {
                self.sigma.push((path.to_path_buf(), *rule));
                return;
            }
            Ok(Source::Yaml(doc)) => *doc,
            Err(error) => {
                warnings.push(Warning { error });
                return;
            }
        };
        match classify(&doc) {
            DocKind::Detection => self.detections.push((path.to_path_buf(), doc)),
            DocKind::Macro => match (&doc.name, &doc.definition) {
                (Some(name), Some(definition)) => self.macros.insert(Macro {
                    name: name.clone(),
                    args: doc.arguments.clone().unwrap_or_default(),
                    definition: definition.clone(),
                }),
                _ => warnings.push(Warning {
                    error: RuleError::Invalid {
                        path: path.to_path_buf(),
                        rule: String::new(),
                        message: "macro without `name`".into(),
                    },
                }),
            },
            DocKind::Other => {}
        }
    }
}

/// A rule file, read and parsed.
enum Source {
    /// `macros.conf` text.
    Conf(String),
    /// A `sigma_settings` document's text (merged in file order).
    SigmaSettings(String),
    /// A Sigma rule, told apart from ESCU content by its `detection:` and `logsource:`.
    Sigma(Box<SigmaRule>),
    Yaml(Box<RawDoc>),
}

fn read_source(path: &Path) -> Result<Source, RuleError> {
    thread_local! {
        /// The file being read: one buffer per loading thread, grown to its largest file,
        /// instead of a large allocation and free per file (each large request also makes
        /// glibc consolidate its fast bins).
        static TEXT: RefCell<String> = const { RefCell::new(String::new()) };
    }
    TEXT.with_borrow_mut(|text| {
        text.clear();
        read_into(path, text).map_err(|e| RuleError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        source_of(path, text)
    })
}

/// `std::fs::read_to_string` into a buffer of the caller's.
fn read_into(path: &Path, text: &mut String) -> std::io::Result<()> {
    std::fs::File::open(path)?.read_to_string(text).map(drop)
}

/// What a rule file's text is; `text` is taken only by the kinds that keep it.
fn source_of(path: &Path, text: &mut String) -> Result<Source, RuleError> {
    if path.extension().is_some_and(|e| e == "conf") {
        return Ok(Source::Conf(std::mem::take(text)));
    }
    if sigma::looks_like_settings(text) {
        return Ok(Source::SigmaSettings(std::mem::take(text)));
    }
    if sigma::looks_like_sigma(text) {
        return sigma::parse_rule(text)
            .map(|rule| Source::Sigma(Box::new(rule)))
            .map_err(|e| invalid_file(path, format!("Sigma rule: {e}")));
    }
    super::model::parse_doc(text)
        .map(|doc| Source::Yaml(Box::new(doc)))
        .map_err(|e| RuleError::Yaml {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
}

/// A file-level problem (no rule name to give).
fn invalid_file(path: &Path, message: String) -> RuleError {
    RuleError::Invalid {
        path: path.to_path_buf(),
        rule: String::new(),
        message,
    }
}

/// The rule files below `dir`, in sorted path order: each directory's entries sorted by name
/// and directories walked in that order give the order of sorting the whole paths (paths
/// compare component by component), without comparing whole paths.
fn collect_files(dir: &Path, out: &mut Vec<PathBuf>, warnings: &mut Vec<Warning>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            warnings.push(Warning {
                error: RuleError::Io {
                    path: dir.to_path_buf(),
                    message: e.to_string(),
                },
            });
            return;
        }
    };
    let mut entries: Vec<std::fs::DirEntry> = entries.flatten().collect();
    entries.sort_by_cached_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        let Ok(ft) = entry.file_type() else { continue };
        if ft.is_dir() {
            collect_files(&path, out, warnings);
        } else {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.ends_with(".yml") || name.ends_with(".yaml") || name == "macros.conf" {
                out.push(path);
            }
        }
    }
}

/// Compiles one detection document. Returns the rule with *local* slots, its field list, and
/// what of the file was read past.
pub(crate) fn compile_rule(
    path: &Path,
    doc: &RawDoc,
    macros: &MacroTable,
) -> Result<(Rule, Vec<String>, Vec<Ignored>), RuleError> {
    let rule_name = doc
        .name
        .clone()
        .unwrap_or_else(|| path.display().to_string());
    let (meta, ignored) = rule_meta(doc).map_err(|message| RuleError::Invalid {
        path: path.to_path_buf(),
        rule: rule_name.clone(),
        message,
    })?;
    let search = doc.search.as_deref().unwrap_or("");
    let expanded = macros.expand(search).map_err(|source| RuleError::Macro {
        path: path.to_path_buf(),
        rule: rule_name.clone(),
        source,
    })?;
    let mut compiled = compile_search_unrecorded(&expanded).map_err(|source| RuleError::Spl {
        path: path.to_path_buf(),
        rule: rule_name.clone(),
        source,
    })?;
    let finding_title = meta
        .finding
        .as_ref()
        .map(|f| message_parts(&mut compiled, &f.title));
    let mut entities = Vec::new();
    for e in meta.risk_entities() {
        entities.push(EntityOut {
            kind: e.object.kind.clone(),
            score: e.object.score,
            src: compiled.resolve_output(&e.object.field),
            message: message_parts(&mut compiled, e.message),
            is_finding: e.is_finding,
        });
    }
    let threat_srcs = meta
        .threat_objects
        .iter()
        .map(|t| compiled.resolve_output(&t.field))
        .collect();
    let rule = Rule {
        meta,
        path: path.to_path_buf(),
        expanded_search: expanded,
        cond: std::mem::replace(&mut compiled.cond, Cond::True),
        entities,
        finding_title,
        threat_srcs,
        sigma: None,
    };
    Ok((rule, compiled.fields, ignored))
}

/// A risk message or finding title as text and `$field$` tokens resolved to their sources.
fn message_parts(compiled: &mut CompiledSearch, text: &str) -> Vec<MsgPart> {
    parse_message(text)
        .into_iter()
        .map(|p| match p {
            Ok(text) => MsgPart::Text(text.to_string()),
            Err(field) => MsgPart::Field(compiled.resolve_output(field)),
        })
        .collect()
}

/// Splits a risk message into text (`Ok`) and `$field$` tokens (`Err(field)`), borrowed.
pub(crate) fn parse_message(msg: &str) -> Vec<Result<&str, &str>> {
    let mut out = Vec::new();
    let mut rest = msg;
    let dollar = |text: &str| memchr::memchr(b'$', text.as_bytes());
    while let Some(open) = dollar(rest) {
        let after = &rest[open + 1..];
        match dollar(after) {
            Some(close)
                if close > 0
                    && after[..close]
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') =>
            {
                if open > 0 {
                    out.push(Ok(&rest[..open]));
                }
                out.push(Err(&after[..close]));
                rest = &after[close + 1..];
            }
            _ => {
                out.push(Ok(&rest[..open + 1]));
                rest = after;
            }
        }
    }
    if !rest.is_empty() {
        out.push(Ok(rest));
    }
    out
}

fn remap_src(src: &mut Src, map: &[usize]) {
    match src {
        Src::Slot(s) => *s = map[*s],
        Src::Expr(e) => remap_ex(e, map),
    }
}

fn remap_ex(ex: &mut Ex, map: &[usize]) {
    match ex {
        Ex::Field(s) => *s = map[*s],
        Ex::Bin(_, a, b) => {
            remap_ex(a, map);
            remap_ex(b, map);
        }
        Ex::Not(e) | Ex::Neg(e) | Ex::Match(e, _) | Ex::Like(e, _) | Ex::Replace(e, _, _) => {
            remap_ex(e, map)
        }
        Ex::RexGroup { src, .. } => remap_ex(src, map),
        Ex::Call(_, args) => args.iter_mut().for_each(|a| remap_ex(a, map)),
        Ex::Null | Ex::Num(_) | Ex::Str(_) => {}
    }
}

/// Maps every output source of a rule (entity values, message and title tokens, threat
/// objects) from the rule's local slots to the set's.
fn remap_outputs(rule: &mut Rule, map: &[usize]) {
    let messages = rule
        .entities
        .iter_mut()
        .map(|e| &mut e.message)
        .chain(rule.finding_title.as_mut());
    for message in messages {
        for part in message {
            if let MsgPart::Field(Some(src)) = part {
                remap_src(src, map);
            }
        }
    }
    rule.entities
        .iter_mut()
        .map(|e| &mut e.src)
        .chain(rule.threat_srcs.iter_mut())
        .flatten()
        .for_each(|s| remap_src(s, map));
}

fn remap_cond(cond: &mut Cond, map: &[usize]) {
    match cond {
        Cond::True => {}
        Cond::And(v) | Cond::Or(v) => v.iter_mut().for_each(|c| remap_cond(c, map)),
        Cond::Not(c) => remap_cond(c, map),
        Cond::AnyGlob { slot, .. } => *slot = map[*slot],
        Cond::Glob { src, .. }
        | Cond::NotGlob { src, .. }
        | Cond::Order { src, .. }
        | Cond::Regex { src, .. } => remap_src(src, map),
        Cond::Truthy(e) => remap_ex(e, map),
    }
}

/// The rule with its condition optimised, on its local slots: done on every core while the
/// rules compile, not one rule after the other as they are added. The same as optimising
/// after [`RuleSet::add`] maps the slots: a rule's local fields are distinct
/// (`compile::env::local_slot`), so the map is one-to-one and optimising only compares slots.
fn optimized(mut rule: Rule) -> Rule {
    rule.cond = super::optimize::optimize(std::mem::replace(&mut rule.cond, Cond::True));
    rule
}

/// What [`RuleSet::add`] keeps while a set's rules are added (one after the other, on one
/// thread: the tables are sized for the rules at once and hashed with [`FastHash`]).
struct Adding {
    /// A rule's id, lower-cased → its index in the set.
    by_id: HashMap<String, usize, FastHash>,
    /// A field's name → its slot in the set.
    slots: HashMap<String, usize, FastHash>,
    /// Per rule of the set: its local slot → the set's slot.
    maps: Vec<Vec<usize>>,
}

impl Adding {
    /// Tables for about `rules` rules.
    fn for_rules(rules: usize) -> Adding {
        Adding {
            by_id: HashMap::with_capacity_and_hasher(rules, FastHash),
            slots: HashMap::with_capacity_and_hasher(FIELDS_EXPECTED, FastHash),
            maps: Vec::with_capacity(rules),
        }
    }
}

/// Fields a large rule set reads, about (SigmaHQ's process_creation rules: under 100).
const FIELDS_EXPECTED: usize = 128;

impl RuleSet {
    /// Loads rules from directories, in order (later places override rules with the same id).
    /// Problems never abort loading: each skipped rule or file is a warning naming it and why.
    /// Read, compiled and indexed on every core.
    pub fn load(places: &[PathBuf]) -> (RuleSet, Vec<Warning>) {
        RuleSet::load_on(places, cores())
    }

    /// [`RuleSet::load`] on `threads` threads (the calling thread one of them): the same set
    /// whatever the number. With one, nothing runs on another thread, freeing the sources
    /// included.
    pub fn load_on(places: &[PathBuf], threads: usize) -> (RuleSet, Vec<Warning>) {
        let mut warnings = Vec::new();
        let mut sources = Sources::new().on_threads(threads);
        for place in places {
            sources.add_dir(place, &mut warnings);
        }
        let set = RuleSet::compile(&sources, &mut warnings);
        drop_off_thread(sources.threads, sources);
        (set, warnings)
    }

    /// Compiles gathered sources: ESCU detections, then Sigma rules, on the sources' threads
    /// ([`Sources::on_threads`]). Sigma rules outside `process_creation` give one warning per
    /// logsource, not one per rule.
    pub fn compile(sources: &Sources, warnings: &mut Vec<Warning>) -> RuleSet {
        let mut set = RuleSet::default();
        let rules = sources.detections.len() + sources.sigma.len();
        set.rules.reserve(rules);
        let mut adding = Adding::for_rules(rules);
        let compiled = in_parallel(sources.threads, &sources.detections, |(path, doc)| {
            compile_rule(path, doc, &sources.macros)
                .map(|(rule, fields, ignored)| (optimized(rule), fields, ignored))
        });
        for compiled in compiled {
            match compiled {
                Ok((rule, fields, ignored)) => {
                    warnings.extend(ignored.into_iter().map(|i| Warning::ignored(&rule, i)));
                    set.add(rule, &fields, &mut adding, warnings);
                }
                Err(error) => warnings.push(Warning { error }),
            }
        }
        set.add_sigma(sources, &mut adding, warnings);
        let maps = adding.maps;
        in_parts_mut(sources.threads, &mut set.rules, |at, rule| {
            remap_cond(&mut rule.cond, &maps[at]);
            remap_outputs(rule, &maps[at]);
        });
        set.index = LiteralIndex::build(&set.rules, sources.threads);
        set
    }

    /// Compiles the Sigma rules (on every core) and adds them in load order. Rules outside
    /// `process_creation` give one warning per logsource, not one per rule.
    fn add_sigma(&mut self, sources: &Sources, adding: &mut Adding, warnings: &mut Vec<Warning>) {
        let compiled = in_parallel(sources.threads, &sources.sigma, |(path, rule)| {
            sigma::compile_rule(path, rule, &sources.sigma_settings)
                .map(|(rule, fields)| (optimized(rule), fields))
        });
        let mut out_of_scope: Vec<RuleError> = Vec::new();
        for ((path, _), compiled) in sources.sigma.iter().zip(compiled) {
            match compiled {
                Ok((rule, fields)) => self.add(rule, &fields, adding, warnings),
                Err(RuleError::OutOfScope { logsource, .. }) => {
                    let group = out_of_scope.iter_mut().find_map(|e| match e {
                        RuleError::OutOfScope {
                            logsource: l,
                            count,
                            ..
                        } if *l == logsource => Some(count),
                        _ => None,
                    });
                    match group {
                        Some(count) => *count += 1,
                        None => out_of_scope.push(RuleError::OutOfScope {
                            logsource,
                            count: 1,
                            example: path.clone(),
                        }),
                    }
                }
                Err(error) => warnings.push(Warning { error }),
            }
        }
        warnings.extend(out_of_scope.into_iter().map(|error| Warning { error }));
    }

    /// Adds a compiled (and [`optimized`]) rule: its local fields are interned as the set's
    /// fields, and a rule with an id already loaded replaces that one (with a warning). Its
    /// slots are mapped once every rule is added, on every loading thread ([`Adding::maps`]).
    fn add(
        &mut self,
        rule: Rule,
        local_fields: &[String],
        adding: &mut Adding,
        warnings: &mut Vec<Warning>,
    ) {
        let map: Vec<usize> = local_fields
            .iter()
            .map(|f| self.intern(f, &mut adding.slots))
            .collect();
        let key = rule.meta.id.to_ascii_lowercase();
        match adding.by_id.get(&key) {
            Some(&i) => {
                warnings.push(Warning {
                    error: RuleError::Invalid {
                        path: self.rules[i].path.clone(),
                        rule: self.rules[i].meta.name.clone(),
                        message: format!(
                            "replaced by the rule with the same id in {}",
                            rule.path.display()
                        ),
                    },
                });
                self.rules[i] = rule;
                adding.maps[i] = map;
            }
            None => {
                adding.by_id.insert(key, self.rules.len());
                self.rules.push(rule);
                adding.maps.push(map);
            }
        }
    }

    fn intern(&mut self, name: &str, slots: &mut HashMap<String, usize, FastHash>) -> usize {
        if let Some(&slot) = slots.get(name) {
            return slot;
        }
        self.fields.push(name.to_string());
        slots.insert(name.to_string(), self.fields.len() - 1);
        self.fields.len() - 1
    }

    /// Every CIM field (bare name, no `Processes.` prefix) any compiled rule reads: predicates,
    /// risk-message tokens, risk and threat object fields. Index = slot.
    pub fn fields(&self) -> &[String] {
        &self.fields
    }

    /// The slot of a field, accepting `Processes.x` or `x`.
    pub fn slot(&self, name: &str) -> Option<usize> {
        let bare = super::row::bare_field_name(name);
        self.fields.iter().position(|f| f == bare)
    }

    /// Literals of which every row that a selected rule matches holds at least one, each in
    /// its slot's value (ASCII case-insensitively): each selected rule's most selective factor
    /// (see `prefilter`). `None` when a selected rule has no such literal, so every row must
    /// be evaluated. A row holding none of them matches no selected rule: callers may skip it
    /// without evaluating anything.
    pub fn required_literals(&self, selected: &super::Selected) -> Option<Vec<&RequiredLiteral>> {
        let mut literals: Vec<&RequiredLiteral> = Vec::new();
        for &rule in selected.indices() {
            literals.extend(self.index.gate_literals(rule)?);
        }
        literals.sort_by(|a, b| (a.slot, &a.bytes, a.place).cmp(&(b.slot, &b.bytes, b.place)));
        literals.dedup();
        Some(literals)
    }

    /// How many rules have tests the literal index decides: a candidate reads them from the
    /// literals the index found in the row instead of evaluating them.
    pub fn rules_with_tests_decided_by_the_index(&self) -> usize {
        (0..self.rules.len())
            .filter(|&r| self.index.plan(r).is_some())
            .count()
    }

    /// Rules with no literal a matching row must hold: they are evaluated on every row.
    /// Indices into [`RuleSet::rules`].
    pub fn rules_without_literal(&self) -> Vec<usize> {
        self.index
            .unanchored()
            .iter()
            .map(|&r| r as usize)
            .collect()
    }

    /// Every literal of the set's literal index (see `prefilter`): whole values and pieces
    /// that rows matching some rule must hold.
    pub fn literals(&self) -> &[RequiredLiteral] {
        &self.index.literals
    }

    /// The loaded rules, in load order (indices used by matching and selection).
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Every PCRE pattern of the rules' conditions, with the group a `rex` reads from it
    /// (`None` for `regex` and `match()`): for tests of the pattern engine's fast paths.
    pub fn regexes(&self) -> Vec<(&super::Pcre, Option<&str>)> {
        let mut out = Vec::new();
        for rule in &self.rules {
            super::expr::regexes_in(&rule.cond, &mut out);
        }
        out
    }

    /// Every list of patterns OR-ed on one field in the rules' conditions: for tests of its
    /// multi-pattern search.
    pub fn glob_lists(&self) -> Vec<&super::Globs> {
        let mut out = Vec::new();
        for rule in &self.rules {
            super::expr::glob_lists_in(&rule.cond, &mut out);
        }
        out
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::{collect_files, parse_message};

    /// Walking each directory's entries in name order gives the order of sorting the whole
    /// paths, where a directory's name is a prefix of a sibling's (`a` and `a-b`: `/` sorts
    /// after `-` as a byte, but `a`'s files come first as paths) and with upper case.
    #[test]
    fn rule_files_come_in_sorted_path_order() {
        let dir = std::env::temp_dir().join(format!("nd-collect-{}", std::process::id()));
        let files = [
            "a/z.yml",
            "a/b/c.yaml",
            "a-b.yml",
            "a-b/x.yml",
            "B.yml",
            "b.yml",
            "a.yml",
            "macros.conf",
            "m/macros.conf",
            "notes.txt",
        ];
        for file in files {
            let path = dir.join(file);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("a directory");
            std::fs::write(&path, "").expect("a file");
        }
        let mut found = Vec::new();
        collect_files(&dir, &mut found, &mut Vec::new());
        let mut sorted = found.clone();
        sorted.sort();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(found.len(), files.len() - 1);
        assert_eq!(found, sorted);
    }

    #[test]
    fn message_tokens() {
        let p = parse_message("A $process_name$ on $dest$. cost $5");
        assert_eq!(
            p,
            vec![
                Ok("A "),
                Err("process_name"),
                Ok(" on "),
                Err("dest"),
                Ok(". cost $"),
                Ok("5")
            ]
        );
    }
}
