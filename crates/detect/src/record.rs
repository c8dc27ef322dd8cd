//! A typed view of the audit record fields detection reads. Everything else stays in
//! the raw JSON, which is stored with the alert.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{IgnoredAny, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// One `Name`/`Value` pair of a cmdlet's `Parameters` or a record's `OperationProperties`.
#[derive(Debug, Clone, Deserialize)]
pub struct Param {
    /// The parameter's name, e.g. `ForwardTo`.
    #[serde(rename = "Name")]
    pub name: String,
    /// Its value as text (numbers and booleans written as JSON writes them).
    #[serde(rename = "Value", default, deserialize_with = "value_as_text")]
    pub value: String,
}

/// Real values are strings (`"True"`), but exports re-typed by other tools carry
/// booleans, numbers or null.
fn value_as_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Lenient::deserialize(d)?.text().into_owned())
}

/// `Parameters` is an array of `{Name, Value}`, or in some exports that array
/// serialised into a string, or, in Security & Compliance records, the command line's
/// own text (see [`command_line`]).
fn params<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Param>, D::Error> {
    match Value::deserialize(d)? {
        Value::Array(items) => Ok(entries(items)),
        Value::String(s) => Ok(match serde_json::from_str::<Vec<Value>>(&s) {
            Ok(items) => entries(items),
            Err(_) => command_line(&s),
        }),
        _ => Ok(Vec::new()),
    }
}

/// The entries of an array that have the entry's shape; anything else is skipped.
fn entries<T: for<'de> Deserialize<'de>>(items: Vec<Value>) -> Vec<T> {
    items
        .into_iter()
        .filter_map(|v| serde_json::from_value(v).ok())
        .collect()
}

/// An array of entries, leniently: anything but an array is none. Exchange mailbox-audit
/// records write `ModifiedProperties` as bare names (`["Body","Subject"]`), which are
/// skipped.
fn entry_list<'de, D: Deserializer<'de>, T: for<'a> Deserialize<'a>>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => entries(items),
        _ => Vec::new(),
    })
}

/// Parameters written as a command line, `-Identity "Default" -Mode Disable -Force`.
/// GUESS: the schema types Security & Compliance `Parameters` as a string
/// (office-365-management-activity-api-schema, "Security and Compliance Center schema")
/// and tools that print them show `-Name "Value"` pairs, but no verbatim public record
/// was found; so both `-Name value` and `-Name:value` are read, quotes removed, and a
/// name with no value is a switch, `True`.
fn command_line(text: &str) -> Vec<Param> {
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    for (word, quoted) in words(text) {
        let name = word
            .strip_prefix('-')
            .filter(|n| !quoted && n.starts_with(|c: char| c.is_ascii_alphabetic()));
        if let Some(name) = name {
            let (name, value) = match name.split_once(':') {
                Some((name, value)) => (name, Some(value.to_string())),
                None => (name, None),
            };
            out.push((name.to_string(), value));
        } else if let Some((_, value)) = out.last_mut() {
            match value {
                Some(v) if !v.is_empty() => {
                    v.push(' ');
                    v.push_str(&word);
                }
                _ => *value = Some(word),
            }
        }
    }
    out.into_iter()
        .map(|(name, value)| Param {
            name,
            value: value.unwrap_or_else(|| "True".into()),
        })
        .collect()
}

/// Words split at white space outside quotes, each with whether it began with a quote
/// (a quoted `-x` is a value, not a parameter's name).
fn words(text: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => word.push(c),
            None if c == '"' || c == '\'' => {
                quoted |= word.is_empty();
                quote = Some(c);
            }
            None if c.is_whitespace() => {
                if !word.is_empty() || quoted {
                    out.push((std::mem::take(&mut word), quoted));
                }
                quoted = false;
            }
            None => word.push(c),
        }
    }
    if !word.is_empty() || quoted {
        out.push((word, quoted));
    }
    out
}

fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    value_as_text(d)
}

/// A JSON value read as [`Value`] reads it, with the same checks (numbers in range, depth,
/// serde_json's raw-value objects), but a string kept as text, borrowed when it holds no
/// escape: reading a record for counting copies nothing it does not keep.
pub(crate) enum Lenient<'de> {
    /// A string.
    Text(Cow<'de, str>),
    /// Anything else.
    Other(Value),
}

impl<'de> Lenient<'de> {
    /// The value as text: a string as it is, null as nothing, anything else as JSON
    /// writes it.
    pub(crate) fn text(self) -> Cow<'de, str> {
        match self {
            Lenient::Text(s) => s,
            Lenient::Other(Value::String(s)) => Cow::Owned(s),
            Lenient::Other(Value::Null) => Cow::Borrowed(""),
            Lenient::Other(other) => Cow::Owned(other.to_string()),
        }
    }

    /// The string, if the value is one.
    pub(crate) fn string(self) -> Option<Cow<'de, str>> {
        match self {
            Lenient::Text(s) => Some(s),
            Lenient::Other(Value::String(s)) => Some(Cow::Owned(s)),
            Lenient::Other(_) => None,
        }
    }
}

impl<'de> Deserialize<'de> for Lenient<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// Strings are kept; everything else is handed to `Value`'s own visitor, so it is
        /// read exactly as `Value::deserialize` reads it.
        struct Read;
        impl<'de> Visitor<'de> for Read {
            type Value = Lenient<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Lenient<'de>, E> {
                Ok(Lenient::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Lenient<'de>, E> {
                Ok(Lenient::Text(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Lenient<'de>, E> {
                Ok(Lenient::Text(Cow::Owned(v)))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Lenient<'de>, E> {
                Value::deserialize(v.into_deserializer()).map(Lenient::Other)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Lenient<'de>, E> {
                Value::deserialize(v.into_deserializer()).map(Lenient::Other)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Lenient<'de>, E> {
                Value::deserialize(v.into_deserializer()).map(Lenient::Other)
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Lenient<'de>, E> {
                Value::deserialize(v.into_deserializer()).map(Lenient::Other)
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Lenient<'de>, E> {
                Value::deserialize(().into_deserializer()).map(Lenient::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Lenient<'de>, A::Error> {
                Value::deserialize(SeqAccessDeserializer::new(seq)).map(Lenient::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Lenient<'de>, A::Error> {
                Value::deserialize(MapAccessDeserializer::new(map)).map(Lenient::Other)
            }
        }
        d.deserialize_any(Read)
    }
}

/// A visitor's answer for every scalar (a bool, number, string or null): `$none`, for
/// fields that only arrays or objects fill.
macro_rules! scalars_hold_nothing {
    ($none:expr) => {
        scalars_hold_nothing!($none, but_text);
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok($none)
        }
    };
    // Every scalar but a string, for visitors that answer a string otherwise.
    ($none:expr, but_text) => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok($none)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok($none)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok($none)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok($none)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok($none)
        }
    };
}
pub(crate) use scalars_hold_nothing;

/// How many entries an array holds; anything else holds none. Counted as they are read,
/// never kept: a purge's `AffectedItems` lists hundreds of messages, and building them
/// as values made reading a deletion record most of the pipeline's time (issue 15).
pub(crate) fn count<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    struct Count;
    impl<'de> Visitor<'de> for Count {
        type Value = usize;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
            let mut n = 0;
            while seq.next_element::<IgnoredAny>()?.is_some() {
                n += 1;
            }
            Ok(n)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<usize, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(0)
        }
        scalars_hold_nothing!(0);
    }
    d.deserialize_any(Count)
}

/// The `Path` of a folder object; anything else has none. The folder's other fields are
/// skipped unread: a sync's folders list every message they hold (`FolderItems`), and
/// building them as values made reading such records most of the pipeline's time.
pub(crate) struct FolderPath<'de>(pub(crate) Cow<'de, str>);

