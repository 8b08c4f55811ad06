//! The row gate changes nothing but speed: a processor that offers a `RowGate` produces, on any
//! body (well-formed or not, whole or fed in pieces), exactly the reply and the error it
//! produces without one.

use netdiscover::protocol::{
    BodyError, BodyProcessor, Emitter, GateLiteral, ProcessError, Row, RowGate, RowProcessor,
    Verdict,
};
use proptest::prelude::*;

/// Emits the slots whose decoded values contain `literal` (ASCII case-insensitively); rows
/// without it get `unmatched`.
struct Contains {
    literal: Vec<u8>,
    /// Match the literal as a slot's whole value instead of anywhere in it.
    whole: bool,
    unmatched: Verdict,
    gate: Option<RowGate>,
    fields: Vec<String>,
    appended: Vec<String>,
}

impl Contains {
    fn new(literal: &[u8], unmatched: Verdict, gated: bool) -> Contains {
        Contains::appending(literal, unmatched, gated, &["hit", "hit_slot"])
    }

    /// Appending a column named like an input column makes the loop rebuild rows field by
    /// field (the input column is replaced), where the gate stands aside.
    fn appending(literal: &[u8], unmatched: Verdict, gated: bool, appended: &[&str]) -> Contains {
        let gate = if gated {
            RowGate::for_values(&[literal], unmatched)
        } else {
            None
        };
        Contains {
            literal: literal.to_vec(),
            whole: false,
            unmatched,
            gate,
            fields: vec!["a".into(), "b".into()],
            appended: appended.iter().map(|a| a.to_string()).collect(),
        }
    }
}

impl Contains {
    /// Matches `literal` as the whole value of slot `a` or `b`; the gate checks those fields.
    fn whole_value(literal: &[u8], unmatched: Verdict, gated: bool, appended: &[&str]) -> Contains {
        let mut processor = Contains::appending(literal, unmatched, false, appended);
        processor.whole = true;
        if gated {
            let literals = [0, 1].map(|slot| GateLiteral::WholeValue {
                slot,
                value: literal,
            });
            processor.gate = RowGate::new(&literals, unmatched);
        }
        processor
    }
}

impl RowProcessor for Contains {
    fn input_fields(&self) -> &[String] {
        &self.fields
    }
    fn appended_columns(&self) -> &[String] {
        &self.appended
    }
    fn row_gate(&self) -> Option<&RowGate> {
        self.gate.as_ref()
    }
    fn process_row(&mut self, row: &Row<'_>, emit: &mut Emitter) -> Result<Verdict, ProcessError> {
        let mut hit = false;
        for slot in 0..self.fields.len() {
            for value in row.values(slot) {
                let found = match self.whole {
                    true => value.eq_ignore_ascii_case(&self.literal),
                    false => value
                        .windows(self.literal.len())
                        .any(|w| w.eq_ignore_ascii_case(&self.literal)),
                };
                if found {
                    emit.push(0, self.fields[slot].as_bytes());
                    hit = true;
                }
            }
        }
        Ok(if hit { Verdict::Emit } else { self.unmatched })
    }
}

type Outcome = Result<(Vec<u8>, usize, usize), String>;

fn whole_body(body: &[u8], processor: &mut Contains) -> (Outcome, usize) {
    let (mut out, mut messages) = (Vec::new(), Vec::new());
    match BodyProcessor::new().process(body, processor, &mut out, &mut messages) {
        Ok(stats) => (Ok((out, stats.rows_in, stats.rows_out)), stats.rows_gated),
        Err(e) => (Err(e.to_string()), 0),
    }
}

fn in_pieces(body: &[u8], cuts: &[usize], processor: &mut Contains) -> Outcome {
    let mut bodies = BodyProcessor::new();
    let (mut out, mut messages) = (Vec::new(), Vec::new());
    bodies.begin(&mut out);
    let fed = cuts
        .iter()
        .try_for_each(|&cut| bodies.feed(&body[..cut], false, processor, &mut out))
        .and_then(|()| bodies.feed(body, true, processor, &mut out));
    fed.map(|()| {
        let stats = bodies.finish(processor, &mut messages);
        (out, stats.rows_in, stats.rows_out)
    })
    .map_err(|e: BodyError| e.to_string())
}

/// Bytes that matter to the CSV reader, the `__mv_` codec and the literals below.
fn field_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(&b"aaAA;;$\"\n,\rx"[..]), 0..12)
}

