//! Raw plugin events (`ss_plugin_event`) and an owned copy of one.
//!
//! Layout (libscap `ppm_evt_hdr`, packed, native endian):
//! `u64 ts | u64 tid | u32 len | u16 type | u32 nparams` (26 bytes), then `nparams` parameter
//! lengths, then the parameters. A plugin event (type 322, `PPME_PLUGINEVENT_E`) has the
//! large-payload flag, so its lengths are `u32`: two of them, then `u32 plugin_id`, then the
//! payload, which therefore starts at byte 38.

use std::ops::Range;

use anyhow::{bail, ensure, Result};

/// Size of the packed event header.
pub const HEADER_LEN: usize = 26;
/// Event type of plugin events (`PPME_PLUGINEVENT_E`).
pub const PLUGIN_EVENT_TYPE: u16 = 322;
/// Offset of the payload inside a plugin event.
pub const PLUGIN_PAYLOAD_OFFSET: usize = HEADER_LEN + 4 + 4 + 4;

/// The decoded fixed header of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventHeader {
    /// Timestamp in nanoseconds since the epoch.
    pub ts: u64,
    /// Thread id (`u64::MAX` for plugin events once the framework has seen them).
    pub tid: u64,
    /// Total length of the event, header included.
    pub len: u32,
    /// Event type (322 for plugin events).
    pub event_type: u16,
    /// Number of parameters.
    pub nparams: u32,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_ne_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

impl EventHeader {
    /// Decodes the header from the first 26 bytes of `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        ensure!(
            bytes.len() >= HEADER_LEN,
            "event shorter than its header ({} < {HEADER_LEN} bytes)",
            bytes.len()
        );
        Ok(Self {
            ts: u64_at(bytes, 0),
            tid: u64_at(bytes, 8),
            len: u32_at(bytes, 16),
            event_type: u16_at(bytes, 20),
            nparams: u32_at(bytes, 22),
        })
    }

    /// Encodes the header into its 26 bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0..8].copy_from_slice(&self.ts.to_ne_bytes());
        out[8..16].copy_from_slice(&self.tid.to_ne_bytes());
        out[16..20].copy_from_slice(&self.len.to_ne_bytes());
        out[20..22].copy_from_slice(&self.event_type.to_ne_bytes());
        out[22..26].copy_from_slice(&self.nparams.to_ne_bytes());
        out
    }
}

/// Byte ranges of the parameters of a plugin event (whose lengths are `u32`).
pub fn plugin_event_params(bytes: &[u8]) -> Result<Vec<Range<usize>>> {
    let hdr = EventHeader::parse(bytes)?;
    ensure!(
        hdr.event_type == PLUGIN_EVENT_TYPE,
        "not a plugin event (type {}, expected {PLUGIN_EVENT_TYPE})",
        hdr.event_type
    );
    ensure!(
        hdr.len as usize == bytes.len(),
        "event header says {} bytes, buffer has {}",
        hdr.len,
        bytes.len()
    );
    let nparams = hdr.nparams as usize;
    let lens_end = nparams
        .checked_mul(4)
        .and_then(|n| n.checked_add(HEADER_LEN))
        .filter(|&end| end <= bytes.len());
    let Some(lens_end) = lens_end else {
        bail!("event too short for its {nparams} parameter lengths");
    };
    let mut ranges = Vec::with_capacity(nparams);
    let mut at = lens_end;
    for i in 0..nparams {
        let len = u32_at(bytes, HEADER_LEN + 4 * i) as usize;
        let end = at
            .checked_add(len)
            .filter(|&e| e <= bytes.len())
            .ok_or_else(|| anyhow::anyhow!("parameter {i} ({len} bytes) overruns the event"))?;
        ranges.push(at..end);
        at = end;
    }
    Ok(ranges)
}

/// A plugin event copied out of the plugin's batch memory, with the number the host gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedEvent {
    /// Event number, from 1 upward, as Falco's `evt.num` (unique per loaded plugin).
    pub evtnum: u64,
    raw: Vec<u8>,
    payload: Range<usize>,
}

impl OwnedEvent {
    /// Wraps the raw bytes of a plugin event (type 322, 2 parameters), validating them.
    pub fn from_raw(raw: Vec<u8>, evtnum: u64) -> Result<Self> {
        let params = plugin_event_params(&raw)?;
        ensure!(
            params.len() == 2,
            "plugin event with {} parameters (expected 2)",
            params.len()
        );
        ensure!(
            params[0].len() == 4,
            "plugin id parameter of {} bytes (expected 4)",
            params[0].len()
        );
        Ok(Self {
            evtnum,
            payload: params[1].clone(),
            raw,
        })
    }

    /// Builds a plugin event by hand, as a source plugin would (e.g. to extract fields from a
    /// payload without a source). `tid` is set to `u64::MAX` as Falco does for plugin events.
    pub fn plugin_event(evtnum: u64, ts: u64, plugin_id: u32, payload: &[u8]) -> Self {
        let len = PLUGIN_PAYLOAD_OFFSET + payload.len();
        let hdr = EventHeader {
            ts,
            tid: u64::MAX,
            len: u32::try_from(len).expect("payload below 4 GiB"),
            event_type: PLUGIN_EVENT_TYPE,
            nparams: 2,
        };
        let mut raw = Vec::with_capacity(len);
        raw.extend_from_slice(&hdr.to_bytes());
        raw.extend_from_slice(&4u32.to_ne_bytes());
        raw.extend_from_slice(&(payload.len() as u32).to_ne_bytes());
        raw.extend_from_slice(&plugin_id.to_ne_bytes());
        raw.extend_from_slice(payload);
        Self {
            evtnum,
            raw,
            payload: PLUGIN_PAYLOAD_OFFSET..len,
        }
    }

