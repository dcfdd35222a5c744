//! The threads the plugin starts, known by their kernel ids, so that `close` can wait until the
//! kernel has let every one of them go. Falco unloads the library (hot reload) as soon as
//! `close` returns, and a thread still running the library's code then crashes it; `join`
//! is not enough (a joined thread still finishes its exit), and some threads cannot be joined
//! at all (notify's).

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Longest wait for threads that have stopped running the plugin's code to leave the process.
pub const EXIT_WAIT: Duration = Duration::from_secs(2);

/// Kernel thread ids, shared by whoever records and whoever waits.
#[derive(Clone, Debug, Default)]
pub struct ThreadIds(Arc<Mutex<Vec<u32>>>);

impl ThreadIds {
    /// Records the calling thread (and forgets those already gone, so the list stays short).
    pub fn record_current(&self) {
        let Some(tid) = current_tid() else { return };
        let mut ids = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        ids.retain(|id| alive(*id));
        ids.push(tid);
    }

    /// Waits (at most [`EXIT_WAIT`]) until every recorded thread has left the process; call it
    /// once they have all stopped running the plugin's code (joined, or their work dropped).
    pub fn wait_gone(&self, what: &str) {
        let ids = std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner));
        let deadline = Instant::now() + EXIT_WAIT;
        for id in ids {
            while alive(id) {
                if Instant::now() > deadline {
                    log::warn!("{what} thread {id} has not ended");
                    return;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

#[cfg(test)]
impl ThreadIds {
    /// The ids recorded so far.
    pub(crate) fn recorded(&self) -> Vec<u32> {
        self.0.lock().unwrap().clone()
    }
}

/// The kernel id of the calling thread (`/proc/thread-self` is `<pid>/task/<tid>`).
fn current_tid() -> Option<u32> {
    std::fs::read_link("/proc/thread-self")
        .ok()?
        .file_name()?
        .to_str()?
        .parse()
        .ok()
}

/// `true` while thread `id` is part of this process.
pub(crate) fn alive(id: u32) -> bool {
    PathBuf::from(format!("/proc/self/task/{id}")).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_threads_and_waits_until_they_are_gone() {
        let ids = ThreadIds::default();
        ids.record_current();
        let me = current_tid().unwrap();
        assert!(alive(me));
        let other = {
            let ids = ids.clone();
            std::thread::spawn(move || {
                ids.record_current();
                current_tid().unwrap()
            })
        };
        let other = other.join().unwrap();
        assert_ne!(other, me);
        // Joined, but maybe not yet gone: wait_gone returns once it is.
        let waiting = ThreadIds(Arc::new(Mutex::new(vec![other])));
        waiting.wait_gone("test");
        assert!(!alive(other));
        // A new record forgets the threads already gone.
        ids.record_current();
        assert!(!ids.recorded().contains(&other));
    }
}
