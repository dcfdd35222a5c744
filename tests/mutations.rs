//! Mutated AdmissionReviews through every field, one field per call as Falco asks: bytes
//! replaced, spans cut or doubled, lines truncated, values nested thousands of levels deep,
//! numbers far beyond 64 bits, invalid UTF-8 (a Falco capture may hold any bytes). No call may
//! fail, no panic may happen (the guard would count it in `panics`) and the process must stay
//! up. A fixed seed makes every run the same.

mod common;
#[path = "common/rng.rs"]
mod rng;

use common::Host;
use rng::Rng;
use serde_json::Value;

/// Mutated events per run.
const MUTATIONS: usize = 1500;

/// Every line of every fixture file.
fn fixture_lines() -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/test_files");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    paths.sort();
    paths
        .iter()
        .flat_map(|p| {
            std::fs::read(p)
                .unwrap()
                .split(|b| *b == b'\n')
                .map(<[u8]>::to_vec)
                .collect::<Vec<_>>()
        })
        .filter(|l| l.len() > 2)
        .collect()
}

/// Every field with the arguments worth trying: none (when optional), indices, keys.
fn field_calls() -> Vec<String> {
    const POINTERS: &[&str] = &[
        "/request/object/spec",
        "/request/object/spec/containers/0/securityContext",
        "/request/object/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration",
        "/request/a~1b~0c",
        "/request/object/spec/containers/-",
        "/",
        "",
        "request",
    ];
    const KEYS: &[&str] = &[
        "command",
        "dryRun",
        "/var/run/docker.sock",
        "/etc*",
        "system:masters",
        "k",
        "",
    ];
    let fields = serde_json::to_value(k8sadmission::fields::FIELDS).unwrap();
    let mut calls = Vec::new();
    for f in fields.as_array().unwrap() {
        let name = f["name"].as_str().unwrap();
        match &f["arg"] {
            Value::Null => calls.push(name.to_string()),
            arg => {
                if arg["isRequired"] != true {
                    calls.push(name.to_string());
                }
                let args: &[&str] = if arg["isIndex"] == true {
                    &["0", "1", "5"]
                } else if name == "kar.value" {
                    POINTERS
                } else {
                    KEYS
                };
                calls.extend(args.iter().map(|a| format!("{name}[{a}]")));
            }
        }
    }
    calls
}

/// One mutation of `line`.
fn mutate(rng: &mut Rng, line: &[u8]) -> Vec<u8> {
    const BYTES: &[u8] = b"{}[]\":,\\0123456789-+.eEtfnul \t\x00\x7f\xff\xc3\xa9\xed\xa0\x80";
    let mut out = line.to_vec();
    let at = rng.index(out.len());
    let span = (1 + rng.index(64)).min(out.len() - at);
    match rng.below(8) {
        0 => out[at] = BYTES[rng.index(BYTES.len())],
        1 => {
            out.drain(at..at + span);
        }
        2 => {
            let copy = out[at..at + span].to_vec();
            out.splice(at..at, copy);
        }
        3 => out.truncate(at),
        4 => {
            // A string value nested thousands of levels deep (still valid JSON).
            if let Some(value) = find(&out[at..], b"\":\"").map(|i| at + i + 2) {
                let end = value + 1 + find(&out[value + 1..], b"\"").unwrap_or(0);
                let depth = 1 + rng.index(5000);
                out.insert_many(end + 1, b"]", depth);
                out.insert_many(value, b"[", depth);
            }
        }
        5 => {
            // A number far beyond 64 bits, or one of the odd ones.
            const NUMBERS: &[&str] = &[
                "-170141183460469231731687303715884105729",
                "340282366920938463463374607431768211456",
                "1e400",
                "-0",
                "1.5e-400",
                "123456789012345678901234567890123456789012345",
            ];
            if let Some(digit) = out[at..]
                .iter()
                .position(u8::is_ascii_digit)
                .map(|i| at + i)
            {
                let n = NUMBERS[rng.index(NUMBERS.len())];
                out.splice(digit..digit + 1, n.bytes());
            }
        }
        6 => {
            // A scalar where an object was, or the other way round.
            let (from, to): (&[u8], &[u8]) = match rng.below(4) {
                0 => (b"true", b"\"true\""),
                1 => (b"{\"", b"[\""),
                2 => (b"[{", b"{\"x\":{"),
                _ => (b"\"uid\":\"", b"\"uid\":7,\"_\":\""),
            };
            if let Some(i) = find(&out[at..], from).map(|i| at + i) {
                out.splice(i..i + from.len(), to.iter().copied());
            }
        }
        _ => {
            // Invalid UTF-8 inside a string.
            if let Some(i) = find(&out[at..], b"\"").map(|i| at + i + 1) {
                out.insert(i, 0xff);
            }
        }
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

trait InsertMany {
    fn insert_many(&mut self, at: usize, b: &[u8], n: usize);
}

impl InsertMany for Vec<u8> {
    fn insert_many(&mut self, at: usize, b: &[u8], n: usize) {
        let fill: Vec<u8> = b.iter().copied().cycle().take(b.len() * n).collect();
        self.splice(at..at, fill);
    }
}

#[test]
fn mutated_reviews_never_fail_a_call_nor_panic() {
    let lines = fixture_lines();
    let calls = field_calls();
    assert!(
        lines.len() > 100 && calls.len() > 200,
        "{} lines, {} calls",
        lines.len(),
        calls.len()
    );
    let mut host = Host::new("{}");
    let mut rng = Rng(0x6b61_725f_6d75_7461);
    let mut valid = 0;
    for _ in 0..MUTATIONS {
        let line = &lines[rng.index(lines.len())];
        let mutated = mutate(&mut rng, line);
        let event = host.event_bytes(&mutated);
        for call in &calls {
            // `extract` panics when a call fails (rc) or the field is unknown.
            host.extract(&event, call);
        }
        valid += usize::from(host.get(&event, "kar.uid").is_some());
    }
    assert_eq!(host.metric("panics"), 0);
    // Both kinds were exercised: mutations that keep the review valid, and ones that do not.
    assert!(
        valid > MUTATIONS / 10 && valid < MUTATIONS * 9 / 10,
        "{valid} valid"
    );
    assert_eq!(host.metric("events_unparsable"), (MUTATIONS - valid) as u64);
}
