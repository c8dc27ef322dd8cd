//! Attacker-chosen text (rule names, folder names, keywords) made safe to print in a
//! one-line summary: shown as [`crate::shown`] shows it, long values cut.

use crate::shown::push_shown;

const MAX_CHARS: usize = 120;

pub(crate) fn quoted(value: &str) -> String {
    format!("\"{}\"", visible(value))
}

/// `value` made safe for a one-line summary: shown as [`crate::shown`] shows it, cut after a
/// length a line can hold.
pub fn visible(value: &str) -> String {
    let mut out = String::new();
    for (i, c) in value.chars().enumerate() {
        if i == MAX_CHARS {
            out.push('…');
            break;
        }
        push_shown(&mut out, c);
    }
    out
}

/// "a", "a and b", "a, b and c".
pub(crate) fn list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_not_sent() {
        assert_eq!(visible("a\u{0}b\u{1b}[31m"), "a\\u{0}b\\u{1b}[31m");
        assert_eq!(visible("\u{202E}x"), "<U+202E>x");
        assert_eq!(visible(&"x".repeat(200)).chars().count(), MAX_CHARS + 1);
        assert_eq!(list(&["a".into(), "b".into(), "c".into()]), "a, b and c");
    }
}
