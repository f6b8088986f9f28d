//! `Import-TVMKeys`: every key file of one backup (AES folder first, then RSA, ordinal name order)
//! imported into the vault, unwrapped there with the named wrapping key.
//!
//! Safe to re-run: a key the vault already holds is compared with the backup's (an RSA key by its public
//! half, an AES key by its material when the wrapping private key is given) and reported `Exists` when it is
//! the same, `Conflict` when it is not; it is replaced only under `-IfExists Replace`, after a backup of the
//! target vault. Each file is checked (name, size, JSON, base64url, the wrapping key it was made for) before
//! it reaches the vault, so a damaged file fails alone and never reaches MOC; the file itself is passed to
//! the vault unchanged. Everything that can refuse the restore is checked before the first write (the
//! pre-flight); with `-WhatIf` the plan is reported and nothing is written anywhere. The backup is read once,
//! by [`crate::reader`].
use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rsa::{RsaPrivateKey, RsaPublicKey};

use crate::api::restore::{KeyRestore, Outcome, RestoreResult};
use crate::api::Key;
use crate::error::{Error, ErrorCode, Result};
use crate::events::{Event, Events, Reply};
use crate::keyfile::KeyFile;
use crate::layout;
use crate::pem;
use crate::reader::{self, Entry};
use crate::vault::{ImportJob, KeySpec, KeyType, Vault};

/// The attestation root key: compared and reported on its own, never replaced silently.
pub const ROOT_KEY: &str = "AzureStackTvmAKRootKey";

/// What to do with a key of the restore that the vault already holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum IfExists {
    /// Leave it (`Exists` when it is the same key, `Conflict` when it is not).
    #[default]
    Skip,
    /// Refuse the whole restore before the first write, naming every such key.
    Fail,
    /// Remove it and import the backup's (after the target backup), unless it is the same key.
    Replace,
}

/// A backup of the target vault taken before the first write (the Managed HSM rule: a backup before any
/// restore).
#[derive(Debug, Clone)]
pub struct TargetBackup {
    pub root: PathBuf,
    /// `yyyyMMddHHmmss`, the caller's local time.
    pub timestamp: String,
    pub created_local: Option<String>,
}

/// How a restore runs beyond the original's three inputs. The default is the original's behaviour with
/// existing keys compared.
#[derive(Default)]
pub struct Options<'a> {
    pub if_exists: IfExists,
    /// Only these keys (wildcards `*` and `?`, case-insensitive); empty: every key of the backup.
    pub key_names: &'a [String],
    /// The wrapping private key, to compare existing AES keys by their material.
    pub private_key: Option<&'a RsaPrivateKey>,
    /// Replace a different `AzureStackTvmAKRootKey` (as `-IfExists Replace` would for it alone).
    pub replace_root_key: bool,
    /// Report the plan; write nothing anywhere.
    pub what_if: bool,
    /// `None`: no backup of the target first (`-SkipTargetBackup`).
    pub target_backup: Option<TargetBackup>,
    /// Remove the wrapping key from the vault when the restore is done (and nothing failed).
    pub remove_wrapping_key: bool,
    /// A damaged backup (any finding of Test-TVMKeyBackup) is refused as a whole unless this is set; then only
    /// the key files that are intact are restored, and each damaged one fails with its finding (`-Force`).
    pub restore_intact: bool,
    /// `-ThrottleLimit`: up to this many imports at a time where the vault can overlap them (0 and 1: one at a
    /// time, as the original). The pre-restore backup uses it too.
    pub throttle: u32,
}

/// `backup_path` is the resolved folder; `shown_path` is the same folder as the user typed it, which the
/// host messages show, as the original's did.
pub fn restore(vault: &dyn Vault, backup_path: &Path, shown_path: &Path, wrapping_key_name: &str, events: &mut dyn Events) -> Result<RestoreResult> {
    restore_with(vault, backup_path, shown_path, wrapping_key_name, &Options::default(), events)
}

/// How a key of the vault compares with the backup's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparison {
    Same,
    Different,
    NotCompared,
}

impl Comparison {
    fn as_str(self) -> &'static str {
        match self {
            Comparison::Same => "Same",
            Comparison::Different => "Different",
            Comparison::NotCompared => "NotCompared",
        }
    }
}

/// What the pre-flight decided for one key file.
enum Plan {
    Import,
    Replace(Comparison),
    Exists(Comparison, Option<String>),
    Conflict(String),
    Fail(KeyRestore),
}

struct Planned<'e> {
    entry: &'e Entry,
    key: Key,
    spec: Option<KeySpec>,
    plan: Plan,
}

