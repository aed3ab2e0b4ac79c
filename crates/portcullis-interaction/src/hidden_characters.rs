//! Characters that do not show as themselves, made visible on the pages a user approves from:
//! a payee's name with a right-to-left override, a zero-width space or a joiner can look like
//! another payee's (Unicode Technical Standard #39 §4 on bidirectional text spoofing; the
//! "Trojan Source" attacks, CVE-2021-42574).

use std::borrow::Cow;
use std::fmt::Write;

use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

/// `text` with every hidden character written as its escape `\u{…}` (lowercase hex, as Rust
/// writes it): the format characters (general category Cf: bidirectional embeddings,
/// overrides and isolates U+202A–U+202E, U+2066–U+2069, marks such as U+200E, zero-width
/// characters U+200B–U+200D, U+2060, U+FEFF, the soft hyphen, tag characters), controls,
/// private-use and unassigned code points (the other C* categories), and the separators
/// other than the space and the line feed (no-break and wide spaces, U+2028, U+2029).
/// Letters, marks, digits, punctuation and symbols of every script stay as they are.
///
/// Meant for JSON text, where a `\` of the value is already escaped (`\\`): an escape made
/// here cannot then be told apart from text the value spelled out.
pub fn reveal_hidden_characters(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_hidden) {
        return Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_hidden(c) {
            // Writing to a String cannot fail.
            let _ = write!(shown, "\\u{{{:x}}}", u32::from(c));
        } else {
            shown.push(c);
        }
    }
    Cow::Owned(shown)
}

/// Whether `c` is shown escaped (see [`reveal_hidden_characters`]).
fn is_hidden(c: char) -> bool {
    c != ' '
        && c != '\n'
        && matches!(
            c.general_category_group(),
            GeneralCategoryGroup::Other | GeneralCategoryGroup::Separator
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bidi_controls_and_format_characters_are_escaped() {
        let cases = [
            ('\u{202a}', "\\u{202a}"),
            ('\u{202b}', "\\u{202b}"),
            ('\u{202c}', "\\u{202c}"),
            ('\u{202d}', "\\u{202d}"),
            ('\u{202e}', "\\u{202e}"),
            ('\u{2066}', "\\u{2066}"),
            ('\u{2067}', "\\u{2067}"),
            ('\u{2068}', "\\u{2068}"),
            ('\u{2069}', "\\u{2069}"),
            ('\u{200b}', "\\u{200b}"),
            ('\u{200c}', "\\u{200c}"),
            ('\u{200d}', "\\u{200d}"),
            ('\u{200e}', "\\u{200e}"),
            ('\u{200f}', "\\u{200f}"),
            ('\u{2060}', "\\u{2060}"),
            ('\u{feff}', "\\u{feff}"),
            ('\u{ad}', "\\u{ad}"),
            ('\u{61c}', "\\u{61c}"),
            ('\u{e0041}', "\\u{e0041}"),
            // Controls, separators other than space and line feed, private use, unassigned.
            ('\u{0}', "\\u{0}"),
            ('\t', "\\u{9}"),
            ('\r', "\\u{d}"),
            ('\u{85}', "\\u{85}"),
            ('\u{a0}', "\\u{a0}"),
            ('\u{2003}', "\\u{2003}"),
            ('\u{3000}', "\\u{3000}"),
            ('\u{2028}', "\\u{2028}"),
            ('\u{2029}', "\\u{2029}"),
            ('\u{e000}', "\\u{e000}"),
            ('\u{10ffff}', "\\u{10ffff}"),
        ];
        for (c, escaped) in cases {
            assert_eq!(
                reveal_hidden_characters(&format!("a{c}b")),
                format!("a{escaped}b"),
                "U+{:04X}",
                u32::from(c)
            );
        }
    }

    #[test]
    fn a_payee_cannot_pass_for_another() {
        // Shown raw, "Merchant A" + RLO + "B" + PDF reads like another name.
        let spoofed = "Merchant A\u{202e}gnikaB\u{202c}";
        assert_eq!(
            reveal_hidden_characters(spoofed),
            "Merchant A\\u{202e}gnikaB\\u{202c}"
        );
        let zero_width = "Merchant\u{200b} A";
        assert_ne!(reveal_hidden_characters(zero_width), "Merchant A");
    }

    #[test]
    fn visible_text_of_every_script_is_kept_as_is() {
        for text in [
            "plain ASCII: {\"a\": [1, 2]} ~`!@#$%^&*()_+-=[]\\|;:'<>,./?",
            "line\nfeeds\nand spaces",
            "café, cafe\u{301}, Ærøskøbing, Straße",
            "Ελληνικά, русский, עברית, العربية, हिन्दी, 中文, 日本語, 한국어",
            "emoji 🏦💶👍🏽",
            "",
        ] {
            let shown = reveal_hidden_characters(text);
            assert!(matches!(shown, Cow::Borrowed(_)), "{text}");
            assert_eq!(shown, text);
        }
    }
}
