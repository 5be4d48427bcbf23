//! The disk and the database fail under load: the event log's PostgreSQL stopped mid-load,
//! and the data folder (SQLite log, archived flow versions) on a full disk. Calls go on: no
//! request fails, and the events that could not be written are counted as lost.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::caller::{self, Tally};
use crate::procs::{Serve, Site, line_flow};
use crate::{Form, form, pg};

fn phase() -> Duration {
    match form() {
        Form::Short => Duration::from_millis(2500),
        Form::Long => Duration::from_secs(30),
    }
}

/// Callers on `serve` for two phases, `fault` between them; their tally, and the server's
/// own count of events written and lost (its `event log closed` line) after a SIGTERM.
fn around(serve: &mut Serve, fault: impl FnOnce()) -> (Tally, String) {
    let line = caller::Line::new(&serve.url());
    let runtime = crate::runtime();
    let stop = Arc::new(AtomicBool::new(false));
    let driver = {
        let stop = stop.clone();
        std::thread::spawn(move || runtime.block_on(caller::until(&line, 32, Duration::from_millis(50), stop)))
    };
    std::thread::sleep(phase());
    fault();
    std::thread::sleep(phase());
    stop.store(true, Ordering::Relaxed);
    let tally = driver.join().expect("the callers finish");
    let log = serve.stop();
    let closed = log.lines().find_map(|l| l.split_once("event log closed ").map(|(_, s)| s.to_owned()));
    (tally, closed.unwrap_or_else(|| format!("no `event log closed` line in:\n{log}")))
}

pub fn database_gone() {
    let Some(cluster) = pg::Cluster::start() else { return };
    let site = Site::new();
    let mut serve = Serve::start(&site, &site.data(), None, &cluster.database("faults"));
    let (tally, closed) = around(&mut serve, move || drop(cluster));
    println!("faults: PostgreSQL stopped mid-load: {}; event log: {closed}", tally.line());
    assert_eq!((tally.stranded, tally.failed_requests), (0, 0), "{:?}", tally.why);
    assert!(closed.starts_with("written="), "{closed}");
}

pub fn disk_full() {
    let site = Site::new();
    let data = site.data().join("small");
    std::fs::create_dir_all(&data).expect("mkdir");
    let mounted = Command::new("mount").args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"]).arg(&data).output();
    if !mounted.as_ref().is_ok_and(|o| o.status.success()) {
        eprintln!("skipping the full-disk test: cannot mount a 4 MB tmpfs (needs root): {mounted:?}");
        return;
    }
    let unmount = Unmount(&data);
    let db = format!("sqlite://{}", data.join("calls.db").display());
    let mut serve = Serve::start(&site, &data, None, &db);
    let flow = site.flows().join("line.toml");
    let (tally, closed) = around(&mut serve, || {
        fill(&data.join("filler"));
        // An edit now cannot be archived in the full data folder.
        std::fs::write(&flow, line_flow(2)).expect("edit the flow");
    });
    let full =
        Command::new("df").arg("-k").arg(&data).output().map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    println!(
        "faults: data folder's disk full mid-load: {}; editions served {:?}; event log: {closed}",
        tally.line(),
        tally.editions
    );
    drop(unmount);
    assert_eq!((tally.stranded, tally.failed_requests), (0, 0), "{:?}\n{full:?}", tally.why);
    assert!(tally.editions.contains(&1), "{:?}", tally.editions);
    assert!(closed.starts_with("written="), "{closed}");
}

/// Writes `path` until the disk is full.
fn fill(path: &Path) {
    use std::io::Write;
    let mut file = std::fs::File::create(path).expect("create the filler");
    let block = vec![0u8; 64 * 1024];
    while file.write_all(&block).is_ok() {}
    let _ = file.sync_all();
}

/// Unmounts the tmpfs when dropped, even after a failed assertion.
struct Unmount<'a>(&'a Path);

impl Drop for Unmount<'_> {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.0).status();
    }
}
