//! `| netdiscover`: the SCP v2 front end. Parses and validates the search command's options at
//! getinfo and runs the protocol loop on stdin/stdout.
//!
//! At getinfo the options are parsed, the rules are loaded (shipped ones relative to the
//! executable, then the user places: see `rules::locate`) and the selection is applied, so a
//! typo in `rule=` fails the search before any row moves. The first execute builds the
//! [`RulesProcessor`], which evaluates every selected rule once per row.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::BufReader;
use std::sync::Arc;

use crate::protocol::{
    self, run_session, Columns, CommandError, Emitter, GateLiteral, GetInfo, GetInfoReply, Level,
    Message, ProcessError, RowGate, RowProcessor, SearchCommand, SlotColumns, Threads, Verdict,
};
use crate::rules::{self, Annotation, Matcher, RuleSet, Selected, Selection, Warning};

/// The search command's options as `--help` shows them.
pub const HELP: &str = "\
SEARCH COMMAND (| netdiscover [OPTION]...): Splunk starts this binary with no arguments and
speaks the chunked protocol v2 (commands.conf: chunked = true). Options are key=value tokens;
lists are repeated options because Splunk strips commas.
  mode=annotate|filter|risk  annotate (default): every row passes, matching rows gain the
                             detection and risk fields; filter: only matching rows;
                             risk: one row per matched rule and risk object, as ES writes
                             risk events (a rule without risk objects gives one row with
                             empty risk fields); risk rows also carry the rule's own
                             search_name, annotations.mitre_attack and analyticstories
  rule=<name or id>          select rules by name or id (case-insensitive, * wildcard);
                             repeatable
  type=<type>                select rules by type: Hunting, Anomaly, TTP, Correlation, ...;
                             repeatable
  story=<analytic story>     select rules by analytic story; repeatable
  threads=auto|<n>           threads deciding a large chunk's rows: auto (default) uses a
                             second core while rows are costly (many rules), up to
                             min(2, cores); 1 keeps one thread (a search head running many
                             searches at once, each its own process)
Selections of different keys intersect, repeats of one key unite; no selection means every
loaded rule. Any other token is an error that lists these options.
Example: | tstats ... by Processes.process ... | `drop_dm_object_name(Processes)`
         | netdiscover mode=filter type=Anomaly rule=\"Windows Proxy Via Netsh\"
";

/// The label of the app's saved searches: a rule scheduled as its own ES detection is the
/// saved search `<label> - <rule name> - Rule` (contentctl's stanza name, our prefix).
pub const STANZA_LABEL: &str = "netdiscover";

/// The saved-search name of a rule scheduled as its own detection.
pub fn rule_search_name(rule_name: &str) -> String {
    format!("{STANZA_LABEL} - {rule_name} - Rule")
}

/// Columns `mode=risk` appends after [`Annotation::FIELDS`]: the matched rule's identity named
/// as ES risk events carry it (contentctl's `RiskEvent`: `search_name`,
/// `annotations.mitre_attack`, `analyticstories`), so one combined search still attributes
/// each risk event to its rule. ES's Common Action Model writes a result's own `search_name`
/// as `orig_search_name` on the event it creates (Splunk_SA_CIM `cim_actions.py`,
/// `default_mapexp`); docs/escu6.md has what is cited and what is inferred.
pub const RISK_ATTRIBUTION_FIELDS: [&str; 3] =
    ["search_name", "annotations.mitre_attack", "analyticstories"];

/// The valid options, as error messages list them.
pub const VALID_OPTIONS: &str = "mode=annotate|filter|risk, rule=<name or id>, \
    type=<detection type>, story=<analytic story>, threads=auto|<1-64>";

/// Threads `threads=auto` may use at most (fewer on a machine with fewer cores).
pub const AUTO_THREADS: usize = 2;

/// The most threads `threads=<n>` accepts.
pub const MAX_THREADS: usize = 64;

/// What the command does with matching rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    /// Every row passes; matching rows gain the annotation fields.
    #[default]
    Annotate,
    /// Only matching rows pass, annotated.
    Filter,
    /// One row per (matched rule × risk object).
    Risk,
}

