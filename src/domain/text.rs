//! Text a client gives, as the service stores and repeats it: which characters a value may
//! not hold, and how a client's string is quoted into a reason or a log line so that it
//! can neither break the line nor grow the message without bound.
//!
//! The refused characters are the ones that change how text is shown rather than being
//! shown: C0 controls (tab, newline and carriage return included), DEL, C1 controls
//! (NEL, U+0085, among them) and the Unicode line and paragraph separators. No value a
//! request sets is multi-line; those that come out multi-line (an SSH private key) are the
//! service's own.

use std::fmt;

/// Whether `c` may not appear in a value a client gives.
pub fn is_refused(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// The first refused character of `text` and its 1-based position in characters.
pub fn first_refused(text: &str) -> Option<(usize, char)> {
    text.chars()
        .enumerate()
        .find(|(_, c)| is_refused(*c))
        .map(|(index, c)| (index + 1, c))
}

/// A character as a message names it: `U+001B`.
pub fn code_point(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

/// How many characters of a client's string a message repeats.
pub const EXCERPT_CHARS: usize = 60;

/// A client's string as a message quotes it: in double quotes with Rust's escapes (so
/// every control, separator and quote is visible and the quote cannot be closed early),
/// cut after [`EXCERPT_CHARS`] characters with `...` after the closing quote.
pub fn quoted_excerpt(text: &str) -> String {
    let mut chars = text.chars();
    let shown: String = chars.by_ref().take(EXCERPT_CHARS).collect();
    if chars.next().is_some() {
        format!("{shown:?}...")
    } else {
        format!("{shown:?}")
    }
}

/// `text` with every refused character written as its escape (`\n`, `\u{1b}`), except
/// those in `kept`: for a message that may hold a client's text and must stay on the
/// lines it means to have.
pub struct Escaped<'a> {
    pub text: &'a str,
    pub kept: &'a [char],
}

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.text.chars() {
            if is_refused(c) && !self.kept.contains(&c) {
                write!(f, "{}", c.escape_debug())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// `text` cut to at most `max` bytes at a character boundary; the cut is said at the end.
pub fn bounded(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= max {
        return text.into();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}... ({} more bytes not shown)",
        &text[..end],
        text.len() - end
    )
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_separators_are_refused_and_printable_text_is_not() {
        for c in [
            '\0', '\t', '\n', '\r', '\u{1b}', '\u{7f}', '\u{85}', '\u{9f}',
        ] {
            assert!(is_refused(c), "{c:?}");
        }
        for c in ['\u{2028}', '\u{2029}'] {
            assert!(is_refused(c), "{c:?}");
        }
        for c in [' ', 'a', 'é', '\u{a0}', '\u{3000}', '😀', '\u{200b}'] {
            assert!(!is_refused(c), "{c:?}");
        }
        assert_eq!(first_refused("ab\u{1b}[31m"), Some((3, '\u{1b}')));
        assert_eq!(first_refused("plain"), None);
        assert_eq!(code_point('\u{85}'), "U+0085");
    }

    #[test]
    fn an_excerpt_is_quoted_escaped_and_cut() {
        assert_eq!(
            quoted_excerpt("foo\n2026 ERROR \"x\""),
            r#""foo\n2026 ERROR \"x\"""#
        );
        assert_eq!(quoted_excerpt("a\u{2028}b\u{85}"), r#""a\u{2028}b\u{85}""#);
        let long = quoted_excerpt(&"x".repeat(1000));
        assert_eq!(long, format!("\"{}\"...", "x".repeat(EXCERPT_CHARS)));
    }

    #[test]
    fn escaped_keeps_only_the_characters_it_is_told_to() {
        let text = "line one\nline \u{1b}[2J two\u{2028}";
        assert_eq!(
            Escaped { text, kept: &[] }.to_string(),
            "line one\\nline \\u{1b}[2J two\\u{2028}"
        );
        assert_eq!(
            Escaped {
                text,
                kept: &['\n']
            }
            .to_string(),
            "line one\nline \\u{1b}[2J two\\u{2028}"
        );
    }

    #[test]
    fn bounded_cuts_at_a_character_boundary_and_says_so() {
        assert_eq!(bounded("short", 10), "short");
        assert_eq!(bounded("ééé", 3), "é... (4 more bytes not shown)");
    }
}
