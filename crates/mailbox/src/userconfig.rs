//! User configurations (`t:UserConfiguration`, MS-OXOCFG): FAI items of class
//! `IPM.Configuration.<Name>` whose dictionary / XML / binary streams live in `user_config_data`.
//!
//! Because a configuration *is* an associated item, `find_items` with `associated = true` lists
//! it, `get_items` returns its streams in [`crate::Item::user_configuration`], and it never counts
//! in `total_count`. UM greetings are `Um.CustomGreetings.External` / `Um.CustomGreetings.Oof` in
//! `root`, with the WAV file as binary data.

use std::collections::HashSet;

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::MailboxError;
use crate::items::{CONFIG_CLASS_PREFIX, Prepared, delete_local, insert_item, refresh_size};
use crate::limits::{
    MAX_CONFIG_NAME_CHARS, MAX_CONFIG_STREAM_BYTES, MAX_DICTIONARY_BYTES, MAX_DICTIONARY_ENTRIES,
};
use crate::model::{
    DictEntry, EventKind, FolderSel, Item, MailboxKey, NewItem, StoredUserConfig, UserConfig,
    to_micros,
};
use crate::store::{
    EVENT_ASSOCIATED, MailboxStore, Mb, append_event, mailbox_row, next_change_number,
    resolve_folder, touch_folder,
};

/// `[A-Za-z0-9._-]{1,236}`.
pub(crate) fn validate_config_name(name: &str) -> Result<(), MailboxError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_CONFIG_NAME_CHARS
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(MailboxError::InvalidValue(format!(
            "a user configuration name must be 1 to {MAX_CONFIG_NAME_CHARS} characters of \
             A-Z, a-z, 0-9, '.', '_' and '-'"
        )))
    }
}

/// The stored form of a configuration's streams.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ConfigStreams {
    pub dictionary_json: Option<String>,
    pub xml_data: Option<Vec<u8>>,
    pub binary_data: Option<Vec<u8>>,
}

impl ConfigStreams {
    pub fn len(&self) -> usize {
        self.dictionary_json.as_ref().map_or(0, String::len)
            + self.xml_data.as_ref().map_or(0, Vec::len)
            + self.binary_data.as_ref().map_or(0, Vec::len)
    }

    /// Validates and serialises the streams of `c` (the name is not checked here).
    pub fn from_config(c: &UserConfig) -> Result<ConfigStreams, MailboxError> {
        let dictionary_json = c.dictionary.as_deref().map(dictionary_json).transpose()?;
        for (what, s) in [("XML data", &c.xml_data), ("binary data", &c.binary_data)] {
            let n = s.as_ref().map_or(0, Vec::len);
            if n > MAX_CONFIG_STREAM_BYTES {
                return Err(MailboxError::TooLarge {
                    what: what.into(),
                    size: n,
                    limit: MAX_CONFIG_STREAM_BYTES,
                });
            }
        }
        Ok(ConfigStreams {
            dictionary_json,
            xml_data: c.xml_data.clone(),
            binary_data: c.binary_data.clone(),
        })
    }

    pub fn into_config(self, name: String) -> Result<UserConfig, MailboxError> {
        let dictionary = self
            .dictionary_json
            .map(|s| {
                serde_json::from_str::<Vec<DictEntry>>(&s).map_err(|e| {
                    MailboxError::Corrupt(format!("user configuration dictionary: {e}"))
                })
            })
            .transpose()?;
        Ok(UserConfig {
            name,
            dictionary,
            xml_data: self.xml_data,
            binary_data: self.binary_data,
        })
    }
}

