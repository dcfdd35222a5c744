//! An open source instance: `next_batch`, `get_progress`, `close`.

use std::rc::Rc;

use anyhow::{bail, ensure, Result};
use falco_plugin_api::{
    ss_instance_t, ss_plugin_event, ss_plugin_rc, ss_plugin_rc_SS_PLUGIN_EOF,
    ss_plugin_rc_SS_PLUGIN_SUCCESS, ss_plugin_rc_SS_PLUGIN_TIMEOUT,
};

use crate::event::{EventHeader, OwnedEvent, HEADER_LEN, PLUGIN_EVENT_TYPE};
use crate::log::c_string;
use crate::plugin::Core;

/// The outcome of one [`Instance::next_batch`] call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Batch {
    /// At least one event, copied out of the plugin's memory.
    Events(Vec<OwnedEvent>),
    /// `SS_PLUGIN_TIMEOUT`: nothing ready now, call again.
    Timeout,
    /// `SS_PLUGIN_EOF`: end of stream.
    Eof,
}

/// `plugin_get_progress` result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// Progress in hundredths of a percent (0..=10000).
    pub permyriad: u32,
    /// The plugin's text, if it returned one.
    pub text: Option<String>,
}

impl Progress {
    /// Progress in percent.
    pub fn percent(&self) -> f64 {
        f64::from(self.permyriad) / 100.0
    }
}

/// An open capture (`ss_instance_t`). Dropping it calls `plugin_close`.
pub struct Instance {
    core: Rc<Core>,
    handle: *mut ss_instance_t,
    /// A non-success rc that came with events: returned by the next call, as libscap does.
    pending_rc: Option<ss_plugin_rc>,
    open: bool,
}

/// Current time in nanoseconds since the epoch.
fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

impl Instance {
    pub(crate) fn new(core: Rc<Core>, handle: *mut ss_instance_t) -> Self {
        Self {
            core,
            handle,
            pending_rc: None,
            open: true,
        }
    }

    /// Maps a non-success rc that came without events.
    #[allow(non_upper_case_globals)]
    fn rc_without_events(&self, rc: ss_plugin_rc) -> Result<Batch> {
        match rc {
            ss_plugin_rc_SS_PLUGIN_TIMEOUT => Ok(Batch::Timeout),
            ss_plugin_rc_SS_PLUGIN_EOF => Ok(Batch::Eof),
            ss_plugin_rc_SS_PLUGIN_SUCCESS => {
                bail!("unexpected 0 size event returned by plugin (next_batch succeeded with no events)")
            }
            other => bail!("next_batch failed (rc {other}): {}", self.core.last_error()),
        }
    }

    /// Calls `plugin_next_batch` once and copies every event out of the batch (whose memory
    /// the plugin reuses on the next call). Events get the next event numbers (from 1) and the
    /// fix-ups libscap applies: plugin id 0 becomes the plugin's id (another id is an error),
    /// tid becomes `u64::MAX`, a timestamp of `u64::MAX` becomes now. As in libscap, when the
    /// plugin returns events together with a non-success rc, the events come first and the
    /// rc is reported by the next call.
    pub fn next_batch(&mut self) -> Result<Batch> {
        ensure!(self.open, "instance is closed");
        if let Some(rc) = self.pending_rc.take() {
            return self.rc_without_events(rc);
        }
        let state = self.core.state()?;
        let mut nevts: u32 = 0;
        let mut evts: *mut *mut ss_plugin_event = std::ptr::null_mut();
        // SAFETY: live state and instance handle; valid out pointers.
        let rc = unsafe { (self.core.syms.next_batch)(state, self.handle, &mut nevts, &mut evts) };
        if nevts == 0 || evts.is_null() {
            return self.rc_without_events(rc);
        }
        // SAFETY: on return the plugin guarantees `evts` points at `nevts` event pointers,
        // valid until the next next_batch/close call; we copy everything before returning.
        let ptrs = unsafe { std::slice::from_raw_parts(evts, nevts as usize) };
        let mut events = Vec::with_capacity(ptrs.len());
        for (i, &ptr) in ptrs.iter().enumerate() {
            ensure!(!ptr.is_null(), "next_batch: event {i} of {nevts} is NULL");
            // SAFETY: a non-null event pointer from the batch: at least a header is readable.
            let head = unsafe { std::slice::from_raw_parts(ptr as *const u8, HEADER_LEN) };
            let hdr = EventHeader::parse(head)?;
            let len = hdr.len as usize;
            ensure!(len >= HEADER_LEN, "next_batch: event {i} has length {len}");
            // SAFETY: the header says the event is `len` bytes long.
            let bytes = unsafe { std::slice::from_raw_parts(ptr as *const u8, len) };
            events.push(self.adopt(bytes.to_vec(), hdr)?);
        }
        if rc != ss_plugin_rc_SS_PLUGIN_SUCCESS {
            self.pending_rc = Some(rc);
        }
        Ok(Batch::Events(events))
    }

    /// Validates one copied event and applies libscap's fix-ups.
    fn adopt(&self, raw: Vec<u8>, hdr: EventHeader) -> Result<OwnedEvent> {
        let id = self.core.id;
        if id != 0 {
            ensure!(
                hdr.event_type == PLUGIN_EVENT_TYPE && hdr.nparams == 2,
                "malformed plugin event produced by plugin (type {}, {} params)",
                hdr.event_type,
                hdr.nparams
            );
        }
        let mut ev = OwnedEvent::from_raw(raw, 0)?;
        if ev.plugin_id() == 0 {
            ensure!(id != 0, "malformed plugin event produced by plugin (no ID)");
            ev.set_plugin_id(id);
        } else if id != 0 && ev.plugin_id() != id {
            bail!(
                "unexpected plugin ID in plugin event: expected_id={id}, actual_id={}",
                ev.plugin_id()
            );
        }
        ev.set_tid(u64::MAX);
        if ev.ts() == u64::MAX {
            ev.set_ts(now_ns());
        }
        ev.evtnum = self.core.take_evtnum();
        Ok(ev)
    }

    /// `plugin_get_progress`; `None` when the plugin does not export it.
    pub fn progress(&mut self) -> Option<Progress> {
        let f = self.core.syms.get_progress?;
        let state = self.core.state().ok()?;
        if !self.open {
            return None;
        }
        let mut pct: u32 = 0;
        // SAFETY: live state and handle; valid out pointer; the text is copied at once.
        let text = unsafe { c_string(f(state, self.handle, &mut pct)) };
        Some(Progress {
            permyriad: pct,
            text,
        })
    }

    /// Calls `plugin_close` (also done by `Drop`).
    pub fn close(mut self) {
        self.close_now();
    }

    fn close_now(&mut self) {
        if !self.open {
            return;
        }
        self.open = false;
        if let Ok(state) = self.core.state() {
            // SAFETY: live state and a handle from its `plugin_open`, closed only once.
            unsafe { (self.core.syms.close)(state, self.handle) };
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.close_now();
    }
}
