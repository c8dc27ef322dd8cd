//! A lean reading of the mailbox-audit records bursts count (`HardDelete`, `SoftDelete`,
//! `MailItemsAccessed`): only the fields [`counted`](crate::burst::counted) reads for
//! them, borrowed from the raw JSON. A scan reads about one noise record in five for
//! counting, and reading each whole into an [`AuditRecord`] (every string copied,
//! `OperationProperties` built as values) was most of a scan's time after the split.
//!
//! Written by hand over serde, not derived, because it must agree with the full parse on
//! every input: it knows every field [`AuditRecord`] reads and reads each with the same
//! checks, refusing a field given twice as the derived parse does, so a record the full
//! parse rejects is rejected here too. Shapes it does not read itself (a record written
//! as an array, properties written as text or as arrays) are errors here, and the
//! caller then reads the record whole.
//!
//! Before it, a quicker scan without serde (`scan.rs`) takes the shapes Exchange writes
//! and leaves every record it is not sure of to this reading.

use std::borrow::Cow;

use serde::de::{Error, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::record::{AuditRecord, FolderPath, FolderPaths, Lenient, count, scalars_hold_nothing};

mod scan;

/// The fields of a record that [`counted`](crate::burst::counted) reads for mail events.
#[cfg_attr(test, derive(Debug, PartialEq))]
pub(crate) struct MailRecord<'a> {
    /// `Id`.
    pub(crate) id: Cow<'a, str>,
    /// `CreationTime`.
    pub(crate) creation_time: Cow<'a, str>,
    /// `Operation`.
    pub(crate) operation: Cow<'a, str>,
    /// `UserId`.
    pub(crate) user_id: Cow<'a, str>,
    /// `ClientIP`.
    pub(crate) client_ip: Cow<'a, str>,
    /// `ResultStatus`.
    pub(crate) result_status: Cow<'a, str>,
    /// `MailboxOwnerUPN`.
    pub(crate) mailbox_owner_upn: Cow<'a, str>,
    /// How many entries `AffectedItems` lists.
    pub(crate) affected_items: usize,
    /// `Folder.Path`.
    pub(crate) folder: Cow<'a, str>,
    /// `Folders[].Path`.
    pub(crate) folders: Vec<Cow<'a, str>>,
    /// The value of the first `OperationProperties` entry named `MailAccessType`.
    pub(crate) mail_access_type: Option<Cow<'a, str>>,
}

impl<'a> MailRecord<'a> {
    /// The same fields of a record read whole.
    pub(crate) fn of(record: &'a AuditRecord) -> MailRecord<'a> {
        MailRecord {
            id: Cow::Borrowed(&record.id),
            creation_time: Cow::Borrowed(&record.creation_time),
            operation: Cow::Borrowed(&record.operation),
            user_id: Cow::Borrowed(&record.user_id),
            client_ip: Cow::Borrowed(&record.client_ip),
            result_status: Cow::Borrowed(&record.result_status),
            mailbox_owner_upn: Cow::Borrowed(&record.mailbox_owner_upn),
            affected_items: record.affected_items,
            folder: Cow::Borrowed(&record.folder),
            folders: record
                .folders
                .iter()
                .map(|f| Cow::Borrowed(f.as_str()))
                .collect(),
            mail_access_type: record.property("MailAccessType").map(Cow::Borrowed),
        }
    }
}

/// Every field [`AuditRecord`] reads, by its JSON name, and any other.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Id,
    CreationTime,
    Operation,
    UserId,
    ClientIp,
    ObjectId,
    ResultStatus,
    Parameters,
    OperationProperties,
    ModifiedProperties,
    Target,
    AffectedItems,
    Folder,
    Folders,
    Item,
    MailboxOwnerUpn,
    OrganizationId,
    OrganizationName,
    Other,
}