impl<'de> Deserialize<'de> for FolderPath<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct PathOf;
        impl<'de> Visitor<'de> for PathOf {
            type Value = FolderPath<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FolderPath<'de>, A::Error> {
                let mut path = Cow::Borrowed("");
                while let Some(IsPath(is_path)) = map.next_key()? {
                    if is_path {
                        // A later `Path` that is no string leaves an earlier one in place.
                        if let Some(p) = map.next_value::<Lenient>()?.string() {
                            path = p;
                        }
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(FolderPath(path))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FolderPath<'de>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(FolderPath(Cow::Borrowed("")))
            }
            scalars_hold_nothing!(FolderPath(Cow::Borrowed("")));
        }
        d.deserialize_any(PathOf)
    }
}

/// Whether a folder's key is `Path`, told without copying the key.
struct IsPath(bool);

impl<'de> Deserialize<'de> for IsPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Key;
        impl Visitor<'_> for Key {
            type Value = IsPath;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E>(self, key: &str) -> Result<IsPath, E> {
                Ok(IsPath(key == "Path"))
            }
        }
        d.deserialize_str(Key)
    }
}

/// The `Path` of a folder object.
fn folder_path<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(FolderPath::deserialize(d)?.0.into_owned())
}

/// The `Path` of each folder in an array; anything else holds none.
pub(crate) struct FolderPaths<'de>(pub(crate) Vec<Cow<'de, str>>);

impl<'de> Deserialize<'de> for FolderPaths<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Paths;
        impl<'de> Visitor<'de> for Paths {
            type Value = FolderPaths<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<FolderPaths<'de>, A::Error> {
                let mut paths = Vec::new();
                while let Some(FolderPath(p)) = seq.next_element()? {
                    paths.push(p);
                }
                Ok(FolderPaths(paths))
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<FolderPaths<'de>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(FolderPaths(Vec::new()))
            }
            scalars_hold_nothing!(FolderPaths(Vec::new()));
        }
        d.deserialize_any(Paths)
    }
}

/// The `Path` of each folder in an array.
fn folder_paths<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(FolderPaths::deserialize(d)?
        .0
        .into_iter()
        .map(Cow::into_owned)
        .collect())
}

/// `Type` of a `Target` or `Actor` entry: a number, or a number written as text.
fn identity_type<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

/// One change a directory (Entra ID) record lists in `ModifiedProperties`: the
/// property, and its values after and before, as text.
#[derive(Debug, Clone, Deserialize)]
pub struct ModifiedProperty {
    /// The property, e.g. `Role.DisplayName` or `ConsentContext.IsAdminConsent`.
    #[serde(rename = "Name", default, deserialize_with = "lenient_string")]
    pub name: String,
    /// Its value after the change.
    #[serde(rename = "NewValue", default, deserialize_with = "value_as_text")]
    pub new_value: String,
    /// Its value before the change.
    #[serde(rename = "OldValue", default, deserialize_with = "value_as_text")]
    pub old_value: String,
}

/// One identity in a directory record's `Target` or `Actor`.
#[derive(Debug, Clone, Deserialize)]
pub struct Identity {
    /// `ID`: a name, an object id, a class such as `User`, a PUID or a UPN.
    #[serde(rename = "ID", default, deserialize_with = "lenient_string")]
    pub id: String,
    /// `Type`, the schema's `IdentityType` in its order: 1 a display name, 2 another id
    /// (object id or class), 3 a PUID, 4 a service principal, 5 a UPN.
    #[serde(rename = "Type", default, deserialize_with = "identity_type")]
    pub kind: Option<i64>,
}

/// `IdentityType` 1: a display name.
pub const DISPLAY_NAME: i64 = 1;
/// `IdentityType` 2: an object id, or the object's class (`User`, `Group`, `ServicePrincipal`).
pub const OTHER_ID: i64 = 2;
/// `IdentityType` 5: a user principal name.
pub const UPN: i64 = 5;

