//! Loading a plugin shared library, its static information, `init` and `open`.

use std::cell::Cell;
use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::{anyhow, bail, ensure, Context, Result};
use falco_plugin_api::{
    ss_plugin_init_input, ss_plugin_rc, ss_plugin_rc_SS_PLUGIN_FAILURE,
    ss_plugin_rc_SS_PLUGIN_SUCCESS, ss_plugin_schema_type,
    ss_plugin_schema_type_SS_PLUGIN_SCHEMA_NONE, ss_plugin_t, PLUGIN_API_VERSION_MAJOR,
    PLUGIN_API_VERSION_MINOR, PLUGIN_API_VERSION_PATCH,
};
use libloading::Library;
use serde::Deserialize;

use crate::event::OwnedEvent;
use crate::fields::{parse_field_table, FieldInfo};
use crate::instance::Instance;
use crate::log::{c_string, get_owner_last_error, log_fn, LogLine, Owner};
use crate::symbols::Symbols;

/// What a `Plugin` and its `Instance`s share. Dropped when the last of them goes: it then
/// destroys the plugin state (if any) and only then unloads the library.
pub(crate) struct Core {
    pub(crate) syms: Symbols,
    /// The `ss_plugin_t*` of a successful init; null before.
    pub(crate) state: Cell<*mut ss_plugin_t>,
    pub(crate) owner: &'static Owner,
    pub(crate) id: u32,
    /// The event source as a C string, passed as `evtsrc` in event inputs.
    pub(crate) source: CString,
    /// The next event number to hand out (Falco numbers events from 1).
    pub(crate) next_evtnum: Cell<u64>,
    /// Declared last: dropped after `Drop::drop` has destroyed the state.
    _lib: Library,
}

impl Core {
    /// The plugin state, or an error before a successful init.
    pub(crate) fn state(&self) -> Result<*mut ss_plugin_t> {
        let state = self.state.get();
        ensure!(!state.is_null(), "plugin not initialised (call init first)");
        Ok(state)
    }

    /// The text of `plugin_get_last_error` for `state`.
    pub(crate) fn last_error_of(&self, state: *mut ss_plugin_t) -> String {
        if state.is_null() {
            return "no plugin state".to_owned();
        }
        // SAFETY: `state` is a live state returned by this library's `plugin_init`; the
        // returned string is valid until the next call into the plugin and copied at once.
        unsafe { c_string((self.syms.get_last_error)(state)) }.unwrap_or_default()
    }

    /// The last error of the initialised plugin.
    pub(crate) fn last_error(&self) -> String {
        self.last_error_of(self.state.get())
    }

    /// Hands out the next event number.
    pub(crate) fn take_evtnum(&self) -> u64 {
        let n = self.next_evtnum.get();
        self.next_evtnum.set(n + 1);
        n
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        let state = self.state.replace(std::ptr::null_mut());
        if !state.is_null() {
            // SAFETY: `state` came from a successful `plugin_init` of this library, which is
            // still loaded, and every instance was closed before (instances own a `Core` ref).
            unsafe { (self.syms.destroy)(state) };
        }
    }
}

/// One entry of `plugin_list_open_params`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OpenParam {
    /// The suggested value.
    pub value: String,
    /// Its description.
    #[serde(default)]
    pub desc: String,
    /// Separator for lists of values, if any.
    #[serde(default)]
    pub separator: String,
}

/// A loaded Falco plugin shared library, driven through the C ABI as Falco drives it.
///
/// Lifecycle: [`Plugin::load`] → [`Plugin::init`] → [`Plugin::open`] → [`Instance`] …
/// Dropping an `Instance` calls `plugin_close`; the plugin state is destroyed (and the library
/// unloaded) once the `Plugin` and all its `Instance`s are dropped.
pub struct Plugin {
    pub(crate) core: Rc<Core>,
    path: PathBuf,
    name: String,
    version: String,
    description: String,
    contact: String,
    required_api_version: String,
    event_source: String,
    init_schema: Option<String>,
    pub(crate) fields: Vec<FieldInfo>,
    pub(crate) field_names: Vec<CString>,
    extract_event_sources: Vec<String>,
}

