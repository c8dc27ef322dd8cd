//! A quicker reading of the records Exchange writes for mail deletions and syncs, tried
//! before [`MailRecord`]'s serde reading. It takes only what it can
//! be sure of: strings, numbers and literals as JSON writes them, nesting a few levels
//! deep, each field the serde reading reads as text written as a string, and no `\u`
//! escape where a string is kept (serde_json refuses a lone surrogate there). On
//! anything else, broken JSON included, it answers `None` and the serde reading decides,
//! so it never says more than that reading would.
//!
//! Written by hand rather than with serde because serde's machinery was much of the
//! cost: a visitor call and a key lookup for each of the forty-odd fields of a sync
//! record, and every nested value stepped through value by value. Reading counted
//! records was a third of the pipeline's time; this reading cut the whole pipeline's
//! time by about a tenth (issue 15). What is left is mostly finding where each string
//! ends, one string after another.

use std::borrow::Cow;

use super::{Field, MailRecord};

/// Deeper than this a value is left to serde, whose skipping keeps no stack: this
/// reading recurses. Exchange's records nest four levels (a sync's folders' items).
const DEEPEST: usize = 16;

impl<'a> MailRecord<'a> {
    /// The record in `raw`, if it is one this reading is sure of; see the module's note.
    pub(crate) fn scan(raw: &'a str) -> Option<MailRecord<'a>> {
        let mut c = Cursor { text: raw, i: 0 };
        c.expect(b'{')?;
        let mut r = MailRecord {
            id: Cow::Borrowed(""),
            creation_time: Cow::Borrowed(""),
            operation: Cow::Borrowed(""),
            user_id: Cow::Borrowed(""),
            client_ip: Cow::Borrowed(""),
            result_status: Cow::Borrowed(""),
            mailbox_owner_upn: Cow::Borrowed(""),
            affected_items: 0,
            folder: Cow::Borrowed(""),
            folders: Vec::new(),
            mail_access_type: None,
        };
        let mut seen = 0u32;
        loop {
            let field = Field::of(c.key()?);
            if field != Field::Other {
                // Given twice, serde refuses the record.
                let bit = 1 << field as u32;
                if seen & bit != 0 {
                    return None;
                }
                seen |= bit;
            }
            match field {
                Field::Id => r.id = c.text()?,
                Field::CreationTime => r.creation_time = c.text()?,
                Field::Operation => r.operation = c.text()?,
                Field::UserId => r.user_id = c.text()?,
                Field::ClientIp => r.client_ip = c.text()?,
                Field::ResultStatus => r.result_status = c.text()?,
                Field::MailboxOwnerUpn => r.mailbox_owner_upn = c.text()?,
                Field::ObjectId | Field::OrganizationId | Field::OrganizationName => {
                    c.text()?;
                }
                // Read as `Value`s by serde, with its range checks on numbers: left to it.
                Field::Parameters | Field::ModifiedProperties | Field::Target | Field::Item => {
                    return None;
                }
                Field::OperationProperties => r.mail_access_type = c.access_type()?,
                Field::AffectedItems => r.affected_items = c.count()?,
                Field::Folder => r.folder = c.folder_path()?,
                Field::Folders => r.folders = c.folder_paths()?,
                Field::Other => c.skip(1)?,
            }
            if !c.more(b'}')? {
                break;
            }
        }
        c.ws();
        // `Id` is the one field serde requires.
        (c.i == raw.len() && seen & (1 << Field::Id as u32) != 0).then_some(r)
    }
}

/// A place in the record's text.
struct Cursor<'a> {
    text: &'a str,
    i: usize,
}

/// A string as written: the text between its quotes.
struct Written<'a> {
    raw: &'a str,
    /// It holds an escape (never `\u` when its text is kept).
    escaped: bool,
}

