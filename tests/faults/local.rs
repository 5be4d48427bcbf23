//! The server in this process, on 127.0.0.1:0, for the faults that need a seam a process does
//! not offer: its clock, its header timeout.

use std::sync::Arc;

use switchboard::providers::Providers;
use switchboard::server::{self, AppState, Flows, TokenKey};

use crate::caller::{AUTH_TOKEN, SECRET};
use crate::procs::Site;

/// A running server: its URL, and what stops it.
pub struct Local {
    pub url: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Local {
    /// Serves `site`'s flows with the state `adjust` makes of the usual one. In a runtime.
    pub async fn start(site: &Site, adjust: impl FnOnce(AppState) -> AppState) -> Local {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        let sounds = site.dir.path().join("sounds");
        let (flows, report) = Flows::open(vec![site.flows()], sounds.clone(), Some(site.data()));
        assert!(report.rejected.is_empty(), "{:?}", report.rejected);
        let state = AppState::new(
            flows,
            TokenKey::new(SECRET.as_bytes()),
            Providers::configure(&[("twilio", AUTH_TOKEN)], true).expect("valid credentials"),
            Some(url.clone()),
            sounds,
        );
        let (stop, stopping) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server::serve(listener, Arc::new(adjust(state)), async move {
            let _ = stopping.await;
        }));
        Local { url, stop, task }
    }

    /// Stops it, after the requests in flight.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.expect("the server task").expect("the server stops cleanly");
    }
}