impl Mode {
    fn parse(value: &str) -> Option<Mode> {
        match value.to_ascii_lowercase().as_str() {
            "annotate" => Some(Mode::Annotate),
            "filter" => Some(Mode::Filter),
            "risk" => Some(Mode::Risk),
            _ => None,
        }
    }
}

/// The parsed `| netdiscover` options, ready for rule selection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandOptions {
    pub mode: Mode,
    /// `rule=` patterns (name or id, case-insensitive, `*` wildcard); any may match.
    pub rules: Vec<String>,
    /// `type=` values; any may match.
    pub types: Vec<String>,
    /// `story=` values; any may match.
    pub stories: Vec<String>,
    /// `threads=<n>`; `None` for `auto` (the default).
    pub threads: Option<usize>,
}

/// An invalid option token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionError {
    pub token: String,
    pub problem: String,
}

impl fmt::Display for OptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "netdiscover: {} {:?}; valid options: {VALID_OPTIONS}",
            self.problem, self.token
        )
    }
}

impl std::error::Error for OptionError {}

impl CommandOptions {
    /// Parses Splunk-tokenised arguments (`searchinfo.args`). Keys are case-insensitive.
    pub fn parse<S: AsRef<str>>(args: &[S]) -> Result<CommandOptions, OptionError> {
        let mut options = CommandOptions::default();
        let (mut mode_seen, mut threads_seen) = (false, false);
        for token in args {
            let token = token.as_ref();
            let error = |problem: &str| OptionError {
                token: token.to_string(),
                problem: problem.to_string(),
            };
            let Some((key, value)) = token.split_once('=') else {
                return Err(error("expected key=value, got"));
            };
            let key = key.trim().to_ascii_lowercase();
            if value.trim().is_empty() {
                return Err(error("empty value in option"));
            }
            match key.as_str() {
                "mode" => {
                    if mode_seen {
                        return Err(error("mode given twice, second time as"));
                    }
                    mode_seen = true;
                    options.mode = Mode::parse(value.trim())
                        .ok_or_else(|| error("mode must be annotate, filter or risk, got"))?;
                }
                "threads" => {
                    if threads_seen {
                        return Err(error("threads given twice, second time as"));
                    }
                    threads_seen = true;
                    options.threads = parse_threads(value.trim()).ok_or_else(|| {
                        error("threads must be auto or a number from 1 to 64, got")
                    })?;
                }
                "rule" => options.rules.push(value.to_string()),
                "type" => options.types.push(value.to_string()),
                "story" => options.stories.push(value.to_string()),
                "" => return Err(error("missing option name in")),
                _ => return Err(error("unknown option")),
            }
        }
        Ok(options)
    }
}

/// `threads=`'s value: `Some(None)` for auto, `Some(Some(n))` for a count in range.
fn parse_threads(value: &str) -> Option<Option<usize>> {
    if value.eq_ignore_ascii_case("auto") {
        return Some(None);
    }
    match value.parse::<usize>() {
        Ok(n) if (1..=MAX_THREADS).contains(&n) => Some(Some(n)),
        _ => None,
    }
}

/// The `netdiscover` search command.
#[derive(Debug, Default)]
pub struct NetdiscoverCommand {
    options: CommandOptions,
    rules: Option<Loading>,
}

/// The rules, loaded at getinfo or still loading.
#[derive(Debug)]
enum Loading {
    /// Loading on a thread started at getinfo: with no selection there is nothing to check
    /// before rows move, so getinfo answers at once and the load overlaps splunkd's first
    /// execute (with a large rule set, a load takes longer than splunkd's whole handshake).
    Started(std::thread::JoinHandle<(RuleSet, Vec<Warning>)>),
    /// Loaded and selected at getinfo (a selection was checked there).
    Done(Box<(RuleSet, Selected)>),
}

impl NetdiscoverCommand {
    /// The options parsed at getinfo.
    pub fn options(&self) -> &CommandOptions {
        &self.options
    }
}

impl SearchCommand for NetdiscoverCommand {
    type Processor = RulesProcessor;

