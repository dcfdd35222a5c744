//! The exported C symbols of a plugin shared library, resolved once at load time.
//!
//! The function pointers are copied out of the `libloading::Symbol`s; they stay valid for as
//! long as the `Library` they came from is loaded, which [`crate::plugin::Core`] guarantees by
//! owning both and dropping the library last.

use std::ffi::c_char;

use anyhow::{Context, Result};
use falco_plugin_api::{
    ss_instance_t, ss_plugin_event, ss_plugin_event_input, ss_plugin_field_extract_input,
    ss_plugin_init_input, ss_plugin_metric, ss_plugin_rc, ss_plugin_schema_type, ss_plugin_t,
};
use libloading::Library;

/// `const char* f(void)`
pub(crate) type StrFn = unsafe extern "C-unwind" fn() -> *const c_char;
/// `plugin_get_init_schema`
pub(crate) type InitSchemaFn =
    unsafe extern "C-unwind" fn(schema_type: *mut ss_plugin_schema_type) -> *const c_char;
/// `plugin_init`
pub(crate) type InitFn = unsafe extern "C-unwind" fn(
    input: *const ss_plugin_init_input,
    rc: *mut ss_plugin_rc,
) -> *mut ss_plugin_t;
/// `plugin_destroy`
pub(crate) type DestroyFn = unsafe extern "C-unwind" fn(s: *mut ss_plugin_t);
/// `plugin_get_last_error`
pub(crate) type LastErrorFn = unsafe extern "C-unwind" fn(s: *mut ss_plugin_t) -> *const c_char;
/// `plugin_get_id`
pub(crate) type IdFn = unsafe extern "C-unwind" fn() -> u32;
/// `plugin_list_open_params`
pub(crate) type ListOpenParamsFn =
    unsafe extern "C-unwind" fn(s: *mut ss_plugin_t, rc: *mut ss_plugin_rc) -> *const c_char;
/// `plugin_open`
pub(crate) type OpenFn = unsafe extern "C-unwind" fn(
    s: *mut ss_plugin_t,
    params: *const c_char,
    rc: *mut ss_plugin_rc,
) -> *mut ss_instance_t;
/// `plugin_close`
pub(crate) type CloseFn = unsafe extern "C-unwind" fn(s: *mut ss_plugin_t, h: *mut ss_instance_t);
/// `plugin_next_batch`
pub(crate) type NextBatchFn = unsafe extern "C-unwind" fn(
    s: *mut ss_plugin_t,
    h: *mut ss_instance_t,
    nevts: *mut u32,
    evts: *mut *mut *mut ss_plugin_event,
) -> ss_plugin_rc;
/// `plugin_get_progress`
pub(crate) type ProgressFn = unsafe extern "C-unwind" fn(
    s: *mut ss_plugin_t,
    h: *mut ss_instance_t,
    progress_pct: *mut u32,
) -> *const c_char;
/// `plugin_event_to_string`
pub(crate) type EventToStringFn = unsafe extern "C-unwind" fn(
    s: *mut ss_plugin_t,
    evt: *const ss_plugin_event_input,
) -> *const c_char;
/// `plugin_extract_fields`
pub(crate) type ExtractFieldsFn = unsafe extern "C-unwind" fn(
    s: *mut ss_plugin_t,
    evt: *const ss_plugin_event_input,
    input: *const ss_plugin_field_extract_input,
) -> ss_plugin_rc;
/// `plugin_get_metrics`
pub(crate) type MetricsFn = unsafe extern "C-unwind" fn(
    s: *mut ss_plugin_t,
    num_metrics: *mut u32,
) -> *mut ss_plugin_metric;

/// Every symbol the host uses. Optional ones (per plugin_api.h) are `Option`s.
#[derive(Clone, Copy)]
pub(crate) struct Symbols {
    pub get_required_api_version: StrFn,
    pub get_version: StrFn,
    pub get_name: StrFn,
    pub get_description: StrFn,
    pub get_contact: StrFn,
    pub get_init_schema: Option<InitSchemaFn>,
    pub init: InitFn,
    pub destroy: DestroyFn,
    pub get_last_error: LastErrorFn,
    pub get_id: IdFn,
    pub get_event_source: StrFn,
    pub list_open_params: Option<ListOpenParamsFn>,
    pub open: OpenFn,
    pub close: CloseFn,
    pub next_batch: NextBatchFn,
    pub get_progress: Option<ProgressFn>,
    pub event_to_string: Option<EventToStringFn>,
    pub get_fields: StrFn,
    pub get_extract_event_sources: Option<StrFn>,
    pub extract_fields: ExtractFieldsFn,
    pub get_metrics: Option<MetricsFn>,
}

/// Resolves a required symbol.
///
/// # Safety
/// `T` must be the exact function pointer type of the symbol `name` in `lib`.
unsafe fn required<T: Copy>(lib: &Library, name: &str) -> Result<T> {
    // SAFETY: the caller guarantees the type; the pointer is copied out and only used while
    // `lib` stays loaded (see the module docs).
    let sym = unsafe { lib.get::<T>(name.as_bytes()) }
        .with_context(|| format!("required symbol `{name}` not found"))?;
    Ok(*sym)
}

/// Resolves an optional symbol.
///
/// # Safety
/// As for [`required`].
unsafe fn optional<T: Copy>(lib: &Library, name: &str) -> Option<T> {
    // SAFETY: as in `required`.
    unsafe { lib.get::<T>(name.as_bytes()) }.ok().map(|s| *s)
}

impl Symbols {
    /// Resolves all symbols of a Falco plugin exporting the source and extraction capabilities.
    pub(crate) fn resolve(lib: &Library) -> Result<Self> {
        // SAFETY: each type alias above matches the prototype in plugin_api.h (the bindgen
        // types of falco_plugin_api were used to write them).
        unsafe {
            Ok(Self {
                get_required_api_version: required(lib, "plugin_get_required_api_version")?,
                get_version: required(lib, "plugin_get_version")?,
                get_name: required(lib, "plugin_get_name")?,
                get_description: required(lib, "plugin_get_description")?,
                get_contact: required(lib, "plugin_get_contact")?,
                get_init_schema: optional(lib, "plugin_get_init_schema"),
                init: required(lib, "plugin_init")?,
                destroy: required(lib, "plugin_destroy")?,
                get_last_error: required(lib, "plugin_get_last_error")?,
                get_id: required(lib, "plugin_get_id")?,
                get_event_source: required(lib, "plugin_get_event_source")?,
                list_open_params: optional(lib, "plugin_list_open_params"),
                open: required(lib, "plugin_open")?,
                close: required(lib, "plugin_close")?,
                next_batch: required(lib, "plugin_next_batch")?,
                get_progress: optional(lib, "plugin_get_progress"),
                event_to_string: optional(lib, "plugin_event_to_string"),
                get_fields: required(lib, "plugin_get_fields")?,
                get_extract_event_sources: optional(lib, "plugin_get_extract_event_sources"),
                extract_fields: required(lib, "plugin_extract_fields")?,
                get_metrics: optional(lib, "plugin_get_metrics"),
            })
        }
    }
}
