//! Follow mode (`file://`, SPEC §5.2), driven through `Follower` the way `next_batch` drives
//! it: commit the previous batch, drain, hand the cursors back. Files are written by a writer
//! that rotates exactly as lumberjack does. Every line is a small valid AdmissionReview whose
//! uid carries a sequence number, so that loss, repetition and order can be checked.
//!
//! The SIGKILL and thread-count tests run in a child process (this binary, re-invoked on one
//! ignored test): a kill must hit a whole process, and threads are counted in a process where
//! no other test runs.

#[path = "common/isolated.rs"]
mod isolated;
#[path = "common/lumberjack.rs"]
mod lumberjack;
#[path = "common/rng.rs"]
mod rng;

use k8sadmission::config::{Config, TailFrom};
use k8sadmission::metrics::Metrics;
use k8sadmission::source::tail::{Cursor, Follower};
use lumberjack::Lumberjack;
use rng::Rng;
use std::collections::{BTreeSet, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Set (to the test directory) in the child processes.
const CHILD_DIR: &str = "K8SADM_FOLLOW_CHILD_DIR";
/// The last sequence number the SIGKILL child waits for.
const CHILD_LAST: &str = "K8SADM_FOLLOW_CHILD_LAST";
/// Longest wait for something that should happen.
const PATIENCE: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------------------------------------
// Helpers

/// The review with sequence number `seq`, without line terminator.
fn review(seq: u64) -> String {
    format!(
        r#"{{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{{"uid":"u-{seq}","kind":{{"group":"","version":"v1","kind":"Pod"}},"resource":{{"group":"","version":"v1","resource":"pods"}},"name":"p-{seq}","namespace":"default","operation":"CREATE","userInfo":{{"username":"alice"}}}},"requestReceivedTimestamp":"2026-11-20T10:15:03.123456789Z"}}"#
    )
}

/// The line of review `seq`.
fn line(seq: u64) -> String {
    review(seq) + "\n"
}

/// The lines of reviews `seqs`, as one write.
fn lines(seqs: std::ops::Range<u64>) -> String {
    seqs.map(line).collect()
}

/// The sequence number of a payload.
fn seq_of(payload: &[u8]) -> u64 {
    let text = std::str::from_utf8(payload).unwrap();
    let at = text.find(r#""uid":"u-"#).expect("a review of ours") + 9;
    text[at..].split('"').next().unwrap().parse().unwrap()
}

fn config(tail_from: TailFrom, checkpoint: Option<&Path>) -> Config {
    Config {
        tail_from,
        checkpoint_file: checkpoint.map(|p| p.display().to_string()),
        ..Config::default()
    }
}

fn start(path: &Path, config: Config) -> (Falco, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::default());
    let follower =
        Follower::start(vec![path.to_path_buf()], Arc::new(config), metrics.clone()).unwrap();
    (Falco::new(follower), metrics)
}

fn value(counter: &std::sync::atomic::AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// Waits until `cond` holds (panics after [`PATIENCE`]).
fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(2));
    }
}

/// Drives a follower as `next_batch` does.
struct Falco {
    follower: Follower,
    payloads: Vec<String>,
}

impl Falco {
    fn new(follower: Follower) -> Self {
        Self {
            follower,
            payloads: Vec::new(),
        }
    }

    /// One next_batch call of at most `max` events: their sequence numbers.
    fn batch(&mut self, max: usize) -> Vec<u64> {
        self.follower.commit_returned();
        let got = self.follower.drain(max, Duration::from_millis(50));
        let cursors: Vec<Cursor> = got.iter().map(|q| q.cursor.clone().unwrap()).collect();
        self.follower.returned(cursors);
        got.iter()
            .map(|q| {
                self.payloads
                    .push(String::from_utf8(q.payload.clone()).unwrap());
                seq_of(&q.payload)
            })
            .collect()
    }

    /// Exactly `n` more events (in batches of at most 64).
    fn take(&mut self, n: usize) -> Vec<u64> {
        let deadline = Instant::now() + PATIENCE;
        let mut out = Vec::new();
        while out.len() < n {
            assert!(
                Instant::now() < deadline,
                "timed out: {} of {n} events: {out:?}",
                out.len()
            );
            out.extend(self.batch((n - out.len()).min(64)));
        }
        out
    }

