//! Signals shared by the rule checks: keyword lists, folder names attackers hide mail in
//! and rule names that look machine-made (detections-and-response.md 4.4–4.5).

/// Words a rule filters on when it hides the victim's security warnings.
const SECURITY_WORDS: [&str; 22] = [
    "phish",
    "hack",
    "spam",
    "alert",
    "security",
    "suspicious",
    "malicious",
    "malware",
    "hijacked",
    "do not open",
    "do not click",
    "do not reply",
    "helpdesk",
    "reset",
    "login",
    "password",
    "undeliverable",
    "fraud",
    "fake",
    "fatal",
    "unusual",
    "compromised",
];

/// Words a rule filters on when it intercepts payment conversations.
const FINANCE_WORDS: [&str; 24] = [
    "invoice",
    "payment",
    "wire",
    "transfer",
    "remit",
    "bank",
    "iban",
    "swift",
    "ach",
    "payroll",
    "paycheck",
    "direct deposit",
    "po#",
    "funds",
    "account details",
    "pro-forma",
    "rechnung",
    "zahlung",
    "bankuberweisung",
    "paiement",
    "virement",
    "facture",
    "platnosc",
    "faktura",
];

/// Folders nobody looks in, where a rule can park mail unseen.
const HIDDEN_FOLDERS: [&str; 10] = [
    "rss feeds",
    "rss subscriptions",
    "deleted items",
    "junk email",
    "junk e-mail",
    "archive",
    "conversation history",
    "notes",
    "sync issues",
    "calendar",
];

/// Text folded so lookalikes compare equal: full-width forms to ASCII, Cyrillic and
/// Greek letters that look Latin to Latin, invisible characters dropped, runs of
/// white space to one space, lower case.
pub(crate) fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let c = match c {
            '\u{ff01}'..='\u{ff5e}' => char::from_u32(c as u32 - 0xfee0).unwrap_or(c),
            '\u{3000}' | '\u{a0}' | '\u{2000}'..='\u{200a}' | '\u{202f}' | '\u{205f}' => ' ',
            '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}' | '\u{ad}' => continue,
            _ => lookalike(c),
        };
        if c.is_whitespace() {
            if !out.ends_with(' ') {
                out.push(' ');
            }
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out.trim().to_string()
}

fn lookalike(c: char) -> char {
    const PAIRS: [(char, char); 40] = [
        ('А', 'A'),
        ('В', 'B'),
        ('Е', 'E'),
        ('К', 'K'),
        ('М', 'M'),
        ('Н', 'H'),
        ('О', 'O'),
        ('Р', 'P'),
        ('С', 'C'),
        ('Т', 'T'),
        ('Х', 'X'),
        ('Ј', 'J'),
        ('Ѕ', 'S'),
        ('І', 'I'),
        ('а', 'a'),
        ('е', 'e'),
        ('о', 'o'),
        ('р', 'p'),
        ('с', 'c'),
        ('х', 'x'),
        ('у', 'y'),
        ('і', 'i'),
        ('ј', 'j'),
        ('ѕ', 's'),
        ('ԁ', 'd'),
        ('ո', 'n'),
        ('ս', 'u'),
        ('ɡ', 'g'),
        ('Α', 'A'),
        ('Β', 'B'),
        ('Ε', 'E'),
        ('Ι', 'I'),
        ('Κ', 'K'),
        ('Μ', 'M'),
        ('Ν', 'N'),
        ('Ο', 'O'),
        ('Ρ', 'P'),
        ('Τ', 'T'),
        ('ο', 'o'),
        ('ν', 'v'),
    ];
    PAIRS
        .iter()
        .find(|(from, _)| *from == c)
        .map(|(_, to)| *to)
        .unwrap_or(c)
}

