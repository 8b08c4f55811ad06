//! Shared harness for the fuzz targets: the ingest readers take a file path, so each input
//! is written to a per-process scratch file (in /dev/shm when it exists, so no disk I/O) and
//! read to the end through the public [`FileReader`] API, exactly as `scan` and the modular
//! input read files.

use std::path::PathBuf;
use std::sync::OnceLock;

use netdiscover::ingest::{FileReader, Format, Item, OpenOptions, Position};

fn scratch_path(format: Format) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let shm = PathBuf::from("/dev/shm");
        if shm.is_dir() {
            shm
        } else {
            std::env::temp_dir()
        }
    });
    dir.join(format!(
        "netdiscover-fuzz-{}-{}",
        std::process::id(),
        format.name()
    ))
}

/// libFuzzer's panic hook aborts on every panic, before any `catch_unwind` can run. The ingest
/// EVTX reader deliberately catches panics raised inside the third-party `evtx` crate (turning
/// them into a malformed record); to fuzz that behaviour as shipped, panics located in the
/// `evtx` crate's sources are let through to that `catch_unwind`. Any other panic still aborts,
/// and an `evtx` panic that ingest failed to catch still reaches libfuzzer-sys, which aborts.
fn let_evtx_panics_unwind() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let fuzzer_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_evtx_crate = info
                .location()
                .is_some_and(|l| l.file().contains("/evtx-0."));
            if !in_evtx_crate {
                fuzzer_hook(info);
            }
        }));
    });
}

/// Reads `data` as a file of `format` (forced), in normal and follow mode, and checks what
/// every bad input must satisfy: no panic, every item's byte position inside the file, a
/// resume point inside the file, and a reader that ends.
pub fn read_as(data: &[u8], format: Format) {
    if format == Format::Evtx {
        let_evtx_panics_unwind();
    }
    let path = scratch_path(format);
    if std::fs::write(&path, data).is_err() {
        return;
    }
    let len = data.len() as u64;
    for follow in [false, true] {
        let options = OpenOptions {
            format: Some(format),
            follow,
            ..OpenOptions::default()
        };
        let Ok(reader) = FileReader::open(&path, &options) else {
            continue;
        };
        let mut reader = reader;
        // Each record is at least one byte, so a reader yielding more items than bytes
        // (plus one end-of-file report per EVTX chunk) is looping.
        let limit = 4 * len + 16;
        let mut count = 0u64;
        for item in reader.by_ref() {
            count += 1;
            assert!(
                count <= limit,
                "reader does not end ({count} items from {len} bytes)"
            );
            let position = match &item {
                Item::Process(e) => e.position,
                Item::Skipped(s) => s.position,
                Item::Malformed(m) | Item::Unreadable(m) => {
                    assert!(!m.message.is_empty(), "malformed record without a message");
                    m.position
                }
            };
            if let Position::Offset(offset) = position {
                assert!(offset <= len, "item at {offset} past the end ({len})");
            }
        }
        if let Position::Offset(offset) = reader.resume_point() {
            assert!(offset <= len, "resume point {offset} past the end ({len})");
        }
    }
    let _ = std::fs::remove_file(&path);
}

pub mod scp {
    //! SCP v2 sessions driven by the real rules processor of `| netdiscover` over the shipped
    //! rules (loaded once per process from the repository's `app/`).

    use std::io::Cursor;
    use std::path::PathBuf;
    use std::sync::OnceLock;

    use netdiscover::cli::command::{CommandOptions, Mode, RulesProcessor};
    use netdiscover::protocol::{encode_chunk, read_chunk};
    use netdiscover::protocol::{
        run_session, BodyProcessor, CommandError, GetInfo, GetInfoReply, SearchCommand, SessionEnd,
    };
    use netdiscover::rules::{RuleSet, Selected, Selection};

