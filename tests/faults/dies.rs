//! An instance dies mid-call: two `serve` instances sharing the secret (and a PostgreSQL
//! event log when its binaries are installed) behind nginx, 256 callers calling back to back;
//! `kill -9` one instance, start it again, `kill -9` the other. Every call must end with its
//! caller where the script leads or with a person.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::caller::{self, Line};
use crate::procs::{self, Nginx, Serve, Site};
use crate::{Form, form, pg};

pub fn run() {
    let Some(nginx_binary) = procs::nginx_binary() else {
        eprintln!("skipping the instance-death test: no nginx (apt-get install nginx)");
        return;
    };
    let (phase, think) = match form() {
        Form::Short => (Duration::from_millis(1500), Duration::from_millis(100)),
        Form::Long => (Duration::from_secs(20), Duration::from_millis(300)),
    };
    let cluster = pg::Cluster::start();
    let db = cluster.as_ref().map_or_else(|| "none".to_owned(), |c| c.database("faults"));
    let site = Site::new();
    let port = procs::free_port();
    let public = format!("http://127.0.0.1:{port}");
    let mut a = Serve::start(&site, &site.data().join("a"), Some(&public), &db);
    let mut b = Serve::start(&site, &site.data().join("b"), Some(&public), &db);
    let nginx = Nginx::start(&nginx_binary, port, &[a.port, b.port]);

    let runtime = crate::runtime();
    let line = Line::new(&nginx.url());
    let stop = Arc::new(AtomicBool::new(false));
    let driver = {
        let stop = stop.clone();
        std::thread::spawn(move || runtime.block_on(caller::until(&line, 256, think, stop)))
    };
    std::thread::sleep(phase);
    a.kill9();
    std::thread::sleep(phase);
    a.restart();
    std::thread::sleep(phase);
    b.kill9();
    std::thread::sleep(phase);
    stop.store(true, Ordering::Relaxed);
    let tally = driver.join().expect("the callers finish");

    println!(
        "faults: instance killed mid-call (256 callers, {db_kind}): {}",
        tally.line(),
        db_kind = if cluster.is_some() { "PostgreSQL log" } else { "no log" }
    );
    println!("faults: nginx said {:#?}", nginx.complaints());
    assert!(tally.calls() > 256, "too few calls to mean anything: {}", tally.line());
    assert_eq!(tally.stranded, 0, "stranded callers: {:?}\n{}", tally.why, tally.line());
    drop(nginx);
    a.stop();
}
