//! Finding and killing a process's descendants. The supervisor is a child
//! subreaper, so every process its program ever forks stays its descendant
//! (an orphan is re-parented to it, not to init) until reaped: walking the
//! parent links in `/proc` from it finds the whole tree.

use std::collections::HashMap;

/// Every live descendant of `root` (zombies included), parents first.
pub fn descendants(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    for entry in dir.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        if let Some(ppid) = std::fs::read(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| parent(&stat))
        {
            children.entry(ppid).or_default().push(pid);
        }
    }
    let mut found = Vec::new();
    let mut next = vec![root];
    while let Some(pid) = next.pop() {
        for &child in children.get(&pid).map(Vec::as_slice).unwrap_or_default() {
            found.push(child);
            next.push(child);
        }
    }
    found
}

/// Field 4 (ppid) of a `/proc/PID/stat` line, counted after the last `)`
/// of the command name.
fn parent(stat: &[u8]) -> Option<u32> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(stat.get(close + 1..)?).ok()?;
    rest.split_ascii_whitespace().nth(1)?.parse().ok()
}

/// Sends SIGKILL to every descendant of `root`; returns how many there were.
pub fn kill_descendants(root: u32) -> usize {
    let all = descendants(root);
    for &pid in &all {
        let _ = crate::os::kill(pid, libc::SIGKILL);
    }
    all.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_is_field_four() {
        assert_eq!(parent(b"77 (a) b) S 12 77 77 0"), Some(12));
        assert_eq!(parent(b"nonsense"), None);
    }

    #[test]
    fn finds_a_child_and_its_child() {
        let mut sh = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & wait"])
            .spawn()
            .unwrap();
        // The grandchild appears once the shell has forked it.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let below_sh = loop {
            let found = descendants(sh.id());
            if !found.is_empty() || std::time::Instant::now() > deadline {
                break found;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        assert!(descendants(std::process::id()).contains(&sh.id()));
        assert_eq!(below_sh.len(), 1, "{below_sh:?}");
        assert_eq!(kill_descendants(sh.id()), 1);
        let _ = sh.kill();
        let _ = sh.wait();
    }
}
