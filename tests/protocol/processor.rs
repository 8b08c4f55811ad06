//! The rules-engine seam: a processor that reads fields, drops rows and emits annotated rows,
//! run through the real session loop in memory.

use crate::support::{execute, getinfo, parse_csv, split_stream};
use netdiscover::protocol::{
    encode_chunk, run_session, CommandError, Emitter, GetInfo, GetInfoReply, Level, Message,
    ProcessError, Row, RowProcessor, SearchCommand, Verdict,
};

/// Flags rows whose `process` mentions netstat: annotate (Pass/Emit), filter (Drop), or one row
/// per value of `user` (risk-like expansion). Records every value it saw.
struct NetstatFlagger {
    fields: Vec<String>,
    appended: Vec<String>,
    mode: &'static str,
    seen: Vec<Vec<Vec<u8>>>,
}

impl NetstatFlagger {
    fn new(mode: &'static str) -> Self {
        NetstatFlagger {
            fields: vec!["process".into(), "user".into()],
            appended: vec!["detection".into(), "risk_object".into()],
            mode,
            seen: Vec::new(),
        }
    }
}

impl RowProcessor for NetstatFlagger {
    fn input_fields(&self) -> &[String] {
        &self.fields
    }
    fn appended_columns(&self) -> &[String] {
        &self.appended
    }
    fn process_row(&mut self, row: &Row<'_>, emit: &mut Emitter) -> Result<Verdict, ProcessError> {
        self.seen.push(row.values(0).map(|v| v.to_vec()).collect());
        // The indexed accessors agree with the iterator.
        assert_eq!(row.value_count(0), row.values(0).len());
        for (i, v) in row.values(0).enumerate() {
            assert_eq!(row.value(0, i), v);
        }
        assert_eq!(row.value(0, row.value_count(0)), b"");
        assert_eq!(row.value_count(99), 0);
        let hit = row.values(0).any(|v| v.windows(7).any(|w| w == b"netstat"));
        if row.first(0) == Some(b"BOOM") {
            return Err(ProcessError("cannot evaluate BOOM".into()));
        }
        match (hit, self.mode) {
            (false, "filter") => Ok(Verdict::Drop),
            (false, _) => Ok(Verdict::Pass),
            (true, "risk") => {
                for user in row.values(1) {
                    emit.push(0, b"Netstat");
                    emit.push(1, user);
                    emit.end_row();
                }
                Ok(Verdict::Emit)
            }
            (true, _) => {
                emit.push(0, b"Netstat");
                emit.push(0, b"Second $rule$");
                Ok(Verdict::Emit)
            }
        }
    }
    fn end_chunk(&mut self, messages: &mut Vec<Message>) {
        messages.push(Message {
            level: Level::Info,
            text: format!("{} rows seen", self.seen.len()),
        });
    }
}

struct TestCommand(&'static str);

impl SearchCommand for TestCommand {
    type Processor = NetstatFlagger;
    fn getinfo(&mut self, _: &GetInfo) -> Result<GetInfoReply, CommandError> {
        Ok(GetInfoReply::streaming())
    }
    fn start(&mut self) -> Result<NetstatFlagger, CommandError> {
        Ok(NetstatFlagger::new(self.0))
    }
}

fn session(mode: &'static str, bodies: &[&[u8]]) -> (i32, Vec<crate::support::Chunk>) {
    let mut input = encode_chunk(&getinfo(&[]), b"");
    for (n, body) in bodies.iter().enumerate() {
        input.extend(encode_chunk(&execute(n + 1 == bodies.len()), body));
    }
    let mut output = Vec::new();
    let end = run_session(&mut &input[..], &mut output, &mut TestCommand(mode));
    let rec = split_stream(&output);
    assert!(rec.tail.is_empty());
    (end.exit_code, rec.chunks)
}

const BODY: &[u8] = b"process,user,\"_chunked_idx\",\"__mv_process\",\"__mv_user\"\n\
\"netstat -ano\",alice,0,,\n\
\"notepad.exe a.txt\",bob,1,,\n\
\"x\ny\",\"carol\ndave\",2,\"$cmd.exe$;$C:\\netstat.exe -a$\",\"$carol$;$dave$\"\n";

#[test]
fn annotate_passes_misses_verbatim_and_encodes_multivalue_annotations() {
    let (code, chunks) = session("annotate", &[BODY]);
    assert_eq!(code, 0);
    let reply = &chunks[1];
    let (header, rows) = parse_csv(&reply.body);
    assert_eq!(
        header,
        [
            "process",
            "user",
            "_chunked_idx",
            "__mv_process",
            "__mv_user",
            "detection",
            "risk_object",
            "__mv_detection",
            "__mv_risk_object"
        ]
        .map(|s| s.as_bytes().to_vec())
    );
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0][5], b"Netstat\nSecond $rule$");
    assert_eq!(rows[0][7], b"$Netstat$;$Second $$rule$$$");
    assert_eq!(rows[1][5..], [b"", b"", b"", b""].map(|s| s.to_vec()));
    // The multivalue row matched through its __mv_process items; _chunked_idx is echoed.
    assert_eq!(rows[2][2], b"2");
    assert_eq!(rows[2][5], b"Netstat\nSecond $rule$");
    // The input part of every row is the input bytes, unchanged.
    let (_, in_rows) = parse_csv(BODY);
    for (a, b) in in_rows.iter().zip(&rows) {
        assert_eq!(a[..], b[..5]);
    }
    let meta = reply.json();
    assert_eq!(meta["finished"], true);
    assert_eq!(
        meta["inspector"]["messages"][0],
        serde_json::json!(["INFO", "3 rows seen"])
    );
}