pub fn restore_with(
    vault: &dyn Vault,
    backup_path: &Path,
    shown_path: &Path,
    wrapping_key_name: &str,
    options: &Options<'_>,
    events: &mut dyn Events,
) -> Result<RestoreResult> {
    layout::check_key_name(wrapping_key_name).map_err(|e| e.at_input("wrappingKeyName"))?;
    refuse_partial(backup_path)?;
    // The check reads every key file once; the restore parses those same bytes (what was checked is what is restored).
    let mut contents = crate::verify::Contents::default();
    let damage = check_backup(backup_path, shown_path, options.restore_intact, &mut contents, events)?;
    let all = reader::read_from(backup_path, Some(&contents))?;
    drop(contents);
    let entries = select(&all, options.key_names, backup_path)?;
    let existing: HashSet<String> = vault.names()?.into_iter().collect();
    let wrapping = check_wrapping_key(vault, &entries, &existing, wrapping_key_name, options.what_if, events)?;
    if let (Some(private), Some(public)) = (options.private_key, wrapping.as_ref()) {
        if RsaPublicKey::from(private) != *public {
            return Err(Error::for_input(
                ErrorCode::KeyPairMismatch,
                "privateKeyPath",
                format!(
                    "The private key given ({}) is not the private half of the vault's wrapping key '{wrapping_key_name}' ({}). Give the \
                     private key of the pair imported as '{wrapping_key_name}'.",
                    pem::fingerprint(&RsaPublicKey::from(private)),
                    pem::fingerprint(public)
                ),
            ));
        }
    }
    let target = Target { vault, wrapping_key_name, wrapping: wrapping.as_ref(), existing: &existing };

    // The pre-flight: every decision before the first write.
    let mut planned = Vec::with_capacity(entries.len());
    for entry in &entries {
        let mut one = plan_one(&target, entry, backup_path, shown_path, options)?;
        // A file Test-TVMKeyBackup finds damaged never reaches the vault, whatever its own checks said.
        if let Some(finding) = damage.get(&relative(entry)) {
            if !matches!(one.plan, Plan::Fail(_)) {
                let e = Error::new(ErrorCode::BackupDamaged, format!(
                    "Not imported: the backup is damaged at this file ({}): {} The intact keys were restored (-Force).",
                    finding.problem_name(), finding.message
                ));
                one.plan = Plan::Fail(failed(&one.key, e));
            }
        }
        planned.push(one);
    }
    if options.if_exists == IfExists::Fail {
        let present: Vec<&str> = planned
            .iter()
            .filter(|p| matches!(p.plan, Plan::Exists(..) | Plan::Conflict(_) | Plan::Replace(_)))
            // Every cluster holds an attestation root key: it fails the restore only when asked for by name.
            .filter(|p| p.key.name != ROOT_KEY || options.key_names.iter().any(|n| n.eq_ignore_ascii_case(ROOT_KEY)))
            .map(|p| p.key.name.as_str())
            .collect();
        if !present.is_empty() {
            return Err(Error::new(
                ErrorCode::KeysExist,
                format!(
                    "Nothing was imported: the vault already holds {} of the keys of this restore ({}), and -IfExists Fail was given. \
                     Run it with -IfExists Skip to leave them, or -IfExists Replace to replace them.",
                    present.len(),
                    present.join(", ")
                ),
            ));
        }
    }
    let writes = planned.iter().any(|p| matches!(p.plan, Plan::Import | Plan::Replace(_)));
    let mut result = RestoreResult { backup_path: backup_path.display().to_string(), ..RestoreResult::default() };
    events.message(&format!("Importing TVM  keys from {}", shown_path.display()));
    if writes {
        if let Some(t) = &options.target_backup {
            // A write of its own, asked like the keys' (-WhatIf shows it, -Confirm asks for it).
            let asked = Event::BackupPending { path: t.root.display().to_string(), action: "Back up the target vault before the restore".into() };
            match events.send(asked) {
                Reply::Proceed if !options.what_if => {
                    let path = back_up_target(vault, wrapping_key_name, wrapping.as_ref(), t, backup_path, options.throttle, events)?;
                    events.message(&format!("The target vault was backed up to {path} before the restore (a pre-restore backup)."));
                    result.target_backup = Some(path);
                }
                Reply::Proceed | Reply::Skip if options.what_if => {}
                Reply::Cancel => return Err(Error::Cancelled("Nothing was imported.".into())),
                _ => {
                    return Err(Error::Cancelled(
                        "The target vault was not backed up (declined), so nothing was imported. Run Import-TVMKeys with -SkipTargetBackup to \
                         restore without that backup."
                            .into(),
                    ))
                }
            }
        }
    }
    let total = planned.len() as u32;
    let throttle = options.throttle;
    let mut planned = planned.into_iter();
    let mut handled = 0u32;
    loop {
        // One batch: with a throttle above 1, the plain imports of the batch are asked for (ShouldProcess) in
        // order, then run together in the vault; every other plan is carried out at its turn. The keys are
        // reported in the backup's order either way.
        let chunk: Vec<Planned<'_>> = planned.by_ref().take(crate::vault::batch_size(throttle)).collect();
        if chunk.is_empty() {
            break;
        }
        let mut slots: Vec<Slot<'_>> = Vec::with_capacity(chunk.len());
        for (j, p) in chunk.into_iter().enumerate() {
            let i = handled + j as u32;
            if events.progress("Restoring TVM keys", i + 1, total) == Reply::Cancel {
                return Err(Error::Cancelled(format!(
                    "{handled} of {total} key files were handled; run Import-TVMKeys again to finish (keys already imported are reported as existing)."
                )));
            }
            if throttle > 1 && matches!(p.plan, Plan::Import) {
                announce(&p, backup_path, shown_path, events);
                slots.push(match ask_import(&p.key, events)? {
                    Some(done) => Slot::Done(done),
                    None => Slot::Import(p),
                });
            } else {
                slots.push(Slot::Done(carry_out(&target, p, backup_path, shown_path, events)?));
            }
        }
        let mut jobs = Vec::new();
        for slot in &slots {
            if let Slot::Import(p) = slot {
                let spec = p.spec.ok_or_else(|| Error::new(ErrorCode::InternalError, "A planned import has no key spec."))?;
                jobs.push(ImportJob { name: &p.key.name, spec, file: &p.entry.path, wrapping_key_name: Some(wrapping_key_name) });
            }
        }
        let mut imported = vault.import_many(&jobs, throttle).into_iter();
        for slot in slots {
            let done = match slot {
                Slot::Done(done) => done,
                Slot::Import(p) => {
                    let result = imported.next().ok_or_else(|| Error::new(ErrorCode::InternalError, "The vault gave fewer results than imports."))?;
                    import_outcome(&p.key, result, events)?
                }
            };
            handled += 1;
            crate::crash_point::reached(&format!("restore{handled}"));
            match done.outcome {
                Outcome::Imported => result.imported += 1,
                Outcome::Replaced => result.replaced += 1,
                Outcome::Exists => result.exists += 1,
                Outcome::Conflict => result.conflicts += 1,
                Outcome::Skipped => result.skipped += 1,
                Outcome::Failed => result.failed += 1,
            }
            events.send(Event::KeyRestored { restore: done });
        }
    }
    if options.remove_wrapping_key {
        remove_wrapping_key(vault, wrapping_key_name, &existing, &mut result, options.what_if, events)?;
    }
    events.message(&format!(
        "Restore of {}: {} imported, {} replaced, {} already there, {} in conflict, {} skipped, {} failed.",
        shown_path.display(),
        result.imported,
        result.replaced,
        result.exists,
        result.conflicts,
        result.skipped,
        result.failed
    ));
    Ok(result)
}