    fn getinfo(&mut self, request: &GetInfo) -> Result<GetInfoReply, CommandError> {
        self.options = CommandOptions::parse(&request.searchinfo.args)
            .map_err(|e| CommandError(e.to_string()))?;
        let selection = Selection {
            rules: self.options.rules.clone(),
            types: self.options.types.clone(),
            stories: self.options.stories.clone(),
        };
        // Every field is requested: docs/semantics.md (`required_fields`) says why it is not
        // declared.
        let mut reply = GetInfoReply::streaming();
        if selection == Selection::default() {
            let load = std::thread::spawn(|| rules::locate(&[]).load());
            self.rules = Some(Loading::Started(load));
            return Ok(reply);
        }
        // A typo in `rule=` fails the search here, before any row moves.
        let (rules, warnings) = rules::locate(&[]).load();
        reply.messages = load_messages(&warnings);
        let rules = usable(rules)?;
        let selected = rules
            .select(&selection)
            .map_err(|e| CommandError(format!("netdiscover: {e}")))?;
        self.rules = Some(Loading::Done(Box::new((rules, selected))));
        Ok(reply)
    }

    fn start(&mut self) -> Result<RulesProcessor, CommandError> {
        let (rules, selected, messages) = match self.rules.take() {
            None => {
                return Err(CommandError(
                    "netdiscover: execute before getinfo".to_string(),
                ))
            }
            Some(Loading::Done(loaded)) => {
                let (rules, selected) = *loaded;
                (rules, selected, Vec::new())
            }
            Some(Loading::Started(load)) => {
                let (rules, warnings) = load.join().map_err(|_| {
                    CommandError("netdiscover: loading the rules failed".to_string())
                })?;
                let rules = usable(rules)?;
                let selected = Selected::all(&rules);
                (rules, selected, load_messages(&warnings))
            }
        };
        let mut processor = RulesProcessor::new(rules, selected, self.options.mode);
        processor.pending = messages;
        processor.set_threads(match self.options.threads {
            None => Threads::Auto(AUTO_THREADS),
            Some(n) => Threads::Fixed(n),
        });
        Ok(processor)
    }
}

/// Load warnings as inspector messages, summarised (`load_warnings`).
fn load_messages(warnings: &[Warning]) -> Vec<Message> {
    super::load_warnings::summarise(warnings)
        .into_iter()
        .map(|text| Message {
            level: Level::Warn,
            text: format!("netdiscover: {text}"),
        })
        .collect()
}

/// The loaded rules, unless there are none.
fn usable(rules: RuleSet) -> Result<RuleSet, CommandError> {
    let rules = compacted(rules);
    if rules.is_empty() {
        return Err(CommandError(
            "netdiscover: no detection rules could be loaded (looked next to the executable \
             in rules/ and in the app's local/rules/)"
                .to_string(),
        ));
    }
    Ok(rules)
}

/// The rule set copied into fresh memory, and what loading freed given back to the operating
/// system. Loading parses and compiles on every core, so the compiled rules lie scattered
/// among the freed parse in several threads' malloc arenas, whose pages cannot go back while
/// any piece of a rule sits on them. The copy packs the rules together; the original and the
/// parse's leftovers then free whole pages (the ESCU corpus: about 1.7 MiB fewer resident at
/// the reply's peak, BENCHMARKS.md).
fn compacted(rules: RuleSet) -> RuleSet {
    let packed = rules.clone();
    drop(rules);
    trim_heap();
    packed
}

/// Gives the free pages of every malloc arena back to the system.
fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own free lists; it takes no pointer of ours.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Evaluates the selected rules on every row and writes the annotation fields.
#[derive(Debug)]
pub struct RulesProcessor {
    /// Shared with the forks that process rows on other threads.
    rules: Arc<RuleSet>,
    selected: Selected,
    matcher: Matcher,
    mode: Mode,
    fields: Vec<String>,
    appended: Vec<String>,
    gate: Option<Arc<RowGate>>,
    threads: Threads,
    /// The identity columns of annotated rows, encoded once per set of matched rules.
    identity: IdentityCache,
    /// Reused for annotation values rendered from a row.
    scratch: Vec<u8>,
    /// Messages for the end of the first chunk (warnings of a load that ran past getinfo).
    pending: Vec<Message>,
    /// Sigma rules the bound columns cannot satisfy: the warning last given, and one waiting
    /// for the end of the chunk.
    sigma_reported: Option<String>,
    sigma_pending: Option<String>,
}

