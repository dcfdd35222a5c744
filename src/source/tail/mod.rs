//! Follow mode (`file://`, SPEC §5.2): kube-audit-rest's rotating JSONL files, read live.
//!
//! One thread per followed path reads the file through its descriptor as it grows, woken by
//! notify (the directory is watched) or by a slow poll. Only complete lines become events; the
//! queue's back-pressure stops reading while Falco is behind. A rotation (the path names
//! another file, or none) drains the old descriptor before the next file; lumberjack backups
//! rotated meanwhile are read in order; a truncation restarts at 0. With `checkpointFile`,
//! positions that Falco has processed are persisted and resumed, finishing rotated files first.

mod checkpoint;
mod follower;
mod identity;
mod locate;
mod names;
mod position;
mod reader;
mod split;
mod watch;
mod worker;

pub use follower::Follower;
pub use position::Cursor;
