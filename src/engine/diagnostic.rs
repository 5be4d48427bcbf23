//! Problems found in a flow or a model, located by byte span, and their rendering as a
//! compiler prints them (annotate-snippets), for `check` and every reader of files.

use std::fmt::Write as _;

use annotate_snippets::{Level, Renderer, Snippet};

use super::flow::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// One problem: where, how bad, a plain sentence, and optionally how to fix it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub span: Span,
    pub message: String,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Error, span, message: message.into(), help: None }
    }

    pub fn warning(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, span, message: message.into(), help: None }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The diagnostic in compiler style: `origin:line:column: error: message`, the source line
    /// with the span underlined, then the help.
    pub fn render(&self, origin: &str, source: &str) -> String {
        let (line, column) = line_column(source, self.span.start);
        let (severity, level) = match self.severity {
            Severity::Error => ("error", Level::Error),
            Severity::Warning => ("warning", Level::Warning),
        };
        let mut out = format!("{origin}:{line}:{column}: {severity}: {}\n", self.message);
        let end = self.span.end.max(self.span.start).min(source.len());
        let start = self.span.start.min(end);
        let snippet = level.title(&self.message).snippet(
            Snippet::source(source).line_start(1).origin(origin).fold(true).annotation(level.span(start..end)),
        );
        let rendered = Renderer::plain().render(snippet).to_string();
        // The renderer's own title line repeats the header above; keep only the snippet.
        if let Some((_, body)) = rendered.split_once('\n') {
            out.push_str(body);
            out.push('\n');
        }
        if let Some(help) = &self.help {
            let _ = writeln!(out, "  = help: {help}");
        }
        out
    }
}

/// Puts diagnostics in source order, errors before warnings at the same place.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by_key(|d| (d.span.start, std::cmp::Reverse(d.severity)));
}

/// 1-based line and column (in characters) of a byte offset in `source`.
pub fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let offset = (0..=offset).rev().find(|&o| source.is_char_boundary(o)).unwrap_or(0);
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// A "did you mean" hint: the closest of `known` to `name`, if it is close enough.
pub fn suggest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<String> {
    known
        .into_iter()
        .map(|k| (strsim::damerau_levenshtein(name, k), k))
        .filter(|(d, k)| *d <= 2.max(k.chars().count() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| format!("did you mean `{k}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let src = "a = 1\nпривет = 2\n";
        assert_eq!(line_column(src, 0), (1, 1));
        assert_eq!(line_column(src, 4), (1, 5));
        assert_eq!(line_column(src, 6), (2, 1));
        let eq = src.find(" = 2").unwrap();
        assert_eq!(line_column(src, eq), (2, 7));
        assert_eq!(line_column(src, 10_000), (3, 1));
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("promt", ["prompt", "play"]).as_deref(), Some("did you mean `prompt`?"));
        assert_eq!(suggest("zzz", ["prompt", "play"]), None);
    }
}