impl RulesProcessor {
    pub fn new(rules: RuleSet, selected: Selected, mode: Mode) -> RulesProcessor {
        let mut processor = RulesProcessor {
            gate: None,
            identity: IdentityCache::default(),
            scratch: Vec::new(),
            pending: Vec::new(),
            sigma_reported: None,
            sigma_pending: None,
            matcher: Matcher::new(&rules),
            fields: rules.fields().to_vec(),
            appended: appended_columns(mode),
            rules: Arc::new(rules),
            threads: Threads::Fixed(1),
            selected,
            mode,
        };
        processor.set_row_gate(true);
        processor
    }

    /// Turns the row gate off (every row is evaluated). The output is the same either way;
    /// this exists to prove that and to measure what the gate saves.
    pub fn set_row_gate(&mut self, on: bool) {
        if on {
            let unmatched = match self.mode {
                Mode::Annotate => Verdict::Pass,
                Mode::Filter | Mode::Risk => Verdict::Drop,
            };
            self.gate = self
                .rules
                .required_literals(&self.selected)
                .and_then(|literals| {
                    let literals: Vec<GateLiteral<'_>> = literals
                        .iter()
                        .map(|l| match l.place {
                            rules::Place::Whole => GateLiteral::WholeValue {
                                slot: l.slot,
                                value: &l.bytes,
                            },
                            // A start or end of a value is somewhere in the row too.
                            _ => GateLiteral::Anywhere(&l.bytes),
                        })
                        .collect();
                    RowGate::new(&literals, unmatched)
                })
                .map(Arc::new);
        } else {
            self.gate = None;
        }
    }
}

impl RulesProcessor {
    /// How many threads may decide a large chunk's rows ([`RowProcessor::fork`]); one (the
    /// default) until set. `| netdiscover` sets its `threads=` option here.
    pub fn set_threads(&mut self, threads: Threads) {
        self.threads = threads;
    }

    /// Turns off encoding the identity columns once per set of matched rules (every annotated
    /// row then has them written value by value). The output is the same either way; this
    /// exists to prove that and to measure what the encoding saves.
    pub fn set_encoded_identity(&mut self, on: bool) {
        self.identity = IdentityCache::holding(if on { IdentityCache::MAX_SETS } else { 0 });
    }
}

impl RowProcessor for RulesProcessor {
    fn input_fields(&self) -> &[String] {
        &self.fields
    }

    fn appended_columns(&self) -> &[String] {
        &self.appended
    }

    /// Rows holding none of the selected rules' required literals match nothing: they pass
    /// (annotate) or are dropped (filter, risk) without their fields being located.
    fn row_gate(&self) -> Option<&RowGate> {
        self.gate.as_deref()
    }

    fn threads(&self) -> Threads {
        self.threads
    }

    /// A fork shares the compiled rules and the gate; its matcher, identity cache and scratch
    /// are its own. A row's answer depends on that row alone, as a fork must promise.
    fn fork(&self) -> Option<Box<dyn RowProcessor + Send>> {
        Some(Box::new(RulesProcessor {
            rules: Arc::clone(&self.rules),
            selected: self.selected.clone(),
            matcher: Matcher::new(&self.rules),
            mode: self.mode,
            fields: self.fields.clone(),
            appended: self.appended.clone(),
            gate: self.gate.clone(),
            threads: Threads::Fixed(1),
            identity: IdentityCache::holding(self.identity.max_sets),
            scratch: Vec::new(),
            pending: Vec::new(),
            sigma_reported: self.sigma_reported.clone(),
            sigma_pending: None,
        }))
    }