/// The folder a `MoveToFolder` value names, when it is one where mail goes unseen.
/// Values look like `Junk Email`, `:\Deleted Items` or `Inbox\RSS Feeds`.
pub(crate) fn hidden_folder(value: &str) -> bool {
    let folded = fold(value);
    let last = folded
        .rsplit(['\\', '/'])
        .next()
        .unwrap_or("")
        .trim_start_matches(':')
        .trim();
    HIDDEN_FOLDERS.contains(&last)
}

/// Which kind of sensitive word a condition names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keyword {
    Security,
    Finance,
}

/// The security or finance words in a condition value, security first.
pub(crate) fn keyword(value: &str) -> Option<(Keyword, &'static str)> {
    let folded = fold(value);
    let find = |words: &[&'static str]| words.iter().copied().find(|w| contains_word(&folded, w));
    find(&SECURITY_WORDS)
        .map(|w| (Keyword::Security, w))
        .or_else(|| find(&FINANCE_WORDS).map(|w| (Keyword::Finance, w)))
}

/// `word` starting at a word boundary; short words ("ach", "po#") must also end at one,
/// so "each" or "attach" do not count.
fn contains_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        let starts = before.is_none_or(|c| !c.is_alphanumeric());
        let ends = word.chars().count() > 3 || after.is_none_or(|c| !c.is_alphanumeric());
        starts && ends
    })
}

/// A rule name that looks made to go unnoticed: punctuation only, three characters or
/// fewer, or little variety (Shannon entropy of at most 2 bits per character with
/// characters repeated: four different letters are exactly 2 bits, and "Sync" is fine).
pub(crate) fn suspicious_name(name: &str) -> bool {
    let name = name.trim();
    if name.is_empty() {
        // No name logged (common for Outlook rules) says nothing about the rule.
        return false;
    }
    let chars: Vec<char> = name.chars().collect();
    if chars.len() <= 3 || chars.iter().all(|c| !c.is_alphanumeric()) {
        return true;
    }
    let mut counts: Vec<(char, usize)> = Vec::new();
    for c in &chars {
        match counts.iter_mut().find(|(k, _)| k == c) {
            Some((_, n)) => *n += 1,
            None => counts.push((*c, 1)),
        }
    }
    if counts.len() == chars.len() {
        return false;
    }
    let len = chars.len() as f64;
    let entropy: f64 = counts
        .iter()
        .map(|(_, n)| *n as f64 / len)
        .map(|p| -p * p.log2())
        .sum();
    entropy <= 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookalike_folders_are_still_hidden_folders() {
        assert!(hidden_folder("Junk Еmail"));
        assert!(hidden_folder("\u{408}unk Email"));
        assert!(hidden_folder("ＲＳＳ Ｆｅｅｄｓ"));
        assert!(hidden_folder(":\\Deleted Items"));
        assert!(hidden_folder("Inbox\\RSS  Feeds"));
        assert!(hidden_folder(
            "adele@contoso.com:\\Conversation\u{200b} History"
        ));
        assert!(!hidden_folder("Newsletters"));
        assert!(!hidden_folder("Archive 2024"));
    }

    #[test]
    fn keywords_match_words_not_fragments() {
        assert_eq!(
            keyword("Invoices overdue"),
            Some((Keyword::Finance, "invoice"))
        );
        assert_eq!(
            keyword("do not OPEN"),
            Some((Keyword::Security, "do not open"))
        );
        assert_eq!(keyword("ACH"), Some((Keyword::Finance, "ach")));
        assert_eq!(keyword("each attachment"), None);
        assert_eq!(keyword("Рhishing"), Some((Keyword::Security, "phish")));
        assert_eq!(keyword("Attention"), None);
    }

    #[test]
    fn machine_made_names() {
        for name in [".", "..", "x", "dd", "7", "aaaa", "-- --", "abab"] {
            assert!(suspicious_name(name), "{name}");
        }
        for name in ["Newsletters", "Accounts", "Team News", "rule2", "Sync", ""] {
            assert!(!suspicious_name(name), "{name}");
        }
    }
}
