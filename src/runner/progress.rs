//! Progress per host: an indicatif spinner per host on a terminal, with the time spent on its
//! current message (connecting, waiting for a health check, ...); plain timestamped lines
//! (`12:03:04 [2001:db8::101] message`) when stderr is not a terminal; nothing when quiet.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Where progress goes.
pub enum Progress {
    /// Spinners, one per host.
    Bars { multi: MultiProgress, bars: Mutex<BTreeMap<String, ProgressBar>> },
    /// One line per event on stderr.
    Lines,
    /// Nothing (tests, `--output json`).
    Silent,
}

impl Progress {
    /// Bars on a terminal, lines otherwise.
    pub fn auto() -> Progress {
        if std::io::stderr().is_terminal() {
            Progress::Bars { multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()), bars: Mutex::new(BTreeMap::new()) }
        } else {
            Progress::Lines
        }
    }

    /// Registers hosts so their lines appear in order (a host registered before keeps its line).
    pub fn hosts<'a>(&self, hosts: impl IntoIterator<Item = &'a str>) {
        if let Progress::Bars { multi, bars } = self {
            let style = ProgressStyle::with_template("{spinner} {prefix:<40} {elapsed:>4} {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
            let mut bars = bars.lock().unwrap_or_else(|p| p.into_inner());
            for host in hosts.into_iter().filter(|h| !bars.contains_key(*h)).collect::<Vec<_>>() {
                let bar = multi.add(ProgressBar::new_spinner().with_style(style.clone()).with_prefix(host.to_string()));
                bar.enable_steady_tick(Duration::from_millis(120));
                bars.insert(host.to_string(), bar);
            }
        }
    }

    /// A message about one host.
    pub fn host_message(&self, host: &str, message: &str) {
        match self {
            Progress::Bars { bars, multi } => match bars.lock().unwrap_or_else(|p| p.into_inner()).get(host) {
                Some(bar) => {
                    // The elapsed time shown is the current message's.
                    bar.reset_elapsed();
                    bar.set_message(message.to_string());
                }
                None => {
                    let _ = multi.println(format!("[{host}] {message}"));
                }
            },
            Progress::Lines => eprintln!("{} [{host}] {message}", clock()),
            Progress::Silent => {}
        }
    }

    /// A message about the whole run (e.g. a step starting).
    pub fn run_message(&self, message: &str) {
        match self {
            Progress::Bars { multi, .. } => {
                let _ = multi.println(message);
            }
            Progress::Lines => eprintln!("{} {message}", clock()),
            Progress::Silent => {}
        }
    }

    /// Stops the spinners (call before printing the recap).
    pub fn finish(&self) {
        if let Progress::Bars { bars, .. } = self {
            for bar in bars.lock().unwrap_or_else(|p| p.into_inner()).values() {
                bar.finish();
            }
        }
    }
}

/// `HH:MM:SS` UTC.
fn clock() -> String {
    let seconds = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) % 86_400;
    format!("{:02}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60)
}