#[test]
fn filter_drops_misses() {
    let (_, chunks) = session("filter", &[BODY]);
    let (_, rows) = parse_csv(&chunks[1].body);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0][1], b"alice");
    assert_eq!(rows[1][2], b"2");
}

#[test]
fn emit_expands_one_row_per_emitted_row() {
    let (_, chunks) = session("risk", &[BODY]);
    let (_, rows) = parse_csv(&chunks[1].body);
    let risk: Vec<(&[u8], &[u8])> = rows.iter().map(|r| (&r[2][..], &r[6][..])).collect();
    assert_eq!(
        risk,
        [
            (&b"0"[..], &b"alice"[..]),
            (b"1", b""),
            (b"2", b"carol"),
            (b"2", b"dave")
        ]
    );
}

#[test]
fn processor_sees_decoded_multivalue_items_and_null_for_empty() {
    let mut processor = NetstatFlagger::new("annotate");
    let mut bodies = netdiscover::protocol::BodyProcessor::new();
    let (mut out, mut messages) = (Vec::new(), Vec::new());
    let body = b"user,process,\"__mv_process\"\nu,\"say \"\"hi\"\"\",\nu,,\nu,ignored,\"$a$$b$;$$;$c\nd$\"\n";
    bodies
        .process(body, &mut processor, &mut out, &mut messages)
        .unwrap();
    assert_eq!(
        processor.seen,
        vec![
            vec![b"say \"hi\"".to_vec()],
            vec![],
            vec![b"a$b".to_vec(), b"".to_vec(), b"c\nd".to_vec()],
        ]
    );
}

#[test]
fn input_columns_named_like_appended_ones_are_replaced() {
    let body =
        b"process,detection,\"__mv_detection\"\n\"netstat -a\",stale,\"$s$;$t$\"\nnotepad,stale,\n";
    let (_, chunks) = session("annotate", &[body]);
    let (header, rows) = parse_csv(&chunks[1].body);
    assert_eq!(
        header,
        [
            "process",
            "detection",
            "risk_object",
            "__mv_detection",
            "__mv_risk_object"
        ]
        .map(|s| s.as_bytes().to_vec())
    );
    assert_eq!(rows[0][1], b"Netstat\nSecond $rule$");
    assert_eq!(
        rows[1],
        ["notepad", "", "", "", ""].map(|s| s.as_bytes().to_vec())
    );
}

#[test]
fn short_rows_are_padded_and_processor_errors_are_reported() {
    let (code, chunks) = session("annotate", &[b"process,user\n\"netstat\"\n"]);
    assert_eq!(code, 0);
    let (_, rows) = parse_csv(&chunks[1].body);
    assert_eq!(
        rows[0],
        [
            "netstat",
            "",
            "Netstat\nSecond $rule$",
            "",
            "$Netstat$;$Second $$rule$$$",
            ""
        ]
        .map(|s| s.as_bytes().to_vec())
    );

    let (code, chunks) = session("annotate", &[b"process\nok\n", b"process\nfine\nBOOM\n"]);
    assert_eq!(code, 1);
    assert_eq!(chunks.len(), 3, "getinfo, chunk 1, error reply for chunk 2");
    let error = chunks[2].json()["error"].as_str().unwrap().to_string();
    assert!(
        error.contains("execute chunk 2") && error.contains("row 2") && error.contains("BOOM"),
        "{error}"
    );
}

/// Appends fixed values to every row, either value by value or as fields encoded once.
struct Fixed {
    appended: Vec<String>,
    values: Vec<Vec<&'static [u8]>>,
    encoded: Option<Vec<(Vec<u8>, Vec<u8>)>>,
}

