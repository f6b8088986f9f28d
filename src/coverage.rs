//! `Test-TVMKeyBackup -Vault`: whether a backup still covers the vault it came from, read-only. A VM created
//! after the backup has a key the backup lacks, and that VM would not boot after a restore: the scheduled
//! check that finds it is the point of this module.
//!
//! Keys are matched by name. For keys in both, a different type or size is a difference; so is different
//! material where both sides can tell it: the vault lists a fingerprint (the local vault does), and the
//! backup's is known (an RSA key's public half; an AES key only after a deep check unwrapped it).
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::api::Key;
use crate::error::Result;
use crate::events::Events;
use crate::vault::{KeyType, Vault};
use crate::verify::BackupCheck;

/// A key in both, that is not the same key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyDifference {
    pub name: String,
    /// What differs, in full.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Coverage {
    /// The vault compared with, as messages name it.
    pub vault: String,
    /// True when the backup holds every key of the vault, each the same, and nothing the vault lost.
    pub covered: bool,
    /// Keys in both.
    pub in_both: u32,
    /// In the vault, not in the backup: keys created after the backup (new VMs).
    pub missing_from_backup: Vec<Key>,
    /// In the backup, no longer in the vault (deleted VMs, or the wrong vault).
    pub not_in_vault: Vec<Key>,
    pub differing: Vec<KeyDifference>,
    /// Keys in both whose material was compared (fingerprints on both sides).
    pub material_compared: u32,
}

/// Compares the keys of `check` (a checked backup) with the AES and RSA keys of `vault`. Reads only.
pub fn compare(vault: &dyn Vault, check: &BackupCheck, events: &mut dyn Events) -> Result<Coverage> {
    let listed: Vec<Key> = vault.list()?.into_iter().filter(|k| KeyType::parse(&k.key_type).is_some()).collect();
    let in_backup: HashMap<&str, &crate::verify::KeyCheck> =
        check.keys.iter().filter(|k| !k.name.is_empty()).map(|k| (k.name.as_str(), k)).collect();
    let in_vault: HashMap<&str, &Key> = listed.iter().map(|k| (k.name.as_str(), k)).collect();
    let describe = vault.source().describe();
    let mut coverage = Coverage {
        vault: describe.clone(),
        covered: false,
        in_both: 0,
        missing_from_backup: Vec::new(),
        not_in_vault: Vec::new(),
        differing: Vec::new(),
        material_compared: 0,
    };
    for key in &listed {
        let Some(b) = in_backup.get(key.name.as_str()) else {
            events.warning(&format!(
                "Key {} ({} {}) is in {describe} but not in the backup {}: it was created after the backup (a new VM?). \
                 Take a new backup with Backup-TVMKeys.",
                key.name, key.key_type, key.size, check.path
            ));
            coverage.missing_from_backup.push(key.clone());
            continue;
        };
        coverage.in_both += 1;
        let reason = if !b.key_type.eq_ignore_ascii_case(&key.key_type) || b.size != key.size {
            Some(format!("the vault's key is {} {}, the backup's is {} {}", key.key_type, key.size, b.key_type, b.size))
        } else {
            match (&key.fingerprint, &b.fingerprint) {
                (Some(v), Some(f)) => {
                    coverage.material_compared += 1;
                    (v != f).then(|| format!("the vault's key ({v}) is not the key in the backup ({f}): it was replaced after the backup"))
                }
                _ => None,
            }
        };
        if let Some(reason) = reason {
            events.warning(&format!("Key {} differs between {describe} and the backup {}: {reason}. Take a new backup.", key.name, check.path));
            coverage.differing.push(KeyDifference { name: key.name.clone(), reason });
        }
    }
    for b in &check.keys {
        if !b.name.is_empty() && !in_vault.contains_key(b.name.as_str()) {
            events.warning(&format!(
                "Key {} ({} {}) is in the backup {} but no longer in {describe} (a VM removed since, or another vault).",
                b.name, b.key_type, b.size, check.path
            ));
            coverage.not_in_vault.push(Key { name: b.name.clone(), key_type: b.key_type.clone(), size: b.size, fingerprint: b.fingerprint.clone(), file: Some(b.file.clone()) });
        }
    }
    coverage.covered = coverage.missing_from_backup.is_empty() && coverage.not_in_vault.is_empty() && coverage.differing.is_empty();
    events.message(&format!(
        "Coverage of {} against {describe}: {} keys in both, {} missing from the backup, {} no longer in the vault, {} different.",
        check.path,
        coverage.in_both,
        coverage.missing_from_backup.len(),
        coverage.not_in_vault.len(),
        coverage.differing.len()
    ));
    Ok(coverage)
}