impl Field {
    /// The field a key names, by the names [`AuditRecord`] reads (a test holds them to
    /// its own); any other key is `Other`.
    fn of(key: &str) -> Field {
        match key {
            "Id" => Field::Id,
            "CreationTime" => Field::CreationTime,
            "Operation" => Field::Operation,
            "UserId" => Field::UserId,
            "ClientIP" => Field::ClientIp,
            "ObjectId" => Field::ObjectId,
            "ResultStatus" => Field::ResultStatus,
            "Parameters" => Field::Parameters,
            "OperationProperties" => Field::OperationProperties,
            "ModifiedProperties" => Field::ModifiedProperties,
            "Target" => Field::Target,
            "AffectedItems" => Field::AffectedItems,
            "Folder" => Field::Folder,
            "Folders" => Field::Folders,
            "Item" => Field::Item,
            "MailboxOwnerUPN" => Field::MailboxOwnerUpn,
            "OrganizationId" => Field::OrganizationId,
            "OrganizationName" => Field::OrganizationName,
            _ => Field::Other,
        }
    }
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Name;
        impl Visitor<'_> for Name {
            type Value = Field;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E>(self, name: &str) -> Result<Field, E> {
                Ok(Field::of(name))
            }
        }
        d.deserialize_identifier(Name)
    }
}

impl<'de> Deserialize<'de> for MailRecord<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Record;
        impl<'de> Visitor<'de> for Record {
            type Value = MailRecord<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an audit record as an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MailRecord<'de>, A::Error> {
                let empty = || Cow::Borrowed("");
                let mut id = None;
                let mut r = MailRecord {
                    id: empty(),
                    creation_time: empty(),
                    operation: empty(),
                    user_id: empty(),
                    client_ip: empty(),
                    result_status: empty(),
                    mailbox_owner_upn: empty(),
                    affected_items: 0,
                    folder: empty(),
                    folders: Vec::new(),
                    mail_access_type: None,
                };
                let mut seen = 0u32;
                while let Some(field) = map.next_key::<Field>()? {
                    if field != Field::Other {
                        let bit = 1 << field as u32;
                        if seen & bit != 0 {
                            return Err(A::Error::custom("a field given twice"));
                        }
                        seen |= bit;
                    }
                    let text = |map: &mut A| Ok::<_, A::Error>(map.next_value::<Lenient>()?.text());
                    match field {
                        Field::Id => id = Some(text(&mut map)?),
                        Field::CreationTime => r.creation_time = text(&mut map)?,
                        Field::Operation => r.operation = text(&mut map)?,
                        Field::UserId => r.user_id = text(&mut map)?,
                        Field::ClientIp => r.client_ip = text(&mut map)?,
                        Field::ResultStatus => r.result_status = text(&mut map)?,
                        Field::MailboxOwnerUpn => r.mailbox_owner_upn = text(&mut map)?,
                        Field::ObjectId | Field::OrganizationId | Field::OrganizationName => {
                            map.next_value::<Lenient>()?;
                        }
                        // Read as the full parse reads them, to the same `Value`, though
                        // counting mail needs none of them; mail records rarely hold them.
                        Field::Parameters
                        | Field::ModifiedProperties
                        | Field::Target
                        | Field::Item => {
                            map.next_value::<Value>()?;
                        }
                        Field::OperationProperties => {
                            r.mail_access_type = map.next_value::<AccessType>()?.0;
                        }
                        Field::AffectedItems => r.affected_items = map.next_value::<Count>()?.0,
                        Field::Folder => r.folder = map.next_value::<FolderPath>()?.0,
                        Field::Folders => r.folders = map.next_value::<FolderPaths>()?.0,
                        Field::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                r.id = id.ok_or_else(|| A::Error::missing_field("Id"))?;
                Ok(r)
            }
        }
        d.deserialize_map(Record)
    }
}

/// [`count`] as a type.
struct Count(usize);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        count(d).map(Count)
    }
}

/// The first `MailAccessType` of `OperationProperties` written as an array of
/// `{Name, Value}` objects. Entries of another shape are skipped as the full parse skips
/// them, or, where it reads them (arrays), refused; so is the whole written as text.
struct AccessType<'de>(Option<Cow<'de, str>>);

impl<'de> Deserialize<'de> for AccessType<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Properties;
        impl<'de> Visitor<'de> for Properties {
            type Value = AccessType<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an array of properties")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AccessType<'de>, A::Error> {
                let mut found = None;
                while let Some(Property(entry)) = seq.next_element()? {
                    if let Some((name, value)) = entry
                        && found.is_none()
                        && name.eq_ignore_ascii_case("MailAccessType")
                    {
                        found = Some(value);
                    }
                }
                Ok(AccessType(found))
            }
            fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<AccessType<'de>, A::Error> {
                Err(A::Error::custom("properties as an object"))
            }
            fn visit_str<E: Error>(self, _: &str) -> Result<AccessType<'de>, E> {
                Err(E::custom("properties as text"))
            }
            scalars_hold_nothing!(AccessType(None), but_text);
        }
        d.deserialize_any(Properties)
    }
}