    /// Whatever arrives during `time`.
    fn quiet(&mut self, time: Duration) -> Vec<u64> {
        let until = Instant::now() + time;
        let mut out = Vec::new();
        while Instant::now() < until {
            out.extend(self.batch(64));
        }
        out
    }

    fn stop(self) {
        self.follower.stop();
    }
}

/// This test binary, re-invoked to run only the ignored test `name` on `dir`.
fn child(name: &str, dir: &Path) -> Command {
    let mut cmd = isolated::child(name);
    cmd.env(CHILD_DIR, dir);
    cmd
}

// ---------------------------------------------------------------------------------------------
// The model test

/// What the writer does next.
#[derive(Debug)]
enum Action {
    /// Some lines in one write.
    Lines(u64),
    /// One line in two writes with a pause between.
    Split(usize, u64),
    /// A pause (ms).
    Pause(u64),
}

/// A writer interpreting random actions (fixed seed) against the model "every line written
/// arrives once, in order", with rotations (lumberjack, 2 backups kept) and truncations at
/// random points, while a `next_batch` loop runs on another thread with a small queue.
#[test]
fn random_writes_rotations_and_truncations_deliver_every_line_once_in_order() {
    model(0x6b38_7361_646d_0001);
}

/// The model test with the actions of `seed`.
fn model(seed: u64) {
    const LINES: u64 = 3000;
    const ROTATIONS: usize = 30;
    const TRUNCATIONS: usize = 3;
    const KEEP: usize = 2;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kube-audit-rest.log");
    let mut writer = Lumberjack::open(&path);
    let metrics = Arc::new(Metrics::default());
    let config = Config {
        queue_capacity: 16,
        ..config(TailFrom::Beginning, None)
    };
    let follower = Follower::start(vec![path.clone()], Arc::new(config), metrics.clone()).unwrap();

    let seen = Arc::new(Mutex::new(Vec::new()));
    let done = Arc::new(AtomicBool::new(false));
    let falco = {
        let (seen, done) = (seen.clone(), done.clone());
        thread::spawn(move || {
            let mut falco = Falco::new(follower);
            while !done.load(Ordering::Relaxed) {
                let got = falco.batch(64);
                seen.lock().unwrap().extend(got);
            }
            falco.stop();
        })
    };
    let seen_count = || seen.lock().unwrap().len() as u64;

    let mut rng = Rng(seed);
    let mut rotate_at = BTreeSet::new();
    while rotate_at.len() < ROTATIONS {
        rotate_at.insert(1 + rng.below(LINES - 1));
    }
    let mut truncate_at = BTreeSet::new();
    while truncate_at.len() < TRUNCATIONS {
        let at = 1 + rng.below(LINES - 1);
        if !rotate_at.contains(&at) {
            truncate_at.insert(at);
        }
    }
    let mut backups = VecDeque::new();
    let mut rotations = 0;
    let mut next = 0;
    while next < LINES {
        if rotate_at.remove(&next) {
            backups.push_back(writer.rotate());
            rotations += 1;
            if backups.len() > KEEP {
                // Lumberjack's mill removes the oldest backup. The model needs the follower
                // within the kept backups: the removal waits until it has moved past it.
                let oldest = rotations - KEEP;
                wait_until("the follower to leave the oldest backup", || {
                    value(&metrics.tail_rotations) >= oldest as u64
                });
                std::fs::remove_file(backups.pop_front().unwrap()).unwrap();
            }
        }
        if truncate_at.remove(&next) {
            // Truncation loses what was not read yet (copytruncate does): the model truncates
            // once everything written is read, then lets the follower see the empty file.
            wait_until(
                &format!(
                    "the {next} lines before the truncation (seen: {})",
                    seen_count()
                ),
                || seen_count() == next,
            );
            writer.truncate();
            thread::sleep(Duration::from_millis(30));
        }
        let limit = [&rotate_at, &truncate_at]
            .iter()
            .filter_map(|s| s.range(next + 1..).next().copied())
            .min()
            .unwrap_or(LINES)
            .min(LINES);
        let action = match rng.below(100) {
            0..60 => Action::Lines(1 + rng.below(8)),
            60..70 => Action::Lines(20 + rng.below(40)),
            70..85 => Action::Split(1 + rng.below(400) as usize, rng.below(3)),
            _ => Action::Pause(rng.below(3)),
        };
        match action {
            Action::Lines(n) => {
                let n = n.min(limit - next);
                writer.write(lines(next..next + n).as_bytes());
                next += n;
            }
            Action::Split(at, pause) => {
                let l = line(next);
                let (a, b) = l.split_at(at.min(l.len() - 1));
                writer.write(a.as_bytes());
                thread::sleep(Duration::from_millis(pause));
                writer.write(b.as_bytes());
                next += 1;
            }
            Action::Pause(ms) => thread::sleep(Duration::from_millis(ms)),
        }
    }
    wait_until("every line", || seen_count() >= LINES);
    thread::sleep(Duration::from_millis(300)); // anything repeated would arrive now
    done.store(true, Ordering::Relaxed);
    falco.join().unwrap();

    let seen = seen.lock().unwrap();
    let expected: Vec<u64> = (0..LINES).collect();
    if *seen != expected {
        let first_bad = seen.iter().zip(&expected).position(|(a, b)| a != b);
        panic!(
            "{} events, first difference at {first_bad:?}: {:?}",
            seen.len(),
            &seen[first_bad.unwrap_or(0).saturating_sub(3)..][..10.min(seen.len())]
        );
    }
    assert_eq!(value(&metrics.tail_rotations), ROTATIONS as u64);
    assert_eq!(value(&metrics.tail_truncations), TRUNCATIONS as u64);
    assert_eq!(value(&metrics.tail_gaps), 0);
    assert_eq!(value(&metrics.lines_malformed), 0);
    assert_eq!(value(&metrics.events_dropped_queue_full), 0);
}

