//! How the modinput tests drive the input: the executable started as splunkd starts it (its
//! configuration on stdin, then stdin closed; stdout and stderr piped), and the follow loop run
//! in process over one path, as a stanza with only `path` set configures it.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use netdiscover::modinput::{Annotator, Follower, Params, Stanza, Store};

/// Starts `command` with stdin, stdout and stderr piped, writes `config` to its stdin and
/// closes it.
pub fn spawn_configured(mut command: Command, config: &str) -> Child {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn netdiscover_input");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(config.as_bytes()).expect("write config");
    drop(stdin);
    child
}

/// A follower for the stanza `name` with `path` as its only parameter, its checkpoints in
/// `checkpoints`, writing its stream to memory.
pub fn follower(name: &str, path: &Path, checkpoints: &Path) -> Follower<Vec<u8>> {
    follower_with(name, path, &[], checkpoints, None)
}

/// [`follower`] with more parameters (`params`, besides `path`) and an annotator, which a
/// test can use to act at a chosen record while a batch is being read.
pub fn follower_with(
    name: &str,
    path: &Path,
    params: &[(&str, &str)],
    checkpoints: &Path,
    annotator: Option<Annotator>,
) -> Follower<Vec<u8>> {
    let path = ("path".to_string(), vec![path.display().to_string()]);
    let more = params
        .iter()
        .map(|(name, value)| (name.to_string(), vec![value.to_string()]));
    let stanza = Stanza {
        name: name.into(),
        params: std::iter::once(path).chain(more).collect(),
    };
    let params = Params::from_stanza(&stanza).expect("params");
    let store = Store::open(checkpoints, &stanza.name).expect("store");
    Follower::new(params, store, Vec::new(), annotator).expect("follower")
}