/// The entries `names` selects (wildcards, case-insensitive); names that match nothing are an error naming
/// them, before anything is written.
fn select<'e>(entries: &'e [Entry], names: &[String], backup_path: &Path) -> Result<Vec<&'e Entry>> {
    if names.is_empty() {
        return Ok(entries.iter().collect());
    }
    let mut unmatched = Vec::new();
    for pattern in names {
        if !entries.iter().any(|e| e.key_name().is_some_and(|n| wildcard_match(pattern, n))) {
            unmatched.push(pattern.as_str());
        }
    }
    if !unmatched.is_empty() {
        return Err(Error::for_input(
            ErrorCode::KeyNotInBackup,
            "keyNames",
            format!(
                "The backup '{}' holds no key named {}. Nothing was imported. Get-TVMKeyBackup and Test-TVMKeyBackup list the keys a backup holds.",
                backup_path.display(),
                unmatched.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    Ok(entries.iter().filter(|e| e.key_name().is_some_and(|n| names.iter().any(|p| wildcard_match(p, n)))).collect())
}

/// `*` and `?` wildcards, case-insensitive (ASCII), as PowerShell's `-like` for names.
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().map(|c| c.to_ascii_lowercase()).collect();
    let n: Vec<char> = name.chars().map(|c| c.to_ascii_lowercase()).collect();
    let (mut pi, mut ni, mut star, mut mark) = (0usize, 0usize, None::<usize>, 0usize);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            pi += 1;
            mark = ni;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// What every key of one restore is imported into.
struct Target<'a> {
    vault: &'a dyn Vault,
    wrapping_key_name: &'a str,
    /// The vault's wrapping public key, when the vault could tell it.
    wrapping: Option<&'a RsaPublicKey>,
    /// The names the vault held before the restore.
    existing: &'a HashSet<String>,
}

fn record(key: &Key, outcome: Outcome, message: Option<String>, error: Option<&Error>) -> KeyRestore {
    KeyRestore {
        name: key.name.clone(),
        key_type: key.key_type.clone(),
        size: key.size,
        outcome,
        message,
        file: key.file.clone().unwrap_or_default(),
        error: error.map(Error::info),
        comparison: None,
    }
}

fn failed(key: &Key, e: Error) -> KeyRestore {
    record(key, Outcome::Failed, Some(e.to_string()), Some(&e))
}

/// The pre-flight for one key file: refused, imported, compared with the vault's.
fn plan_one<'e>(target: &Target<'_>, entry: &'e Entry, backup_path: &Path, shown_path: &Path, options: &Options<'_>) -> Result<Planned<'e>> {
    let Target { vault, wrapping_key_name, wrapping, existing } = *target;
    let full = entry.path.display().to_string();
    let shown = shown_path.join(entry.path.strip_prefix(backup_path).unwrap_or(&entry.path)).display().to_string();
    let key_type = entry.key_type.as_str().to_string();
    let planned = |key: Key, spec: Option<KeySpec>, plan: Plan| Ok(Planned { entry, key, spec, plan });
    let (name, size) = match &entry.name {
        Ok(parsed) => parsed.clone(),
        Err(e) => {
            let key = Key { name: entry.file_name.clone(), key_type, size: 0, fingerprint: None, file: Some(full) };
            let fail = record(&key, Outcome::Failed, Some(e.to_string()), Some(e));
            return planned(key, None, Plan::Fail(fail));
        }
    };
    let folder = layout::folder_for(entry.key_type);
    let key = Key { name: name.clone(), key_type, size, fingerprint: None, file: Some(full) };
    let spec = match KeySpec::new(entry.key_type, size) {
        Ok(spec) => spec,
        Err(e) => {
            let fail = failed(&key, Error::new(ErrorCode::KeyFileNameInvalid, format!("'{}' in the {folder} folder: {e}", entry.file_name)));
            return planned(key, None, Plan::Fail(fail));
        }
    };
    if name == wrapping_key_name {
        let fail = failed(
            &key,
            Error::new(
                ErrorCode::KeyNamedLikeWrappingKey,
                format!(
                    "The backup holds a key named '{name}', the same name as the wrapping key; importing it can hang MOC. \
                     Import the wrapping key under another name and run Import-TVMKeys again."
                ),
            ),
        );
        return planned(key, Some(spec), Plan::Fail(fail));
    }
    let key_file = match &entry.content {
        Ok(file) => file,
        Err(e) => {
            let fail = record(&key, Outcome::Failed, Some(e.to_string()), Some(e));
            return planned(key, Some(spec), Plan::Fail(fail));
        }
    };
    // Backup-TVMKeys and the original's export always wrap: a key file in clear was put in the backup by something
    // else, and importing it would put unknown material into the vault under a VM's name.
    if key_file.enc == crate::keyfile::Enc::NoKeyWrap {
        let fail = failed(
            &key,
            Error::new(
                ErrorCode::KeyFileInvalid,
                format!(
                    "'{shown}' holds its key unwrapped (NO_KEY_WRAP): plaintext key material, which no backup holds. It was not \
                     imported. Delete it securely, check the backup with Test-TVMKeyBackup, and restore from a backup that \
                     Backup-TVMKeys wrote."
                ),
            ),
        );
        return planned(key, Some(spec), Plan::Fail(fail));
    }
    if existing.contains(&name) {
        let comparison = compare_existing(vault, &name, spec, key_file, wrapping, options.private_key)?;
        // The attestation root key is replaced only when asked for by name: every cluster has its own, and on a new
        // cluster the right one is the cluster's (the documented steps delete it only to restore the same instance).
        let replace = if name == ROOT_KEY {
            options.replace_root_key
                || (options.if_exists == IfExists::Replace && options.key_names.iter().any(|n| n.eq_ignore_ascii_case(ROOT_KEY)))
        } else {
            options.if_exists == IfExists::Replace
        };
        let plan = match comparison {
            Comparison::Same => Plan::Exists(Comparison::Same, None),
            _ if replace => Plan::Replace(comparison),
            Comparison::Different if name == ROOT_KEY => Plan::Exists(Comparison::Different, Some(root_key_text(&shown))),
            Comparison::Different => Plan::Conflict(conflict_text(&name, &shown)),
            Comparison::NotCompared => Plan::Exists(
                Comparison::NotCompared,
                Some(format!(
                    "It was not compared with the backup's (an AES key is compared by its material only when the wrapping private key is \
                     given: -PrivateKeyPath)."
                )),
            ),
        };
        return planned(key, Some(spec), plan);
    }
    if let (Some(vault_key), Some(file_key)) = (wrapping, pem::public_key_from_der(&key_file.wrapping_public_key)) {
        if *vault_key != file_key {
            let fail = failed(
                &key,
                Error::new(
                    ErrorCode::KeyFileWrappingKeyMismatch,
                    format!(
                        "'{shown}' was wrapped for the key {}, not for the vault's wrapping key '{wrapping_key_name}' ({}).",
                        pem::fingerprint(&file_key),
                        pem::fingerprint(vault_key)
                    ),
                ),
            );
            return planned(key, Some(spec), Plan::Fail(fail));
        }
    }
    planned(key, Some(spec), Plan::Import)
}

