//! Writing the XML dialects' documents (TwiML, TeXML, Plivo XML): a `<Response>` of verbs,
//! indented by two spaces, one element a line.
//!
//! Written straight into one pre-sized `String`: the documents are a handful of elements with
//! known names, so a general XML writer's per-element buffers and events cost more than the
//! document itself (it was an eighth of a webhook's server time). Text and attribute values
//! are escaped here ([`escape`]): the five predefined entities, and the control characters
//! XML 1.0 forbids even escaped are dropped.

use crate::engine::Millis;

/// A document's bytes, plus where the next element goes.
pub struct Xml {
    out: String,
    /// Nesting depth of the next element (`<Response>`'s children are at 1).
    depth: usize,
}

/// A `<Response>` being written.
pub struct Doc {
    pub writer: Xml,
}

/// Room for a typical answer (a menu with its prompt and callback URLs) without regrowing.
const TYPICAL_LEN: usize = 1024;

impl Doc {
    pub fn new() -> Doc {
        let mut out = String::with_capacity(TYPICAL_LEN);
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response>");
        Doc { writer: Xml { out, depth: 1 } }
    }

    pub fn finish(mut self) -> String {
        self.writer.out.push_str("\n</Response>");
        self.writer.out
    }

    pub fn empty_element(&mut self, name: &str, attrs: &[(&str, &str)]) {
        empty_element(&mut self.writer, name, attrs);
    }

    pub fn text_element(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) {
        text_element(&mut self.writer, name, attrs, text);
    }

    /// An element whose children `children` writes.
    pub fn parent(&mut self, name: &str, attrs: &[(&str, &str)], children: impl FnOnce(&mut Xml)) {
        parent(&mut self.writer, name, attrs, children);
    }
}

impl Default for Doc {
    fn default() -> Doc {
        Doc::new()
    }
}

impl Xml {
    /// A new line at the current depth, then `<name attr="…"…` (the tag left open).
    fn open(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.out.push('\n');
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
        self.out.push('<');
        self.out.push_str(name);
        for (key, value) in attrs {
            self.out.push(' ');
            self.out.push_str(key);
            self.out.push_str("=\"");
            escape(&mut self.out, value);
            self.out.push('"');
        }
    }
}

pub fn empty_element(w: &mut Xml, name: &str, attrs: &[(&str, &str)]) {
    w.open(name, attrs);
    w.out.push_str("/>");
}

pub fn text_element(w: &mut Xml, name: &str, attrs: &[(&str, &str)], text: &str) {
    w.open(name, attrs);
    w.out.push('>');
    escape(&mut w.out, text);
    w.out.push_str("</");
    w.out.push_str(name);
    w.out.push('>');
}

pub fn parent(w: &mut Xml, name: &str, attrs: &[(&str, &str)], children: impl FnOnce(&mut Xml)) {
    w.open(name, attrs);
    w.out.push('>');
    w.depth += 1;
    children(w);
    w.depth -= 1;
    w.out.push('\n');
    for _ in 0..w.depth {
        w.out.push_str("  ");
    }
    w.out.push_str("</");
    w.out.push_str(name);
    w.out.push('>');
}

/// Appends `text` escaped for XML text or a double-quoted attribute. Control characters
/// XML 1.0 forbids even escaped are dropped: text can carry caller data (`{caller}` comes
/// from the provider's `From`).
fn escape(out: &mut String, text: &str) {
    // Every character escaped or dropped is ASCII, and no byte of a longer UTF-8 character is
    // below 0x80: a byte scan finds them, and slicing at one stays on a character boundary.
    let special = |b: u8| matches!(b, b'<' | b'>' | b'&' | b'"' | b'\'') || forbidden(char::from(b));
    let mut rest = text;
    while let Some(at) = rest.bytes().position(special) {
        out.push_str(&rest[..at]);
        out.push_str(match rest.as_bytes()[at] {
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'&' => "&amp;",
            b'"' => "&quot;",
            b'\'' => "&apos;",
            _ => "",
        });
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
}

/// The C0 controls but tab, newline and carriage return: not allowed in XML 1.0 at all.
fn forbidden(c: char) -> bool {
    c < ' ' && !matches!(c, '\t' | '\n' | '\r')
}

/// Milliseconds as whole seconds, rounded up: the XML dialects' timeouts and lengths are
/// integers and a caller should never get less time than the flow promises.
pub fn seconds(ms: Millis) -> u64 {
    ms.0.div_ceil(1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indents_escapes_and_drops_forbidden_controls() {
        assert_eq!(Doc::new().finish(), "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response>\n</Response>");
        let mut d = Doc::new();
        d.parent("Gather", &[("a", "x\"'<>&")], |_| {});
        d.empty_element("Hangup", &[]);
        d.parent("Gather", &[], |w| {
            text_element(w, "Say", &[("l", "ru")], "a'b\"c<>&\u{1}d\tе\u{7f}");
            empty_element(w, "Pause", &[("length", "1")]);
        });
        d.text_element("Play", &[], "");
        let want = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>
<Response>
  <Gather a=\"x&quot;&apos;&lt;&gt;&amp;\">
  </Gather>
  <Hangup/>
  <Gather>
    <Say l=\"ru\">a&apos;b&quot;c&lt;&gt;&amp;d\tе\u{7f}</Say>
    <Pause length=\"1\"/>
  </Gather>
  <Play></Play>
</Response>";
        assert_eq!(d.finish(), want);
    }
}