// ---------------------------------------------------------------------------------------------
// Single behaviours

#[test]
fn a_line_written_in_two_parts_arrives_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let mut writer = Lumberjack::open(&path);
    let (mut falco, metrics) = start(&path, config(TailFrom::Beginning, None));
    let l = line(7);
    let (a, b) = l.split_at(l.len() / 2);
    writer.write(a.as_bytes());
    // Longer than the poll: the first part was seen and is held back.
    assert_eq!(falco.quiet(Duration::from_millis(400)), Vec::<u64>::new());
    writer.write(b.as_bytes());
    assert_eq!(falco.take(1), [7]);
    assert_eq!(falco.payloads, [review(7)]);
    assert_eq!(value(&metrics.lines_malformed), 0);
    falco.stop();
}

#[test]
fn truncation_restarts_at_the_beginning() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let mut writer = Lumberjack::open(&path);
    let (mut falco, metrics) = start(&path, config(TailFrom::Beginning, None));
    writer.write(lines(0..3).as_bytes());
    assert_eq!(falco.take(3), [0, 1, 2]);
    writer.truncate();
    thread::sleep(Duration::from_millis(50));
    writer.write(lines(3..5).as_bytes());
    assert_eq!(falco.take(2), [3, 4]);
    assert_eq!(value(&metrics.tail_truncations), 1);
    assert_eq!(falco.quiet(Duration::from_millis(100)), Vec::<u64>::new());
    falco.stop();
}

#[test]
fn a_file_that_appears_later_is_read_from_its_beginning() {
    let dir = tempfile::tempdir().unwrap();
    // Neither the file nor its directory exists yet.
    let path = dir.path().join("later/audit.log");
    let (mut falco, _) = start(&path, config(TailFrom::End, None));
    assert_eq!(falco.quiet(Duration::from_millis(300)), Vec::<u64>::new());
    std::fs::create_dir(dir.path().join("later")).unwrap();
    let mut writer = Lumberjack::open(&path);
    writer.write(line(0).as_bytes());
    writer.write(line(1).as_bytes());
    assert_eq!(falco.take(2), [0, 1]);
    falco.stop();
}

