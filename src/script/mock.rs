//! Answers for `fetch` nodes in `call`, `test` and the studio: no request leaves the machine.
//!
//! A mock file (`call --mock FILE`) and a case's `mock` table map a URL (as the engine renders
//! it, `{env.NAME}` unresolved) or a node's name to an answer; the URL wins. A fetch without
//! one fails, as a request to an unreachable backend would, and the transcript says why.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::engine::Millis;
use crate::engine::call::Request;
use crate::engine::diagnostic::Diagnostic;

/// The answers, by URL or node name.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(transparent)]
pub struct Mocks(pub BTreeMap<String, Mock>);

/// One backend answer.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mock {
    /// The HTTP status (default 200).
    #[serde(default = "ok")]
    pub status: u16,
    /// The JSON body.
    pub json: Option<serde_json::Value>,
    /// How long the backend takes; over the node's timeout, the fetch fails at the timeout.
    #[serde(default)]
    pub latency_ms: u32,
    /// No usable answer at all (refused connection, a body that is not JSON, too large).
    #[serde(default)]
    pub fail: bool,
}

fn ok() -> u16 {
    200
}

/// What the simulated backend did for one request.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    pub status: Option<u16>,
    pub json: Option<serde_json::Value>,
    pub ms: u32,
    /// Why there was no usable answer, for the transcript.
    pub why: Option<String>,
}

impl Mocks {
    /// Reads a mock file's text; a syntax or type error is a diagnostic at its place.
    pub fn parse(text: &str) -> Result<Mocks, Diagnostic> {
        toml::from_str(text).map_err(|e| Diagnostic::error(e.span().unwrap_or(0..0), e.message().trim_end()))
    }

    /// These mocks with `over`'s entries added or replacing theirs (a case's over the file's).
    pub fn with(&self, over: &Mocks) -> Mocks {
        let mut all = self.clone();
        all.0.extend(over.0.iter().map(|(k, v)| (k.clone(), v.clone())));
        all
    }

    /// The mock for a request to `url` made at the node named `node`: the URL's, else the node's.
    pub fn find(&self, node: &str, url: &str) -> Option<&Mock> {
        self.0.get(url).or_else(|| self.0.get(node))
    }

    /// The answer to `request`, made at the node named `node`.
    pub fn answer(&self, node: &str, request: &Request) -> Answer {
        let timeout = u32::try_from(request.timeout_ms.0).unwrap_or(u32::MAX);
        let Some(mock) = self.find(node, &request.url) else {
            let why = format!("no mock for `{node}` or {}: the fetch fails", request.url);
            return Answer { status: None, json: None, ms: 0, why: Some(why) };
        };
        if mock.latency_ms > timeout {
            let why = format!("no answer within {}: the fetch fails", Millis::from(timeout));
            return Answer { status: None, json: None, ms: timeout, why: Some(why) };
        }
        if mock.fail {
            return Answer { status: None, json: None, ms: mock.latency_ms, why: Some("the backend fails".into()) };
        }
        Answer { status: Some(mock.status), json: mock.json.clone(), ms: mock.latency_ms, why: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(url: &str) -> Request {
        Request { method: "GET".into(), url: url.into(), headers: Vec::new(), body: None, timeout_ms: Millis(2000) }
    }

    #[test]
    fn a_url_wins_over_a_node_and_a_slow_backend_fails_at_the_timeout() {
        let mocks = Mocks::parse(
            "look = { status = 404 }\n\"https://x/1\" = { json = { a = 1 }, latency_ms = 30 }\nslow = { latency_ms = 9000 }\n",
        )
        .unwrap();
        let a = mocks.answer("look", &request("https://x/1"));
        assert_eq!((a.status, a.json, a.ms), (Some(200), Some(serde_json::json!({ "a": 1 })), 30));
        assert_eq!(mocks.answer("look", &request("https://x/2")).status, Some(404));
        let slow = mocks.answer("slow", &request("https://x/3"));
        assert_eq!((slow.status, slow.ms), (None, 2000));
        assert!(mocks.answer("other", &request("https://x/4")).why.unwrap().contains("no mock for `other`"));
        assert!(Mocks::parse("look = { stauts = 200 }").is_err());
    }
}