/// Calls a `const char* f(void)` symbol and copies the result.
fn static_str(f: crate::symbols::StrFn) -> Option<String> {
    // SAFETY: static plugin functions without arguments returning a NUL-terminated string
    // owned by the plugin (or NULL); copied at once.
    unsafe { c_string(f()) }
}

/// Falco's `plugin_check_required_api_version`: same major, minor/patch not above ours.
fn check_api_version(required: &str) -> Result<()> {
    let parts: Vec<u32> = required
        .trim()
        .split('.')
        .map(|p| p.parse::<u32>())
        .collect::<Result<_, _>>()
        .map_err(|_| anyhow!("plugin requires an invalid API version `{required}`"))?;
    let [major, minor, patch] = parts[..] else {
        bail!("plugin requires an invalid API version `{required}`");
    };
    let ours = (
        PLUGIN_API_VERSION_MAJOR,
        PLUGIN_API_VERSION_MINOR,
        PLUGIN_API_VERSION_PATCH,
    );
    let ok = major == ours.0 && (minor < ours.1 || (minor == ours.1 && patch <= ours.2));
    ensure!(
        ok,
        "plugin requires API version {required}, this host implements {}.{}.{}",
        ours.0,
        ours.1,
        ours.2
    );
    Ok(())
}

#[cfg(unix)]
fn open_library(path: &Path) -> Result<Library> {
    use libloading::os::unix::{Library as UnixLibrary, RTLD_LOCAL, RTLD_NOW};
    // SAFETY: loading a plugin runs its initialisers; that is the point of this host.
    let lib = unsafe { UnixLibrary::open(Some(path), RTLD_NOW | RTLD_LOCAL) }
        .with_context(|| format!("cannot load plugin library {}", path.display()))?;
    Ok(lib.into())
}

#[cfg(not(unix))]
fn open_library(path: &Path) -> Result<Library> {
    // SAFETY: as above.
    unsafe { Library::new(path) }
        .with_context(|| format!("cannot load plugin library {}", path.display()))
}

impl Plugin {
    /// Loads the shared library at `path` (a bare file name is taken relative to the current
    /// directory, not searched in the library path), resolves its symbols and reads its static
    /// information: name, version, id, event source, required API version (checked as Falco
    /// does), init schema, field table and extract event sources.
    pub fn load(path: &Path) -> Result<Plugin> {
        let path = if path.components().count() == 1 {
            Path::new(".").join(path)
        } else {
            path.to_path_buf()
        };
        let lib = open_library(&path)?;
        let syms = Symbols::resolve(&lib)?;

        let required_api_version = static_str(syms.get_required_api_version).unwrap_or_default();
        check_api_version(&required_api_version)?;
        let name = static_str(syms.get_name).unwrap_or_default();
        let version = static_str(syms.get_version).unwrap_or_default();
        let description = static_str(syms.get_description).unwrap_or_default();
        let contact = static_str(syms.get_contact).unwrap_or_default();
        // SAFETY: static function without arguments.
        let id = unsafe { (syms.get_id)() };
        let event_source = static_str(syms.get_event_source).unwrap_or_default();

        let init_schema = syms.get_init_schema.and_then(|f| {
            let mut schema_type: ss_plugin_schema_type =
                ss_plugin_schema_type_SS_PLUGIN_SCHEMA_NONE;
            // SAFETY: `schema_type` is a valid out pointer; the string is copied at once.
            let text = unsafe { c_string(f(&mut schema_type)) };
            text.filter(|t| {
                !t.is_empty() && schema_type != ss_plugin_schema_type_SS_PLUGIN_SCHEMA_NONE
            })
        });

        let fields_json = static_str(syms.get_fields)
            .ok_or_else(|| anyhow!("plugin_get_fields returned NULL"))?;
        let fields = parse_field_table(&fields_json).context("plugin_get_fields: invalid JSON")?;
        let field_names = fields
            .iter()
            .map(|f| CString::new(f.name.as_str()))
            .collect::<Result<Vec<_>, _>>()
            .context("field name with a NUL byte")?;

        let extract_event_sources = match syms.get_extract_event_sources.and_then(static_str) {
            Some(json) if !json.trim().is_empty() => serde_json::from_str(&json)
                .context("plugin_get_extract_event_sources: not a JSON array of strings")?,
            _ => Vec::new(),
        };

        let owner = Owner::leak(&name);
        let source = CString::new(event_source.as_str()).context("event source with a NUL")?;
        let core = Rc::new(Core {
            syms,
            state: Cell::new(std::ptr::null_mut()),
            owner,
            id,
            source,
            next_evtnum: Cell::new(1),
            _lib: lib,
        });
        Ok(Plugin {
            core,
            path,
            name,
            version,
            description,
            contact,
            required_api_version,
            event_source,
            init_schema,
            fields,
            field_names,
            extract_event_sources,
        })
    }