#[test]
fn tail_from_end_skips_existing_lines_and_beginning_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let mut writer = Lumberjack::open(&path);
    let three = line(3);
    let (a, b) = three.split_at(40);
    writer.write((lines(0..3) + a).as_bytes());
    let (mut from_end, _) = start(&path, config(TailFrom::End, None));
    let (mut from_start, _) = start(&path, config(TailFrom::Beginning, None));
    writer.write((b.to_string() + &line(4)).as_bytes());
    // A line being written at the start belongs to what comes after it: it arrives whole.
    assert_eq!(from_end.take(2), [3, 4]);
    assert_eq!(from_start.take(5), [0, 1, 2, 3, 4]);
    assert_eq!(
        from_end.quiet(Duration::from_millis(100)),
        Vec::<u64>::new()
    );
    from_end.stop();
    from_start.stop();
}

#[test]
fn long_and_malformed_lines_are_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let mut writer = Lumberjack::open(&path);
    let config = Config {
        max_event_size: 1000,
        ..config(TailFrom::Beginning, None)
    };
    let (mut falco, metrics) = start(&path, config);
    let long = format!("{{\"x\":\"{}\"}}\n", "y".repeat(5000));
    writer.write((line(0) + &long + "not json\n").as_bytes());
    // A long line in several writes, each seen on its own.
    writer.write(b"{\"big\":\"");
    for _ in 0..3 {
        thread::sleep(Duration::from_millis(20));
        writer.write("z".repeat(100_000).as_bytes());
    }
    writer.write((String::from("\"}\n") + &line(1)).as_bytes());
    assert_eq!(falco.take(2), [0, 1]);
    assert_eq!(value(&metrics.events_oversize), 2);
    assert_eq!(value(&metrics.lines_malformed), 1);
    falco.stop();
}

#[test]
fn several_paths_are_followed_at_once() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("a")).unwrap();
    std::fs::create_dir(dir.path().join("b")).unwrap();
    let (pa, pb) = (dir.path().join("a/x.log"), dir.path().join("b/y.log"));
    let (mut wa, mut wb) = (Lumberjack::open(&pa), Lumberjack::open(&pb));
    let metrics = Arc::new(Metrics::default());
    let config = Arc::new(config(TailFrom::Beginning, None));
    let follower = Follower::start(vec![pa.clone(), pb.clone()], config, metrics.clone()).unwrap();
    let mut falco = Falco::new(follower);
    for i in 0..50 {
        wa.write(line(i).as_bytes());
        wb.write(line(1000 + i).as_bytes());
        if i == 25 {
            wa.rotate();
        }
    }
    let got = falco.take(100);
    let a: Vec<u64> = got.iter().copied().filter(|s| *s < 1000).collect();
    let b: Vec<u64> = got.iter().copied().filter(|s| *s >= 1000).collect();
    assert_eq!(a, (0..50).collect::<Vec<_>>());
    assert_eq!(b, (1000..1050).collect::<Vec<_>>());
    assert_eq!(value(&metrics.tail_rotations), 1);
    falco.stop();
}

#[test]
fn a_full_queue_stops_reading_and_shows_as_lag() {
    const N: u64 = 2000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    Lumberjack::open(&path).write(lines(0..N).as_bytes());
    let config = Config {
        queue_capacity: 4,
        ..config(TailFrom::Beginning, None)
    };
    let (mut falco, metrics) = start(&path, config);
    wait_until("lag", || value(&metrics.tail_lag_bytes) > 100_000);
    thread::sleep(Duration::from_millis(100));
    assert!(value(&metrics.queue_depth) <= 4);
    assert!(value(&metrics.tail_lag_bytes) > 100_000, "reading stopped");
    assert_eq!(falco.take(N as usize), (0..N).collect::<Vec<_>>());
    wait_until("no lag", || value(&metrics.tail_lag_bytes) == 0);
    assert_eq!(value(&metrics.events_dropped_queue_full), 0);
    falco.stop();
}

// ---------------------------------------------------------------------------------------------
// Checkpoints

