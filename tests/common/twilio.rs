//! Twilio's side of a call, shared by the server tests and the webhooks bench (which includes
//! this file by path): requests with the parameters Twilio sends, signed with
//! `X-Twilio-Signature` as Twilio signs them (`switchboard::providers::twilio::signature::sign`, checked
//! against Twilio's documented example in its unit tests), to the URLs the TwiML answers hold.
//! The server keeps no call state, so a call can only be driven this way: every answer holds
//! the signed URL of the next request.
#![allow(dead_code)] // the tests and the bench each use part of it

use quick_xml::events::Event as XmlEvent;
use switchboard::providers::twilio::signature;

/// How requests are signed: Twilio's own way, or the way of a provider that sends the same
/// parameters and reads the same TwiML (the webhooks bench drives them all with this driver).
#[derive(Clone)]
pub enum Scheme {
    /// `X-Twilio-Signature` with the auth token.
    Twilio,
    /// `X-SignalWire-Signature`: Twilio's algorithm with the signing key.
    SignalWire,
    /// `telnyx-signature-ed25519` over `"{timestamp}|{body}"` with this private key (expanded
    /// once: deriving it from its seed costs as much as a signature).
    Telnyx(Box<ed25519_dalek::SigningKey>),
}

/// One Twilio account calling one server.
#[derive(Clone)]
pub struct Twilio {
    pub client: reqwest::Client,
    auth_token: String,
    scheme: Scheme,
    /// The base URL Twilio knows the server by, which is what it signs.
    public: String,
    /// Where requests really go (the server behind a proxy, in the tests).
    local: String,
}

/// An HTTP answer.
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl Reply {
    pub async fn read(response: reqwest::Response) -> Result<Reply, reqwest::Error> {
        let status = response.status().as_u16();
        let content_type =
            response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let body = response.text().await?;
        Ok(Reply { status, content_type, body })
    }
}

impl Twilio {
    pub fn new(client: reqwest::Client, auth_token: &str, public: &str, local: &str) -> Twilio {
        let (public, local) = (public.to_owned(), local.to_owned());
        Twilio { client, auth_token: auth_token.to_owned(), scheme: Scheme::Twilio, public, local }
    }

    /// The same account signing as `scheme` says.
    pub fn with_scheme(mut self, scheme: Scheme) -> Twilio {
        self.scheme = scheme;
        self
    }

    /// The URL Twilio requests for `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.public)
    }

    /// Where a request to Twilio's `url` really goes.
    pub fn local_url(&self, url: &str) -> String {
        match url.strip_prefix(self.public.as_str()) {
            Some(rest) => format!("{}{rest}", self.local),
            None => url.to_owned(),
        }
    }

    /// The `X-Twilio-Signature` and the form body of a POST of `params` to `url`.
    pub fn sign<K: AsRef<str>, V: AsRef<str>>(&self, url: &str, params: &[(K, V)]) -> (String, Vec<u8>) {
        let owned: Vec<(String, String)> =
            params.iter().map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned())).collect();
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(&owned).finish();
        let sig = match self.scheme {
            // Telnyx signs the body when it is sent; the URL signature would go unused.
            Scheme::Telnyx(_) => String::new(),
            _ => signature::sign(&self.auth_token, url, &owned),
        };
        (sig, body.into_bytes())
    }

    /// POSTs `params` to `url`, signed.
    pub async fn post<K: AsRef<str>, V: AsRef<str>>(
        &self,
        url: &str,
        params: &[(K, V)],
    ) -> Result<Reply, reqwest::Error> {
        let (sig, body) = self.sign(url, params);
        self.post_signed(url, &sig, body).await
    }

    /// POSTs a form `body` to `url` with the signature `sig`, right or wrong.
    pub async fn post_signed(&self, url: &str, sig: &str, body: Vec<u8>) -> Result<Reply, reqwest::Error> {
        let request = self.client.post(self.local_url(url)).header("Content-Type", "application/x-www-form-urlencoded");
        let request = match &self.scheme {
            Scheme::Twilio => request.header("X-Twilio-Signature", sig),
            Scheme::SignalWire => request.header("X-SignalWire-Signature", sig),
            Scheme::Telnyx(key) => {
                use base64::Engine as _;
                use ed25519_dalek::Signer as _;
                let at = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs())
                    .to_string();
                let mut payload = format!("{at}|").into_bytes();
                payload.extend_from_slice(&body);
                let signature = key.sign(&payload);
                request
                    .header(
                        "telnyx-signature-ed25519",
                        base64::engine::general_purpose::STANDARD.encode(signature.to_bytes()),
                    )
                    .header("telnyx-timestamp", at)
            }
        };
        let response = request.body(body).send().await?;
        Reply::read(response).await
    }
}