/// One `{Name, Value}` entry: its name and its value as text, or `None` for an entry the
/// full parse skips (no `Name` that is a string, or no object at all). Keys repeat as in
/// a `Value`: the last one counts.
struct Property<'de>(Option<(Cow<'de, str>, Cow<'de, str>)>);

impl<'de> Deserialize<'de> for Property<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Entry;
        impl<'de> Visitor<'de> for Entry {
            type Value = Property<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a property")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Property<'de>, A::Error> {
                let (mut name, mut value) = (None, Cow::Borrowed(""));
                while let Some(key) = map.next_key::<Key>()? {
                    let read = map.next_value::<Lenient>()?;
                    match key {
                        Key::Name => name = read.string(),
                        Key::Value => value = read.text(),
                        Key::Other => {}
                        Key::Private => return Err(A::Error::custom("a serde_json private key")),
                    }
                }
                Ok(Property(name.map(|name| (name, value))))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Property<'de>, A::Error> {
                Err(A::Error::custom("a property as an array"))
            }
            scalars_hold_nothing!(Property(None));
        }
        d.deserialize_any(Entry)
    }
}

/// A key of a property entry, told without copying it.
enum Key {
    Name,
    Value,
    Other,
    /// A key starting with `$`: serde_json reads an object whose first key is its private
    /// raw-value key as that key's text when building a `Value`, which the full parse does.
    Private,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Read;
        impl Visitor<'_> for Read {
            type Value = Key;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E>(self, key: &str) -> Result<Key, E> {
                Ok(match key {
                    "Name" => Key::Name,
                    "Value" => Key::Value,
                    _ if key.starts_with('$') => Key::Private,
                    _ => Key::Other,
                })
            }
        }
        d.deserialize_identifier(Read)
    }
}

#[cfg(test)]
mod tests {
    use serde::de::value::Error as Stop;
    use serde::de::{Error, Visitor};
    use serde::{Deserialize, Deserializer};

    use super::Field;
    use crate::AuditRecord;

    /// The JSON names of the fields, as [`AuditRecord`] names them.
    const NAMES: [(&str, Field); 18] = [
        ("Id", Field::Id),
        ("CreationTime", Field::CreationTime),
        ("Operation", Field::Operation),
        ("UserId", Field::UserId),
        ("ClientIP", Field::ClientIp),
        ("ObjectId", Field::ObjectId),
        ("ResultStatus", Field::ResultStatus),
        ("Parameters", Field::Parameters),
        ("OperationProperties", Field::OperationProperties),
        ("ModifiedProperties", Field::ModifiedProperties),
        ("Target", Field::Target),
        ("AffectedItems", Field::AffectedItems),
        ("Folder", Field::Folder),
        ("Folders", Field::Folders),
        ("Item", Field::Item),
        ("MailboxOwnerUPN", Field::MailboxOwnerUpn),
        ("OrganizationId", Field::OrganizationId),
        ("OrganizationName", Field::OrganizationName),
    ];

    /// A deserializer that only notes the field names a struct asks for.
    struct FieldNames<'a>(&'a mut Vec<&'static str>);

    impl<'de> Deserializer<'de> for FieldNames<'_> {
        type Error = Stop;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
            Err(Stop::custom("only a struct's field names are asked for"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Stop> {
            self.0.extend(fields);
            Err(Stop::custom("noted"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }

    /// A field the lean reading did not know would be read unchecked, and given twice
    /// would not be refused.
    #[test]
    fn every_field_of_the_full_parse_is_known() {
        let mut names = Vec::new();
        assert!(AuditRecord::deserialize(FieldNames(&mut names)).is_err());
        let known: Vec<&str> = NAMES.iter().map(|(name, _)| *name).collect();
        assert_eq!(known, names);
        for (name, field) in NAMES {
            assert!(Field::of(name) == field, "{name} is read as another field");
        }
    }
}
