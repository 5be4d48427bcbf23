//! Writing the XML dialects' documents (TwiML, TeXML, Plivo XML): a `<Response>` of verbs.
//! Escaping is quick-xml's job, never ours.

use std::io::Cursor;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

use crate::engine::Millis;

pub type Xml = Writer<Cursor<Vec<u8>>>;

// Writing into a Vec cannot fail, so the io::Results below are invariants, not request errors.
const IN_MEMORY: &str = "writing XML into memory cannot fail";

/// A `<Response>` being written.
pub struct Doc {
    pub writer: Xml,
}

impl Doc {
    pub fn new() -> Doc {
        let mut writer = Writer::new_with_indent(Cursor::new(Vec::new()), b' ', 2);
        writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None))).expect(IN_MEMORY);
        writer.write_event(Event::Start(BytesStart::new("Response"))).expect(IN_MEMORY);
        Doc { writer }
    }

    pub fn finish(mut self) -> String {
        self.writer.write_event(Event::End(BytesEnd::new("Response"))).expect(IN_MEMORY);
        String::from_utf8(self.writer.into_inner().into_inner()).expect("quick-xml writes the UTF-8 it is given")
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

pub fn empty_element(w: &mut Xml, name: &str, attrs: &[(&str, &str)]) {
    w.create_element(name).with_attributes(attrs.iter().copied()).write_empty().expect(IN_MEMORY);
}

pub fn text_element(w: &mut Xml, name: &str, attrs: &[(&str, &str)], text: &str) {
    w.create_element(name)
        .with_attributes(attrs.iter().copied())
        .write_text_content(BytesText::new(&xml_chars(text)))
        .expect(IN_MEMORY);
}

pub fn parent(w: &mut Xml, name: &str, attrs: &[(&str, &str)], children: impl FnOnce(&mut Xml)) {
    w.create_element(name)
        .with_attributes(attrs.iter().copied())
        .write_inner_content(|w| {
            children(w);
            Ok::<(), std::io::Error>(())
        })
        .expect(IN_MEMORY);
}

/// `text` without the control characters XML 1.0 forbids even escaped. Escaping cannot make
/// them legal, and text can carry caller data (`{caller}` comes from the provider's `From`).
fn xml_chars(text: &str) -> std::borrow::Cow<'_, str> {
    let allowed = |c: char| !c.is_control() || matches!(c, '\t' | '\n' | '\r') || u32::from(c) >= 0x7f;
    if text.chars().all(allowed) { text.into() } else { text.chars().filter(|&c| allowed(c)).collect() }
}

/// Milliseconds as whole seconds, rounded up: the XML dialects' timeouts and lengths are
/// integers and a caller should never get less time than the flow promises.
pub fn seconds(ms: Millis) -> u64 {
    ms.0.div_ceil(1000)
}