    /// Calls `plugin_init` with `config` (pass `"{}"` for an empty config, as Falco does).
    ///
    /// The init input has this host's owner, a `get_owner_last_error` returning NULL,
    /// `tables = NULL` and a `log_fn` collecting into [`Plugin::logs`]. On failure the error is
    /// the plugin's `get_last_error` text, and the error state it returned is destroyed at once.
    pub fn init(&mut self, config: &str) -> Result<()> {
        ensure!(
            self.core.state.get().is_null(),
            "plugin `{}` has been initialized twice",
            self.name
        );
        let config = CString::new(config).context("init config contains a NUL byte")?;
        let input = ss_plugin_init_input {
            config: config.as_ptr(),
            owner: self.core.owner.as_ptr(),
            get_owner_last_error: Some(get_owner_last_error),
            tables: std::ptr::null(),
            log_fn: Some(log_fn),
        };
        let mut rc: ss_plugin_rc = ss_plugin_rc_SS_PLUGIN_FAILURE;
        // SAFETY: `input` and the strings it points to outlive the call; `rc` is a valid out
        // pointer; the owner is leaked so it outlives the plugin.
        let state = unsafe { (self.core.syms.init)(&input, &mut rc) };
        if rc != ss_plugin_rc_SS_PLUGIN_SUCCESS {
            let err = if state.is_null() {
                format!("init failed with rc {rc}")
            } else {
                let err = self.core.last_error_of(state);
                // SAFETY: a state returned by `plugin_init` (Falco keeps it until it unloads
                // the plugin; nothing else may be called on it, so free it now).
                unsafe { (self.core.syms.destroy)(state) };
                err
            };
            bail!("could not initialize plugin {}: {err}", self.name);
        }
        ensure!(!state.is_null(), "plugin_init succeeded but returned NULL");
        self.core.state.set(state);
        Ok(())
    }

    /// True after a successful [`Plugin::init`].
    pub fn is_initialized(&self) -> bool {
        !self.core.state.get().is_null()
    }

    /// Calls `plugin_open` with `params` and returns the open instance.
    pub fn open(&mut self, params: &str) -> Result<Instance> {
        let state = self.core.state()?;
        let params_c = CString::new(params).context("open params contain a NUL byte")?;
        let mut rc: ss_plugin_rc = ss_plugin_rc_SS_PLUGIN_FAILURE;
        // SAFETY: live state, valid C string and out pointer.
        let handle = unsafe { (self.core.syms.open)(state, params_c.as_ptr(), &mut rc) };
        if rc != ss_plugin_rc_SS_PLUGIN_SUCCESS {
            bail!("cannot open `{params}`: {}", self.core.last_error());
        }
        Ok(Instance::new(Rc::clone(&self.core), handle))
    }

