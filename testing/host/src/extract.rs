//! Field extraction through `plugin_extract_fields`, one field per call.

use std::ffi::CString;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use anyhow::{anyhow, bail, Context, Result};
use falco_plugin_api::{
    ss_plugin_event, ss_plugin_event_input, ss_plugin_extract_field,
    ss_plugin_extract_field__bindgen_ty_1, ss_plugin_field_extract_input,
    ss_plugin_field_type_FTYPE_ABSTIME, ss_plugin_field_type_FTYPE_BOOL,
    ss_plugin_field_type_FTYPE_IPADDR, ss_plugin_field_type_FTYPE_IPNET,
    ss_plugin_field_type_FTYPE_RELTIME, ss_plugin_field_type_FTYPE_STRING,
    ss_plugin_field_type_FTYPE_UINT64, ss_plugin_rc_SS_PLUGIN_SUCCESS,
    ss_plugin_table_reader_vtable, ss_plugin_table_reader_vtable_ext,
};

use crate::event::OwnedEvent;
use crate::fields::FieldRef;
use crate::log::{c_string, get_owner_last_error};
use crate::plugin::{Core, Plugin};

/// One extracted value, by field type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    /// `string`
    Str(String),
    /// `uint64`, `reltime` (ns) and `abstime` (ns since the epoch)
    U64(u64),
    /// `bool`
    Bool(bool),
    /// `ipaddr` / `ipnet` raw bytes
    Bytes(Vec<u8>),
}

impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Str(s) => f.write_str(s),
            Self::U64(n) => write!(f, "{n}"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Bytes(b) => match b.len() {
                4 => write!(
                    f,
                    "{}",
                    Ipv4Addr::from(<[u8; 4]>::try_from(&b[..]).unwrap())
                ),
                16 => write!(
                    f,
                    "{}",
                    Ipv6Addr::from(<[u8; 16]>::try_from(&b[..]).unwrap())
                ),
                5 | 17 => {
                    let (addr, prefix) = b.split_at(b.len() - 1);
                    let ip: IpAddr = if addr.len() == 4 {
                        Ipv4Addr::from(<[u8; 4]>::try_from(addr).unwrap()).into()
                    } else {
                        Ipv6Addr::from(<[u8; 16]>::try_from(addr).unwrap()).into()
                    };
                    write!(f, "{ip}/{}", prefix[0])
                }
                _ => b.iter().try_for_each(|x| write!(f, "{x:02x}")),
            },
        }
    }
}

/// The event input Falco builds: the event bytes, its number and the source name.
pub(crate) fn event_input(core: &Core, event: &OwnedEvent) -> ss_plugin_event_input {
    ss_plugin_event_input {
        evt: event.raw().as_ptr() as *const ss_plugin_event,
        evtnum: event.evtnum,
        evtsrc: core.source.as_ptr(),
    }
}

/// A table reader vtable with no functions (this host has no tables).
fn empty_table_reader() -> ss_plugin_table_reader_vtable {
    ss_plugin_table_reader_vtable {
        get_table_name: None,
        get_table_size: None,
        get_table_entry: None,
        read_entry_field: None,
    }
}

/// The extended table reader vtable with no functions. It must still be passed (non-NULL):
/// falco_plugin fails every extraction when `table_reader_ext` is NULL.
fn empty_table_reader_ext() -> ss_plugin_table_reader_vtable_ext {
    ss_plugin_table_reader_vtable_ext {
        get_table_name: None,
        get_table_size: None,
        get_table_entry: None,
        read_entry_field: None,
        release_table_entry: None,
        iterate_entries: None,
    }
}

/// Copies `len` values of type `ftype` out of an extraction result.
///
/// # Safety
/// `res` must be the result union of a successful extraction of `len` values of `ftype`,
/// still valid (no call into the plugin since).
unsafe fn copy_values(
    res: &ss_plugin_extract_field__bindgen_ty_1,
    ftype: u32,
    len: usize,
) -> Result<Vec<FieldValue>> {
    // SAFETY (whole body): per the contract, the member matching `ftype` points at `len`
    // elements owned by the plugin; each is copied before returning.
    unsafe {
        #[allow(non_upper_case_globals)]
        match ftype {
            ss_plugin_field_type_FTYPE_STRING => {
                let ptrs = std::slice::from_raw_parts(res.str_, len);
                ptrs.iter()
                    .enumerate()
                    .map(|(i, &p)| {
                        c_string(p)
                            .map(FieldValue::Str)
                            .ok_or_else(|| anyhow!("string value {i} is NULL"))
                    })
                    .collect()
            }
            ss_plugin_field_type_FTYPE_UINT64
            | ss_plugin_field_type_FTYPE_RELTIME
            | ss_plugin_field_type_FTYPE_ABSTIME => Ok(std::slice::from_raw_parts(res.u64_, len)
                .iter()
                .map(|&n| FieldValue::U64(n))
                .collect()),
            ss_plugin_field_type_FTYPE_BOOL => Ok(std::slice::from_raw_parts(res.boolean, len)
                .iter()
                .map(|&b| FieldValue::Bool(b != 0))
                .collect()),
            ss_plugin_field_type_FTYPE_IPADDR | ss_plugin_field_type_FTYPE_IPNET => {
                Ok(std::slice::from_raw_parts(res.buf, len)
                    .iter()
                    .map(|b| {
                        let bytes = if b.ptr.is_null() || b.len == 0 {
                            Vec::new()
                        } else {
                            std::slice::from_raw_parts(b.ptr as *const u8, b.len as usize).to_vec()
                        };
                        FieldValue::Bytes(bytes)
                    })
                    .collect())
            }
            other => bail!("unsupported field type {other}"),
        }
    }
}

