//! Deterministic Endpoint.Processes rows, as `| tstats … by Processes.* |
//! `drop_dm_object_name(Processes)`` hands them to a streaming command, and SCP v2 request
//! streams made of them.
//!
//! Command lines are realistic Windows command lines of 150–400 bytes. About 1% of rows are
//! positives for each seed rule, more are near-misses (the right binary with the wrong arguments,
//! the right arguments under another binary), 3% carry a multivalue `user` and 1% a multivalue
//! `process`. [`truth`] evaluates the seed rules' SPL semantics on the generated values, so the
//! expected hit counts come from the data, not from the generator's intentions.

use netdiscover::protocol::{csv::write_field, encode_chunk, mv};

/// splitmix64: small, fast, and the same sequence on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// True with probability `per_10k / 10_000`.
    pub fn chance(&mut self, per_10k: u64) -> bool {
        self.below(10_000) < per_10k
    }

    fn hex(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b"0123456789abcdef"[self.below(16) as usize]))
            .collect()
    }

    fn guid(&mut self) -> String {
        format!(
            "{}-{}-{}-{}-{}",
            self.hex(8),
            self.hex(4),
            self.hex(4),
            self.hex(4),
            self.hex(12)
        )
    }
}

/// Column order of the generated chunks (Splunk sends plain columns first, `__mv_` last).
pub const COLUMNS: &[&str] = &[
    "dest",
    "user",
    "parent_process_name",
    "process_name",
    "original_file_name",
    "process",
    "process_id",
    "parent_process_id",
    "count",
    "__mv_user",
    "__mv_process",
];

/// One generated row: single values except `user` and `process`, which may be multivalue.
pub struct ProcessRow {
    pub dest: String,
    pub users: Vec<String>,
    pub parent_process_name: String,
    pub process_name: String,
    pub original_file_name: String,
    pub processes: Vec<String>,
    pub process_id: u32,
    pub parent_process_id: u32,
    pub count: u32,
}

const USERS: &[&str] = &[
    "CORP\\jdoe",
    "CORP\\asmith",
    "CORP\\svc_backup",
    "NT AUTHORITY\\SYSTEM",
    "CORP\\mchen",
    "CORP\\lgarcia",
    "NT AUTHORITY\\NETWORK SERVICE",
    "CORP\\adm_kpatel",
    "CORP\\rwilson",
];
const PARENTS: &[&str] = &[
    "explorer.exe",
    "services.exe",
    "svchost.exe",
    "cmd.exe",
    "powershell.exe",
    "chrome.exe",
    "winlogon.exe",
    "taskeng.exe",
    "WmiPrvSE.exe",
];

/// Fills `line` up to a length in 150..=400 with plausible trailing arguments. Lengths skew
/// short (mean about 215 bytes), as real command lines do.
fn pad_to(rng: &mut Rng, mut line: String) -> String {
    let target = 150 + (rng.below(251) * rng.below(251) / 250) as usize;
    while line.len() < target {
        let piece = match rng.below(6) {
            0 => format!(
                " --field-trial-handle={},i,{}",
                rng.below(99999),
                rng.hex(16)
            ),
            1 => format!(" /log:\"C:\\ProgramData\\Logs\\{}.log\"", rng.hex(10)),
            2 => format!(" --session-id={{{}}}", rng.guid()),
            3 => format!(
                " -ExecutionPolicy Bypass -File \"C:\\Users\\Public\\{}.ps1\"",
                rng.hex(6)
            ),
            4 => format!(" --mojo-platform-channel-handle={}", rng.below(9999)),
            _ => format!(" /prefetch:{}", rng.below(9)),
        };
        line.push_str(&piece);
    }
    if line.len() > 400 {
        line.truncate(400);
        while !line.is_char_boundary(line.len()) {
            line.pop();
        }
    }
    line
}