    /// Closes an instance (the same as dropping it).
    pub fn close(&mut self, instance: Instance) {
        instance.close();
    }

    /// `plugin_list_open_params`, parsed (requires init).
    pub fn list_open_params(&mut self) -> Result<Vec<OpenParam>> {
        let state = self.core.state()?;
        let Some(f) = self.core.syms.list_open_params else {
            return Ok(Vec::new());
        };
        let mut rc: ss_plugin_rc = ss_plugin_rc_SS_PLUGIN_FAILURE;
        // SAFETY: live state and out pointer; the string is copied at once.
        let text = unsafe { c_string(f(state, &mut rc)) };
        if rc != ss_plugin_rc_SS_PLUGIN_SUCCESS {
            bail!("list_open_params failed: {}", self.core.last_error());
        }
        match text {
            Some(t) if !t.trim().is_empty() => {
                serde_json::from_str(&t).context("list_open_params: not a JSON array")
            }
            _ => Ok(Vec::new()),
        }
    }

    /// `plugin_event_to_string` (what Falco prints as `evt.plugininfo`); `None` before init,
    /// without the symbol, or when the plugin returns NULL.
    pub fn event_to_string(&mut self, event: &OwnedEvent) -> Option<String> {
        let state = self.core.state().ok()?;
        let f = self.core.syms.event_to_string?;
        let input = crate::extract::event_input(&self.core, event);
        // SAFETY: live state; `input` points at the event bytes, alive during the call; the
        // result is copied before any other call into the plugin.
        unsafe { c_string(f(state, &input)) }
    }

    /// `plugin_get_last_error` of the initialised plugin (`None` before init).
    pub fn last_error(&self) -> Option<String> {
        self.core.state().ok().map(|_| self.core.last_error())
    }

    /// The log lines the plugin sent so far (a copy).
    pub fn logs(&self) -> Vec<LogLine> {
        self.core.owner.lines()
    }

    /// Removes and returns the log lines the plugin sent so far.
    pub fn take_logs(&mut self) -> Vec<LogLine> {
        self.core.owner.take()
    }

    /// The path the library was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `plugin_get_name`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `plugin_get_version`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// `plugin_get_description`.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// `plugin_get_contact`.
    pub fn contact(&self) -> &str {
        &self.contact
    }

    /// `plugin_get_required_api_version`.
    pub fn required_api_version(&self) -> &str {
        &self.required_api_version
    }

    /// `plugin_get_id`.
    pub fn id(&self) -> u32 {
        self.core.id
    }

    /// `plugin_get_event_source`.
    pub fn event_source(&self) -> &str {
        &self.event_source
    }

    /// `plugin_get_init_schema` when it returns a JSON schema.
    pub fn init_schema(&self) -> Option<&str> {
        self.init_schema.as_deref()
    }

    /// The parsed field table of `plugin_get_fields`, in the plugin's order.
    pub fn fields(&self) -> &[FieldInfo] {
        &self.fields
    }

    /// The field table entry called `name` (without argument).
    pub fn field(&self, name: &str) -> Option<&FieldInfo> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// `plugin_get_extract_event_sources` (empty when absent).
    pub fn extract_event_sources(&self) -> &[String] {
        &self.extract_event_sources
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_version_check() {
        assert!(check_api_version("3.0.0").is_ok());
        assert!(check_api_version("3.11.0").is_ok());
        assert!(check_api_version("3.12.0").is_err());
        assert!(check_api_version("2.0.0").is_err());
        assert!(check_api_version("3.x").is_err());
        assert!(check_api_version("").is_err());
    }

    #[test]
    fn load_missing_library_fails() {
        let err = Plugin::load(Path::new("/nonexistent/libnope.so"))
            .err()
            .unwrap();
        assert!(err.to_string().contains("cannot load plugin library"));
    }
}
