//! Large replies go into a stdout pipe by `vmsplice` (`protocol::output`), so their pages belong
//! to the pipe until splunkd has read them. These runs of the real binary check the replies
//! byte for byte against the copying path, including when the reader lags a whole request
//! behind, which is when a reused reply buffer would overwrite unread bytes.

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use crate::support::{command, execute, getinfo, netdiscover_exe, split_stream};
use netdiscover::protocol::encode_chunk;

/// Three execute chunks of about 2 MB each, netstat and netsh positives among near-misses; each
/// chunk's rows differ, so bytes of one reply cannot pass for another's.
fn request_stream() -> Vec<u8> {
    request_stream_of(3, 12_000)
}

/// `chunks` execute chunks of `rows` rows each, made as [`request_stream`] describes.
fn request_stream_of(chunks: u64, rows: u64) -> Vec<u8> {
    let mut stream = encode_chunk(&getinfo(&[]), b"");
    for chunk in 0..chunks {
        let mut body = b"dest,user,parent_process_name,process_name,process,process_id\n".to_vec();
        for n in 0..rows {
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
        stream.extend(encode_chunk(&execute(chunk + 1 == chunks), &body));
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

    let (mut child, mut stdin, mut stdout) = spawn_piped(command(netdiscover_exe()));
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

/// The peak resident memory (KiB) of process `pid` so far (`VmHWM`: per address space, so
/// not what the test process held when it forked the command), or `None` once it is gone.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Starts `command` with piped stdin and stdout (stderr dropped), handing both back.
fn spawn_piped(mut command: Command) -> (Child, ChildStdin, ChildStdout) {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn netdiscover");
    let stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    (child, stdin, stdout)
}

/// The command's peak resident memory (KiB) over `stream`, its replies read by a reader that
/// lags behind (reads 32 KiB, pauses) while every request is already written.
fn peak_rss_with_a_lagging_reader(stream: Vec<u8>, splice: bool) -> u64 {
    let mut command = command(netdiscover_exe());
    if !splice {
        command.env("NETDISCOVER_NO_SPLICE", "1");
    }
    let (mut child, mut stdin, mut stdout) = spawn_piped(command);
    let writer = std::thread::spawn(move || stdin.write_all(&stream));
    let mut piece = vec![0; 32 << 10];
    let mut peak = 0;
    loop {
        if let Some(kib) = peak_rss_kib(child.id()) {
            peak = peak.max(kib);
        }
        match stdout.read(&mut piece) {
            Ok(0) => break,
            Ok(_) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => panic!("reading replies: {e}"),
        }
    }
    writer.join().expect("writer").expect("requests written");
    assert!(child.wait().expect("wait").success());
    peak
}

/// The command's resident memory once it has answered getinfo (rules loaded, no data yet).
fn rss_after_getinfo() -> u64 {
    let (mut child, mut stdin, mut stdout) = spawn_piped(command(netdiscover_exe()));
    stdin
        .write_all(&encode_chunk(&getinfo(&[]), b""))
        .expect("getinfo");
    let mut reply = [0u8; 1];
    stdout.read_exact(&mut reply).expect("getinfo reply");
    std::thread::sleep(Duration::from_millis(100));
    let rss = peak_rss_kib(child.id()).expect("VmHWM of the running command");
    drop(stdin);
    let _ = child.wait();
    rss
}

/// Spliced replies read by a reader that lags behind cost no more memory than copied ones,
/// but for the pipe's worth the pipe still holds: the part of a reply buffer splunkd has read
/// is given back as soon as the buffer is set aside.
#[test]
fn a_lagging_reader_costs_splicing_at_most_a_pipe_of_memory_over_copying() {
    const CHUNKS: u64 = 4;
    let stream = request_stream_of(CHUNKS, 40_000);
    let chunk_kib = stream.len() as u64 / CHUNKS / 1024;
    let baseline = rss_after_getinfo();
    let copied = peak_rss_with_a_lagging_reader(stream.clone(), false);
    let spliced = peak_rss_with_a_lagging_reader(stream, true);
    let ratio = |kib: u64| kib.saturating_sub(baseline) as f64 / chunk_kib as f64;
    println!(
        "peak RSS over a {chunk_kib} KiB-chunk baseline of {baseline} KiB: copied {copied} KiB \
         ({:.1}x the chunk), spliced {spliced} KiB ({:.1}x)",
        ratio(copied),
        ratio(spliced)
    );
    // The pipe holds at most 1 MiB; allow it twice, and 2 MiB of allocator slack.
    assert!(
        spliced <= copied + 4 * 1024,
        "splicing with a lagging reader: {spliced} KiB against {copied} KiB copied"
    );
}
