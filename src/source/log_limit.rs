//! Rate-limited warnings: a capture full of bad lines must not flood Falco's log.

use std::time::{Duration, Instant};

/// Warnings allowed per window before the rest are only counted.
const BURST: u32 = 10;
/// The window.
const WINDOW: Duration = Duration::from_secs(10);

/// Lets `BURST` warnings through per window and reports how many were held back.
#[derive(Debug)]
pub struct LogLimit {
    window_start: Instant,
    in_window: u32,
    suppressed: u64,
}

impl Default for LogLimit {
    fn default() -> Self {
        Self {
            window_start: Instant::now(),
            in_window: 0,
            suppressed: 0,
        }
    }
}

impl LogLimit {
    /// Logs the message (built only when it will be logged) as a warning, or counts it.
    pub fn warn(&mut self, message: impl FnOnce() -> String) {
        if self.window_start.elapsed() >= WINDOW {
            self.flush();
            self.window_start = Instant::now();
            self.in_window = 0;
        }
        if self.in_window < BURST {
            self.in_window += 1;
            log::warn!("{}", message());
        } else {
            self.suppressed += 1;
        }
    }

    /// Says how many warnings were held back, if any.
    pub fn flush(&mut self) {
        if self.suppressed > 0 {
            log::warn!(
                "{} more skipped lines were not logged (see the lines_malformed and events_oversize metrics)",
                self.suppressed
            );
            self.suppressed = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_back_after_the_burst() {
        let mut limit = LogLimit::default();
        for _ in 0..25 {
            limit.warn(|| "bad line".to_string());
        }
        assert_eq!(limit.in_window, BURST);
        assert_eq!(limit.suppressed, 15);
        limit.flush();
        assert_eq!(limit.suppressed, 0);
    }
}