impl RowProcessor for Fixed {
    fn input_fields(&self) -> &[String] {
        &[]
    }
    fn appended_columns(&self) -> &[String] {
        &self.appended
    }
    fn process_row(&mut self, _: &Row<'_>, emit: &mut Emitter) -> Result<Verdict, ProcessError> {
        for column in 0..self.values.len() {
            match &self.encoded {
                Some(fields) => emit.push_encoded(column, &fields[column].0, &fields[column].1),
                None => self.values[column]
                    .iter()
                    .for_each(|value| emit.push(column, value)),
            }
        }
        Ok(Verdict::Emit)
    }
}

#[test]
fn fields_encoded_once_reply_as_the_same_values_pushed_one_by_one() {
    use netdiscover::protocol::{mv, BodyProcessor};
    let values: Vec<Vec<&'static [u8]>> = vec![
        vec![],
        vec![b"one"],
        vec![b"a,b"],
        vec![b"two", b"values"],
        vec![b"say \"hi\"", b"$5", b"l1\nl2"],
        vec![b"", b"$$;$"],
    ];
    let encoded = values
        .iter()
        .map(|list| {
            let (mut plain, mut mv) = (Vec::new(), Vec::new());
            mv::write_fields(list.iter().copied(), &mut plain, &mut mv);
            (plain, mv)
        })
        .collect();
    let appended: Vec<String> = (0..values.len()).map(|c| format!("c{c}")).collect();
    let mut by_value = Fixed {
        appended: appended.clone(),
        values: values.clone(),
        encoded: None,
    };
    let mut once = Fixed {
        appended,
        values,
        encoded: Some(encoded),
    };
    let (mut a, mut b, mut messages) = (Vec::new(), Vec::new(), Vec::new());
    for body in [
        BODY,
        b"process\nx\n".as_slice(),
        b"c1,process\nold,x\n".as_slice(),
    ] {
        netdiscover::protocol::BodyProcessor::new()
            .process(body, &mut by_value, &mut a, &mut messages)
            .unwrap();
        BodyProcessor::new()
            .process(body, &mut once, &mut b, &mut messages)
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&a), String::from_utf8_lossy(&b));
    }
    let (header, rows) = parse_csv(&b);
    assert_eq!(header[1], b"c0");
    assert_eq!(rows[0][4], b"two\nvalues");
    assert_eq!(rows[0][11], b"$say \"hi\"$;$$$5$;$l1\nl2$");
}

/// Records every value of its (many) fields per row.
struct Recorder {
    fields: Vec<String>,
    seen: Vec<Vec<Vec<Vec<u8>>>>,
}

impl RowProcessor for Recorder {
    fn input_fields(&self) -> &[String] {
        &self.fields
    }
    fn appended_columns(&self) -> &[String] {
        &[]
    }
    fn process_row(&mut self, row: &Row<'_>, _: &mut Emitter) -> Result<Verdict, ProcessError> {
        let values = (0..self.fields.len())
            .map(|slot| row.values(slot).map(<[u8]>::to_vec).collect())
            .collect();
        self.seen.push(values);
        Ok(Verdict::Pass)
    }
}

#[test]
fn every_row_sees_its_own_decoded_values_with_many_fields() {
    use netdiscover::protocol::BodyProcessor;
    // 70 fields, past the 63 whose decoding is tracked one by one: escaped values are decoded
    // into scratch buffers, which must hold the current row's values, never an earlier row's.
    let fields: Vec<String> = (0..70).map(|f| format!("f{f}")).collect();
    let mut body = fields.join(",").into_bytes();
    body.push(b'\n');
    let expected: Vec<Vec<Vec<Vec<u8>>>> = (0..4)
        .map(|row| {
            (0..70)
                .map(|f| match (row + f) % 3 {
                    0 => vec![format!("say \"{row}-{f}\"").into_bytes()],
                    1 => vec![format!("plain{row}-{f}").into_bytes()],
                    _ => Vec::new(),
                })
                .collect()
        })
        .collect();
    for row in &expected {
        let cells: Vec<String> = row
            .iter()
            .map(|values| match values.first() {
                Some(v) => {
                    let v = String::from_utf8_lossy(v);
                    if v.contains('"') {
                        format!("\"{}\"", v.replace('"', "\"\""))
                    } else {
                        v.into_owned()
                    }
                }
                None => String::new(),
            })
            .collect();
        body.extend_from_slice(cells.join(",").as_bytes());
        body.push(b'\n');
    }
    let mut recorder = Recorder {
        fields,
        seen: Vec::new(),
    };
    let (mut out, mut messages) = (Vec::new(), Vec::new());
    BodyProcessor::new()
        .process(&body, &mut recorder, &mut out, &mut messages)
        .unwrap();
    assert_eq!(out, body);
    assert_eq!(recorder.seen, expected);
}