    fn shipped_rules() -> &'static RuleSet {
        static RULES: OnceLock<RuleSet> = OnceLock::new();
        RULES.get_or_init(|| {
            let app = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../app"));
            let (rules, _) = RuleSet::load(&[app]);
            assert!(!rules.is_empty(), "the shipped rules must load");
            rules
        })
    }

    /// `| netdiscover` exactly as `cli::command` builds it, minus the per-getinfo disk load.
    #[derive(Default)]
    pub struct Command {
        options: CommandOptions,
        selected: Option<Selected>,
    }

    impl SearchCommand for Command {
        type Processor = RulesProcessor;

        fn getinfo(&mut self, request: &GetInfo) -> Result<GetInfoReply, CommandError> {
            self.options = CommandOptions::parse(&request.searchinfo.args)
                .map_err(|e| CommandError(e.to_string()))?;
            let selection = Selection {
                rules: self.options.rules.clone(),
                types: self.options.types.clone(),
                stories: self.options.stories.clone(),
            };
            let selected = shipped_rules()
                .select(&selection)
                .map_err(|e| CommandError(e.to_string()))?;
            self.selected = Some(selected);
            Ok(GetInfoReply::streaming())
        }

        fn start(&mut self) -> Result<RulesProcessor, CommandError> {
            let selected = self
                .selected
                .take()
                .ok_or_else(|| CommandError("execute before getinfo".into()))?;
            Ok(RulesProcessor::new(
                shipped_rules().clone(),
                selected,
                self.options.mode,
            ))
        }
    }

    /// Runs a session over `input` and checks the reply stream: whole chunks, JSON metadata,
    /// an error reply (and exit 1) exactly when the session failed.
    pub fn session(input: &[u8]) -> SessionEnd {
        let mut output = Vec::new();
        let end = run_session(
            &mut Cursor::new(input),
            &mut output,
            &mut Command::default(),
        );
        assert!(
            (end.exit_code == 0) == end.error.is_none(),
            "exit code {} with error {:?}",
            end.exit_code,
            end.error
        );
        let mut reader = Cursor::new(&output[..]);
        let (mut meta, mut body) = (Vec::new(), Vec::new());
        let mut last_meta = serde_json::Value::Null;
        while read_chunk(&mut reader, &mut meta, &mut body)
            .unwrap_or_else(|e| panic!("reply stream is not whole chunks: {e}"))
            .is_some()
        {
            last_meta = serde_json::from_slice(&meta)
                .unwrap_or_else(|e| panic!("reply metadata is not JSON: {e}"));
        }
        if end.error.is_some() {
            assert!(
                last_meta.get("error").is_some(),
                "a failed session must end with an error reply: {last_meta}"
            );
        }
        end
    }

    /// The row gate only saves work: `body` through the rules processor with and without it
    /// gives the same reply, or the same error.
    pub fn gate_changes_nothing(mode: Mode, body: &[u8]) {
        let rules = shipped_rules();
        let selected = Selected::all(rules);
        let mut gated = RulesProcessor::new(rules.clone(), selected.clone(), mode);
        let mut evaluated = RulesProcessor::new(rules.clone(), selected, mode);
        evaluated.set_row_gate(false);
        let run = |processor: &mut RulesProcessor| {
            let (mut out, mut messages) = (Vec::new(), Vec::new());
            BodyProcessor::new()
                .process(body, processor, &mut out, &mut messages)
                .map(|stats| (out, stats.rows_in, stats.rows_out))
                .map_err(|e| e.to_string())
        };
        assert_eq!(
            run(&mut gated),
            run(&mut evaluated),
            "the row gate changed the reply"
        );
    }

    /// A getinfo chunk with these `searchinfo.args`, then one execute chunk carrying `body`.
    pub fn getinfo_then_execute(args: &[&str], body: &[u8]) -> Vec<u8> {
        let getinfo = serde_json::json!({
            "action": "getinfo",
            "preview": false,
            "searchinfo": { "args": args, "command": "netdiscover" },
        });
        let mut stream = encode_chunk(getinfo.to_string().as_bytes(), &[]);
        stream.extend(encode_chunk(
            br#"{"action":"execute","finished":true}"#,
            body,
        ));
        stream
    }
}
