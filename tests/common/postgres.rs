//! A throwaway PostgreSQL cluster for tests and benches: `initdb` in a temporary directory,
//! listening only on a Unix socket there, stopped when dropped. Uses the newest
//! `/usr/lib/postgresql/*/bin` (Debian's `postgresql` package); without it [`Cluster::start`]
//! says why and gives `None`, so a caller skips. Included by `#[path]` from tests/events.rs,
//! the two-instance server test and benches/events.rs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// A throwaway cluster in a temporary directory, listening only on a Unix socket there.
pub struct Cluster {
    pub dir: tempfile::TempDir,
    bin: PathBuf,
    /// Running as root: the server must run as `nobody`.
    as_nobody: bool,
}

impl Cluster {
    /// Starts one, or says why it cannot and returns `None`.
    pub fn start() -> Option<Cluster> {
        let Some(bin) = postgres_bin() else {
            eprintln!(
                "skipping PostgreSQL: no /usr/lib/postgresql/*/bin/initdb and pg_ctl (apt-get install postgresql)"
            );
            return None;
        };
        let dir = tempfile::tempdir().expect("a temp dir");
        let uid = Command::new("id").arg("-u").output().expect("id runs");
        let as_nobody = String::from_utf8_lossy(&uid.stdout).trim() == "0";
        if as_nobody {
            let status = Command::new("chown").arg("nobody").arg(dir.path()).status().expect("chown runs");
            assert!(status.success(), "cannot give the cluster's directory to nobody");
        }
        let cluster = Cluster { dir, bin, as_nobody };
        let data = cluster.dir.path().join("data");
        cluster.run("initdb", &["-D", path(&data), "-U", "switchboard", "-A", "trust", "--no-sync"]);
        let options = format!("-c listen_addresses='' -k {} -c fsync=off", path(cluster.dir.path()));
        let log = cluster.dir.path().join("server.log");
        cluster.run("pg_ctl", &["-D", path(&data), "-o", &options, "-l", path(&log), "-w", "start"]);
        Some(cluster)
    }

    fn run(&self, program: &str, args: &[&str]) {
        let program = self.bin.join(program);
        let mut command = if self.as_nobody {
            let mut c = Command::new("runuser");
            c.args(["-u", "nobody", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        let out = command.args(args).current_dir(self.dir.path()).output().expect("the PostgreSQL tools run");
        assert!(
            out.status.success(),
            "{} failed:\n{}{}",
            program.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The socket's directory as a URL host: `%2Ftmp%2F.tmpXYZ`.
    pub fn host(&self) -> String {
        path(self.dir.path()).replace('/', "%2F")
    }

    /// A new, empty database, and its URL.
    pub fn database(&self, name: &str) -> String {
        let admin = format!("postgres://switchboard@{}/postgres", self.host());
        let mut client = postgres::Client::connect(&admin, postgres::NoTls).expect("connects to the cluster");
        client.batch_execute(&format!("CREATE DATABASE {name}")).expect("creates a database");
        format!("postgres://switchboard@{}/{name}", self.host())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        self.run("pg_ctl", &["-D", path(&data), "-m", "immediate", "-w", "stop"]);
    }
}

pub fn path(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

/// The newest installed server's binaries.
fn postgres_bin() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("initdb").exists() && bin.join("pg_ctl").exists())
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}
