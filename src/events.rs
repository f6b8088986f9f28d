//! What the engine tells its caller while it works: named records, sent on the calling thread. The C ABI
//! sends each as JSON (`{"event":"progress",...}`) to the caller's sink; PowerShell turns them into host
//! messages, warnings, progress bars, `ShouldProcess` questions and output objects. See `docs/abi.md`.
use serde::{Deserialize, Serialize};

use crate::api::restore::KeyRestore;
use crate::api::Key;

/// The caller's answer to an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Reply {
    Proceed,
    /// Leave this key alone (`-WhatIf`, or `No` at a `-Confirm` prompt).
    Skip,
    /// Stop between keys (Ctrl+C).
    Cancel,
}

/// One event. The tag `event` names it; every other field belongs to that kind alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "camelCase", rename_all_fields = "camelCase", deny_unknown_fields)]
pub enum Event {
    /// A line the original script wrote with `Write-Host`, word for word.
    Message { text: String },
    Warning { text: String },
    /// Detail for `-Verbose`.
    Verbose { text: String },
    /// Item `current` of `total` (1-based) is about to be handled. A `cancel` reply stops before it.
    Progress { activity: String, current: u32, total: u32 },
    /// A key is about to be written to a vault; `action` says how. `proceed`, `skip` or `cancel`.
    KeyPending { key: Key, action: String },
    /// One key of a restore was handled; the record is the command's output object for that key.
    KeyRestored { restore: KeyRestore },
    /// A backup folder is about to be removed; `action` says which. `proceed`, `skip` or `cancel`.
    BackupPending { path: String, action: String },
}

pub trait Events {
    fn send(&mut self, event: Event) -> Reply;

    fn message(&mut self, text: &str) {
        self.send(Event::Message { text: text.into() });
    }
    fn warning(&mut self, text: &str) {
        self.send(Event::Warning { text: text.into() });
    }
    fn verbose(&mut self, text: &str) {
        self.send(Event::Verbose { text: text.into() });
    }
    fn progress(&mut self, activity: &str, current: u32, total: u32) -> Reply {
        self.send(Event::Progress { activity: activity.into(), current, total })
    }
    fn key_pending(&mut self, key: &Key, action: &str) -> Reply {
        self.send(Event::KeyPending { key: key.clone(), action: action.into() })
    }
}

/// Events dropped; every question answered `Proceed`. For callers that want only the result.
pub struct NoEvents;

impl Events for NoEvents {
    fn send(&mut self, _: Event) -> Reply {
        Reply::Proceed
    }
}
