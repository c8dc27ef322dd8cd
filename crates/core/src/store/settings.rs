//! Settings: one JSON value per key, read and written whole. Each key is a [`Key`]
//! naming its value's type, defined beside the code that owns the setting.

use std::marker::PhantomData;

use super::db::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Result, Store, StoreError, ts};

/// A setting's name and the type of its value: reading or writing it as another type
/// does not compile.
pub struct Key<T> {
    name: &'static str,
    value: PhantomData<fn() -> T>,
}

impl<T> Key<T> {
    /// The key stored as `name`; `const`, so each setting is declared once, as a constant.
    pub const fn new(name: &'static str) -> Self {
        Key {
            name,
            value: PhantomData,
        }
    }

    /// The setting's name in the database.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

pub(super) fn read_setting<T: DeserializeOwned>(c: &Connection, key: &Key<T>) -> Result<Option<T>> {
    let key = key.name;
    let text: Option<String> = c
        .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
            r.get(0)
        })
        .optional()?;
    text.map(|t| {
        serde_json::from_str(&t).map_err(|e| StoreError::BadSetting {
            key: key.into(),
            detail: e.to_string(),
        })
    })
    .transpose()
}

pub(super) fn write_setting<T: Serialize>(c: &Connection, key: &Key<T>, value: &T) -> Result<()> {
    let key = key.name;
    let json = serde_json::to_string(value).map_err(|e| StoreError::BadSetting {
        key: key.into(),
        detail: e.to_string(),
    })?;
    c.execute(
        "INSERT INTO settings (key, value, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        params![key, json, ts(crate::clock::now())],
    )?;
    Ok(())
}

impl Store {
    /// Reads a setting: `None` when it is not set; [`StoreError::BadSetting`] when the stored
    /// value is not a `T`.
    pub fn setting<T: DeserializeOwned>(&self, key: &Key<T>) -> Result<Option<T>> {
        self.with(|c| read_setting(c, key))
    }

    /// Writes a setting, replacing its value whole.
    pub fn set_setting<T: Serialize>(&self, key: &Key<T>, value: &T) -> Result<()> {
        self.with(|c| write_setting(c, key, value))
    }

    /// Removes a setting, which then reads as not set; removing an unset one is no error.
    pub fn remove_setting<T>(&self, key: &Key<T>) -> Result<()> {
        self.with(|c| {
            c.execute("DELETE FROM settings WHERE key = ?1", [key.name])?;
            Ok(())
        })
    }
}