#[test]
fn stop_and_restart_with_a_checkpoint_lose_and_repeat_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kube-audit-rest.log");
    let ck = dir.path().join("checkpoint.json");
    let mut writer = Lumberjack::open(&path);
    writer.write(lines(0..50).as_bytes()); // before the first start: tailFrom end skips it

    let (mut first, _) = start(&path, config(TailFrom::End, Some(&ck)));
    writer.write(lines(50..100).as_bytes());
    assert_eq!(first.take(50), (50..100).collect::<Vec<_>>());
    first.stop();

    // While stopped: lines, two rotations, and half a line.
    writer.write(lines(100..120).as_bytes());
    writer.rotate();
    writer.write(lines(120..140).as_bytes());
    writer.rotate();
    writer.write(lines(140..150).as_bytes());
    let l = line(150);
    writer.write(&l.as_bytes()[..30]);

    let (mut second, metrics) = start(&path, config(TailFrom::End, Some(&ck)));
    // The rotated files first, in order, then the current file.
    assert_eq!(second.take(50), (100..150).collect::<Vec<_>>());
    assert_eq!(value(&metrics.tail_rotations), 2);
    assert_eq!(second.quiet(Duration::from_millis(300)), Vec::<u64>::new());
    writer.write(&l.as_bytes()[30..]);
    writer.write(lines(151..200).as_bytes());
    // Falco takes 20 of them; the rest is read (queued, maybe) but not returned.
    assert_eq!(second.take(20), (150..170).collect::<Vec<_>>());
    thread::sleep(Duration::from_millis(100));
    second.stop();

    let (mut third, metrics) = start(&path, config(TailFrom::End, Some(&ck)));
    assert_eq!(third.take(30), (170..200).collect::<Vec<_>>());
    assert_eq!(third.quiet(Duration::from_millis(300)), Vec::<u64>::new());
    assert_eq!(value(&metrics.tail_gaps), 0);
    third.stop();
}

#[test]
fn a_rotated_file_removed_while_stopped_is_a_counted_gap() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kube-audit-rest.log");
    let ck = dir.path().join("checkpoint.json");
    let mut writer = Lumberjack::open(&path);
    let (mut first, _) = start(&path, config(TailFrom::Beginning, Some(&ck)));
    writer.write(lines(0..10).as_bytes());
    assert_eq!(first.take(10), (0..10).collect::<Vec<_>>());
    first.stop();

    writer.write(lines(10..20).as_bytes());
    let lost = writer.rotate();
    writer.write(lines(20..30).as_bytes());
    writer.rotate();
    writer.write(lines(30..40).as_bytes());
    std::fs::remove_file(lost).unwrap();

    let (mut second, metrics) = start(&path, config(TailFrom::Beginning, Some(&ck)));
    assert_eq!(second.take(20), (20..40).collect::<Vec<_>>());
    assert_eq!(value(&metrics.tail_gaps), 1);
    assert_eq!(second.quiet(Duration::from_millis(200)), Vec::<u64>::new());
    second.stop();
}

/// Reads `B <seq> <seq> …` lines (one per batch) from a child's output; `None` at `DONE` or
/// at its end. The output is read to its end (a closed pipe would fail the child).
fn batches_of(out: impl std::io::Read + Send + 'static) -> mpsc::Receiver<Option<Vec<u64>>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for l in BufReader::new(out).lines() {
            let Ok(l) = l else { break };
            // libtest's "test child_follower ... " may precede the first line.
            if l.ends_with("DONE") {
                let _ = tx.send(None);
            } else if let Some((_, rest)) = l.split_once("B ") {
                let batch = rest.split(' ').map(|s| s.parse().unwrap()).collect();
                let _ = tx.send(Some(batch));
            }
        }
        let _ = tx.send(None);
    });
    rx
}