impl<'a> Cursor<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// Past JSON's whitespace.
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.bytes().get(self.i) {
            self.i += 1;
        }
    }

    /// The next byte after whitespace, not consumed.
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.bytes().get(self.i).copied()
    }

    /// `byte`, after whitespace.
    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.i += 1)
    }

    /// After an element of an object or array closed by `close`: whether another follows.
    fn more(&mut self, close: u8) -> Option<bool> {
        match self.peek()? {
            b',' => {
                self.i += 1;
                Some(true)
            }
            b if b == close => {
                self.i += 1;
                Some(false)
            }
            _ => None,
        }
    }

    /// Whether the object or array just opened is empty (and so closed by `close`).
    fn empty(&mut self, close: u8) -> Option<bool> {
        let empty = self.peek()? == close;
        self.i += usize::from(empty);
        Some(empty)
    }

    /// A key and its colon; a key with an escape is left to serde, which reads it unescaped.
    fn key(&mut self) -> Option<&'a str> {
        let key = self.string(true)?;
        self.expect(b':')?;
        (!key.escaped).then_some(key.raw)
    }

    /// A string at the cursor. `kept` strings may not hold `\u`; a skipped one may, as
    /// serde_json skips it: four hex digits, surrogates unchecked.
    // Inlined into each caller, where `kept` is a constant: a twentieth off the whole
    // pipeline's time, measured.
    #[inline(always)]
    fn string(&mut self, kept: bool) -> Option<Written<'a>> {
        if self.peek()? != b'"' {
            return None;
        }
        let b = self.bytes();
        let start = self.i + 1;
        let mut i = start;
        let mut escaped = false;
        loop {
            i = special(b, i)?;
            match b[i] {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    i += match b.get(i + 1)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => 2,
                        b'u' if !kept && b.get(i + 2..i + 6)?.iter().all(u8::is_ascii_hexdigit) => {
                            6
                        }
                        _ => return None,
                    };
                }
                // A control character, which JSON forbids in strings.
                _ => return None,
            }
        }
        self.i = i + 1;
        Some(Written {
            raw: &self.text[start..i],
            escaped,
        })
    }

    /// A string's text, unescaped; anything but a string is left to serde.
    fn text(&mut self) -> Option<Cow<'a, str>> {
        let s = self.string(true)?;
        Some(if s.escaped {
            Cow::Owned(unescape(s.raw))
        } else {
            Cow::Borrowed(s.raw)
        })
    }

    /// Past any one value, checked as serde_json checks what it skips.
    fn skip(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => self.string(false).map(drop),
            b'{' | b'[' if depth >= DEEPEST => None,
            b'{' => {
                self.i += 1;
                if self.empty(b'}')? {
                    return Some(());
                }
                loop {
                    self.string(false)?;
                    self.expect(b':')?;
                    self.skip(depth + 1)?;
                    if !self.more(b'}')? {
                        return Some(());
                    }
                }
            }
            b'[' => {
                self.i += 1;
                if self.empty(b']')? {
                    return Some(());
                }
                loop {
                    self.skip(depth + 1)?;
                    if !self.more(b']')? {
                        return Some(());
                    }
                }
            }
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            b'n' => self.literal("null"),
            _ => self.number(),
        }
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        self.bytes()[self.i..]
            .starts_with(word.as_bytes())
            .then(|| self.i += word.len())
    }

    /// A number as JSON writes it: `-`, then `0` or digits not starting with `0`, then
    /// `.` and digits, then `e` or `E`, a sign, and digits, each but the first optional.
    fn number(&mut self) -> Option<()> {
        let b = self.bytes();
        let digits = |i: usize| i + b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        let mut i = self.i + usize::from(b.get(self.i) == Some(&b'-'));
        i = match b.get(i)? {
            b'0' => i + 1,
            b'1'..=b'9' => digits(i),
            _ => return None,
        };
        if b.get(i) == Some(&b'.') {
            let end = digits(i + 1);
            if end == i + 1 {
                return None;
            }
            i = end;
        }
        if let Some(b'e' | b'E') = b.get(i) {
            i += 1;
            i += usize::from(matches!(b.get(i), Some(b'+' | b'-')));
            let end = digits(i);
            if end == i {
                return None;
            }
            i = end;
        }
        self.i = i;
        Some(())
    }

    /// `AffectedItems`: how many entries the array holds.
    fn count(&mut self) -> Option<usize> {
        self.expect(b'[')?;
        if self.empty(b']')? {
            return Some(0);
        }
        let mut n = 0;
        loop {
            self.skip(2)?;
            n += 1;
            if !self.more(b']')? {
                return Some(n);
            }
        }
    }

    /// `Folder`: the `Path` of a folder object, the last one given.
    fn folder_path(&mut self) -> Option<Cow<'a, str>> {
        self.expect(b'{')?;
        let mut path = Cow::Borrowed("");
        if self.empty(b'}')? {
            return Some(path);
        }
        loop {
            if self.key()? == "Path" {
                path = self.text()?;
            } else {
                self.skip(2)?;
            }
            if !self.more(b'}')? {
                return Some(path);
            }
        }
    }

    /// `Folders`: the `Path` of each folder object in the array.
    fn folder_paths(&mut self) -> Option<Vec<Cow<'a, str>>> {
        self.expect(b'[')?;
        let mut paths = Vec::new();
        if self.empty(b']')? {
            return Some(paths);
        }
        loop {
            paths.push(self.folder_path()?);
            if !self.more(b']')? {
                return Some(paths);
            }
        }
    }

    /// `OperationProperties`: the `Value` of the first `{Name, Value}` object whose
    /// `Name` is `MailAccessType`, ASCII case ignored; each key's last value counts.
    fn access_type(&mut self) -> Option<Option<Cow<'a, str>>> {
        self.expect(b'[')?;
        let mut found = None;
        if self.empty(b']')? {
            return Some(found);
        }
        loop {
            self.expect(b'{')?;
            let (mut name, mut value) = (None, Cow::Borrowed(""));
            if !self.empty(b'}')? {
                loop {
                    match self.key()? {
                        // serde_json's own raw-value key, which serde reads apart.
                        key if key.starts_with('$') => return None,
                        "Name" => name = Some(self.text()?),
                        "Value" => value = self.text()?,
                        _ => {
                            self.text()?;
                        }
                    }
                    if !self.more(b'}')? {
                        break;
                    }
                }
            }
            if let Some(name) = name
                && found.is_none()
                && name.eq_ignore_ascii_case("MailAccessType")
            {
                found = Some(value);
            }
            if !self.more(b']')? {
                return Some(found);
            }
        }
    }
}

/// Where the first `"`, `\` or control character at or after `i` is, eight bytes at a
/// time (the bit tricks of serde_json's own string scan).
fn special(b: &[u8], mut i: usize) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = ONES << 7;
    let zero_in = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    while let Some(chunk) = b.get(i..i + 8) {
        let x = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        // Only the lowest flagged byte is sure; it is the one wanted.
        let flagged = zero_in(x ^ (ONES * u64::from(b'"')))
            | zero_in(x ^ (ONES * u64::from(b'\\')))
            | (x.wrapping_sub(ONES * 0x20) & !x & HIGH);
        if flagged != 0 {
            return Some(i + flagged.trailing_zeros() as usize / 8);
        }
        i += 8;
    }
    b[i..]
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
        .map(|at| i + at)
}

/// The text of a string written with escapes other than `\u`.
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        // [`Cursor::string`] found one of these after each backslash.
        out.push(match rest.as_bytes()[at + 1] {
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            other => char::from(other),
        });
        rest = &rest[at + 2..];
    }
    out.push_str(rest);
    out
}