    /// Binds each field to its bare column (`process`, after `drop_dm_object_name`) or, when
    /// the chunk has none, to the data-model column (`Processes.process`, straight from tstats).
    /// Selected Sigma rules that cannot match without the unbound fields are reported once
    /// (a warning in the inspector), never left to match nothing in silence.
    fn bind_columns(&mut self, columns: &Columns, slots: &mut Vec<SlotColumns>) {
        slots.clear();
        for field in &self.fields {
            let bare = columns.field(field);
            if bare.plain.is_some() || bare.mv.is_some() {
                slots.push(bare);
            } else {
                slots.push(columns.field(&format!("Processes.{field}")));
            }
        }
        let note = sigma_note(&self.rules, &self.selected, slots);
        if note.is_some() && note != self.sigma_reported {
            self.sigma_pending.clone_from(&note);
            self.sigma_reported = note;
        }
    }

    /// The first chunk's reply carries the warnings of a load that ran past getinfo; a chunk
    /// whose columns leave Sigma rules unmatchable carries that warning. The heap is trimmed
    /// first: the kept helper threads free their block buffers into their own malloc arenas,
    /// which glibc does not give back on its own.
    fn end_chunk(&mut self, messages: &mut Vec<Message>) {
        trim_heap();
        messages.append(&mut self.pending);
        if let Some(text) = self.sigma_pending.take() {
            messages.push(Message {
                level: Level::Warn,
                text,
            });
        }
    }

    fn process_row(
        &mut self,
        row: &protocol::Row<'_>,
        emit: &mut Emitter,
    ) -> Result<Verdict, ProcessError> {
        let view = SlotView(row);
        let matched = self.matcher.match_row(&self.rules, &self.selected, &view);
        if matched.is_empty() {
            return Ok(match self.mode {
                Mode::Annotate => Verdict::Pass,
                Mode::Filter | Mode::Risk => Verdict::Drop,
            });
        }
        match self.mode {
            Mode::Annotate | Mode::Filter => {
                // Columns are in `Annotation::FIELDS` order, as `annotate_into` numbers them.
                match self.identity.encoded(&self.rules, matched) {
                    Some(identity) => {
                        identity.push_into(emit);
                        let mut push = |column: usize, value: &[u8]| emit.push(column, value);
                        self.rules.annotate_findings_into(
                            matched,
                            &view,
                            &mut self.scratch,
                            &mut push,
                        );
                    }
                    None => {
                        let mut push = |column: usize, value: &[u8]| emit.push(column, value);
                        self.rules
                            .annotate_into(matched, &view, &mut self.scratch, &mut push);
                    }
                }
                emit.end_row();
            }
            Mode::Risk => {
                for event in self.rules.risk_events(matched, &view) {
                    push_annotation(emit, &event);
                    push_attribution(emit, &event);
                    emit.end_row();
                }
            }
        }
        Ok(Verdict::Emit)
    }
}

/// The identity columns ([`Annotation::IDENTITY_FIELDS`]) of annotated rows depend only on
/// which rules matched, and few sets of rules match in practice: each set's columns are
/// encoded once, when it first matches, and copied into every later row it matches.
#[derive(Debug)]
struct IdentityCache {
    encoded: HashMap<Vec<usize>, EncodedIdentity, BuildHasherDefault<RuleSetHasher>>,
    /// How many sets may be encoded.
    max_sets: usize,
}

impl Default for IdentityCache {
    fn default() -> Self {
        Self::holding(Self::MAX_SETS)
    }
}

/// Hashes a set of matched rule indices (a few small integers, looked up twice per annotated
/// row) by multiply-rotate: the keys are ours, not an attacker's, so SipHash's defence
/// against chosen collisions buys nothing here and costs more than the rest of the lookup.
#[derive(Default)]
struct RuleSetHasher(u64);

impl Hasher for RuleSetHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        bytes.iter().for_each(|&b| self.write_u64(u64::from(b)));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// One set of matched rules' identity columns as the reply carries them: for column `c`, its
/// plain field is `bytes[bounds[c].0..bounds[c].1]` and its `__mv_` field runs to `bounds[c].2`.
#[derive(Debug)]
struct EncodedIdentity {
    bytes: Vec<u8>,
    bounds: [(usize, usize, usize); Annotation::IDENTITY_FIELDS],
}