fn dictionary_json(entries: &[DictEntry]) -> Result<String, MailboxError> {
    if entries.len() > MAX_DICTIONARY_ENTRIES {
        return Err(MailboxError::InvalidValue(format!(
            "more than {MAX_DICTIONARY_ENTRIES} dictionary entries"
        )));
    }
    let mut keys = HashSet::with_capacity(entries.len());
    for e in entries {
        let k = serde_json::to_string(&e.key)
            .map_err(|err| MailboxError::InvalidValue(format!("dictionary key: {err}")))?;
        if !keys.insert(k) {
            return Err(MailboxError::InvalidValue(format!(
                "dictionary key {:?} given twice",
                e.key
            )));
        }
    }
    let s = serde_json::to_string(entries)
        .map_err(|err| MailboxError::InvalidValue(format!("dictionary: {err}")))?;
    if s.len() > MAX_DICTIONARY_BYTES {
        return Err(MailboxError::TooLarge {
            what: "dictionary".into(),
            size: s.len(),
            limit: MAX_DICTIONARY_BYTES,
        });
    }
    Ok(s)
}

/// The streams of configuration item `item_id` (all absent if it has no row).
pub(crate) fn load_streams(tx: &Connection, item_id: i64) -> Result<ConfigStreams, MailboxError> {
    Ok(tx
        .prepare_cached(
            "SELECT dictionary, xml_data, binary_data FROM user_config_data WHERE item_id = ?1",
        )?
        .query_row(params![item_id], |r| {
            Ok(ConfigStreams {
                dictionary_json: r.get(0)?,
                xml_data: r.get(1)?,
                binary_data: r.get(2)?,
            })
        })
        .optional()?
        .unwrap_or_default())
}

/// The local id of configuration `name` in `folder` (names compare case-insensitively).
fn find_config(tx: &Connection, folder: i64, name: &str) -> Result<i64, MailboxError> {
    tx.prepare_cached("SELECT id FROM items WHERE folder_id = ?1 AND config_name = ?2")?
        .query_row(params![folder, name], |r| r.get(0))
        .optional()?
        .ok_or(MailboxError::ItemNotFound)
}

fn stored(item: Item) -> Result<StoredUserConfig, MailboxError> {
    let config = item
        .user_configuration
        .ok_or_else(|| MailboxError::Corrupt("configuration item without streams".into()))?;
    Ok(StoredUserConfig {
        item_id: item.id,
        change_key: item.change_key,
        folder_id: item.folder_id,
        config,
    })
}

impl MailboxStore {
    /// A user configuration by folder and name; `ItemNotFound` if there is none.
    pub async fn get_user_configuration(
        &self,
        mailbox: &MailboxKey,
        folder: FolderSel,
        name: String,
    ) -> Result<StoredUserConfig, MailboxError> {
        validate_config_name(&name)?;
        let key = mailbox.as_str().to_owned();
        self.read(move |tx| {
            let mb = mailbox_row(tx, &key)?;
            let folder = resolve_folder(tx, &mb, &folder)?;
            let id = find_config(tx, folder, &name)?;
            stored(crate::items::load_item(tx, &mb, id, true)?)
        })
        .await
    }

    /// Creates a user configuration; [`MailboxError::UserConfigurationExists`] if the folder
    /// already has one of that name.
    pub async fn create_user_configuration(
        &self,
        mailbox: &MailboxKey,
        folder: FolderSel,
        config: UserConfig,
    ) -> Result<StoredUserConfig, MailboxError> {
        validate_config_name(&config.name)?;
        let streams = ConfigStreams::from_config(&config)?;
        let prepared = Prepared {
            item: NewItem {
                item_class: format!("{CONFIG_CLASS_PREFIX}{}", config.name),
                is_associated: true,
                is_read: true,
                ..NewItem::default()
            },
            config_name: Some(config.name),
            created: None,
            sent: None,
            delivered: false,
        };
        let key = mailbox.as_str().to_owned();
        self.write(move |tx, now| {
            let mb = mailbox_row(tx, &key)?;
            let folder = resolve_folder(tx, &mb, &folder)?;
            let id = insert_item(tx, &mb, folder, &prepared, Some(&streams), to_micros(now)?)?;
            stored(crate::items::load_item(tx, &mb, id, true)?)
        })
        .await
    }