fn conflict_text(name: &str, shown: &str) -> String {
    format!(
        "The vault's key {name} is not the key in the backup ('{shown}'): it was left as it is, and the VM it belongs to will not \
         start with the backup's key until it is replaced. Check which one is right; to take the backup's, run Import-TVMKeys \
         again with -IfExists Replace -KeyName {name} (the vault is backed up first)."
    )
}

/// The attestation root key differs: expected on a new cluster (it has its own), a decision on the same instance.
fn root_key_text(shown: &str) -> String {
    format!(
        "The vault's {ROOT_KEY} is not the one in the backup ('{shown}'); it was left as it is. On a new cluster that is right: \
         it has its own. If this is the cluster the backup was made from (a restore to the same instance), replace it: run \
         Import-TVMKeys again with -ReplaceAttestationRootKey."
    )
}

/// Whether the vault's key `name` is the backup's: an RSA key by its public half; an AES key by its material,
/// exported from the vault wrapped to the wrapping key and unwrapped here with `private_key` beside the
/// backup's (both wiped on return).
fn compare_existing(
    vault: &dyn Vault,
    name: &str,
    spec: KeySpec,
    file: &KeyFile,
    wrapping: Option<&RsaPublicKey>,
    private_key: Option<&RsaPrivateKey>,
) -> Result<Comparison> {
    match spec.key_type {
        KeyType::Rsa => match vault.public_key(name) {
            Ok(der) => {
                let vault_key = pem::public_key_from_der(&der);
                let file_key = pem::public_key_from_der(&file.public_key);
                Ok(match (vault_key, file_key) {
                    (Some(v), Some(f)) if v == f => Comparison::Same,
                    (Some(_), Some(_)) => Comparison::Different,
                    _ => Comparison::NotCompared,
                })
            }
            Err(e @ Error::Cancelled(_)) => Err(e),
            Err(Error::Problem { code: ErrorCode::VaultUnsupported, .. }) => Ok(Comparison::NotCompared),
            Err(e) => Err(e),
        },
        KeyType::Aes => {
            let (Some(private), Some(wrapping)) = (private_key, wrapping) else { return Ok(Comparison::NotCompared) };
            let theirs = crate::keywrap::unwrap_any(private, &file.private_key)?.0;
            let dir = tempfile::tempdir().map_err(|e| Error::io("create a temporary folder in", &std::env::temp_dir(), e))?;
            let pem_path = dir.path().join("wrapping.pem");
            write_public_pem(&pem_path, wrapping)?;
            let out = dir.path().join("export.json");
            vault.export(name, spec, &pem_path, None, &out)?;
            let bytes = zeroize::Zeroizing::new(std::fs::read(&out).map_err(|e| Error::io("read", &out, e))?);
            let exported = KeyFile::parse(&bytes, &format!("The vault's export of {name}"))?;
            let ours = crate::keywrap::unwrap_any(private, &exported.private_key)?.0;
            Ok(if *ours == *theirs { Comparison::Same } else { Comparison::Different })
        }
    }
}

