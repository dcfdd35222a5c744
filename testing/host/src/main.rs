//! `k8sadmission-host`: load libk8sadmission.so, open a source and print its events.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Parser;
use k8sadmission_host::fields::split_field_list;
use k8sadmission_host::report::{default_json_fields, event_json, fields_line, summary_line};
use k8sadmission_host::{default_plugin_path, Batch, FieldRef, Plugin, PLUGIN_PATH_ENV};
use signal_hook::consts::{SIGINT, SIGTERM};

/// Drive the k8sadmission Falco plugin through the Falco plugin C ABI and print its events.
#[derive(Debug, Parser)]
#[command(name = "k8sadmission-host", version)]
struct Args {
    /// Plugin shared library [default: $K8SADMISSION_SO, else target/release/libk8sadmission.so]
    #[arg(long, value_name = "PATH")]
    plugin: Option<PathBuf>,
    /// init_config JSON passed to plugin_init
    #[arg(long, value_name = "JSON", default_value = "{}")]
    config: String,
    /// Comma-separated fields to print per event, e.g. kar.verb,kar.req.pod.containers.name[0]
    #[arg(long, value_name = "LIST")]
    fields: Option<String>,
    /// One JSON object per event: {"evtnum":N,"ts":NS,"fields":{...}} (with --fields: those
    /// fields, else every field that needs no argument)
    #[arg(long)]
    json: bool,
    /// Print the plugin metrics after the end of the stream
    #[arg(long)]
    metrics: bool,
    /// open_params: a capture file, directory, glob, file:// or http(s):// URL
    #[arg(value_name = "OPEN_PARAMS")]
    open_params: String,
}

/// How each event is printed.
enum Mode {
    Summary,
    Fields(Vec<String>),
    Json(Vec<String>),
}

/// Checks every field reference against the plugin's field table.
fn check_fields(plugin: &Plugin, fields: &[String]) -> Result<()> {
    for f in fields {
        let r = FieldRef::parse(f)?;
        let Some(info) = plugin.field(&r.name) else {
            bail!("unknown field `{}` (plugin {})", r.name, plugin.name());
        };
        if r.arg.is_none() && info.requires_arg() {
            bail!("field `{}` requires an argument", r.name);
        }
        if r.arg.is_some() && !info.accepts_arg() {
            bail!("field `{}` takes no argument", r.name);
        }
    }
    Ok(())
}

/// Writes one line; `Ok(false)` when stdout is closed (e.g. piped into `head`).
fn emit(out: &mut impl Write, line: &str) -> Result<bool> {
    match writeln!(out, "{line}") {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Reads the stream to its end (or until SIGTERM or SIGINT), printing each event and counting
/// them in `events`; then closes the instance, as Falco does when it stops (a follower saves
/// its checkpoint, a webhook frees its port).
fn pump(plugin: &mut Plugin, args: &Args, mode: &Mode, events: &mut u64) -> Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [SIGTERM, SIGINT] {
        signal_hook::flag::register(signal, stop.clone())?;
    }
    let mut instance = plugin.open(&args.open_params)?;
    let mut out = BufWriter::new(io::stdout().lock());
    'stream: loop {
        if stop.load(Ordering::Relaxed) {
            eprintln!("k8sadmission-host: stopping on a signal");
            break;
        }
        match instance.next_batch()? {
            Batch::Events(batch) => {
                for ev in &batch {
                    *events += 1;
                    let line = match mode {
                        Mode::Summary => summary_line(plugin, ev),
                        Mode::Fields(f) => fields_line(plugin, ev, f),
                        Mode::Json(f) => event_json(plugin, ev, f)?,
                    };
                    if !emit(&mut out, &line)? {
                        break 'stream;
                    }
                }
                if out.flush().is_err() {
                    break 'stream;
                }
            }
            Batch::Timeout => std::thread::sleep(Duration::from_millis(10)),
            Batch::Eof => break,
        }
    }
    if args.metrics {
        for (name, value) in plugin.metrics() {
            if !emit(&mut out, &format!("{}.{name} {value}", plugin.name()))? {
                break;
            }
        }
    }
    let _ = out.flush();
    instance.close();
    Ok(())
}

fn run() -> Result<()> {
    let args = Args::parse();
    let path = args.plugin.clone().unwrap_or_else(default_plugin_path);
    let mut plugin = Plugin::load(&path).with_context(|| {
        format!("(set --plugin or {PLUGIN_PATH_ENV}; build with `cargo build --release`)")
    })?;

    let mut events = 0u64;
    let result = (|| -> Result<()> {
        plugin.init(&args.config)?;
        let mode = match (&args.fields, args.json) {
            (Some(list), json) => {
                let fields = split_field_list(list);
                check_fields(&plugin, &fields)?;
                if json {
                    Mode::Json(fields)
                } else {
                    Mode::Fields(fields)
                }
            }
            (None, true) => Mode::Json(default_json_fields(&plugin)),
            (None, false) => Mode::Summary,
        };
        pump(&mut plugin, &args, &mode, &mut events)
    })();

    eprintln!(
        "k8sadmission-host: {events} events read from {} ({} {})",
        args.open_params,
        plugin.name(),
        plugin.version()
    );
    for line in plugin
        .logs()
        .iter()
        .filter(|l| l.severity.is_warning_or_above())
    {
        eprintln!("  plugin log: {line}");
    }
    result
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("k8sadmission-host: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn parses_arguments() {
        let a = Args::try_parse_from([
            "k8sadmission-host",
            "--fields",
            "kar.verb,kar.value[/a,b]",
            "--json",
            "--metrics",
            "test_files/x.jsonl",
        ])
        .unwrap();
        assert_eq!(a.config, "{}");
        assert!(a.json && a.metrics);
        assert_eq!(
            split_field_list(a.fields.as_deref().unwrap()),
            vec!["kar.verb", "kar.value[/a,b]"]
        );
        assert_eq!(a.open_params, "test_files/x.jsonl");
        assert!(Args::try_parse_from(["k8sadmission-host"]).is_err());
    }
}
