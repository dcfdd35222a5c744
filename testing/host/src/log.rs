//! The owner side of the plugin's logger: the `log_fn` callback and the lines it collected.

use std::ffi::{c_char, CStr};
use std::fmt;
use std::sync::Mutex;

use falco_plugin_api::{ss_plugin_log_severity, ss_plugin_owner_t};

/// Environment variable that makes the host echo every plugin log line to stderr.
pub const VERBOSE_ENV: &str = "K8SADMISSION_HOST_VERBOSE";

/// Severity of a plugin log line (`ss_plugin_log_severity`; lower is more severe).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    /// `SS_PLUGIN_LOG_SEV_FATAL` (1)
    Fatal,
    /// `SS_PLUGIN_LOG_SEV_CRITICAL` (2)
    Critical,
    /// `SS_PLUGIN_LOG_SEV_ERROR` (3)
    Error,
    /// `SS_PLUGIN_LOG_SEV_WARNING` (4)
    Warning,
    /// `SS_PLUGIN_LOG_SEV_NOTICE` (5)
    Notice,
    /// `SS_PLUGIN_LOG_SEV_INFO` (6)
    Info,
    /// `SS_PLUGIN_LOG_SEV_DEBUG` (7)
    Debug,
    /// `SS_PLUGIN_LOG_SEV_TRACE` (8)
    Trace,
    /// Any other raw value.
    Other(u32),
}

impl Severity {
    /// Maps the raw C value.
    pub fn from_raw(raw: ss_plugin_log_severity) -> Self {
        match raw {
            1 => Self::Fatal,
            2 => Self::Critical,
            3 => Self::Error,
            4 => Self::Warning,
            5 => Self::Notice,
            6 => Self::Info,
            7 => Self::Debug,
            8 => Self::Trace,
            other => Self::Other(other),
        }
    }

    /// The raw C value.
    pub fn raw(self) -> u32 {
        match self {
            Self::Fatal => 1,
            Self::Critical => 2,
            Self::Error => 3,
            Self::Warning => 4,
            Self::Notice => 5,
            Self::Info => 6,
            Self::Debug => 7,
            Self::Trace => 8,
            Self::Other(raw) => raw,
        }
    }

    /// True for warning, error, critical and fatal.
    pub fn is_warning_or_above(self) -> bool {
        (1..=4).contains(&self.raw())
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fatal => f.write_str("fatal"),
            Self::Critical => f.write_str("critical"),
            Self::Error => f.write_str("error"),
            Self::Warning => f.write_str("warning"),
            Self::Notice => f.write_str("notice"),
            Self::Info => f.write_str("info"),
            Self::Debug => f.write_str("debug"),
            Self::Trace => f.write_str("trace"),
            Self::Other(raw) => write!(f, "severity({raw})"),
        }
    }
}

/// One line the plugin logged through `log_fn`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// The component the plugin named (the plugin name when it passed NULL, as Falco does).
    pub component: String,
    /// The message text.
    pub message: String,
    /// Its severity.
    pub severity: Severity,
}

impl fmt::Display for LogLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}] {}: {}",
            self.severity, self.component, self.message
        )
    }
}

/// The state behind the `ss_plugin_owner_t*` handed to the plugin.
///
/// Owners are leaked on purpose: falco_plugin keeps the logger (log_fn + owner) of the most
/// recent `plugin_init` in a process-global static of the shared library, so a plugin may
/// still log through an owner pointer after the `Plugin` that created it is gone (several
/// `Plugin`s loaded from the same .so share that static). A leaked owner is never dangling.
pub(crate) struct Owner {
    plugin_name: String,
    verbose: bool,
    logs: Mutex<Vec<LogLine>>,
}

impl Owner {
    /// Creates a leaked owner for a plugin called `plugin_name`.
    pub(crate) fn leak(plugin_name: &str) -> &'static Owner {
        Box::leak(Box::new(Owner {
            plugin_name: plugin_name.to_owned(),
            verbose: std::env::var_os(VERBOSE_ENV).is_some(),
            logs: Mutex::new(Vec::new()),
        }))
    }

    /// The pointer passed as `owner` in the init and extract inputs.
    pub(crate) fn as_ptr(&'static self) -> *mut ss_plugin_owner_t {
        self as *const Owner as *mut ss_plugin_owner_t
    }

    fn push(&self, line: LogLine) {
        if self.verbose {
            eprintln!("{line}");
        }
        let mut logs = self.logs.lock().unwrap_or_else(|e| e.into_inner());
        logs.push(line);
    }

    /// A copy of the collected lines.
    pub(crate) fn lines(&self) -> Vec<LogLine> {
        self.logs.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Removes and returns the collected lines.
    pub(crate) fn take(&self) -> Vec<LogLine> {
        std::mem::take(&mut *self.logs.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Copies a C string (lossy UTF-8); `None` for NULL.
///
/// # Safety
/// `ptr` must be NULL or point to a NUL-terminated string valid for the duration of the call.
pub(crate) unsafe fn c_string(ptr: *const c_char) -> Option<String> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: non-null and NUL-terminated per the caller's contract.
    Some(
        unsafe { CStr::from_ptr(ptr) }
            .to_string_lossy()
            .into_owned(),
    )
}

/// The `log_fn` of `ss_plugin_init_input`. May be called from any plugin thread.
pub(crate) unsafe extern "C-unwind" fn log_fn(
    owner: *mut ss_plugin_owner_t,
    component: *const c_char,
    msg: *const c_char,
    sev: ss_plugin_log_severity,
) {
    // Never let a panic unwind back into the plugin.
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: `owner` is the pointer we passed at init, a leaked `Owner` (never freed).
        let Some(owner) = (unsafe { (owner as *const Owner).as_ref() }) else {
            return;
        };
        // SAFETY: the API passes NUL-terminated strings (or NULL) valid during the call.
        let component = unsafe { c_string(component) }.unwrap_or_else(|| owner.plugin_name.clone());
        // SAFETY: as above.
        let message = unsafe { c_string(msg) }.unwrap_or_default();
        owner.push(LogLine {
            component,
            message,
            severity: Severity::from_raw(sev),
        });
    });
}

/// The `get_owner_last_error` callback: this host never has an owner error to report.
pub(crate) unsafe extern "C-unwind" fn get_owner_last_error(
    _owner: *mut ss_plugin_owner_t,
) -> *const c_char {
    std::ptr::null()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_roundtrip_and_threshold() {
        for raw in 0..10 {
            assert_eq!(Severity::from_raw(raw).raw(), raw);
        }
        assert!(Severity::Fatal.is_warning_or_above());
        assert!(Severity::Warning.is_warning_or_above());
        assert!(!Severity::Notice.is_warning_or_above());
        assert!(!Severity::Other(0).is_warning_or_above());
    }

    #[test]
    fn log_fn_collects_lines() {
        let owner = Owner::leak("p");
        // SAFETY: valid owner pointer and C strings.
        unsafe {
            log_fn(owner.as_ptr(), std::ptr::null(), c"hello".as_ptr(), 4);
            log_fn(owner.as_ptr(), c"comp".as_ptr(), c"x".as_ptr(), 6);
        }
        let lines = owner.take();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].component, "p");
        assert_eq!(lines[0].severity, Severity::Warning);
        assert_eq!(lines[1].to_string(), "[info] comp: x");
        assert!(owner.lines().is_empty());
    }
}