/// One unified audit log record, with the fields detection reads; every field is text an
/// attacker may have chosen.
#[derive(Debug, Clone, Deserialize)]
pub struct AuditRecord {
    /// The record's `Id`: the same record listed twice has the same one.
    #[serde(rename = "Id", deserialize_with = "lenient_string")]
    pub id: String,
    /// `CreationTime`, as the record writes it (UTC, without a zone).
    #[serde(rename = "CreationTime", default, deserialize_with = "lenient_string")]
    pub creation_time: String,
    /// `Operation`, e.g. `New-InboxRule`.
    #[serde(rename = "Operation", default, deserialize_with = "lenient_string")]
    pub operation: String,
    /// `UserId`: who made the change.
    #[serde(rename = "UserId", default, deserialize_with = "lenient_string")]
    pub user_id: String,
    /// `ClientIP`, with a port sometimes.
    #[serde(rename = "ClientIP", default, deserialize_with = "lenient_string")]
    pub client_ip: String,
    /// `ObjectId`: the mailbox or object the cmdlet changed.
    #[serde(rename = "ObjectId", default, deserialize_with = "lenient_string")]
    pub object_id: String,
    /// `ResultStatus`: whether the operation succeeded.
    #[serde(rename = "ResultStatus", default, deserialize_with = "lenient_string")]
    pub result_status: String,
    /// The cmdlet's `Parameters`.
    #[serde(rename = "Parameters", default, deserialize_with = "params")]
    pub parameters: Vec<Param>,
    /// Mailbox-audit records (`UpdateInboxRules`, `ModifyFolderPermissions`) carry their
    /// facts here instead of in `Parameters`.
    #[serde(rename = "OperationProperties", default, deserialize_with = "params")]
    pub operation_properties: Vec<Param>,
    /// What a directory record changed, property by property.
    #[serde(
        rename = "ModifiedProperties",
        default,
        deserialize_with = "entry_list"
    )]
    pub modified_properties: Vec<ModifiedProperty>,
    /// Who or what a directory record acted on.
    #[serde(rename = "Target", default, deserialize_with = "entry_list")]
    pub target: Vec<Identity>,
    /// How many messages a mailbox-audit record that acts on several at once
    /// (`HardDelete`, `SoftDelete`) lists in `AffectedItems`.
    #[serde(rename = "AffectedItems", default, deserialize_with = "count")]
    pub affected_items: usize,
    /// The folder such a record acted in (`Folder.Path`).
    #[serde(rename = "Folder", default, deserialize_with = "folder_path")]
    pub folder: String,
    /// The folders a `MailItemsAccessed` record read (`Folders[].Path`).
    #[serde(rename = "Folders", default, deserialize_with = "folder_paths")]
    pub folders: Vec<String>,
    /// The item a mailbox-audit record acted on (for folder permissions, the folder).
    #[serde(rename = "Item", default)]
    pub item: Value,
    /// `MailboxOwnerUPN` of mailbox-audit records.
    #[serde(
        rename = "MailboxOwnerUPN",
        default,
        deserialize_with = "lenient_string"
    )]
    pub mailbox_owner_upn: String,
    /// `OrganizationId`: the tenant.
    #[serde(
        rename = "OrganizationId",
        default,
        deserialize_with = "lenient_string"
    )]
    pub organization_id: String,
    /// `OrganizationName`: the tenant's initial domain.
    #[serde(
        rename = "OrganizationName",
        default,
        deserialize_with = "lenient_string"
    )]
    pub organization_name: String,
}

impl AuditRecord {
    /// Every cmdlet parameter as a condition of the evidence, as written.
    pub fn conditions(&self) -> Vec<crate::evidence::Condition> {
        self.parameters
            .iter()
            .map(|p| crate::evidence::Condition {
                name: p.name.clone(),
                value: p.value.clone(),
            })
            .collect()
    }

