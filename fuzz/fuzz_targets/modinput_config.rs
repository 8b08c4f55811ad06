//! The modular input's configuration XML (what splunkd writes on stdin in run mode and for
//! `--validate-arguments`), as bytes: UTF-8, UTF-16, anything. Errors are fine; panics are not,
//! and an error message never repeats the session key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netdiscover::modinput::{parse_input, parse_validation};

fuzz_target!(|data: &[u8]| {
    let key = session_key_text(data);
    for result in [parse_input(data), parse_validation(data)] {
        if let (Err(e), Some(key)) = (result, key.as_deref()) {
            let message = e.to_string();
            assert!(
                !message.contains(key),
                "error message repeats the session key: {message}"
            );
        }
    }
});

/// The text of `<session_key>...</session_key>` when it is long and distinctive enough that
/// finding it in a message can only mean a leak.
fn session_key_text(data: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(data).ok()?;
    let start = text.find("<session_key>")? + "<session_key>".len();
    let end = start + text[start..].find("</session_key>")?;
    let key = text[start..end].trim();
    (key.len() >= 16 && key.chars().all(|c| c.is_ascii_alphanumeric())).then(|| key.to_string())
}