/// One line of a body: three fields written the way Splunk writes them (quoted when needed,
/// sometimes quoted anyway, `""` escapes), or raw bytes that may break every rule of CSV.
fn line() -> impl Strategy<Value = Vec<u8>> {
    let value = prop_oneof![
        6 => field_bytes(),
        // A `__mv_` encoding holding a literal as one of its items.
        1 => (0..LITERALS.len(), any::<bool>()).prop_map(|(i, two)| {
            let item: Vec<u8> = LITERALS[i]
                .iter()
                .flat_map(|&b| if b == b'$' { vec![b'$', b'$'] } else { vec![b] })
                .collect();
            let mut mv = if two { b"$x$;".to_vec() } else { Vec::new() };
            mv.push(b'$');
            mv.extend(item);
            mv.push(b'$');
            mv
        }),
        1 => (0..LITERALS.len(), any::<u8>()).prop_map(|(i, case)| {
            LITERALS[i]
                .iter()
                .enumerate()
                .map(|(k, &b)| if case >> (k % 8) & 1 == 1 { b.to_ascii_uppercase() } else { b })
                .collect()
        }),
    ];
    let field = (value, any::<bool>()).prop_map(|(value, quote_anyway)| {
        let special = value.iter().any(|b| b"\",\n\r".contains(b));
        if !(special || quote_anyway) {
            return value;
        }
        crate::support::csv_quoted(&value)
    });
    prop_oneof![
        8 => prop::collection::vec(field, 1..4).prop_map(|fields| {
            let mut line = fields.join(&b',');
            line.push(b'\n');
            line
        }),
        1 => field_bytes(),
    ]
}

const LITERALS: [&[u8]; 3] = [b"a;a", b"A\"a;A", b"a$a;a"];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn a_gate_changes_no_reply_and_no_error(
        lines in prop::collection::vec(line(), 0..40),
        literal in 0..LITERALS.len(),
        drop in any::<bool>(),
        clash in any::<bool>(),
        whole in any::<bool>(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..4),
    ) {
        let mut body = b"a,b,__mv_a\n".to_vec();
        body.extend(lines.concat());
        let unmatched = if drop { Verdict::Drop } else { Verdict::Pass };
        let literal = LITERALS[literal];
        let appended: &[&str] = if clash { &["hit", "b"] } else { &["hit", "hit_slot"] };
        let new = if whole { Contains::whole_value } else { Contains::appending };
        let mut gated = new(literal, unmatched, true, appended);
        prop_assert!(gated.gate.is_some());
        let (expected, _) = whole_body(&body, &mut new(literal, unmatched, false, appended));
        let (got, _) = whole_body(&body, &mut gated);
        prop_assert_eq!(&got, &expected);
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(body.len() + 1)).collect();
        cuts.sort();
        prop_assert_eq!(in_pieces(&body, &cuts, &mut gated), expected);
    }
}

/// Rows as Splunk writes them (every field quoted where needed, `""` escapes, multivalue
/// companions): the gate decides every row without the literal, and the reply is unchanged.
#[test]
fn a_gate_decides_most_splunk_rows_by_itself() {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    writer.write_record(["a", "b", "__mv_a"]).expect("header");
    let mut with_literal = 0;
    for i in 0..5_000usize {
        let command = format!(
            "\"C:\\Windows\\system32\\cmd.exe\" /c echo {i},\"{}\"",
            "y".repeat(i % 97)
        );
        let (a, mv) = match i % 50 {
            0 => (
                "netsh.exe\nNETSH.EXE".to_string(),
                "$netsh.exe$;$NETSH.EXE$".to_string(),
            ),
            1 => ("netsh.ex".to_string(), String::new()),
            _ => (format!("proc{i}.exe"), String::new()),
        };
        with_literal += usize::from(i % 50 == 0);
        writer
            .write_record([a.as_str(), command.as_str(), mv.as_str()])
            .expect("row");
    }
    let body = writer.into_inner().expect("body");
    for unmatched in [Verdict::Pass, Verdict::Drop] {
        let (expected, _) = whole_body(&body, &mut Contains::new(b"netsh.exe", unmatched, false));
        let (got, gated) = whole_body(&body, &mut Contains::new(b"netsh.exe", unmatched, true));
        assert_eq!(got, expected);
        assert_eq!(gated, 5_000 - with_literal, "rows decided by the gate");
        let (_, rows_in, rows_out) = got.expect("well-formed body");
        assert_eq!(rows_in, 5_000);
        let passed = if unmatched == Verdict::Pass {
            5_000
        } else {
            with_literal
        };
        assert_eq!(rows_out, passed);
    }
}

#[test]
fn literals_too_short_for_the_raw_bytes_give_no_gate() {
    assert!(RowGate::for_values(&[b"ab"], Verdict::Pass).is_none());
    assert!(RowGate::for_values(&[&b"a\"b$cd"[..]], Verdict::Pass).is_none());
    assert!(RowGate::for_values(&[b"abc"], Verdict::Emit).is_none());
    let gate = RowGate::for_values(&[&b"Net\"sh.exe"[..], b"x$NETSTAT"], Verdict::Drop)
        .expect("long runs remain");
    let needles: Vec<&[u8]> = gate
        .needles
        .as_ref()
        .expect("substring literals")
        .literals()
        .collect();
    assert_eq!(needles, [&b"sh.exe"[..], b"netstat"]);
}
