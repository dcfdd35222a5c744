//! Where reading of one followed path stands: the position a cursor carries and a checkpoint
//! stores.

use super::identity::FileKey;
use serde::{Deserialize, Serialize};

/// A resumable position in the files of one followed path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Position {
    /// The file; `None`: no file yet, the path is read from byte 0 once it appears.
    pub file: Option<FileKey>,
    /// Bytes of `file` consumed: the offset just after the last complete line.
    pub offset: u64,
    /// Modification time of `file` when last seen, or (without a file) the time since when
    /// the path is awaited, in ns since the epoch: backups modified later are read first.
    pub mtime_ns: i64,
    /// `file` is finished (rotated away): what follows is its successor.
    #[serde(default)]
    pub done: bool,
}

impl Position {
    /// Waiting for the path to appear since `mtime_ns`.
    pub fn awaiting(mtime_ns: i64) -> Self {
        Self {
            file: None,
            offset: 0,
            mtime_ns,
            done: false,
        }
    }
}

/// Opaque position of one delivered event (file identity + offset after its line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// Index of the followed path (in the follower's list).
    pub(super) path: usize,
    /// Number of the event among those the path produced in this run, from 1.
    pub(super) seq: u64,
    /// Where reading resumes after this event.
    pub(super) position: Position,
}
