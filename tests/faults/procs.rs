//! The real parts under test, as processes: `switchboard serve` (the binary cargo built for
//! this test) and nginx from Debian's package in front of two of them, each in a temporary
//! folder of its own; plus what the suite reads of them (resident memory, the log).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::caller::{AUTH_TOKEN, SECRET};

/// A free port on 127.0.0.1 (bound, then released for the process to take).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    listener.local_addr().expect("an address").port()
}

/// A folder with the `line` flow (faults/line.toml) and a data folder.
pub struct Site {
    pub dir: tempfile::TempDir,
}

impl Site {
    pub fn new() -> Site {
        let dir = tempfile::tempdir().expect("a temp dir");
        for sub in ["flows", "sounds", "data"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
        }
        std::fs::write(dir.path().join("flows/line.toml"), line_flow(1)).expect("write the flow");
        Site { dir }
    }

    pub fn flows(&self) -> PathBuf {
        self.dir.path().join("flows")
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

/// faults/line.toml with every prompt naming `edition`.
pub fn line_flow(edition: u32) -> String {
    let source = include_str!("../../faults/line.toml");
    source.replace("edition 1.", &format!("edition {edition}."))
}

/// One `switchboard serve` process on 127.0.0.1:`port`.
pub struct Serve {
    pub port: u16,
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
    /// How many times it was started, to name its logs.
    starts: u32,
}

impl Serve {
    /// Serves `site`'s flows, telling providers it is at `public` (the balancer, or itself),
    /// logging calls to `db` (`none`, `sqlite://…`, `postgres://…`).
    pub fn start(site: &Site, data: &Path, public: Option<&str>, db: &str) -> Serve {
        let port = free_port();
        let mut args: Vec<String> = vec![
            "serve".into(),
            "--flows".into(),
            site.flows().display().to_string(),
            "--sounds".into(),
            site.dir.path().join("sounds").display().to_string(),
            "--addr".into(),
            format!("127.0.0.1:{port}"),
            "--data-dir".into(),
            data.display().to_string(),
            "--db".into(),
            db.into(),
        ];
        args.extend(["--public-url".into(), public.map_or_else(|| format!("http://127.0.0.1:{port}"), str::to_owned)]);
        let mut serve =
            Serve { port, args, log: site.dir.path().join(format!("serve-{port}")), child: None, starts: 0 };
        serve.restart();
        serve
    }

    /// Its own URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts it (again) on the same port and waits until it answers `/healthz`.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        self.starts += 1;
        let log = std::fs::File::create(format!("{}.{}.log", self.log.display(), self.starts)).expect("a log file");
        let child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(&self.args)
            .env("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
            .env("SWITCHBOARD_SECRET", SECRET)
            .env("RUST_LOG", "warn,switchboard::cli=info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("switchboard serve starts");
        self.child = Some(child);
        wait_until_up(self.port, &format!("{}.{}.log", self.log.display(), self.starts));
    }

    /// Its process id.
    pub fn pid(&self) -> i32 {
        self.child.as_ref().expect("running").id() as i32
    }

    /// `kill -9`: no goodbye, requests in flight cut.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.pid(), signal) };
    }

    /// Stops it with SIGTERM, as a service manager does; its log (stderr) of this run.
    pub fn stop(&mut self) -> String {
        if let Some(mut child) = self.child.take() {
            // SAFETY: kill(2) on our own child's pid.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let _ = child.wait();
        }
        std::fs::read_to_string(format!("{}.{}.log", self.log.display(), self.starts)).unwrap_or_default()
    }

    /// Resident memory, in kB.
    pub fn rss_kb(&self) -> u64 {
        rss_kb(self.pid())
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// VmRSS of process `pid`, in kB (0 when it is gone).
pub fn rss_kb(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn wait_until_up(port: u16, log: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let mut answer = String::new();
            let _ = stream.read_to_string(&mut answer);
            if answer.starts_with("HTTP/1.1 200") {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the server on port {port} did not come up:\n{}", std::fs::read_to_string(log).unwrap_or_default());
}

/// nginx in front of servers, from faults/nginx.conf.template, in a folder of its own.
pub struct Nginx {
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

/// Debian's nginx binary, if installed.
pub fn nginx_binary() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/bin/nginx"].into_iter().map(PathBuf::from).find(|p| p.is_file())
}

impl Nginx {
    /// Listens on `port`, balancing round-robin over `upstreams`.
    pub fn start(binary: &Path, port: u16, upstreams: &[u16]) -> Nginx {
        let dir = tempfile::tempdir().expect("a temp dir");
        let servers: String =
            upstreams.iter().map(|p| format!("        server 127.0.0.1:{p} max_fails=0;\n")).collect();
        let conf = include_str!("../../faults/nginx.conf.template")
            .replace("{{DIR}}", &dir.path().display().to_string())
            .replace("{{PORT}}", &port.to_string())
            .replace("{{UPSTREAMS}}\n", &servers);
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, conf).expect("write nginx.conf");
        let child = Command::new(binary)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf_path)
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx starts");
        let nginx = Nginx { port, child, _dir: dir };
        wait_until_up(port, &nginx._dir.path().join("error.log").display().to_string());
        nginx
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Its error log's complaints, counted by kind ("connect() failed", "no live upstreams"…).
    pub fn complaints(&self) -> std::collections::BTreeMap<String, u64> {
        let log = std::fs::read_to_string(self._dir.path().join("error.log")).unwrap_or_default();
        let mut counts = std::collections::BTreeMap::new();
        for line in log.lines() {
            // `2026/12/02 07:00:00 [error] 123#0: *45 connect() failed (111: …) while …, client: …`
            let Some(message) = line.split_once(": *").and_then(|(_, rest)| rest.split_once(' ')).map(|(_, m)| m)
            else {
                continue;
            };
            let kind = message.split(", client:").next().unwrap_or(message);
            *counts.entry(kind.to_owned()).or_default() += 1;
        }
        counts
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Raises this process's open-file limit to its hard limit (children inherit it); the new
/// soft limit.
pub fn raise_open_files() -> u64 {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
    }
    limit.rlim_cur
}
