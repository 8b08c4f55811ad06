//! Property tests: framing round trip under arbitrary short reads, the `__mv_` codec round trip,
//! and the zero-copy CSV reader agreeing with the `csv` crate on arbitrary bytes.

use std::io::{BufReader, Read};

use netdiscover::protocol::{
    encode_chunk, mv, read_chunk, BodyProcessor, Emitter, ProcessError, Row, RowProcessor, Verdict,
};
use proptest::prelude::*;

/// A reader that hands out at most `steps[i]` bytes per call, like a pipe written in pieces.
struct Choppy<'a> {
    data: &'a [u8],
    steps: Vec<usize>,
    n: usize,
}

impl Read for Choppy<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let step = self.steps[self.n % self.steps.len()].max(1);
        self.n += 1;
        let k = step.min(buf.len()).min(self.data.len());
        buf[..k].copy_from_slice(&self.data[..k]);
        self.data = &self.data[k..];
        Ok(k)
    }
}

fn tricky_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            Just(b'$'),
            Just(b';'),
            Just(b'"'),
            Just(b'\n'),
            Just(b'\r'),
            Just(b','),
            Just(b'a'),
            Just(0xffu8),
            any::<u8>()
        ],
        0..12,
    )
}

/// Reads every column of the chunk as a slot and records the values.
struct ReadAll {
    fields: Vec<String>,
    seen: Vec<Vec<Vec<Vec<u8>>>>,
}

impl RowProcessor for ReadAll {
    fn input_fields(&self) -> &[String] {
        &self.fields
    }
    fn appended_columns(&self) -> &[String] {
        &[]
    }
    fn process_row(&mut self, row: &Row<'_>, _: &mut Emitter) -> Result<Verdict, ProcessError> {
        self.seen.push(
            (0..self.fields.len())
                .map(|s| row.values(s).map(|v| v.to_vec()).collect())
                .collect(),
        );
        Ok(Verdict::Pass)
    }
}

proptest! {
    #[test]
    fn framing_round_trips_under_short_reads(
        chunks in prop::collection::vec((prop::collection::vec(any::<u8>(), 0..64), prop::collection::vec(any::<u8>(), 0..300)), 0..6),
        steps in prop::collection::vec(1usize..17, 1..8),
    ) {
        let mut stream = Vec::new();
        for (meta, body) in &chunks {
            stream.extend(encode_chunk(meta, body));
        }
        let mut reader = BufReader::with_capacity(7, Choppy { data: &stream, steps, n: 0 });
        let (mut meta, mut body) = (Vec::new(), Vec::new());
        for (want_meta, want_body) in &chunks {
            let header = read_chunk(&mut reader, &mut meta, &mut body).unwrap();
            prop_assert!(header.is_some());
            prop_assert_eq!(&meta, want_meta);
            prop_assert_eq!(&body, want_body);
        }
        prop_assert!(read_chunk(&mut reader, &mut meta, &mut body).unwrap().is_none());
    }

    #[test]
    fn truncated_streams_are_errors_never_panics(
        meta in prop::collection::vec(any::<u8>(), 1..40),
        body in prop::collection::vec(any::<u8>(), 1..100),
        cut in any::<prop::sample::Index>(),
    ) {
        let stream = encode_chunk(&meta, &body);
        let cut = 1 + cut.index(stream.len() - 1);
        let (mut m, mut b) = (Vec::new(), Vec::new());
        prop_assert!(read_chunk(&mut &stream[..cut], &mut m, &mut b).is_err());
    }

    #[test]
    fn mv_codec_round_trips(values in prop::collection::vec(tricky_bytes(), 2..6)) {
        let refs: Vec<&[u8]> = values.iter().map(|v| &v[..]).collect();
        let (plain, encoded) = mv::encode(&refs);
        prop_assert_eq!(mv::decode(&encoded), values.clone());
        prop_assert_eq!(plain, values.join(&b'\n'));
    }

    #[test]
    fn reader_agrees_with_the_csv_crate_and_passthrough_is_byte_exact(
        columns in 1usize..5,
        cells in prop::collection::vec(tricky_bytes(), 0..40),
        multivalue in prop::collection::vec(tricky_bytes(), 2..4),
    ) {
        // Header: c0..cn plus one __mv_ column holding a real encoded multivalue.
        let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new());
        let mut header: Vec<Vec<u8>> = (0..columns).map(|c| format!("c{c}").into_bytes()).collect();
        header.push(b"__mv_c0".to_vec());
        writer.write_record(&header).unwrap();
        let refs: Vec<&[u8]> = multivalue.iter().map(|v| &v[..]).collect();
        let (_, encoded) = mv::encode(&refs);
        let mut expected = Vec::new();
        for row in cells.chunks(columns) {
            let mut record: Vec<Vec<u8>> = row.to_vec();
            record.resize(columns, Vec::new());
            // Avoid the one-empty-field row, which CSV writers render as an empty line.
            if columns == 1 && record[0].is_empty() { record[0] = b"x".to_vec(); }
            record.push(encoded.clone());
            writer.write_record(&record).unwrap();
            let values: Vec<Vec<Vec<u8>>> = (0..columns).map(|c| {
                if c == 0 { multivalue.clone() }
                else if record[c].is_empty() { vec![] }
                else { vec![record[c].clone()] }
            }).collect();
            expected.push(values);
        }
        let body = writer.into_inner().unwrap();
        let mut processor = ReadAll { fields: (0..columns).map(|c| format!("c{c}")).collect(), seen: Vec::new() };
        let (mut out, mut messages) = (Vec::new(), Vec::new());
        let stats = BodyProcessor::new().process(&body, &mut processor, &mut out, &mut messages).unwrap();
        prop_assert_eq!(stats.rows_in, expected.len());
        prop_assert_eq!(processor.seen, expected);
        prop_assert_eq!(out, body);
    }
}