impl Plugin {
    /// Extracts `field` (`name` or `name[arg]`) from `event` as strings: `Ok(None)` when the
    /// field has no value (`res_len == 0`, Falco's `<NA>`). Non-string types are rendered as
    /// text (`true`/`false`, decimal numbers, IP addresses).
    ///
    /// Exactly one field is requested per `plugin_extract_fields` call (falco_plugin 0.5.1
    /// corrupts values when one call carries several). An unknown field, a bad argument or a
    /// non-success rc is an `Err` (the latter with the plugin's last error).
    pub fn extract(&mut self, event: &OwnedEvent, field: &str) -> Result<Option<Vec<String>>> {
        Ok(self
            .extract_values(event, field)?
            .map(|vals| vals.iter().map(ToString::to_string).collect()))
    }

    /// As [`Plugin::extract`], keeping the values typed.
    pub fn extract_values(
        &mut self,
        event: &OwnedEvent,
        field: &str,
    ) -> Result<Option<Vec<FieldValue>>> {
        let state = self.core.state()?;
        let fref = FieldRef::parse(field)?;
        let idx = self
            .fields
            .iter()
            .position(|f| f.name == fref.name)
            .ok_or_else(|| anyhow!("unknown field `{}`", fref.name))?;
        let info = &self.fields[idx];
        let ftype = info.type_code().ok_or_else(|| {
            anyhow!(
                "field `{}` has unknown type `{}`",
                info.name,
                info.field_type
            )
        })?;

        let mut arg_index = 0u64;
        let mut arg_key: Option<CString> = None;
        let arg_present = match (&fref.arg, info.arg) {
            (None, Some(a)) if a.is_required => {
                bail!("field `{}` requires an argument", info.name)
            }
            (None, _) => false,
            (Some(_), None) => bail!("field `{}` takes no argument", info.name),
            (Some(arg), Some(a)) if a.is_index => {
                arg_index = arg.parse().with_context(|| {
                    format!("field `{}` takes an index argument, not `{arg}`", info.name)
                })?;
                true
            }
            (Some(arg), Some(_)) => {
                arg_key = Some(CString::new(arg.as_str()).context("argument with a NUL byte")?);
                true
            }
        };

        let mut request = ss_plugin_extract_field {
            res: ss_plugin_extract_field__bindgen_ty_1 {
                u64_: std::ptr::null_mut(),
            },
            res_len: 0,
            field_id: idx as u32,
            field: self.field_names[idx].as_ptr(),
            arg_key: arg_key.as_ref().map_or(std::ptr::null(), |k| k.as_ptr()),
            arg_index,
            arg_present: u32::from(arg_present),
            ftype,
            flist: u32::from(info.is_list),
        };
        let mut reader_ext = empty_table_reader_ext();
        let input = ss_plugin_field_extract_input {
            owner: self.core.owner.as_ptr(),
            get_owner_last_error: Some(get_owner_last_error),
            num_fields: 1,
            fields: &mut request,
            table_reader: empty_table_reader(),
            table_reader_ext: &mut reader_ext,
            value_offsets: std::ptr::null_mut(),
        };
        let evt = event_input(&self.core, event);
        // SAFETY: live state; `evt`, `input`, the request, the name/argument C strings and the
        // event bytes all outlive the call.
        let rc = unsafe { (self.core.syms.extract_fields)(state, &evt, &input) };
        if rc != ss_plugin_rc_SS_PLUGIN_SUCCESS {
            bail!(
                "extract_fields({field}) failed (rc {rc}): {}",
                self.core.last_error()
            );
        }
        if request.res_len == 0 {
            return Ok(None);
        }
        let len = usize::try_from(request.res_len)?;
        // SAFETY: successful extraction of `len` values of `ftype`; nothing has been called
        // on the plugin since, so the result memory is still valid.
        let values = unsafe { copy_values(&request.res, ftype, len) }
            .with_context(|| format!("extract_fields({field})"))?;
        Ok(Some(values))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_display() {
        assert_eq!(FieldValue::Str("x".into()).to_string(), "x");
        assert_eq!(FieldValue::U64(42).to_string(), "42");
        assert_eq!(FieldValue::Bool(true).to_string(), "true");
        assert_eq!(FieldValue::Bytes(vec![10, 0, 0, 1]).to_string(), "10.0.0.1");
        assert_eq!(
            FieldValue::Bytes(vec![10, 0, 0, 0, 8]).to_string(),
            "10.0.0.0/8"
        );
        assert_eq!(FieldValue::Bytes(vec![1, 2]).to_string(), "0102");
    }

    #[test]
    fn copies_string_results() {
        let a = c"alpha";
        let b = c"b\u{e9}ta";
        let mut ptrs = [a.as_ptr(), b.as_ptr()];
        let res = ss_plugin_extract_field__bindgen_ty_1 {
            str_: ptrs.as_mut_ptr(),
        };
        // SAFETY: two valid C strings.
        let vals = unsafe { copy_values(&res, ss_plugin_field_type_FTYPE_STRING, 2) }.unwrap();
        assert_eq!(
            vals,
            vec![
                FieldValue::Str("alpha".into()),
                FieldValue::Str("béta".into())
            ]
        );
        let mut nums = [1u64, 2];
        let res = ss_plugin_extract_field__bindgen_ty_1 {
            u64_: nums.as_mut_ptr(),
        };
        // SAFETY: two u64 values.
        let vals = unsafe { copy_values(&res, ss_plugin_field_type_FTYPE_UINT64, 2) }.unwrap();
        assert_eq!(vals, vec![FieldValue::U64(1), FieldValue::U64(2)]);
    }
}