/// A benign command line with its image name.
fn benign(rng: &mut Rng) -> (String, String) {
    let (name, head) = match rng.below(8) {
        0 => ("chrome.exe", format!("\"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe\" --type=renderer --lang=en-US --renderer-client-id={}", rng.below(400))),
        1 => ("svchost.exe", format!("C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s {}", rng.pick(&["Schedule", "BITS", "Winmgmt", "gpsvc", "wuauserv"]))),
        2 => ("powershell.exe", format!("C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe -NoProfile -NonInteractive -Command \"Get-Item 'C:\\Users\\{}\\AppData'\"", rng.pick(&["jdoe", "asmith", "mchen"]))),
        3 => ("cmd.exe", format!("\"C:\\Windows\\system32\\cmd.exe\" /c \"dir C:\\Users\\Public\\Documents > C:\\Windows\\Temp\\{}.txt\"", rng.hex(8))),
        4 => ("msedge.exe", format!("\"C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe\" --type=utility --utility-sub-type=network.mojom.NetworkService --service-sandbox-type=none --instance={}", rng.guid())),
        5 => ("rundll32.exe", format!("C:\\Windows\\system32\\rundll32.exe C:\\Windows\\System32\\shell32.dll,SHCreateLocalServerRunDll {{{}}} -Embedding", rng.guid())),
        6 => ("conhost.exe", format!("\\??\\C:\\Windows\\system32\\conhost.exe 0xffffffff -ForceV1 -Session {}", rng.below(9))),
        _ => ("OneDrive.exe", format!("\"C:\\Users\\jdoe\\AppData\\Local\\Microsoft\\OneDrive\\OneDrive.exe\" /background /updateInstalled {}", rng.hex(12))),
    };
    (name.to_string(), pad_to(rng, head))
}

/// Positives and near-misses for the two seed rules.
fn interesting(rng: &mut Rng, kind: u64) -> (String, String) {
    let (name, head) = match kind {
        // Netstat positive: process_name=netstat.exe and *-a* in the command line.
        0 => {
            let flags = rng.pick(&["-ano", "-a -n -o", "-an", "-A"]);
            let extra = rng.pick(&["-p TCP", "5", "-b"]);
            ("netstat.exe", format!("C:\\Windows\\system32\\NETSTAT.EXE {flags} {extra}"))
        }
        // Netstat near-miss: right binary, no "-a".
        1 => {
            let flags = rng.pick(&["-rn", "-s -p tcp", "-e", "-nb"]);
            ("netstat.exe", format!("C:\\Windows\\system32\\NETSTAT.EXE {flags} "))
        }
        // Netstat near-miss: "netstat -ano" run through cmd.exe (process_name is cmd.exe).
        2 => (
            "cmd.exe",
            "\"C:\\Windows\\system32\\cmd.exe\" /c netstat -ano | findstr LISTENING".to_string(),
        ),
        // Netsh positive.
        3 => {
            let port = 1024 + rng.below(60000);
            let (a, b, c) = (rng.below(255), rng.below(255), rng.below(255));
            (
                "netsh.exe",
                format!("netsh  interface portproxy add v4tov4 listenport={port} listenaddress=0.0.0.0 connectport=443 connectaddress=10.{a}.{b}.{c} "),
            )
        }
        // Netsh near-misses: portproxy without v4tov4 (or v4tov6), or the firewall.
        4 => {
            let verb = rng.pick(&["show all", "add v4tov6 listenport=80 connectaddress=::1", "reset"]);
            ("netsh.exe", format!("netsh.exe interface portproxy {verb} "))
        }
        _ => (
            "netsh.exe",
            "netsh.exe advfirewall firewall add rule name=\"Allow v4tov4 portproxy\" dir=in action=allow protocol=TCP localport=3389 ".to_string(),
        ),
    };
    (name.to_string(), pad_to(rng, head))
}

/// Generates row number `n` of the stream with seed `seed` (rows are independent, so any
/// chunk can be produced on its own).
pub fn row(seed: u64, n: u64) -> ProcessRow {
    let mut rng = Rng::new(seed ^ n.wrapping_mul(0x2545_F491_4F6C_DD1D));
    let roll = rng.below(10_000);
    let (process_name, process) = match roll {
        0..=99 => interesting(&mut rng, 0),
        100..=199 => interesting(&mut rng, 3),
        200..=349 => interesting(&mut rng, 1),
        350..=449 => interesting(&mut rng, 2),
        450..=549 => interesting(&mut rng, 4),
        550..=599 => interesting(&mut rng, 5),
        _ => benign(&mut rng),
    };
    let mut processes = vec![process];
    // 1%: multivalue process; the second value is benign, so the hit depends on the first.
    if rng.chance(100) {
        processes.push(benign(&mut rng).1);
    }
    let mut users = vec![rng.pick(USERS).to_string()];
    if rng.chance(300) {
        users.push(rng.pick(USERS).to_string());
    }
    let original_file_name = if rng.chance(9500) {
        process_name.to_ascii_uppercase()
    } else {
        String::new()
    };
    ProcessRow {
        dest: format!("WKS-{:04}", rng.below(5000)),
        users,
        parent_process_name: rng.pick(PARENTS).to_string(),
        process_name,
        original_file_name,
        processes,
        process_id: 1000 + rng.below(60000) as u32,
        parent_process_id: 400 + rng.below(60000) as u32,
        count: 1 + rng.below(20) as u32,
    }
}

