//! Text an attacker may have written (audit fields, rule names, names and error texts
//! Microsoft relays) made safe to show a person, in one place for the CLI, notifications
//! and detection's sentences (the panel mirrors it in `ui/src/format.ts`):
//! - control characters (C0, DEL, C1: escape sequences, `\r`, OSC links) become Rust-style
//!   escapes such as `\u{1b}`, so none reaches a terminal or a notification raw;
//! - characters that reorder or hide text (bidi controls, zero-width characters, line and
//!   paragraph separators) become a visible `<U+202E>`, so `moc.live@` cannot pass for
//!   another address.
//!
//! JSON output keeps the text raw: serde escapes control characters there, and machines
//! reading JSON want the value as Microsoft logged it.

/// Reorder or hide text without looking like anything: the bidi embeddings, overrides
/// and isolates, the LTR/RTL/Arabic marks, the zero-width characters and the BOM, and
/// the Unicode line and paragraph separators.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{061C}'
            | '\u{200B}'..='\u{200D}'
            | '\u{2060}'
            | '\u{FEFF}'
            | '\u{2028}'
            | '\u{2029}'
    )
}

/// Appends `c` as it is safe to show.
pub fn push_shown(out: &mut String, c: char) {
    if c.is_control() {
        out.extend(c.escape_unicode());
    } else if is_invisible(c) {
        out.push_str(&format!("<U+{:04X}>", u32::from(c)));
    } else {
        out.push(c);
    }
}

/// `text` with every control character escaped and every invisible one named.
pub fn shown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        push_shown(&mut out, c);
    }
    out
}

/// The first 300 characters of an answer, for messages.
pub fn short(text: &str) -> String {
    let t = text.trim();
    match t.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &t[..i]),
        None => t.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_never_pass_raw() {
        let hostile = "a\u{1b}[2Kb\rc\u{1b}]8;;http://evil\u{7}d\u{9b}31m\u{7f}\n";
        let out = shown(hostile);
        assert_eq!(
            out,
            "a\\u{1b}[2Kb\\u{d}c\\u{1b}]8;;http://evil\\u{7}d\\u{9b}31m\\u{7f}\\u{a}"
        );
        assert!(!out.chars().any(char::is_control), "{out:?}");
    }

    #[test]
    fn bidi_and_zero_width_characters_are_named() {
        assert_eq!(shown("ceo@\u{202E}moc.live"), "ceo@<U+202E>moc.live");
        for c in [
            '\u{202A}', '\u{202D}', '\u{2066}', '\u{2069}', '\u{200E}', '\u{200F}', '\u{061C}',
            '\u{200B}', '\u{200D}', '\u{2060}', '\u{FEFF}',
        ] {
            let out = shown(&format!("x{c}y"));
            assert_eq!(out, format!("x<U+{:04X}>y", u32::from(c)));
        }
        // Letters of every script stay as they are.
        assert_eq!(shown("Zoë Łukasz 山田 محمد"), "Zoë Łukasz 山田 محمد");
    }
}
