//! What the engine tells its caller while it works. The C ABI forwards these to a callback; PowerShell
//! turns them into host messages, warnings, progress, `ShouldProcess` questions and output objects.
use crate::error::Error;

/// The caller's answer to an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    Proceed,
    /// Leave this key alone (`-WhatIf`, or `No` at a `-Confirm` prompt).
    Skip,
    /// Stop between keys (Ctrl+C).
    Cancel,
}

/// What happened to one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Exported,
    Imported,
    /// The vault already held a key of that name; nothing was written.
    Exists,
    Skipped,
    Failed,
}

/// One key as an operation handles it.
#[derive(Debug, Clone)]
pub struct KeyEvent<'a> {
    pub name: &'a str,
    pub key_type: &'a str,
    pub size: u32,
    /// The key file written or read.
    pub file: &'a str,
}

pub trait Events {
    /// A line the original script wrote with `Write-Host`, word for word.
    fn message(&mut self, text: &str);
    fn warning(&mut self, text: &str);
    /// `current` of `total` (1-based) is about to be handled; `Cancel` stops before it.
    fn progress(&mut self, activity: &str, current: u32, total: u32) -> Reply;
    /// Asked before a key is written to a vault.
    fn key_pending(&mut self, key: &KeyEvent<'_>, action: &str) -> Reply;
    fn key_done(&mut self, key: &KeyEvent<'_>, outcome: Outcome, error: Option<&Error>, message: &str);
}

/// Events dropped; every question answered `Proceed`. For callers that want only the result.
pub struct NoEvents;

impl Events for NoEvents {
    fn message(&mut self, _: &str) {}
    fn warning(&mut self, _: &str) {}
    fn progress(&mut self, _: &str, _: u32, _: u32) -> Reply {
        Reply::Proceed
    }
    fn key_pending(&mut self, _: &KeyEvent<'_>, _: &str) -> Reply {
        Reply::Proceed
    }
    fn key_done(&mut self, _: &KeyEvent<'_>, _: Outcome, _: Option<&Error>, _: &str) {}
}