/// A public key as a PKCS#1 PEM file, for the vault's export (which reads a file).
fn write_public_pem(path: &Path, key: &RsaPublicKey) -> Result<()> {
    use rsa::pkcs1::EncodeRsaPublicKey;
    let text = key
        .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
        .map_err(|e| Error::new(ErrorCode::CryptoFailed, format!("The wrapping public key could not be written as PEM: {e}.")))?;
    std::fs::write(path, text.as_bytes()).map_err(|e| Error::io("write", path, e))
}

/// Carries out one planned key: imports, replaces, or reports.
/// A key of a batch: carried out already, or an import the vault runs with the others of its batch.
enum Slot<'e> {
    Done(KeyRestore),
    Import(Planned<'e>),
}

/// The original's line for every key file whose name it could read, before the outcome.
fn announce(p: &Planned<'_>, backup_path: &Path, shown_path: &Path, events: &mut dyn Events) {
    if p.entry.name.is_ok() {
        let shown = shown_path.join(p.entry.path.strip_prefix(backup_path).unwrap_or(&p.entry.path));
        let folder = layout::folder_for(p.entry.key_type);
        events.message(&format!("Importing key {} with size {} from {folder} folder path = {}", p.key.name, p.key.size, shown.display()));
    }
}

/// Asks before an import (ShouldProcess): `None` to go on, or the key's outcome when declined (`-WhatIf`).
fn ask_import(key: &Key, events: &mut dyn Events) -> Result<Option<KeyRestore>> {
    match events.key_pending(key, "Import key into the vault") {
        Reply::Proceed => Ok(None),
        Reply::Skip => Ok(Some(record(key, Outcome::Skipped, Some("Not imported (-WhatIf or declined).".into()), None))),
        Reply::Cancel => Err(Error::Cancelled("Run Import-TVMKeys again to finish.".into())),
    }
}

/// What the vault's answer to an import means for the key; a stop (Ctrl+C) ends the restore.
fn import_outcome(key: &Key, imported: Result<()>, events: &mut dyn Events) -> Result<KeyRestore> {
    match imported {
        Ok(()) => Ok(record(key, Outcome::Imported, None, None)),
        Err(Error::KeyExists { .. }) => Ok(exists(events, key, None)),
        Err(e @ Error::Cancelled(_)) => Err(e),
        Err(e) => Ok(failed(key, e)),
    }
}

