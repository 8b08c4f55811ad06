//! Large replies go into a stdout pipe by `vmsplice` (`protocol::output`), so their pages belong
//! to the pipe until splunkd has read them. These runs of the real binary check the replies
//! byte for byte against the copying path, including when the reader lags a whole request
//! behind, which is when a reused reply buffer would overwrite unread bytes.

use std::io::{Read, Write};
use std::process::Stdio;
use std::time::Duration;

use crate::support::{command, execute, getinfo, netdiscover_exe, split_stream};
use netdiscover::protocol::encode_chunk;

/// Three execute chunks of about 2 MB each, netstat and netsh positives among near-misses; each
/// chunk's rows differ, so bytes of one reply cannot pass for another's.
fn request_stream() -> Vec<u8> {
    let mut stream = encode_chunk(&getinfo(&[]), b"");
    for chunk in 0..3u64 {
        let mut body = b"dest,user,parent_process_name,process_name,process,process_id\n".to_vec();
        for n in 0..12_000u64 {
            let id = chunk * 1_000_000 + n;
            let row = match n % 50 {
                0 => format!("ws{id},alice,cmd.exe,netstat.exe,\"netstat -ano -p tcp {id}\",{id}\n"),
                1 => format!(
                    "ws{id},bob,cmd.exe,netsh.exe,\"netsh interface portproxy add v4tov4 listenport={id}\",{id}\n"
                ),
                2 => format!("ws{id},carol,explorer.exe,netsh.exe,\"netsh wlan show profiles {id}\",{id}\n"),
                _ => format!(
                    "ws{id},dave,services.exe,svchost.exe,\"C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule {id}\",{id}\n"
                ),
            };
            body.extend_from_slice(row.as_bytes());
        }
        stream.extend(encode_chunk(&execute(chunk == 2), &body));
    }
    stream
}

/// The binary's output for `stream` written to a file: `vmsplice` refuses files, so every reply
/// is copied.
fn copied_output(stream: &[u8]) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("temp dir");
    let (input, output) = (dir.path().join("in"), dir.path().join("out"));
    std::fs::write(&input, stream).expect("write input");
    let status = command(netdiscover_exe())
        .stdin(std::fs::File::open(&input).expect("open input"))
        .stdout(std::fs::File::create(&output).expect("create output"))
        .stderr(Stdio::null())
        .status()
        .expect("run netdiscover");
    assert!(status.success(), "{status}");
    std::fs::read(&output).expect("read output")
}

#[test]
fn replies_read_by_a_reader_a_request_behind_are_the_copied_replies() {
    let stream = request_stream();
    let expected = copied_output(&stream);
    let replies = split_stream(&expected).chunks;
    assert_eq!(replies.len(), 4);
    assert!(
        replies[1].body.len() > 1_000_000,
        "{} reply bytes: large enough to be spliced",
        replies[1].body.len()
    );

    let mut child = command(netdiscover_exe())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn netdiscover");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = child.stdout.take().expect("stdout");
    // Unlike splunkd, send every request at once, and read slowly: the command finishes
    // splicing a reply while the reader is still up to a pipe's worth behind it, then finds the
    // next request already waiting.
    let writer = std::thread::spawn(move || stdin.write_all(&stream));
    let mut got = Vec::new();
    let mut piece = vec![0; 32 << 10];
    loop {
        match stdout.read(&mut piece) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&piece[..n]),
            Err(e) => panic!("reading replies: {e}"),
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    writer.join().expect("writer").expect("requests written");
    assert!(child.wait().expect("wait").success());
    assert_eq!(got.len(), expected.len());
    let first_difference = got.iter().zip(&expected).position(|(a, b)| a != b);
    assert_eq!(
        first_difference, None,
        "replies differ from the copied ones"
    );
}

#[test]
fn lock_step_replies_are_the_copied_replies() {
    let stream = request_stream();
    let expected = split_stream(&copied_output(&stream)).chunks;
    let requests = split_stream(&stream).chunks;
    let mut splunkd =
        crate::support::splunkd::Splunkd::spawn(&netdiscover_exe(), &[], Duration::from_secs(60))
            .expect("spawn");
    for (request, expected) in requests.iter().zip(&expected) {
        let reply = splunkd
            .request(&request.meta, &request.body)
            .expect("reply");
        assert!(reply.body == expected.body && reply.meta == expected.meta);
    }
    let finished = splunkd.finish();
    assert_eq!(finished.exit_code, Some(0));
}