    /// Replaces the parts of a configuration that `config` carries (`Some` dictionary, XML data or
    /// binary data); parts given as `None` are kept. `ItemNotFound` if it does not exist.
    ///
    /// Note: Exchange merges dictionary entries into the stored dictionary instead of replacing it.
    pub async fn update_user_configuration(
        &self,
        mailbox: &MailboxKey,
        folder: FolderSel,
        config: UserConfig,
    ) -> Result<StoredUserConfig, MailboxError> {
        validate_config_name(&config.name)?;
        let streams = ConfigStreams::from_config(&config)?;
        let key = mailbox.as_str().to_owned();
        self.write(move |tx, now| {
            let mb = mailbox_row(tx, &key)?;
            let folder = resolve_folder(tx, &mb, &folder)?;
            let id = find_config(tx, folder, &config.name)?;
            tx.execute(
                "INSERT INTO user_config_data (item_id) VALUES (?1) ON CONFLICT(item_id) DO NOTHING",
                params![id],
            )?;
            if let Some(d) = &streams.dictionary_json {
                tx.execute(
                    "UPDATE user_config_data SET dictionary = ?2 WHERE item_id = ?1",
                    params![id, d],
                )?;
            }
            if let Some(x) = &streams.xml_data {
                tx.execute(
                    "UPDATE user_config_data SET xml_data = ?2 WHERE item_id = ?1",
                    params![id, x],
                )?;
            }
            if let Some(b) = &streams.binary_data {
                tx.execute(
                    "UPDATE user_config_data SET binary_data = ?2 WHERE item_id = ?1",
                    params![id, b],
                )?;
            }
            let now_us = to_micros(now)?;
            let cn = next_change_number(tx, mb.id)?;
            tx.execute(
                "UPDATE items SET change_number = ?2, last_modified = ?3 WHERE id = ?1",
                params![id, cn, now_us],
            )?;
            touch_folder(tx, folder, cn, now_us)?;
            append_event(
                tx,
                &mb,
                EventKind::Modified,
                id,
                folder,
                None,
                EVENT_ASSOCIATED,
                now_us,
            )?;
            stored(refresh_size(tx, &mb, id)?)
        })
        .await
    }

    /// Deletes a configuration permanently; `ItemNotFound` if it does not exist.
    pub async fn delete_user_configuration(
        &self,
        mailbox: &MailboxKey,
        folder: FolderSel,
        name: String,
    ) -> Result<(), MailboxError> {
        validate_config_name(&name)?;
        let key = mailbox.as_str().to_owned();
        self.write(move |tx, now| {
            let mb: Mb = mailbox_row(tx, &key)?;
            let folder = resolve_folder(tx, &mb, &folder)?;
            let id = find_config(tx, folder, &name)?;
            delete_local(tx, &mb, id, folder, true, to_micros(now)?)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DictValue;

    #[test]
    fn names() {
        for ok in [
            "Um.CustomGreetings.External",
            "a",
            "A-b_c.9",
            &"x".repeat(236),
        ] {
            validate_config_name(ok).unwrap();
        }
        for bad in ["", "a b", "a/b", "ä", "x\u{0}", &"x".repeat(237)] {
            assert!(validate_config_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn dictionary_round_trip_and_duplicates() {
        let d = vec![
            DictEntry {
                key: DictValue::String("k".into()),
                value: Some(DictValue::UnsignedInteger64(u64::MAX)),
            },
            DictEntry {
                key: DictValue::Integer32(-1),
                value: None,
            },
            DictEntry {
                key: DictValue::String("when".into()),
                value: Some(DictValue::DateTime(time::macros::datetime!(
                    2024-01-02 03:04:05.678 +01:00
                ))),
            },
        ];
        let c = UserConfig {
            name: "X".into(),
            dictionary: Some(d.clone()),
            ..UserConfig::default()
        };
        let s = ConfigStreams::from_config(&c).unwrap();
        assert_eq!(s.into_config("X".into()).unwrap(), c);
        let mut dup = d;
        dup.push(DictEntry {
            key: DictValue::String("k".into()),
            value: None,
        });
        let c = UserConfig {
            dictionary: Some(dup),
            ..c
        };
        assert!(matches!(
            ConfigStreams::from_config(&c),
            Err(MailboxError::InvalidValue(_))
        ));
    }
}