fn carry_out(target: &Target<'_>, p: Planned<'_>, backup_path: &Path, shown_path: &Path, events: &mut dyn Events) -> Result<KeyRestore> {
    let Target { vault, wrapping_key_name, .. } = *target;
    announce(&p, backup_path, shown_path, events);
    let key = &p.key;
    match p.plan {
        Plan::Fail(done) => Ok(done),
        Plan::Exists(Comparison::Different, Some(text)) => {
            // The attestation root key: said as a warning, not an error (on a new cluster it is as it should be).
            events.warning(&text);
            let mut done = record(key, Outcome::Exists, Some(text), None);
            done.comparison = Some(Comparison::Different.as_str().into());
            Ok(done)
        }
        Plan::Exists(comparison, hint) => {
            let mut done = exists(events, key, hint);
            done.comparison = Some(comparison.as_str().into());
            Ok(done)
        }
        Plan::Conflict(text) => {
            events.warning(&text);
            let error = Error::new(ErrorCode::KeyConflict, text.clone());
            let mut done = record(key, Outcome::Conflict, Some(text), Some(&error));
            done.comparison = Some(Comparison::Different.as_str().into());
            Ok(done)
        }
        Plan::Import => {
            let spec = p.spec.ok_or_else(|| Error::new(ErrorCode::InternalError, "A planned import has no key spec."))?;
            if let Some(declined) = ask_import(key, events)? {
                return Ok(declined);
            }
            import_outcome(key, vault.import(&key.name, spec, &p.entry.path, Some(wrapping_key_name)), events)
        }
        Plan::Replace(comparison) => {
            let spec = p.spec.ok_or_else(|| Error::new(ErrorCode::InternalError, "A planned replacement has no key spec."))?;
            match events.key_pending(key, "Replace key in the vault") {
                Reply::Proceed => {}
                Reply::Skip => {
                    let mut done = record(key, Outcome::Skipped, Some("Not replaced (-WhatIf or declined).".into()), None);
                    done.comparison = Some(comparison.as_str().into());
                    return Ok(done);
                }
                Reply::Cancel => return Err(Error::Cancelled("Run Import-TVMKeys again to finish.".into())),
            }
            if let Err(e) = vault.delete(&key.name) {
                if matches!(e, Error::Cancelled(_)) {
                    return Err(e);
                }
                return Ok(failed(key, e));
            }
            let mut done = match vault.import(&key.name, spec, &p.entry.path, Some(wrapping_key_name)) {
                Ok(()) => record(key, Outcome::Replaced, Some("The vault's key was removed and the backup's imported.".into()), None),
                Err(e @ Error::Cancelled(_)) => return Err(e),
                Err(e) => failed(
                    key,
                    Error::new(
                        e.code(),
                        format!(
                            "The vault's key {} was removed, but the backup's could not be imported: {e} The pre-restore backup holds the \
                             removed key; run Import-TVMKeys again, or restore the pre-restore backup.",
                            key.name
                        ),
                    ),
                ),
            };
            done.comparison = Some(comparison.as_str().into());
            Ok(done)
        }
    }
}

/// The target vault, backed up before the first write: every key but the wrapping key, wrapped to the
/// wrapping key (whose private half the person restoring holds). Returns the backup's path.
fn back_up_target(
    vault: &dyn Vault,
    wrapping_key_name: &str,
    wrapping: Option<&RsaPublicKey>,
    target: &TargetBackup,
    restored: &Path,
    throttle: u32,
    events: &mut dyn Events,
) -> Result<String> {
    let refuse = |why: String| {
        Error::new(
            ErrorCode::TargetBackupFailed,
            format!("Nothing was imported: the target vault could not be backed up first ({why}). Fix that, or run Import-TVMKeys with -SkipTargetBackup."),
        )
    };
    let wrapping = match wrapping {
        Some(k) => k.clone(),
        None => pem::public_key_from_der(&vault.public_key(wrapping_key_name).map_err(|e| refuse(e.to_string()))?)
            .ok_or_else(|| refuse(format!("the public key of the wrapping key '{wrapping_key_name}' could not be read")))?,
    };
    let dir = tempfile::tempdir().map_err(|e| refuse(e.to_string()))?;
    let pem_path = dir.path().join("wrapping.pem");
    write_public_pem(&pem_path, &wrapping).map_err(|e| refuse(e.to_string()))?;
    // Short, whatever the paths: a label is one line of at most 256 characters.
    let restored_name: String = restored.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default().chars().take(64).collect();
    let label = format!("pre-restore backup of the target vault before restoring {restored_name}");
    let details = crate::backup::Details {
        label: Some(&label),
        created_local: target.created_local.as_deref(),
        exclude: &[wrapping_key_name],
        purpose: Some(crate::manifest::PURPOSE_PRE_RESTORE),
        key_names: &[],
        wrapping_key_name: None,
        throttle,
    };
    // The restored backup may have been taken this very second in the same root: the next free second then.
    let mut timestamp = target.timestamp.clone();
    for _ in 0..120 {
        let taken = target.root.join(&timestamp).exists() || layout::partial_folder(&target.root, &timestamp).exists();
        if !taken {
            break;
        }
        timestamp = crate::inventory::timestamp_after(&timestamp, 1).ok_or_else(|| refuse(format!("the timestamp '{timestamp}' is not valid")))?;
    }
    let mut quiet = Quiet { inner: events };
    crate::backup::backup_with(vault, &pem_path, &target.root, &target.root, &timestamp, details, &mut quiet)
        .map(|b| b.path)
        .map_err(|e| refuse(e.to_string()))
}

/// The pre-restore backup's own host lines go to verbose; its warnings stay warnings; its progress is not
/// shown (the restore's bar follows).
struct Quiet<'a> {
    inner: &'a mut dyn Events,
}