/// Command used by the no-panic property: passthrough with options validated like netdiscover.
struct Plain;

impl netdiscover::protocol::SearchCommand for Plain {
    type Processor = ReadAll;
    fn getinfo(
        &mut self,
        _: &netdiscover::protocol::GetInfo,
    ) -> Result<netdiscover::protocol::GetInfoReply, netdiscover::protocol::CommandError> {
        Ok(netdiscover::protocol::GetInfoReply::streaming())
    }
    fn start(&mut self) -> Result<ReadAll, netdiscover::protocol::CommandError> {
        Ok(ReadAll {
            fields: vec!["a".into(), "b".into()],
            seen: Vec::new(),
        })
    }
}

proptest! {
    /// Arbitrary bytes after a valid getinfo, or arbitrary bodies in well-framed execute
    /// chunks: the session never panics, exits 0 or 1, and its output is valid framing whose
    /// last chunk is an error exactly when it exits 1.
    #[test]
    fn any_input_gets_framed_replies_and_no_panic(
        garbage in prop::collection::vec(any::<u8>(), 0..200),
        bodies in prop::collection::vec(prop::collection::vec(prop_oneof![Just(b'"'), Just(b','), Just(b'\n'), Just(b'$'), any::<u8>()], 0..80), 0..4),
        framed in any::<bool>(),
    ) {
        let getinfo = br#"{"action":"getinfo","searchinfo":{"args":[]}}"#;
        let mut input = encode_chunk(getinfo, b"");
        if framed {
            for body in &bodies {
                input.extend(encode_chunk(br#"{"action":"execute","finished":false}"#, body));
            }
        } else {
            input.extend_from_slice(&garbage);
        }
        let mut output = Vec::new();
        let end = netdiscover::protocol::run_session(&mut &input[..], &mut output, &mut Plain);
        prop_assert!(end.exit_code == 0 || end.exit_code == 1);
        let mut reader = &output[..];
        let (mut meta, mut body) = (Vec::new(), Vec::new());
        let mut last_meta = Vec::new();
        let mut replies = 0;
        while read_chunk(&mut reader, &mut meta, &mut body).unwrap().is_some() {
            replies += 1;
            last_meta = meta.clone();
        }
        let last: serde_json::Value = serde_json::from_slice(&last_meta).unwrap();
        prop_assert_eq!(end.exit_code == 1, last.get("error").is_some());
        if framed && end.exit_code == 0 {
            prop_assert_eq!(replies, 1 + bodies.len());
        }
    }
}

proptest! {
    /// Feeding a body in arbitrary pieces (as the session does while it arrives) gives exactly
    /// the reply of processing it whole.
    #[test]
    fn incremental_feeding_equals_whole_body(
        cells in prop::collection::vec(tricky_bytes(), 0..30),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new());
        writer.write_record(["a", "b", "__mv_a"]).unwrap();
        for row in cells.chunks(3) {
            let mut record = row.to_vec();
            record.resize(3, b"x".to_vec());
            writer.write_record(&record).unwrap();
        }
        let body = writer.into_inner().unwrap();
        let new = || ReadAll { fields: vec!["a".into(), "b".into()], seen: Vec::new() };
        let (mut whole, mut messages) = (Vec::new(), Vec::new());
        let mut p1 = new();
        let whole_result = BodyProcessor::new().process(&body, &mut p1, &mut whole, &mut messages).map(|s| s.rows_in);

        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(body.len() + 1)).collect();
        points.sort();
        let mut p2 = new();
        let mut bodies = BodyProcessor::new();
        let mut pieces = Vec::new();
        bodies.begin(&mut pieces);
        let mut result = Ok(());
        for &p in &points {
            result = result.and_then(|_| bodies.feed(&body[..p], false, &mut p2, &mut pieces));
        }
        let result = result
            .and_then(|_| bodies.feed(&body, true, &mut p2, &mut pieces))
            .map(|_| bodies.finish(&mut p2, &mut messages).rows_in);
        prop_assert_eq!(result.is_ok(), whole_result.is_ok());
        if let (Ok(a), Ok(b)) = (result, whole_result) {
            prop_assert_eq!(a, b);
            prop_assert_eq!(&pieces, &whole);
            prop_assert_eq!(p2.seen, p1.seen);
        }
    }
}