    /// Whether the record's operation is `operation` (without case, as Exchange compares).
    pub fn is(&self, operation: &str) -> bool {
        is_operation(&self.operation, operation)
    }

    /// The value of a parameter (names compared without case, as PowerShell does).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.parameters
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .map(|p| p.value.as_str())
    }

    /// The value of an `OperationProperties` entry.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.operation_properties
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .map(|p| p.value.as_str())
    }

    /// The `ModifiedProperties` entry named `name` (without case).
    pub fn modified(&self, name: &str) -> Option<&ModifiedProperty> {
        self.modified_properties
            .iter()
            .find(|p| p.name.trim().eq_ignore_ascii_case(name))
    }

    /// The new value of a `ModifiedProperties` entry, as a bare scalar (see [`scalar`]).
    pub fn new_value(&self, name: &str) -> Option<&str> {
        self.modified(name).map(|p| scalar(&p.new_value))
    }

    /// Whether the record is the directory activity `activity`: without case, and with or
    /// without the trailing period the unified audit log adds to Entra ID's names.
    pub fn is_activity(&self, activity: &str) -> bool {
        let bare = |s: &str| s.trim().trim_end_matches('.').trim_end().to_string();
        bare(&self.operation).eq_ignore_ascii_case(&bare(activity))
    }

    /// The first `Target` id of the given `IdentityType`.
    pub fn target_of(&self, kind: i64) -> Option<&str> {
        self.target
            .iter()
            .find(|t| t.kind == Some(kind) && !t.id.trim().is_empty())
            .map(|t| t.id.trim())
    }

    /// The account a directory record changed: `ObjectId` (Microsoft writes the user's
    /// UPN there), else the target's UPN, else its display name, else the actor.
    pub fn directory_target(&self) -> String {
        let object = self.object_id.trim();
        if !object.is_empty() && !object.eq_ignore_ascii_case("Not Available") {
            return object.to_string();
        }
        self.target_of(UPN)
            .or_else(|| self.target_of(DISPLAY_NAME))
            .unwrap_or(&self.user_id)
            .to_string()
    }

    /// A switch parameter set to true (`"True"`, as Exchange logs it).
    pub fn flag(&self, name: &str) -> bool {
        self.param(name)
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    }

    /// Exchange logs cmdlet failures as `"False"`; other workloads use `Failed`, and
    /// Entra ID `Failure`.
    pub fn failed(&self) -> bool {
        failed(&self.result_status)
    }

    /// Changes made by Exchange itself, not by a person.
    pub fn by_system(&self) -> bool {
        by_system(&self.user_id)
    }

    /// When the change was made, when `CreationTime` can be read.
    pub fn event_time(&self) -> Option<DateTime<Utc>> {
        parse_creation_time(&self.creation_time)
    }

    /// The tenant's name as the record gives it (`OrganizationName`), or its id when it
    /// has none.
    pub fn tenant_name(&self) -> &str {
        if self.organization_name.trim().is_empty() {
            &self.organization_id
        } else {
            &self.organization_name
        }
    }

    /// The IP address of `ClientIP` without its port or brackets; `None` when empty.
    pub fn client_address(&self) -> Option<String> {
        normalize_ip(&self.client_ip)
    }
}

/// Whether `operation` is `name` (without case, as Exchange compares).
pub(crate) fn is_operation(operation: &str, name: &str) -> bool {
    operation.trim().eq_ignore_ascii_case(name)
}

/// Whether a `ResultStatus` says the operation failed (see [`AuditRecord::failed`]).
pub(crate) fn failed(result_status: &str) -> bool {
    let s = result_status.trim();
    ["false", "failed", "failure"]
        .iter()
        .any(|f| s.eq_ignore_ascii_case(f))
}

