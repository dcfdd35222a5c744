//! Tests that measure the whole process (its threads, its memory) or kill it run alone in a
//! child process: this test binary, re-invoked on one ignored test with one test thread, so
//! that neither the other tests nor libtest's own test threads disturb the figures.

#![allow(dead_code)]

use std::process::Command;

/// Set in the child process.
pub const CHILD: &str = "KAR_TEST_CHILD";

/// This test binary, re-invoked to run only the ignored test `name`.
pub fn child(name: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        name,
        "--exact",
        "--include-ignored",
        "--test-threads=1",
        "--nocapture",
    ])
    .env(CHILD, "1");
    cmd
}

/// Runs the ignored test `name` alone in a child process, with these environment variables,
/// and checks that it passed; the child's stderr is passed on.
pub fn in_child(name: &str, env: &[(&str, &str)]) {
    let out = child(name).envs(env.iter().copied()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{name} failed in its process:\n{stdout}\n{stderr}"
    );
    eprint!("{stderr}");
}

/// `true` in the child process (the isolated tests do nothing when run otherwise).
pub fn is_child() -> bool {
    std::env::var_os(CHILD).is_some()
}

/// The threads of this process.
pub fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

/// The names of this process's threads.
pub fn thread_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|n| n.trim_end().to_string())
        .collect();
    names.sort();
    names
}