impl Events for Quiet<'_> {
    fn send(&mut self, event: Event) -> Reply {
        match event {
            Event::Message { text } => self.inner.send(Event::Verbose { text }),
            Event::Progress { .. } => Reply::Proceed,
            other => self.inner.send(other),
        }
    }
}

/// `-RemoveWrappingKey`: the wrapping key leaves the vault when the restore is done, as the documented steps
/// require; not after a failure (a re-run needs it), and only with the caller's consent (`keyPending`).
fn remove_wrapping_key(
    vault: &dyn Vault,
    name: &str,
    existing: &HashSet<String>,
    result: &mut RestoreResult,
    what_if: bool,
    events: &mut dyn Events,
) -> Result<()> {
    if result.failed > 0 || result.conflicts > 0 {
        events.warning(&format!(
            "The wrapping key {name} was left in the vault: {} key(s) failed or are in conflict, and a new run of Import-TVMKeys needs it. \
             Remove it with Remove-TvmWrappingKey when the restore is complete.",
            result.failed + result.conflicts
        ));
        return Ok(());
    }
    if !existing.contains(name) {
        if !what_if {
            events.message(&format!("The wrapping key {name} is not in the vault; there is nothing to remove."));
        }
        return Ok(());
    }
    let size = vault.list().ok().and_then(|keys| keys.into_iter().find(|k| k.name == name)).map(|k| k.size).unwrap_or(0);
    let key = Key { name: name.into(), key_type: "RSA".into(), size, fingerprint: None, file: None };
    match events.key_pending(&key, "Remove the wrapping key from the vault") {
        Reply::Proceed => {}
        Reply::Skip => return Ok(()),
        Reply::Cancel => return Err(Error::Cancelled("The keys were restored; the wrapping key is still in the vault.".into())),
    }
    vault.delete(name)?;
    result.wrapping_key_removed = true;
    events.message(&format!("The wrapping key {name} was removed from the vault."));
    Ok(())
}

/// Before the first write: the wrapping key must be in the vault whenever a key is to be imported, and
/// if the key files say which public key wrapped them, at least one must name the vault's key; else
/// nothing in the backup can be restored, and the user hears why once, not once per key. With `what_if`,
/// a missing wrapping key is said, not refused: the plan is still shown.
/// Returns the vault's wrapping public key for the per-file check, when the vault can tell it.
fn check_wrapping_key(
    vault: &dyn Vault,
    entries: &[&Entry],
    existing: &HashSet<String>,
    wrapping_key_name: &str,
    what_if: bool,
    events: &mut dyn Events,
) -> Result<Option<RsaPublicKey>> {
    let pending: Vec<&Entry> = entries
        .iter()
        .copied()
        .filter(|e| matches!(e.key_name(), Some(name) if !existing.contains(name) && name != wrapping_key_name))
        .collect();
    if !existing.contains(wrapping_key_name) {
        if pending.is_empty() {
            return Ok(None);
        }
        if what_if {
            events.warning(&format!(
                "The wrapping key '{wrapping_key_name}' is not in the vault yet: import it with Import-TvmWrappingKeyFromPem before the \
                 restore. The plan below assumes it will be."
            ));
            return Ok(None);
        }
        return Err(Error::WrappingKeyMissing { name: wrapping_key_name.into() });
    }
    let vault_key = match vault.public_key(wrapping_key_name) {
        Ok(der) => pem::public_key_from_der(&der),
        Err(e) => {
            events.warning(&format!(
                "The public key of the wrapping key '{wrapping_key_name}' could not be read to check it against the backup ({e}). \
                 The vault checks each key as it imports it."
            ));
            None
        }
    };
    let Some(vault_key) = vault_key else { return Ok(None) };
    if pending.is_empty() {
        return Ok(Some(vault_key));
    }
    let file_keys: Vec<RsaPublicKey> = pending
        .iter()
        .filter_map(|e| e.content.as_ref().ok())
        .filter_map(|f| pem::public_key_from_der(&f.wrapping_public_key))
        .collect();
    if let Some(first) = file_keys.first() {
        if !file_keys.contains(&vault_key) {
            return Err(Error::new(
                ErrorCode::WrappingKeyMismatch,
                format!(
                    "The backup was wrapped with the key {}, but the vault's wrapping key '{wrapping_key_name}' is the key {}. \
                     Import the key pair whose public key was given to Backup-TVMKeys (under a new key name) and give that name.",
                    pem::fingerprint(first),
                    pem::fingerprint(&vault_key)
                ),
            ));
        }
    }
    Ok(Some(vault_key))
}

/// A key file's place in its backup as Test-TVMKeyBackup names it (`AES/vm1_256.json`).
fn relative(entry: &Entry) -> String {
    format!("{}/{}", layout::folder_for(entry.key_type), entry.file_name)
}

/// The findings on key files of a damaged backup that `-Force` restores anyway, by file.
type Damage = std::collections::HashMap<String, crate::verify::Finding>;

/// At most this many findings are named in the refusal; Test-TVMKeyBackup lists them all.
const FINDINGS_NAMED: usize = 10;

