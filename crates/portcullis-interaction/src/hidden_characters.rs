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
/// characters U+200B–U+200D, U+2060, U+FEFF, U+180E, the soft hyphen, tag characters),
/// controls, private-use and unassigned code points (the other C* categories), the separators
/// other than the space and the line feed (no-break and wide spaces, U+2028, U+2029), the
/// other default-ignorable characters that are letters or marks yet show nothing (the Hangul
/// fillers U+115F, U+1160, U+3164, U+FFA0, the combining grapheme joiner U+034F, U+17B4,
/// U+17B5, the Mongolian variation selectors U+180B–U+180F) and the braille blank U+2800.
/// A variation selector (U+FE00–U+FE0F, U+E0100–U+E01EF) stays when it follows a character
/// other than a space shown as itself, as in an emoji's presentation (one selector per character: Unicode §23.4);
/// any other — a run of them can carry hidden data — is escaped.
/// Letters, marks, digits, punctuation and symbols of every script stay as they are.
///
/// A backslash that starts `u{` in `text` is escaped too (`\u{5c}`), so that text spelling
/// out an escape (`\u{202e}`, six characters) never reads as a revealed character:
/// every `\u{…}` in the result is one this function wrote.
pub fn reveal_hidden_characters(text: &str) -> Cow<'_, str> {
    if !text.contains("\\u{") && !hidden_positions(text).any(|hidden| hidden) {
        return Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 16);
    for ((i, c), hidden) in text.char_indices().zip(hidden_positions(text)) {
        let spells_escape = c == '\\' && text[i + 1..].starts_with("u{");
        if hidden || spells_escape {
            // Writing to a String cannot fail.
            let _ = write!(shown, "\\u{{{:x}}}", u32::from(c));
        } else {
            shown.push(c);
        }
    }
    Cow::Owned(shown)
}

/// For each character of `text`, whether it is shown escaped (see
/// [`reveal_hidden_characters`]).
fn hidden_positions(text: &str) -> impl Iterator<Item = bool> + '_ {
    let mut after_shown = false;
    text.chars().map(move |c| {
        let hidden = match is_variation_selector(c) {
            true => !after_shown,
            false => is_hidden(c),
        };
        after_shown = !hidden && !is_variation_selector(c) && !c.is_whitespace();
        hidden
    })
}

/// Whether `c` is hidden wherever it stands.
fn is_hidden(c: char) -> bool {
    let blank = matches!(
        c,
        '\u{34f}' | '\u{115f}' | '\u{1160}' | '\u{17b4}' | '\u{17b5}' | '\u{180b}'
            ..='\u{180f}' | '\u{2800}' | '\u{3164}' | '\u{ffa0}'
    );
    blank
        || (c != ' '
            && c != '\n'
            && matches!(
                c.general_category_group(),
                GeneralCategoryGroup::Other | GeneralCategoryGroup::Separator
            ))
}

/// Whether `c` selects a variant of the character before it (Unicode §23.4).
fn is_variation_selector(c: char) -> bool {
    matches!(c, '\u{fe00}'..='\u{fe0f}' | '\u{e0100}'..='\u{e01ef}')
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
            "emoji 🏦💶👍🏽 ❤\u{fe0f} 葛\u{e0100}",
            "a backslash \\ and \\n, \\u, \\u0041 and u{41}",
            "",
        ] {
            let shown = reveal_hidden_characters(text);
            assert!(matches!(shown, Cow::Borrowed(_)), "{text}");
            assert_eq!(shown, text);
        }
    }

    #[test]
    fn text_spelling_out_an_escape_is_told_apart_from_a_revealed_character() {
        let spelled = "A\\u{202e}B";
        let revealed = reveal_hidden_characters("A\u{202e}B");
        assert_eq!(revealed, "A\\u{202e}B");
        assert_eq!(reveal_hidden_characters(spelled), "A\\u{5c}u{202e}B");
        assert_ne!(reveal_hidden_characters(spelled), revealed);
        // Spelling out the backslash's own escape stays apart too.
        assert_eq!(
            reveal_hidden_characters("\\u{5c}u{202e}"),
            "\\u{5c}u{5c}u{202e}"
        );
        // JSON text escapes the backslash first: still told apart.
        let json = serde_json::to_string("\\u{202e}").unwrap();
        assert_eq!(reveal_hidden_characters(&json), "\"\\\\u{5c}u{202e}\"");
        // A backslash not starting `u{` stays as it is.
        assert_eq!(reveal_hidden_characters("a\\b \\u0041"), "a\\b \\u0041");
        assert_eq!(reveal_hidden_characters("end\\"), "end\\");
        assert_eq!(reveal_hidden_characters("\\u"), "\\u");
    }

    #[test]
    fn blank_letters_and_default_ignorable_marks_are_escaped() {
        for c in [
            '\u{115f}',
            '\u{1160}',
            '\u{3164}',
            '\u{ffa0}',
            '\u{2800}',
            '\u{34f}',
            '\u{17b4}',
            '\u{17b5}',
            '\u{180b}',
            '\u{180c}',
            '\u{180d}',
            '\u{180e}',
            '\u{180f}',
            '\u{200b}',
            '\u{2061}',
            '\u{2064}',
            '\u{1bca0}',
            '\u{1d173}',
            '\u{fff0}',
        ] {
            assert_eq!(
                reveal_hidden_characters(&format!("Merchant{c} A")),
                format!("Merchant\\u{{{:x}}} A", u32::from(c)),
                "U+{:04X}",
                u32::from(c)
            );
        }
        // Neighbours that show stay as they are.
        for text in [
            "\u{1161}", "\u{3165}", "\u{ffa1}", "\u{2801}", "\u{180a}", "\u{17b6}",
        ] {
            assert_eq!(reveal_hidden_characters(text), text);
        }
    }

    #[test]
    fn variation_selectors_show_only_after_a_character_they_can_vary() {
        // One after a visible character: an emoji's presentation, kept.
        assert_eq!(
            reveal_hidden_characters("\u{2764}\u{fe0f}"),
            "\u{2764}\u{fe0f}"
        );
        // A second one, one at the start, after a space or after a hidden character: escaped.
        let cases = [
            ("A\u{fe0f}\u{fe0e}", "A\u{fe0f}\\u{fe0e}"),
            ("A\u{e0100}\u{e01ef}", "A\u{e0100}\\u{e01ef}"),
            ("\u{fe00}A", "\\u{fe00}A"),
            ("A \u{fe0f}", "A \\u{fe0f}"),
            ("A\u{200b}\u{fe0f}", "A\\u{200b}\\u{fe0f}"),
        ];
        for (text, shown) in cases {
            assert_eq!(reveal_hidden_characters(text), shown, "{text:?}");
        }
        // Data smuggled as a run of selectors after one letter cannot pass for the letter.
        let smuggled: String = std::iter::once('A')
            .chain((0..16).map(|i| char::from_u32(0xe0100 + i).unwrap()))
            .collect();
        assert_eq!(
            reveal_hidden_characters(&smuggled).matches("\\u{").count(),
            15
        );
    }
}
