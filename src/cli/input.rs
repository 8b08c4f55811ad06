//! `netdiscover_input`: the modular input executable splunkd runs. `--scheme` prints the
//! scheme, `--validate-arguments` checks an `<items>` document, and with no argument it reads
//! the `<input>` definition on stdin and follows the stanza's files until SIGTERM
//! ([`crate::modinput`] holds the parts this front end wires).

use std::ffi::OsString;
use std::io::{Read, Write};

use crate::modinput::{
    check_path, error_document, log, parse_input, parse_validation, scheme_xml, signals, Annotator,
    Detections, Follower, Outcome, Params, StanzaLock, StdoutPipe, Store, STOP_GRACE,
};

/// Entry point of the `netdiscover_input` executable; returns the process exit code.
pub fn run_netdiscover_input() -> i32 {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let args: Vec<&str> = args
        .iter()
        .map(|a| a.to_str().unwrap_or("\u{FFFD}"))
        .collect();
    match args.as_slice() {
        ["--scheme"] => {
            let mut out = std::io::stdout().lock();
            match out
                .write_all(scheme_xml().as_bytes())
                .and_then(|()| out.flush())
            {
                Ok(()) => 0,
                Err(e) => {
                    log::log(log::Level::Fatal, &format!("cannot write the scheme: {e}"));
                    1
                }
            }
        }
        ["--validate-arguments"] => match read_stdin() {
            Ok(input) => {
                let (code, message) = validate_arguments(&input);
                if let Some(message) = message {
                    print!("{message}");
                    let _ = std::io::stdout().flush();
                }
                code
            }
            Err(e) => {
                log::error(&format!(
                    "cannot read the validation document on stdin: {e}"
                ));
                1
            }
        },
        [] => run(),
        other => {
            log::error(&format!(
                "Invalid arguments to modular input script: {}; expected --scheme, --validate-arguments or none",
                other.join(" ")
            ));
            1
        }
    }
}

fn read_stdin() -> std::io::Result<Vec<u8>> {
    let mut input = Vec::new();
    std::io::stdin().lock().read_to_end(&mut input)?;
    Ok(input)
}

/// Validates the `<items>` document: returns the exit code and the `<error>` document to print.
fn validate_arguments(input: &[u8]) -> (i32, Option<String>) {
    let result = parse_validation(input)
        .map_err(|e| e.to_string())
        .and_then(|definition| {
            let params = Params::from_stanza(&definition.stanza).map_err(|e| e.to_string())?;
            check_path(&params.path).map_err(|e| e.to_string())?;
            if params.annotate {
                let _annotator = annotator().map_err(|e| format!("annotate = true: {e}"))?;
            }
            Ok(())
        });
    match result {
        Ok(()) => (0, None),
        Err(message) => (1, Some(error_document(&message))),
    }
}

/// The detection annotator for `annotate = true`, with the rules it skipped logged.
fn annotator() -> Result<Annotator, String> {
    let (detections, warnings) = Detections::locate()?;
    for warning in &warnings {
        log::warn(&format!("detection rules: {warning}"));
    }
    log::info(&format!(
        "annotate = true: {} detection rules loaded",
        detections.rule_count()
    ));
    Ok(detections.into_annotator())
}

/// Takes the stanza's checkpoint lock, waiting (with a warning) while another process holds
/// it; `None` on an error or when a stop is requested while waiting.
fn lock_stanza(store: &Store, params: &Params) -> Option<StanzaLock> {
    let mut warned = false;
    loop {
        match store.try_lock() {
            Ok(Some((lock, note))) => {
                if let Some(note) = note {
                    log::warn(&note);
                }
                return Some(lock);
            }
            Ok(None) => {}
            Err(e) => {
                log::error(&e.to_string());
                return None;
            }
        }
        if !warned {
            log::warn(&format!(
                "{}: checkpoint {} is in use by another netdiscover_input process (the same \
                 stanza running twice?); waiting for it to stop",
                store.stanza(),
                store.state_path().display()
            ));
            warned = true;
        }
        if signals::stop_requested() {
            return None;
        }
        signals::sleep_unless_stopped(params.poll_interval);
    }
}

/// What run mode sets up before it follows anything.
struct Setup {
    stanza: String,
    params: Params,
    annotate: Option<Annotator>,
    store: Store,
}

/// Reads and checks the input definition, loads the rules if asked, opens the checkpoint;
/// every failure is logged.
fn set_up() -> Option<Setup> {
    let input = read_stdin()
        .map_err(|e| log::error(&format!("cannot read the input definition on stdin: {e}")))
        .ok()?;
    let definition = parse_input(&input)
        .map_err(|e| log::error(&e.to_string()))
        .ok()?;
    let stanza = definition.stanza.name.clone();
    let params = Params::from_stanza(&definition.stanza)
        .map_err(|e| log::error(&format!("{stanza}: {e}")))
        .ok()?;
    let annotate = match params.annotate {
        true => Some(
            annotator()
                .map_err(|e| log::error(&format!("{stanza}: annotate = true: {e}")))
                .ok()?,
        ),
        false => None,
    };
    // parse_input guarantees a checkpoint directory.
    let Some(checkpoint_dir) = definition.checkpoint_dir.as_deref() else {
        log::error("configuration XML: missing <checkpoint_dir>");
        return None;
    };
    let store = Store::open(checkpoint_dir, &stanza)
        .map_err(|e| log::error(&e.to_string()))
        .ok()?;
    Some(Setup {
        stanza,
        params,
        annotate,
        store,
    })
}

fn run() -> i32 {
    // First thing, so a stop request during start-up is honoured rather than fatal.
    signals::install();
    let Some(Setup {
        stanza,
        params,
        annotate,
        store,
    }) = set_up()
    else {
        return 1;
    };
    let Some(_lock) = lock_stanza(&store, &params) else {
        return if signals::stop_requested() { 0 } else { 1 };
    };
    log::info(&format!(
        "{stanza}: starting; path={} format={} recursive={} batch_size={} poll_interval={:?} sourcetype={} checkpoint={}",
        params.path,
        params.format,
        params.recursive,
        params.batch_size,
        params.poll_interval,
        params.sourcetype,
        store.state_path().display()
    ));
    let mut follower = match Follower::new(params, store, std::io::stdout(), annotate) {
        Ok(f) => f,
        Err(e) => {
            log::error(&e.to_string());
            return 1;
        }
    };
    if let Some(pipe) = StdoutPipe::new() {
        follower = follower.confirm_through(pipe);
    }
    let result = follower.run();
    let stats = &follower.stats;
    let summary = format!(
        "{stanza}: {} events in {} batches, {} malformed records, skipped by event id: {:?}",
        stats.events, stats.batches, stats.malformed, stats.skipped_by_event_id
    );
    match result {
        Ok(Outcome::Stopped) => {
            log::info(&format!("stopping on request; {summary}"));
            0
        }
        Ok(Outcome::StoppedUnconfirmed) => {
            log::warn(&format!(
                "stopping on request; splunkd had not read the last batch within {STOP_GRACE:?}, \
                 so it is not recorded and the next run sends it again; {summary}"
            ));
            0
        }
        Ok(Outcome::OutputClosed) => {
            log::info(&format!("stdout was closed; exiting; {summary}"));
            0
        }
        Err(e) => {
            log::error(&format!("{e}; {summary}"));
            1
        }
    }
}