    /// The decoded header.
    pub fn header(&self) -> EventHeader {
        EventHeader::parse(&self.raw).expect("validated at construction")
    }

    /// Event number (the same as the `evtnum` field).
    pub fn evtnum(&self) -> u64 {
        self.evtnum
    }

    /// Timestamp in nanoseconds since the epoch.
    pub fn ts(&self) -> u64 {
        u64_at(&self.raw, 0)
    }

    /// Thread id of the header.
    pub fn tid(&self) -> u64 {
        u64_at(&self.raw, 8)
    }

    /// The plugin id parameter.
    pub fn plugin_id(&self) -> u32 {
        u32_at(&self.raw, HEADER_LEN + 8)
    }

    /// The payload bytes (for k8sadmission: one AdmissionReview JSON object).
    pub fn payload(&self) -> &[u8] {
        &self.raw[self.payload.clone()]
    }

    /// The payload as text (lossy UTF-8).
    pub fn payload_str(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(self.payload())
    }

    /// The whole event, header included, as handed to `extract_fields`.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// Sets the timestamp in the raw header.
    pub(crate) fn set_ts(&mut self, ts: u64) {
        self.raw[0..8].copy_from_slice(&ts.to_ne_bytes());
    }

    /// Sets the thread id in the raw header.
    pub(crate) fn set_tid(&mut self, tid: u64) {
        self.raw[8..16].copy_from_slice(&tid.to_ne_bytes());
    }

    /// Sets the plugin id parameter.
    pub(crate) fn set_plugin_id(&mut self, id: u32) {
        self.raw[HEADER_LEN + 8..HEADER_LEN + 12].copy_from_slice(&id.to_ne_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds the bytes field by field, independently of `plugin_event`.
    fn hand_made(ts: u64, id: u32, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&ts.to_ne_bytes());
        v.extend_from_slice(&7u64.to_ne_bytes());
        v.extend_from_slice(&((38 + payload.len()) as u32).to_ne_bytes());
        v.extend_from_slice(&322u16.to_ne_bytes());
        v.extend_from_slice(&2u32.to_ne_bytes());
        v.extend_from_slice(&4u32.to_ne_bytes());
        v.extend_from_slice(&(payload.len() as u32).to_ne_bytes());
        v.extend_from_slice(&id.to_ne_bytes());
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn decodes_hand_made_header() {
        let raw = hand_made(1_700_000_000_123_456_789, 999, b"{\"a\":1}");
        let hdr = EventHeader::parse(&raw).unwrap();
        assert_eq!(
            hdr,
            EventHeader {
                ts: 1_700_000_000_123_456_789,
                tid: 7,
                len: 45,
                event_type: 322,
                nparams: 2
            }
        );
        assert_eq!(hdr.to_bytes(), raw[..26]);
        let params = plugin_event_params(&raw).unwrap();
        assert_eq!(params, vec![34..38, 38..45]);

        let ev = OwnedEvent::from_raw(raw.clone(), 5).unwrap();
        assert_eq!(ev.evtnum, 5);
        assert_eq!(ev.evtnum(), 5);
        assert_eq!(ev.ts(), 1_700_000_000_123_456_789);
        assert_eq!(ev.tid(), 7);
        assert_eq!(ev.plugin_id(), 999);
        assert_eq!(ev.payload(), b"{\"a\":1}");
        assert_eq!(ev.raw(), &raw[..]);
    }

    #[test]
    fn builder_matches_hand_made() {
        let mut raw = hand_made(42, 999, b"xyz");
        raw[8..16].copy_from_slice(&u64::MAX.to_ne_bytes());
        let ev = OwnedEvent::plugin_event(1, 42, 999, b"xyz");
        assert_eq!(ev.raw(), &raw[..]);
        assert_eq!(ev.payload_str(), "xyz");
        let mut ev = ev;
        ev.set_ts(9);
        ev.set_tid(3);
        ev.set_plugin_id(12);
        assert_eq!((ev.ts(), ev.tid(), ev.plugin_id()), (9, 3, 12));
        assert_eq!(ev.payload(), b"xyz");
    }

    #[test]
    fn empty_payload() {
        let ev = OwnedEvent::from_raw(hand_made(1, 2, b""), 1).unwrap();
        assert_eq!(ev.payload(), b"");
        assert_eq!(ev.raw().len(), PLUGIN_PAYLOAD_OFFSET);
    }

    #[test]
    fn rejects_malformed() {
        assert!(EventHeader::parse(&[0u8; 25]).is_err());
        // wrong type
        let mut raw = hand_made(1, 2, b"abc");
        raw[20..22].copy_from_slice(&1u16.to_ne_bytes());
        assert!(OwnedEvent::from_raw(raw, 1).is_err());
        // len disagrees with the buffer
        let mut raw = hand_made(1, 2, b"abc");
        raw.push(0);
        assert!(OwnedEvent::from_raw(raw, 1).is_err());
        // payload length overruns
        let mut raw = hand_made(1, 2, b"abc");
        raw[30..34].copy_from_slice(&100u32.to_ne_bytes());
        assert!(OwnedEvent::from_raw(raw, 1).is_err());
        // absurd nparams
        let mut raw = hand_made(1, 2, b"abc");
        raw[22..26].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert!(OwnedEvent::from_raw(raw, 1).is_err());
        // three parameters
        let mut raw = hand_made(1, 2, b"");
        raw[22..26].copy_from_slice(&3u32.to_ne_bytes());
        assert!(OwnedEvent::from_raw(raw, 1).is_err());
    }
}