#[test]
fn after_sigkill_a_restart_loses_nothing_and_repeats_at_most_the_last_batch() {
    const N: u64 = 3000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kube-audit-rest.log");
    let mut writer = Lumberjack::open(&path);
    let spawn = || {
        child("child_follower", dir.path())
            .env(CHILD_LAST, (N - 1).to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let writing = thread::spawn(move || {
        for i in 0..N {
            writer.write(line(i).as_bytes());
            if i % 5 == 0 {
                thread::sleep(Duration::from_millis(1));
            }
            if i % 700 == 699 {
                writer.rotate();
            }
        }
    });

    let mut first = spawn();
    let batches = batches_of(first.stdout.take().unwrap());
    let mut before: Vec<Vec<u64>> = Vec::new();
    while before.iter().map(Vec::len).sum::<usize>() < 1000 {
        match batches.recv_timeout(PATIENCE) {
            Ok(Some(b)) => before.push(b),
            other => panic!("the first child stopped early: {other:?}"),
        }
    }
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    // Batches it printed before it died.
    while let Ok(Some(b)) = batches.recv_timeout(PATIENCE) {
        before.push(b);
    }

    let mut second = spawn();
    let batches = batches_of(second.stdout.take().unwrap());
    let mut after: Vec<u64> = Vec::new();
    loop {
        match batches.recv_timeout(PATIENCE) {
            Ok(Some(b)) => after.extend(b),
            Ok(None) => break,
            Err(e) => {
                second.kill().unwrap();
                panic!("the second child is stuck ({e}) after {:?}", after.last());
            }
        }
    }
    assert!(second.wait().unwrap().success());
    writing.join().unwrap();

    let first_seen: Vec<u64> = before.concat();
    let last_batch = before.last().unwrap();
    let end = first_seen.len() as u64;
    assert_eq!(first_seen, (0..end).collect::<Vec<_>>());
    let resumed_at = after[0];
    assert_eq!(after, (resumed_at..N).collect::<Vec<_>>(), "nothing lost");
    assert!(
        resumed_at >= last_batch[0] && resumed_at <= end,
        "at most the last batch ({}..={}) repeats; the restart began at {resumed_at}",
        last_batch[0],
        last_batch.last().unwrap()
    );
}

/// The SIGKILL test's child: follows with a checkpoint, prints each batch it returns.
#[test]
#[ignore = "a child process of the SIGKILL test"]
fn child_follower() {
    let Some(dir) = std::env::var_os(CHILD_DIR).map(PathBuf::from) else {
        return;
    };
    let last: u64 = std::env::var(CHILD_LAST).unwrap().parse().unwrap();
    let config = Config {
        queue_capacity: 200,
        ..config(TailFrom::Beginning, Some(&dir.join("checkpoint.json")))
    };
    let mut follower = Follower::start(
        vec![dir.join("kube-audit-rest.log")],
        Arc::new(config),
        Arc::default(),
    )
    .unwrap();
    let mut stdout = std::io::stdout().lock();
    loop {
        follower.commit_returned();
        let got = follower.drain(50, Duration::from_millis(50));
        if got.is_empty() {
            continue;
        }
        let seqs: Vec<u64> = got.iter().map(|q| seq_of(&q.payload)).collect();
        let text: String = seqs.iter().map(|s| format!(" {s}")).collect();
        stdout.write_all(format!("B{text}\n").as_bytes()).unwrap();
        stdout.flush().unwrap();
        follower.returned(got.into_iter().map(|q| q.cursor.unwrap()).collect());
        if seqs.contains(&last) {
            break;
        }
    }
    follower.stop();
    stdout.write_all(b"DONE\n").unwrap();
}

// ---------------------------------------------------------------------------------------------
// Threads

#[test]
fn fifty_start_stop_cycles_leave_no_thread_behind() {
    let dir = tempfile::tempdir().unwrap();
    let out = child("child_threads", dir.path()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("threads ok"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The thread test's child: 50 followers started and stopped in a process of its own.
#[test]
#[ignore = "a child process of the thread test"]
fn child_threads() {
    let Some(dir) = std::env::var_os(CHILD_DIR).map(PathBuf::from) else {
        return;
    };
    let path = dir.join("audit.log");
    let mut writer = Lumberjack::open(&path);
    let before = isolated::threads();
    for i in 0..50u64 {
        let config = Config {
            queue_capacity: 2,
            ..config(TailFrom::End, Some(&dir.join("checkpoint.json")))
        };
        let (mut falco, _) = start(&path, config);
        match i % 3 {
            // Running: an event goes through.
            0 => {
                writer.write(line(i).as_bytes());
                assert_eq!(falco.take(1).len(), 1);
            }
            // Blocked on a full queue when stopped.
            1 => {
                writer.write(lines(0..20).as_bytes());
                thread::sleep(Duration::from_millis(5));
            }
            // Stopped at once.
            _ => {}
        }
        falco.stop();
        // stop returns once every thread (notify's included) has ended.
        assert_eq!(
            isolated::threads(),
            before,
            "cycle {i}: threads left behind: {:?}",
            isolated::thread_names()
        );
    }
    println!("threads ok ({before} before and after)");
}