/// The CSV header Splunk would send for [`COLUMNS`].
pub fn header() -> Vec<u8> {
    let mut out = Vec::new();
    for (i, c) in COLUMNS.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        // Splunk quotes names containing `_`.
        if c.contains('_') {
            out.extend_from_slice(format!("\"{c}\"").as_bytes());
        } else {
            out.extend_from_slice(c.as_bytes());
        }
    }
    out.push(b'\n');
    out
}

/// Appends `row` as Splunk writes it: liberal quoting, multivalue as `\n`-joined + `__mv_`.
pub fn write_row(row: &ProcessRow, out: &mut Vec<u8>) {
    let quote_all = |v: &str, out: &mut Vec<u8>| {
        out.push(b'"');
        out.extend_from_slice(v.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    };
    let multi = |values: &[String]| -> (Vec<u8>, Vec<u8>) {
        let refs: Vec<&[u8]> = values.iter().map(|v| v.as_bytes()).collect();
        mv::encode(&refs)
    };
    write_field(row.dest.as_bytes(), out);
    out.push(b',');
    let (user, mv_user) = multi(&row.users);
    quote_all(&String::from_utf8_lossy(&user), out);
    out.push(b',');
    quote_all(&row.parent_process_name, out);
    out.push(b',');
    quote_all(&row.process_name, out);
    out.push(b',');
    if !row.original_file_name.is_empty() {
        quote_all(&row.original_file_name, out);
    }
    out.push(b',');
    let (process, mv_process) = multi(&row.processes);
    quote_all(&String::from_utf8_lossy(&process), out);
    out.extend_from_slice(
        format!(
            ",{},{},{},",
            row.process_id, row.parent_process_id, row.count
        )
        .as_bytes(),
    );
    write_field(&mv_user, out);
    out.push(b',');
    write_field(&mv_process, out);
    out.push(b'\n');
}

/// What the seed rules say about a row, evaluated with SPL semantics (case-insensitive `=`,
/// `*` wildcards, a multivalue field matches when any value matches).
pub struct Truth {
    pub netstat: bool,
    pub netsh: bool,
}

fn wildcard_contains(haystack: &str, needle: &str) -> bool {
    haystack.to_ascii_lowercase().contains(needle)
}

pub fn truth(row: &ProcessRow) -> Truth {
    let name = |n: &str| row.process_name.eq_ignore_ascii_case(n);
    let netstat = name("netstat.exe") && row.processes.iter().any(|p| wildcard_contains(p, "-a"));
    let netsh = (name("netsh.exe") || row.original_file_name.eq_ignore_ascii_case("netsh.exe"))
        && row
            .processes
            .iter()
            .any(|p| wildcard_contains(p, " portproxy "))
        && row
            .processes
            .iter()
            .any(|p| wildcard_contains(p, " v4tov4 "));
    Truth { netstat, netsh }
}

/// A chunk body of `rows` rows starting at row `first`, with the positives it holds.
pub struct GeneratedChunk {
    pub body: Vec<u8>,
    pub netstat: u64,
    pub netsh: u64,
}

pub fn chunk(seed: u64, first: u64, rows: u64) -> GeneratedChunk {
    let mut body = header();
    let (mut netstat, mut netsh) = (0, 0);
    for n in first..first + rows {
        let r = row(seed, n);
        let t = truth(&r);
        netstat += t.netstat as u64;
        netsh += t.netsh as u64;
        write_row(&r, &mut body);
    }
    GeneratedChunk {
        body,
        netstat,
        netsh,
    }
}

/// An execute request for `body`.
pub fn execute_request(body: &[u8], finished: bool) -> Vec<u8> {
    encode_chunk(
        format!("{{\"action\":\"execute\",\"finished\":{finished}}}").as_bytes(),
        body,
    )
}