/// Whether a `UserId` is Exchange itself (see [`AuditRecord::by_system`]).
pub(crate) fn by_system(user_id: &str) -> bool {
    const SYSTEM: &[u8] = b"NT AUTHORITY\\SYSTEM";
    user_id
        .trim_start()
        .as_bytes()
        .get(..SYSTEM.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(SYSTEM))
}

/// A parameter or property value read as a boolean the way PowerShell and the audit
/// log write them: `True`, `$true`, `1`, in any case, quoted or not; `None` for anything
/// else (empty, `$null`, a list).
pub fn truth(value: &str) -> Option<bool> {
    match scalar(value).to_ascii_lowercase().as_str() {
        "true" | "$true" | "1" => Some(true),
        "false" | "$false" | "0" => Some(false),
        _ => None,
    }
}

/// A value without the wrapping directory records put around scalars: white space,
/// one pair of brackets (`["Global Administrator"]`) and one pair of quotes
/// (`"\"True\""`, as Entra ID writes them).
pub fn scalar(value: &str) -> &str {
    let v = value.trim();
    let v = v
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or(v)
        .trim();
    v.strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(v)
        .trim()
}

/// Whether `value` is a GUID (`62e90394-69f5-4237-9190-012177145e10`), the form
/// directory and Exchange ids take; surrounding white space and braces allowed.
pub fn is_guid(value: &str) -> bool {
    let v = value.trim().trim_start_matches('{').trim_end_matches('}');
    v.len() == 36
        && v.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// `CreationTime` is UTC without a zone suffix.
pub fn parse_creation_time(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim();
    if let Some(time) = plain_time(t) {
        return Some(time);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Some(dt.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(t.trim_end_matches('Z'), "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|n| n.and_utc())
}

/// `2026-11-27T10:00:00`, the form nearly every record writes, read by hand: chrono's
/// general format parser cost a scan several per cent of its time. Anything else, valid
/// or not, is left to chrono (`None` here), so this answers only where chrono agrees.
fn plain_time(t: &str) -> Option<DateTime<Utc>> {
    let b = t.as_bytes();
    let shape = b.len() == 19
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':';
    if !shape {
        return None;
    }
    let number = |from: usize, to: usize| {
        b[from..to].iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let date = NaiveDate::from_ymd_opt(number(0, 4)? as i32, number(5, 7)?, number(8, 10)?)?;
    let time = NaiveTime::from_hms_opt(number(11, 13)?, number(14, 16)?, number(17, 19)?)?;
    Some(date.and_time(time).and_utc())
}

/// `a.b.c.d`, `a.b.c.d:port`, `[v6]:port` and bare v6 to the bare address.
pub fn normalize_ip(raw: &str) -> Option<String> {
    address_of(raw).map(str::to_string)
}

/// [`normalize_ip`] as a part of `raw`, for a caller that keeps it where it likes.
pub fn address_of(raw: &str) -> Option<&str> {
    let s = raw.trim();
    if s.is_empty() {
        return None;
    }
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split(']').next().filter(|v| !v.is_empty());
    }
    if s.matches(':').count() == 1 {
        return s.split(':').next();
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ip_forms() {
        assert_eq!(
            normalize_ip("104.28.196.199:9808").as_deref(),
            Some("104.28.196.199")
        );
        assert_eq!(
            normalize_ip("[2a09:bac5:110:105::1a:98]:52629").as_deref(),
            Some("2a09:bac5:110:105::1a:98")
        );
        assert_eq!(
            normalize_ip("2a09:bac5::1").as_deref(),
            Some("2a09:bac5::1")
        );
        assert_eq!(
            normalize_ip("104.28.196.199").as_deref(),
            Some("104.28.196.199")
        );
        assert_eq!(normalize_ip(" "), None);
    }

    #[test]
    fn parameters_as_array_or_string() {
        let a: AuditRecord = serde_json::from_str(
            r#"{"Id":"1","Operation":"New-InboxRule","Parameters":[{"Name":"DeleteMessage","Value":"True"}]}"#,
        )
        .unwrap();
        let b: AuditRecord = serde_json::from_str(
            r#"{"Id":"1","Operation":"New-InboxRule","Parameters":"[{\"Name\":\"deletemessage\",\"Value\":true}]"}"#,
        )
        .unwrap();
        assert!(a.flag("DeleteMessage"));
        assert!(b.flag("DeleteMessage"));
    }

    #[test]
    fn security_and_compliance_parameters_as_a_command_line() {
        let r: AuditRecord = serde_json::from_value(serde_json::json!({
            "Id": "1",
            "Parameters": "-Identity \"Block card numbers\" -Mode:Disable -Force -Comment '-Enabled $false' -ExchangeLocation All Finance -ForwardingAddress \"\"",
        }))
        .unwrap();
        let params: Vec<(&str, &str)> = r
            .parameters
            .iter()
            .map(|p| (p.name.as_str(), p.value.as_str()))
            .collect();
        assert_eq!(
            params,
            [
                ("Identity", "Block card numbers"),
                ("Mode", "Disable"),
                ("Force", "True"),
                ("Comment", "-Enabled $false"),
                ("ExchangeLocation", "All Finance"),
                ("ForwardingAddress", ""),
            ]
        );
        let garbage: AuditRecord =
            serde_json::from_str(r#"{"Id":"1","Parameters":"not a command line"}"#).unwrap();
        assert!(garbage.parameters.is_empty());
    }

    #[test]
    fn values_as_powershell_and_entra_id_write_them() {
        for yes in ["True", "$true", "1", " \"True\" ", "[true]", "TRUE"] {
            assert_eq!(truth(yes), Some(true), "{yes}");
        }
        for no in ["False", "$false", "0", "\"false\""] {
            assert_eq!(truth(no), Some(false), "{no}");
        }
        for neither in ["", "$null", "yes", "True, False"] {
            assert_eq!(truth(neither), None, "{neither}");
        }
        assert_eq!(scalar("[\"Global Administrator\"]"), "Global Administrator");
        assert!(is_guid("{62E90394-69f5-4237-9190-012177145e10}"));
        assert!(!is_guid("62e90394-69f5-4237-9190-012177145e1"));
        assert!(!is_guid("62e90394x69f5-4237-9190-012177145e10"));
    }

    #[test]
    fn directory_records_read_leniently() {
        let r: AuditRecord = serde_json::from_value(serde_json::json!({
            "Id": "1",
            "Operation": "add member to role",
            "ObjectId": "Not Available",
            "ModifiedProperties": [
                {"Name": "Role.DisplayName", "NewValue": "\"Global Administrator\"", "OldValue": null},
                "Body",
                {"Name": "Role.TemplateId", "NewValue": 7},
            ],
            "Target": [{"ID": "User", "Type": "2"}, {"ID": "eve@contoso.com", "Type": 5}, 3],
        }))
        .unwrap();
        assert!(r.is_activity("Add member to role."));
        assert_eq!(
            r.new_value("role.displayname"),
            Some("Global Administrator")
        );
        assert_eq!(r.new_value("Role.TemplateId"), Some("7"));
        assert_eq!(r.target_of(OTHER_ID), Some("User"));
        assert_eq!(r.directory_target(), "eve@contoso.com");
        let mailbox_audit: AuditRecord = serde_json::from_value(
            serde_json::json!({"Id": "1", "ModifiedProperties": ["Body", "Subject"], "Target": "x"}),
        )
        .unwrap();
        assert!(mailbox_audit.modified_properties.is_empty() && mailbox_audit.target.is_empty());
    }

    #[test]
    fn creation_time_without_zone_is_utc() {
        let r: AuditRecord =
            serde_json::from_str(r#"{"Id":"1","CreationTime":"2023-05-29T12:29:35"}"#).unwrap();
        assert_eq!(
            r.event_time().unwrap().to_rfc3339(),
            "2023-05-29T12:29:35+00:00"
        );
    }
}