/// A request's form parameters.
pub type Params = Vec<(&'static str, String)>;

/// What the caller does, or Twilio on the caller's behalf; each is a request to a URL an
/// earlier answer gave.
#[derive(Clone, Copy, Debug)]
pub enum Act<'a> {
    /// A call comes in: the voice webhook.
    Ring,
    /// Keys, posted to the `<Gather action>` (Twilio leaves out the finish key).
    Press(&'a str),
    /// Words, posted to the `<Gather action>` with the recogniser's confidence.
    Speak(&'a str),
    /// Nothing: the `<Gather>` times out and Twilio follows the `<Redirect>` after it.
    Silence,
    /// Twilio asks the `<Enqueue waitUrl>` what to play to the queued caller.
    Wait { position: u32, queue_time_s: u32 },
    /// The caller left the queue with this `QueueResult` (`bridged`, `queue-full`…): the
    /// `<Enqueue action>`.
    Left(&'a str),
}

/// A call as Twilio runs it: its `CallSid`, the last TwiML answer, and the `<Enqueue>` the
/// caller waits in, whose URLs stay in use while later answers come from the wait URL.
pub struct Call {
    pub sid: String,
    voice_url: String,
    /// The last answer, parsed (empty before the first).
    pub doc: Element,
    enqueue: Option<Element>,
}

impl Call {
    pub fn new(sid: &str, voice_url: &str) -> Call {
        Call { sid: sid.to_owned(), voice_url: voice_url.to_owned(), doc: Element::default(), enqueue: None }
    }

    /// The URL and parameters of `act`, after the answers so far.
    pub fn request(&self, act: Act) -> Result<(String, Params), String> {
        let mut params = self.params();
        let mut add = |k: &'static str, v: String| params.push((k, v));
        let (from, name) = match act {
            Act::Ring => {
                add("CallStatus", "ringing".into());
                return Ok((self.voice_url.clone(), params));
            }
            Act::Press(digits) => {
                add("Digits", digits.into());
                (self.doc.find("Gather"), "action")
            }
            Act::Speak(text) => {
                add("SpeechResult", text.into());
                add("Confidence", "0.92".into());
                (self.doc.find("Gather"), "action")
            }
            Act::Silence => {
                let redirect = self.doc.find("Redirect").ok_or("no <Redirect> to follow")?;
                add("CallStatus", "in-progress".into());
                return Ok((redirect.text.clone(), params));
            }
            Act::Wait { position, queue_time_s } => {
                add("QueuePosition", position.to_string());
                add("QueueTime", queue_time_s.to_string());
                add("AvgQueueTime", "95".into());
                add("QueueSid", "QU0123456789abcdef0123456789abcdef".into());
                (self.enqueue.as_ref(), "waitUrl")
            }
            Act::Left(result) => {
                add("QueueResult", result.into());
                add("QueueSid", "QU0123456789abcdef0123456789abcdef".into());
                (self.enqueue.as_ref(), "action")
            }
        };
        params.push(("CallStatus", "in-progress".into()));
        let url = from.and_then(|e| e.attr(name)).ok_or_else(|| format!("no {name} for {act:?} in the answers"))?;
        Ok((url.to_owned(), params))
    }

    /// Takes in the answer to the last request.
    pub fn answered(&mut self, twiml: &str) -> Result<(), String> {
        self.doc = parse(twiml)?;
        if let Some(enqueue) = self.doc.find("Enqueue") {
            self.enqueue = Some(enqueue.clone());
        }
        Ok(())
    }

    /// The parameters Twilio posts on every request of a call (a representative subset).
    fn params(&self) -> Params {
        [
            ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
            ("ApiVersion", "2010-04-01"),
            ("CallSid", &self.sid),
            ("Called", "+74950000000"),
            ("Caller", "+79990001122"),
            ("Direction", "inbound"),
            ("From", "+79990001122"),
            ("FromCountry", "RU"),
            ("To", "+74950000000"),
            ("ToCountry", "RU"),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_owned()))
        .collect()
    }
}

impl Twilio {
    /// Does `act` in `call`: the request, then the answer taken in when it is TwiML.
    pub async fn act(&self, call: &mut Call, act: Act<'_>) -> Result<Reply, String> {
        let (url, params) = call.request(act)?;
        let reply = self.post(&url, &params).await.map_err(|e| format!("{url}: {e}"))?;
        if reply.status == 200 {
            call.answered(&reply.body)?;
        }
        Ok(reply)
    }
}

/// One XML element, enough of it to follow and to check.
#[derive(Clone, Debug, Default)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The first child named `name`.
    pub fn find(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }
}

/// Parses XML strictly with quick-xml: one root element, matching end tags.
pub fn parse(xml: &str) -> Result<Element, String> {
    let malformed = |e: &dyn std::fmt::Display| format!("malformed XML ({e}):\n{xml}");
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut stack = vec![Element::default()];
    let open = |e: &quick_xml::events::BytesStart| -> Result<Element, String> {
        let mut attrs = Vec::new();
        for a in e.attributes() {
            let a = a.map_err(|e| malformed(&e))?;
            let value = a.normalized_value(quick_xml::XmlVersion::Implicit1_0).map_err(|e| malformed(&e))?;
            attrs.push((String::from_utf8_lossy(a.key.as_ref()).into_owned(), value.into_owned()));
        }
        Ok(Element { name: String::from_utf8_lossy(e.name().as_ref()).into_owned(), attrs, ..Element::default() })
    };
    loop {
        match reader.read_event().map_err(|e| malformed(&e))? {
            XmlEvent::Start(e) => stack.push(open(&e)?),
            XmlEvent::Empty(e) => {
                let element = open(&e)?;
                stack.last_mut().ok_or("no parent")?.children.push(element);
            }
            XmlEvent::End(_) => {
                let mut done = stack.pop().ok_or("an end tag without a start")?;
                done.text = done.text.trim().to_owned();
                stack.last_mut().ok_or_else(|| malformed(&"an end tag without a start"))?.children.push(done);
            }
            XmlEvent::Text(t) => {
                let text = t.decode().map_err(|e| malformed(&e))?;
                stack.last_mut().ok_or("text outside the root")?.text.push_str(&text);
            }
            // quick-xml reports entity references (`&amp;`) apart from the text around them.
            XmlEvent::GeneralRef(r) => {
                let text = match r.resolve_char_ref().map_err(|e| malformed(&e))? {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r.decode().map_err(|e| malformed(&e))?;
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or_else(|| malformed(&format!("unknown entity &{name};")))?
                            .to_owned()
                    }
                };
                stack.last_mut().ok_or("text outside the root")?.text.push_str(&text);
            }
            XmlEvent::Eof => break,
            _ => {}
        }
    }
    match (stack.pop(), stack.is_empty()) {
        (Some(mut root), true) if root.children.len() == 1 => Ok(root.children.pop().expect("one child")),
        _ => Err(malformed(&"not exactly one root element, or unclosed elements")),
    }
}
