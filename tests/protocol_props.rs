//! Property tests: framing round trip under arbitrary short reads, the `__mv_` codec round trip,
//! and the zero-copy CSV reader agreeing with the `csv` crate on arbitrary bytes.

use std::io::{BufReader, Read};

use netdiscover::protocol::framing::{encode_chunk, read_chunk};
use netdiscover::protocol::{mv, BodyProcessor, Emitter, ProcessError, Row, RowProcessor, Verdict};
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
