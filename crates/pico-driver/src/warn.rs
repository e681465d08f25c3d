//! Warnings a guest can trigger, printed once per kind: a program that
//! calls an unsupported option in a loop must not flood the log.

use std::collections::HashSet;
use std::sync::Mutex;

/// Logs `message` at warn level the first time `key` is seen.
pub fn once(key: &str, message: impl std::fmt::Display) {
    static SEEN: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let mut seen = SEEN.lock().unwrap_or_else(|p| p.into_inner());
    if seen
        .get_or_insert_with(HashSet::new)
        .insert(key.to_string())
    {
        log::warn!("{message}");
    }
}