impl IdentityCache {
    /// An empty cache that encodes at most `max_sets` sets.
    fn holding(max_sets: usize) -> IdentityCache {
        IdentityCache {
            encoded: HashMap::default(),
            max_sets,
        }
    }

    /// Sets of matched rules encoded at most: past that, rows are annotated value by value
    /// (a bound on memory for rule sets whose matches keep combining differently).
    const MAX_SETS: usize = 512;

    /// The encoded identity columns of the rules at `matched`; `None` once the cache is full
    /// and `matched` is not in it.
    fn encoded(&mut self, rules: &RuleSet, matched: &[usize]) -> Option<&EncodedIdentity> {
        if !self.encoded.contains_key(matched) {
            if self.encoded.len() >= self.max_sets {
                return None;
            }
            let identity = EncodedIdentity::new(rules, matched);
            self.encoded.insert(matched.to_vec(), identity);
        }
        self.encoded.get(matched)
    }
}

impl EncodedIdentity {
    fn new(rules: &RuleSet, matched: &[usize]) -> EncodedIdentity {
        let mut values: [Vec<Vec<u8>>; Annotation::IDENTITY_FIELDS] = Default::default();
        rules.annotate_identity_into(matched, &mut |column, value| {
            if let Some(list) = values.get_mut(column) {
                list.push(value.to_vec());
            }
        });
        let (mut bytes, mut mv) = (Vec::new(), Vec::new());
        let mut bounds = [(0, 0, 0); Annotation::IDENTITY_FIELDS];
        for (column, list) in values.iter().enumerate() {
            let start = bytes.len();
            mv.clear();
            protocol::mv::write_fields(list.iter().map(Vec::as_slice), &mut bytes, &mut mv);
            let split = bytes.len();
            bytes.extend_from_slice(&mv);
            bounds[column] = (start, split, bytes.len());
        }
        EncodedIdentity { bytes, bounds }
    }

    /// Sets the identity columns of the row being emitted (their fields lie back to back in
    /// `bytes`, column after column, as `new` writes them).
    fn push_into(&self, emit: &mut Emitter) {
        emit.push_encoded_columns(0, &self.bytes, &self.bounds);
    }
}

