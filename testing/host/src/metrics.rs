//! Plugin metrics through `plugin_get_metrics`.

use std::fmt;

use falco_plugin_api::{
    ss_plugin_metric, ss_plugin_metric_value_type_SS_PLUGIN_METRIC_VALUE_TYPE_D,
    ss_plugin_metric_value_type_SS_PLUGIN_METRIC_VALUE_TYPE_F,
    ss_plugin_metric_value_type_SS_PLUGIN_METRIC_VALUE_TYPE_I,
    ss_plugin_metric_value_type_SS_PLUGIN_METRIC_VALUE_TYPE_S32,
    ss_plugin_metric_value_type_SS_PLUGIN_METRIC_VALUE_TYPE_S64,
    ss_plugin_metric_value_type_SS_PLUGIN_METRIC_VALUE_TYPE_U32,
    ss_plugin_metric_value_type_SS_PLUGIN_METRIC_VALUE_TYPE_U64,
};

use crate::log::c_string;
use crate::plugin::Plugin;

/// A metric value, widened by its `value_type`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MetricValue {
    /// `U32` and `U64`
    U64(u64),
    /// `S32`, `S64` and `I`
    I64(i64),
    /// `D` and `F`
    F64(f64),
}

impl MetricValue {
    /// The value as `u64` when it is a non-negative integer.
    pub fn as_u64(self) -> Option<u64> {
        match self {
            Self::U64(n) => Some(n),
            Self::I64(n) => u64::try_from(n).ok(),
            Self::F64(_) => None,
        }
    }

    /// The value as `f64`.
    pub fn as_f64(self) -> f64 {
        match self {
            Self::U64(n) => n as f64,
            Self::I64(n) => n as f64,
            Self::F64(x) => x,
        }
    }
}

impl fmt::Display for MetricValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::U64(n) => write!(f, "{n}"),
            Self::I64(n) => write!(f, "{n}"),
            Self::F64(x) => write!(f, "{x}"),
        }
    }
}

/// Decodes one metric; `None` for an unknown value type.
///
/// # Safety
/// `m.name` must be NULL or a valid C string.
unsafe fn decode(m: &ss_plugin_metric) -> Option<(String, MetricValue)> {
    // SAFETY: forwarded contract.
    let name = unsafe { c_string(m.name) }?;
    // SAFETY: the union member read is the one `value_type` names.
    let value = unsafe {
        #[allow(non_upper_case_globals)]
        match m.value_type {
            ss_plugin_metric_value_type_SS_PLUGIN_METRIC_VALUE_TYPE_U32 => {
                MetricValue::U64(u64::from(m.value.u32_))
            }
            ss_plugin_metric_value_type_SS_PLUGIN_METRIC_VALUE_TYPE_U64 => {
                MetricValue::U64(m.value.u64_)
            }
            ss_plugin_metric_value_type_SS_PLUGIN_METRIC_VALUE_TYPE_S32 => {
                MetricValue::I64(i64::from(m.value.s32))
            }
            ss_plugin_metric_value_type_SS_PLUGIN_METRIC_VALUE_TYPE_S64 => {
                MetricValue::I64(m.value.s64)
            }
            ss_plugin_metric_value_type_SS_PLUGIN_METRIC_VALUE_TYPE_I => {
                MetricValue::I64(i64::from(m.value.i))
            }
            ss_plugin_metric_value_type_SS_PLUGIN_METRIC_VALUE_TYPE_D => {
                MetricValue::F64(m.value.d)
            }
            ss_plugin_metric_value_type_SS_PLUGIN_METRIC_VALUE_TYPE_F => {
                MetricValue::F64(f64::from(m.value.f))
            }
            _ => return None,
        }
    };
    Some((name, value))
}

impl Plugin {
    /// `plugin_get_metrics`: each metric's name (as the plugin gives it, without the
    /// `<plugin name>.` prefix Falco adds) and value. Empty before init or without the symbol.
    pub fn metrics(&mut self) -> Vec<(String, MetricValue)> {
        let (Ok(state), Some(f)) = (self.core.state(), self.core.syms.get_metrics) else {
            return Vec::new();
        };
        let mut n: u32 = 0;
        // SAFETY: live state and out pointer.
        let ptr = unsafe { f(state, &mut n) };
        if ptr.is_null() || n == 0 {
            return Vec::new();
        }
        // SAFETY: the plugin returns `n` metrics valid until the next call; copied at once.
        let metrics = unsafe { std::slice::from_raw_parts(ptr, n as usize) };
        metrics
            .iter()
            // SAFETY: metric names are NULL or C strings owned by the plugin.
            .filter_map(|m| unsafe { decode(m) })
            .collect()
    }

    /// The value of the metric called `name` (without prefix), if the plugin reports it.
    pub fn metric(&mut self, name: &str) -> Option<MetricValue> {
        self.metrics()
            .into_iter()
            .find_map(|(n, v)| (n == name).then_some(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use falco_plugin_api::{
        ss_plugin_metric_type_SS_PLUGIN_METRIC_TYPE_MONOTONIC, ss_plugin_metric_value,
    };

    #[test]
    fn decodes_by_value_type() {
        let m = ss_plugin_metric {
            name: c"events_emitted".as_ptr(),
            type_: ss_plugin_metric_type_SS_PLUGIN_METRIC_TYPE_MONOTONIC,
            value: ss_plugin_metric_value { u64_: 7 },
            value_type: ss_plugin_metric_value_type_SS_PLUGIN_METRIC_VALUE_TYPE_U64,
        };
        // SAFETY: valid name.
        let (name, v) = unsafe { decode(&m) }.unwrap();
        assert_eq!((name.as_str(), v), ("events_emitted", MetricValue::U64(7)));
        let m = ss_plugin_metric {
            value: ss_plugin_metric_value { d: 1.5 },
            value_type: ss_plugin_metric_value_type_SS_PLUGIN_METRIC_VALUE_TYPE_D,
            ..m
        };
        // SAFETY: valid name.
        assert_eq!(unsafe { decode(&m) }.unwrap().1, MetricValue::F64(1.5));
        assert_eq!(MetricValue::I64(-1).as_u64(), None);
        assert_eq!(MetricValue::U64(3).to_string(), "3");
    }
}
