#!/usr/bin/env python3
"""The benchmark's peer: what a Splunk user would write instead of netdiscover.

A splunklib (splunk-sdk-python) StreamingCommand implementing the two seed detections with the
same semantics (SPL `=` is case-insensitive, `*` wildcards, a multivalue field matches when any
value matches) and the same annotation fields as `| netdiscover` in annotate mode. Splunk runs it
with no arguments over SCP v2, exactly as the benchmark driver does.
"""
import sys

from splunklib.searchcommands import Configuration, StreamingCommand, dispatch

FIELDS = [
    "detection", "detection_id", "detection_type", "mitre_attack_id", "analytic_story",
    "risk_score", "risk_object", "risk_object_type", "risk_message", "threat_object",
    "threat_object_type",
]

NETSTAT = {
    "detection": "Network Connection Discovery With Netstat",
    "detection_id": "2cf5cc25-f39a-436d-a790-4857e5995ede",
    "detection_type": "Hunting",
    "mitre_attack_id": ["T1049"],
    "analytic_story": ["CISA AA22-277A", "Windows Post-Exploitation", "Active Directory Discovery",
                       "CISA AA23-347A", "Prestige Ransomware"],
}
NETSH = {
    "detection": "Windows Proxy Via Netsh",
    "detection_id": "c137bfe8-6036-4cff-b77b-4e327dd0a1cf",
    "detection_type": "Anomaly",
    "mitre_attack_id": ["T1090.001"],
    "analytic_story": ["Volt Typhoon"],
}


def values(record, name):
    value = record.get(name)
    if value is None:
        return []
    if isinstance(value, list):
        return [v for v in value if v]
    return [value] if value else []


def any_eq(record, name, wanted):
    return any(v.lower() == wanted for v in values(record, name))


def any_contains(record, name, needle):
    return any(needle in v.lower() for v in values(record, name))


@Configuration()
class NetdiscoverPeer(StreamingCommand):
    def stream(self, records):
        for record in records:
            hits = []
            if any_eq(record, "process_name", "netstat.exe") and any_contains(record, "process", "-a"):
                hits.append((NETSTAT, []))
            if ((any_eq(record, "process_name", "netsh.exe") or any_eq(record, "original_file_name", "netsh.exe"))
                    and any_contains(record, "process", " portproxy ")
                    and any_contains(record, "process", " v4tov4 ")):
                risk = [(v, "system") for v in values(record, "dest")] + \
                       [(v, "user") for v in values(record, "user")]
                hits.append((NETSH, risk))
            out = {f: [] for f in FIELDS}
            for rule, risk in hits:
                for key in ("detection", "detection_id", "detection_type"):
                    out[key].append(rule[key])
                out["mitre_attack_id"].extend(rule["mitre_attack_id"])
                out["analytic_story"].extend(rule["analytic_story"])
                for obj, kind in risk:
                    out["risk_score"].append("49")
                    out["risk_object"].append(obj)
                    out["risk_object_type"].append(kind)
                if risk:
                    name = (values(record, "process_name") or [""])[0]
                    proc = (values(record, "process") or [""])[0]
                    dest = (values(record, "dest") or [""])[0]
                    out["risk_message"].append(
                        "A process %s has launched netsh with command-line %s on %s." % (name, proc, dest))
            for key, vals in out.items():
                record[key] = vals if len(vals) > 1 else (vals[0] if vals else "")
            yield record


dispatch(NetdiscoverPeer, sys.argv, sys.stdin, sys.stdout, __name__)