/// The backup judged as Test-TVMKeyBackup judges it (the full check: the manifest, every file's bytes, name
/// and content), before anything else. A damaged backup is refused as a whole, naming its findings, unless
/// `restore_intact`: then every finding is a warning and the damaged key files are returned, to fail alone.
/// A backup without a manifest (the original script's) cannot show a missing or swapped file; a missing AES or
/// RSA half is said in a warning, since only the other half can then be restored.
fn check_backup(backup_path: &Path, shown_path: &Path, restore_intact: bool, contents: &mut crate::verify::Contents, events: &mut dyn Events) -> Result<Damage> {
    use crate::verify::{self, Against, Depth, Status};
    let checked = verify::check_keeping(backup_path, Depth::Full, &Against::default(), &mut crate::events::NoEvents, Some(contents))?;
    if !checked.has_manifest {
        for key_type in [KeyType::Aes, KeyType::Rsa] {
            let folder = layout::folder_for(key_type);
            if !backup_path.join(folder).is_dir() {
                events.warning(&format!(
                    "The backup {} has no {folder} folder and no manifest to tell whether it ever had one: only its {} keys can be \
                     restored. If the VMs need {folder} keys, restore a complete backup (Get-TVMKeyBackup lists them).",
                    shown_path.display(),
                    layout::folder_for(if key_type == KeyType::Aes { KeyType::Rsa } else { KeyType::Aes })
                ));
            }
        }
    }
    // Not a backup at all: the reader says so, with its hint (the backup root given instead of a backup).
    if checked.status != Status::Damaged || checked.findings.iter().any(|f| f.problem == verify::Problem::NotABackup) {
        return Ok(Damage::new());
    }
    let named: Vec<String> = checked
        .findings
        .iter()
        .take(FINDINGS_NAMED)
        .map(|f| format!("{}: {}", if f.file.is_empty() { "the backup folder" } else { f.file.as_str() }, f.message))
        .collect();
    let more = checked.findings.len().saturating_sub(FINDINGS_NAMED);
    if !restore_intact {
        return Err(Error::new(
            ErrorCode::BackupDamaged,
            format!(
                "Nothing was imported: the backup {} is damaged ({} finding{}). {}{} Restore another backup (Get-TVMKeyBackup lists them; \
                 Test-TVMKeyBackup checks one), or run Import-TVMKeys again with -Force to restore only the key files that are intact.",
                shown_path.display(),
                checked.findings.len(),
                if checked.findings.len() == 1 { "" } else { "s" },
                named.join(" "),
                if more > 0 { format!(" And {more} more: Test-TVMKeyBackup lists them all.") } else { String::new() }
            ),
        ));
    }
    let mut damage = Damage::new();
    for f in &checked.findings {
        let whom = if f.file.is_empty() { "the backup folder" } else { f.file.as_str() };
        events.warning(&format!("The backup {} is damaged at {whom}: {} Only intact key files are restored (-Force).", shown_path.display(), f.message));
        damage.entry(f.file.clone()).or_insert_with(|| f.clone());
    }
    Ok(damage)
}

/// A hidden `.<timestamp>.partial` folder is a backup whose writer never finished (stopped, killed, or failed
/// on a key): it may lack keys, and restoring it would look like a complete restore.
fn refuse_partial(backup_path: &Path) -> Result<()> {
    let name = backup_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    match layout::partial_timestamp(&name) {
        None => Ok(()),
        Some(timestamp) => Err(Error::for_input(
            ErrorCode::BackupIncomplete,
            "backupPath",
            format!(
                "'{}' is an unfinished backup: Backup-TVMKeys writes each backup in a hidden .<timestamp>.partial folder and \
                 renames it to its timestamp only when every key is in it, and the run of {timestamp} never got there (it was \
                 stopped or failed), so this folder may lack keys. Restore a complete backup instead: a folder named \
                 yyyyMMddHHmmss in the same backup root.",
                backup_path.display()
            ),
        )),
    }
}

/// The original's warning, word for word; a hint (why the key was not compared) follows it in the object's
/// message and as a verbose line, so transcripts of re-runs read as before.
fn exists(events: &mut dyn Events, key: &Key, hint: Option<String>) -> KeyRestore {
    let text = format!("Key {} already exists in the vault; it was left as it is and not imported.", key.name);
    events.warning(&text);
    let message = match hint {
        Some(hint) => {
            events.verbose(&format!("Key {}: {hint}", key.name));
            format!("{text} {hint}")
        }
        None => text,
    };
    record(key, Outcome::Exists, Some(message), None)
}

#[cfg(test)]
mod tests {
    use super::wildcard_match;

    #[test]
    fn wildcards_match_as_like_does() {
        assert!(wildcard_match("vm*", "VM1"));
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("a?c", "abc"));
        assert!(wildcard_match("*b*", "abc"));
        assert!(!wildcard_match("a?c", "ac"));
        assert!(!wildcard_match("vm", "vm1"));
        assert!(wildcard_match("0F8C3A52-*", "0f8c3a52-7d4e-4b1a-9c2e-5a6b7c8d9e01"));
    }
}