/// The warning for selected Sigma rules that cannot match rows with these bound columns.
fn sigma_note(rules: &RuleSet, selected: &Selected, slots: &[SlotColumns]) -> Option<String> {
    let bound = |name: &str| {
        rules
            .slot(name)
            .and_then(|s| slots.get(s))
            .is_some_and(|c| c.plain.is_some() || c.mv.is_some())
    };
    let present = |sigma: &str| bound(rules::sigma::fields::slot_name(sigma));
    let unmatchable = rules.sigma_unmatchable(selected.indices(), &present);
    let total = selected
        .indices()
        .iter()
        .filter(|&&i| rules.rules()[i].sigma.is_some())
        .count();
    (!unmatchable.rules.is_empty()).then(|| {
        format!(
            "netdiscover: {} of {total} Sigma rules cannot match these rows, which lack fields \
             they need: {}. Raw Sysmon events (EventCode=1) carry them: see docs/sigma.md",
            unmatchable.rules.len(),
            unmatchable
                .fields
                .iter()
                .map(|(f, n)| format!("{f} ({n} rules)"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// The columns a mode appends: the annotation fields, and in risk mode the attribution fields.
fn appended_columns(mode: Mode) -> Vec<String> {
    let extra: &[&str] = match mode {
        Mode::Risk => &RISK_ATTRIBUTION_FIELDS,
        Mode::Annotate | Mode::Filter => &[],
    };
    Annotation::FIELDS
        .iter()
        .chain(extra)
        .map(|f| f.to_string())
        .collect()
}

/// Writes every annotation field of one output row in [`Annotation::FIELDS`] order, which is
/// the order of [`RulesProcessor::appended_columns`].
fn push_annotation(emit: &mut Emitter, annotation: &Annotation) {
    for (column, (_, values)) in annotation.fields().iter().enumerate() {
        for value in values.iter() {
            emit.push(column, value.as_bytes());
        }
    }
}

/// Writes the [`RISK_ATTRIBUTION_FIELDS`] of a risk event (one matched rule per event).
fn push_attribution(emit: &mut Emitter, event: &Annotation) {
    let first = Annotation::FIELDS.len();
    for name in &event.detection {
        emit.push(first, rule_search_name(name).as_bytes());
    }
    for technique in &event.mitre_attack_id {
        emit.push(first + 1, technique.as_bytes());
    }
    for story in &event.analytic_story {
        emit.push(first + 2, story.as_bytes());
    }
}

/// The protocol's slot-bound row seen through the rules' [`rules::Row`] trait.
struct SlotView<'r, 'a>(&'r protocol::Row<'a>);

impl rules::Row for SlotView<'_, '_> {
    fn value_count(&self, slot: usize) -> usize {
        self.0.value_count(slot)
    }

    fn value(&self, slot: usize, index: usize) -> &[u8] {
        self.0.value(slot, index)
    }

    /// The field is located (and decoded, if it must be) once for all its values.
    fn values_into<'s>(&'s self, slot: usize, out: &mut [&'s [u8]]) -> usize {
        self.0.values_into(slot, out)
    }
}

/// Set (to anything) in splunkd's environment, replies are always copied into stdout, never
/// spliced (`protocol::output`).
pub const NO_SPLICE_ENV: &str = "NETDISCOVER_NO_SPLICE";

/// Runs the SCP v2 session on stdin/stdout; returns the exit code. stderr gets one line, only
/// on a fatal error (splunkd logs every stderr line as ERROR in search.log).
pub fn run_scp() -> i32 {
    protocol::enlarge_stdio();
    let mut input = BufReader::with_capacity(1 << 16, protocol::raw_stdin());
    let mut command = NetdiscoverCommand::default();
    let splicing = std::env::var_os(NO_SPLICE_ENV).is_none();
    let end = match protocol::SplicingStdout::new().filter(|_| splicing) {
        Some(mut output) => run_session(&mut input, &mut output, &mut command),
        None => run_session(&mut input, &mut protocol::raw_stdout(), &mut command),
    };
    if let Some(error) = &end.error {
        let text = error.to_string();
        if text.starts_with("netdiscover:") {
            eprintln!("{text}");
        } else {
            eprintln!("netdiscover: {text}");
        }
    }
    end.exit_code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_option_and_repeats() {
        let options = CommandOptions::parse(&[
            "mode=Filter",
            "rule=Windows Proxy Via Netsh",
            "RULE=*netstat*",
            "type=Anomaly",
            "story=Active Directory Discovery",
        ])
        .unwrap();
        assert_eq!(options.mode, Mode::Filter);
        assert_eq!(options.rules, ["Windows Proxy Via Netsh", "*netstat*"]);
        assert_eq!(options.types, ["Anomaly"]);
        assert_eq!(options.stories, ["Active Directory Discovery"]);
        assert_eq!(
            CommandOptions::parse::<&str>(&[]).unwrap(),
            CommandOptions::default()
        );
    }

    #[test]
    fn rejects_unknown_and_malformed_tokens_listing_the_valid_options() {
        for (token, problem) in [
            ("count=1000", "unknown option"),
            ("text", "expected key=value, got"),
            ("mode=all", "mode must be annotate, filter or risk, got"),
            ("rule=", "empty value in option"),
            ("=x", "missing option name in"),
        ] {
            let err = CommandOptions::parse(&[token]).unwrap_err();
            assert_eq!(err.problem, problem, "{token}");
            let text = err.to_string();
            assert!(
                text.contains(token) && text.contains(VALID_OPTIONS),
                "{text}"
            );
        }
        let err = CommandOptions::parse(&["mode=filter", "mode=risk"]).unwrap_err();
        assert_eq!(err.problem, "mode given twice, second time as");
    }
}
