//! `| netdiscover` with Sigma rules: the real binary driven like splunkd, Sigma rules found in
//! `NETDISCOVER_RULES_DIR`. On data-model rows (`| tstats ... by Processes.*`) a rule that
//! needs a Sysmon-only field is reported in the inspector instead of matching nothing in
//! silence; on raw Sysmon events (TA field names) it matches.

use crate::command_rules::finish_with_exit_0;
use crate::support::splunkd::Splunkd;
use crate::support::{execute, getinfo, in_own_process, netdiscover_exe, parse_csv, TIMEOUT};

const CERTUTIL: &str = "title: Certutil Decode\nid: 00000000-0000-4000-8000-000000000001\nstatus: test\nlogsource:\n    category: process_creation\n    product: windows\ndetection:\n    selection_img:\n        - Image|endswith: '\\certutil.exe'\n        - OriginalFileName: 'CertUtil.exe'\n    selection_cli:\n        CommandLine|windash|contains: ' -decode '\n    condition: all of selection_*\nlevel: high\ntags:\n    - attack.defense-evasion\n    - attack.t1140\n";

const DESCRIPTION: &str = "title: Renamed Cmd\nid: 00000000-0000-4000-8000-000000000002\nlogsource:\n    category: process_creation\n    product: windows\ndetection:\n    selection:\n        Description: 'Windows Command Processor'\n    filter:\n        Image|endswith: '\\cmd.exe'\n    condition: selection and not filter\nlevel: medium\n";

const TSTATS: &[u8] = b"Processes.dest,Processes.user,Processes.process_name,Processes.process_path,Processes.process,count\n\
ws01,alice,certutil.exe,C:\\Windows\\System32\\certutil.exe,certutil /decode a.b64 a.exe,1\n\
ws02,bob,cmd.exe,C:\\Windows\\System32\\cmd.exe,cmd /c dir,1\n";

/// Raw Sysmon events as the Splunk Sysmon TA gives them: CIM aliases and the Sysmon names.
const RAW: &[u8] = b"dest,user,process_name,process_path,process,Description\n\
ws03,carol,x.exe,C:\\Users\\carol\\x.exe,x.exe /c whoami,Windows Command Processor\n\
ws04,dave,cmd.exe,C:\\Windows\\System32\\cmd.exe,cmd /c whoami,Windows Command Processor\n";

fn column<'a>(header: &[Vec<u8>], rows: &'a [Vec<Vec<u8>>], name: &str) -> Vec<&'a [u8]> {
    let i = header
        .iter()
        .position(|h| h == name.as_bytes())
        .unwrap_or_else(|| panic!("no column {name}"));
    rows.iter().map(|r| r[i].as_slice()).collect()
}

/// Runs in a process of its own: it sets `NETDISCOVER_RULES_DIR`, which the other tests of
/// this crate must not see.
#[test]
fn sigma_rules_in_splunk() {
    if !in_own_process("sigma_command::sigma_rules_in_splunk") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("certutil.yml"), CERTUTIL).expect("write");
    std::fs::write(dir.path().join("renamed_cmd.yml"), DESCRIPTION).expect("write");
    std::env::set_var("NETDISCOVER_RULES_DIR", dir.path());
    let mut splunkd = Splunkd::spawn(&netdiscover_exe(), &[], TIMEOUT).expect("spawn");
    let info = splunkd
        .request(&getinfo(&["type=sigma:*"]), &[])
        .expect("getinfo");
    assert_eq!(info.json()["type"], "streaming", "{:?}", info.json());

    let reply = splunkd.request(&execute(false), TSTATS).expect("execute");
    let meta = String::from_utf8_lossy(&reply.meta).into_owned();
    assert!(
        meta.contains("1 of 2 Sigma rules cannot match these rows")
            && meta.contains("Description (1 rules)"),
        "{meta}"
    );
    let (header, rows) = parse_csv(&reply.body);
    assert_eq!(
        column(&header, &rows, "detection"),
        [b"Certutil Decode".as_slice(), b""]
    );
    assert_eq!(column(&header, &rows, "detection_type")[0], b"sigma:high");
    assert_eq!(column(&header, &rows, "mitre_attack_id")[0], b"T1140");
    assert_eq!(column(&header, &rows, "risk_score")[0], b"70\n70");

    let reply = splunkd.request(&execute(true), RAW).expect("execute");
    let meta = String::from_utf8_lossy(&reply.meta).into_owned();
    assert!(!meta.contains("cannot match"), "{meta}");
    let (header, rows) = parse_csv(&reply.body);
    assert_eq!(
        column(&header, &rows, "detection"),
        [b"Renamed Cmd".as_slice(), b""]
    );
    finish_with_exit_0(splunkd);
}
