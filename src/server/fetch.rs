//! `fetch` nodes' requests, made by the server inside the webhook request: the provider waits
//! for our answer, and the node's timeout (at most 5 s) keeps us inside its deadline.
//!
//! One shared client (connection pool). `{env.NAME}` in the URL, headers and `allow_hosts` is
//! resolved here from the environment and never logged. Refused, as failures: a host not in
//! the flow's `allow_hosts` (after resolving), a redirect to another host, an answer over
//! [`MAX_BODY`], a body that is not JSON, a timeout. `https://` is spoken by rustls (aws-lc-rs),
//! checking certificates against the platform's store.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::engine::call::{ENV_PREFIX, Fetched, Request};
use crate::engine::flow::{Flow, host_allowed};

/// The largest answer read; a larger one is a failure.
pub const MAX_BODY: usize = 64 * 1024;

/// Where `{env.NAME}` values come from (the process environment; tests pass their own).
pub type Env = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The shared HTTP client and the environment it resolves names in.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    env: Env,
}

/// What came of one request, owned (the engine's [`Fetched`] borrows from it).
#[derive(Debug)]
pub struct Answer {
    pub status: Option<u16>,
    pub json: Option<serde_json::Value>,
    pub ms: u32,
}

impl Answer {
    pub fn fetched(&self) -> Fetched<'_> {
        Fetched { status: self.status, json: self.json.as_ref(), ms: self.ms }
    }
}

impl Default for Fetcher {
    fn default() -> Fetcher {
        Fetcher::new(Arc::new(|name| std::env::var(name).ok()))
    }
}

impl Fetcher {
    pub fn new(env: Env) -> Fetcher {
        // A redirect may only stay on the host it came from: a flow's allow_hosts must not be
        // left through a backend's answer.
        let redirects = reqwest::redirect::Policy::custom(|attempt| {
            let same_host = attempt.previous().last().is_some_and(|from| {
                from.host_str() == attempt.url().host_str()
                    && from.port_or_known_default() == attempt.url().port_or_known_default()
            });
            if attempt.previous().len() > 3 {
                attempt.error("too many redirects")
            } else if same_host {
                attempt.follow()
            } else {
                attempt.error("a redirect to another host")
            }
        });
        let client = reqwest::Client::builder()
            .redirect(redirects)
            .connect_timeout(Duration::from_secs(2))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .unwrap_or_default();
        Fetcher { client, env }
    }

    /// Makes `request` for `flow`; every failure is logged (without secrets) and answered
    /// as [`Answer`] with no status.
    pub async fn perform(&self, flow: &Flow, node: &str, request: &Request) -> Answer {
        let started = Instant::now();
        let outcome = self.try_perform(flow, request).await;
        let ms = u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX);
        match outcome {
            Ok((status, json)) => {
                tracing::info!(node, status, ms, "fetched");
                Answer { status: Some(status), json, ms }
            }
            Err(why) => {
                tracing::warn!(node, ms, error = %why, "fetch failed");
                Answer { status: None, json: None, ms }
            }
        }
    }

    async fn try_perform(&self, flow: &Flow, request: &Request) -> Result<(u16, Option<serde_json::Value>), String> {
        let url = self.resolve(&request.url)?;
        let url = reqwest::Url::parse(&url).map_err(|e| format!("the url is not a URL: {e}"))?;
        let host = authority(&url).ok_or("the url has no host")?;
        let allowed = flow.allow_hosts.iter().filter_map(|(entry, _)| self.allowed_host(entry));
        if !allowed.collect::<Vec<_>>().iter().any(|a| host_allowed(a, &host)) {
            return Err(format!("host `{host}` is not in the flow's allow_hosts"));
        }
        let method = reqwest::Method::from_bytes(request.method.as_bytes()).map_err(|e| e.to_string())?;
        let mut builder = self.client.request(method, url).timeout(Duration::from_millis(request.timeout_ms.0));
        builder = builder.header(reqwest::header::ACCEPT, "application/json");
        for (name, value) in &request.headers {
            builder = builder.header(&**name, self.resolve(value)?);
        }
        if let Some(body) = &request.body {
            builder = builder.header(reqwest::header::CONTENT_TYPE, "application/json").body(body.to_string());
        }
        let work = async {
            let mut response = builder.send().await.map_err(|e| describe(&e))?;
            let status = response.status().as_u16();
            if response.content_length().is_some_and(|n| n > MAX_BODY as u64) {
                return Err(format!("the answer is over {MAX_BODY} bytes"));
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e))? {
                if body.len() + chunk.len() > MAX_BODY {
                    return Err(format!("the answer is over {MAX_BODY} bytes"));
                }
                body.extend_from_slice(&chunk);
            }
            Ok((status, body))
        };
        // The client's timeout covers the whole exchange; this one also bounds a slow body.
        let (status, body) = tokio::time::timeout(Duration::from_millis(request.timeout_ms.0), work)
            .await
            .map_err(|_| format!("no answer within {}", request.timeout_ms))??;
        if !(200..300).contains(&status) || body.iter().all(u8::is_ascii_whitespace) {
            return Ok((status, None));
        }
        let json = serde_json::from_slice(&body).map_err(|e| format!("the answer is not JSON: {e}"))?;
        Ok((status, Some(json)))
    }

    /// `text` with `{env.NAME}` replaced; an unset name is an error naming it (not its value).
    fn resolve(&self, text: &str) -> Result<String, String> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(open) = rest.find("{env.") {
            let Some(close) = rest[open..].find('}').map(|c| c + open) else { break };
            out.push_str(&rest[..open]);
            let name = &rest[open + 1 + ENV_PREFIX.len()..close];
            out.push_str(&(self.env)(name).filter(|v| !v.is_empty()).ok_or_else(|| format!("{name} is not set"))?);
            rest = &rest[close + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// An `allow_hosts` entry as a host: resolved, and a URL's authority if it is one.
    fn allowed_host(&self, entry: &str) -> Option<String> {
        let value = self.resolve(entry).ok()?;
        match reqwest::Url::parse(&value) {
            Ok(url) if value.contains("://") => authority(&url),
            _ => Some(value),
        }
    }
}

/// `host` or `host:port` as the URL writes it.
fn authority(url: &reqwest::Url) -> Option<String> {
    let host = url.host_str()?;
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    })
}

/// A client error without the URL (which may carry a resolved secret in its query).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_redirect() {
        "refused a redirect"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    let mut why = kind.to_owned();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        why = format!("{why}: {s}");
        source = s.source();
    }
    why
}
