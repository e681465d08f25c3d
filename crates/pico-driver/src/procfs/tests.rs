use super::*;
use crate::fd::FdEntry;

const PID: u32 = 4242;

fn table() -> FdTable {
    let fds = FdTable::default();
    let null = || FdEntry::new(std::fs::File::open("/dev/null").unwrap().into(), false);
    fds.insert_at(0, null()).unwrap();
    fds.insert_at(3, null()).unwrap();
    let mut proc_dir = null();
    proc_dir.origin = Some(Origin::Dir(Arc::from(&b"/proc"[..])));
    fds.insert_at(4, proc_dir).unwrap();
    fds
}

fn check(fds: &FdTable, dirfd: u64, path: &str, follow: bool) -> Result<Resolved, Errno> {
    let view = View {
        pid: PID,
        fds,
        exe: Path::new("/usr/bin/prog"),
        cwd: Some(b"/proc/4242"),
    };
    view.resolve(dirfd, path.as_bytes(), follow)
}

fn host_of(r: &Resolved) -> Option<&str> {
    r.host_path().map(|p| p.to_str().unwrap())
}

const CWD: u64 = AT_FDCWD as i64 as u64;

#[test]
fn other_paths_are_the_hosts() {
    let fds = table();
    for path in [
        "/etc/passwd",
        "relative",
        "/proc/1/maps",
        "/proc/cpuinfo",
        "/dev/null",
        "",
    ] {
        let r = check(&fds, 3, path, true).unwrap();
        assert!(r.host.is_none() && r.node.is_none(), "{path}: {r:?}");
    }
    let r = check(&fds, CWD, "/proc/self", false).unwrap();
    assert!(
        r.host.is_none() && r.node.is_none(),
        "lstat /proc/self is the host's link"
    );
    let r = check(&fds, CWD, "/dev/stdin", false).unwrap();
    assert!(
        r.host.is_none() && r.node.is_none(),
        "readlink /dev/stdin is the host's"
    );
}

#[test]
fn generated_files_under_every_spelling() {
    let fds = table();
    for path in [
        "/proc/self/maps",
        "/proc/4242/maps",
        "//proc/./self/../self/maps",
        "/proc/thread-self/maps",
        "/proc/self/task/4242/maps",
        "/dev/fd/../maps",
    ] {
        let r = check(&fds, CWD, path, true).unwrap();
        assert_eq!(r.node, Some(Node::Generated(Generated::Maps)), "{path}");
        assert!(r.host.is_none(), "{path}: metadata is the host's file");
    }
    let r = check(&fds, CWD, "/proc/self/maps", true).unwrap();
    assert_eq!(r.canonical, b"/proc/4242/maps");
    assert_eq!(
        check(&fds, CWD, "maps", true).unwrap().node,
        Some(Node::Generated(Generated::Maps)),
        "relative to the cwd"
    );
    assert_eq!(
        check(&fds, 4, "self/status", true).unwrap().node,
        Some(Node::Generated(Generated::Status)),
        "relative to a /proc descriptor"
    );
    assert!(check(&fds, CWD, "tmp/x", true).unwrap().node.is_none());
}

#[test]
fn descriptor_links() {
    let fds = table();
    let h3 = fds.host(3).unwrap();
    let r = check(&fds, CWD, "/dev/fd/3", true).unwrap();
    assert_eq!(host_of(&r), Some(format!("/proc/self/fd/{h3}").as_str()));
    assert_eq!(r.node, Some(Node::Fd(3)));
    let r = check(&fds, CWD, "/proc/self/fd/3", false).unwrap();
    assert_eq!(host_of(&r), Some(format!("/proc/self/fd/{h3}").as_str()));
    assert_eq!(r.node, Some(Node::FdLink(3)));
    let r = check(&fds, CWD, "/dev/fd/3/x/../y/", true).unwrap();
    assert_eq!(
        host_of(&r),
        Some(format!("/proc/self/fd/{h3}/x/../y/").as_str())
    );
    assert_eq!(r.node, None);
    let r = check(&fds, CWD, "/dev/stdin", true).unwrap();
    let h0 = fds.host(0).unwrap();
    assert_eq!(host_of(&r), Some(format!("/proc/self/fd/{h0}").as_str()));
    let r = check(&fds, CWD, "/proc/self/fdinfo/3", true).unwrap();
    assert_eq!(
        host_of(&r),
        Some(format!("/proc/self/fdinfo/{h3}").as_str())
    );
    assert_eq!(r.node, Some(Node::Generated(Generated::FdInfo(3))));
    for missing in [
        "/dev/fd/5",
        "/dev/fd/03",
        "/proc/self/fd/x",
        "/dev/stdout",
        "/proc/self/fd/99999999999",
    ] {
        assert_eq!(
            check(&fds, CWD, missing, true).unwrap_err(),
            Errno::ENOENT,
            "{missing}"
        );
    }
}

#[test]
fn exe_names_the_program() {
    let fds = table();
    let r = check(&fds, CWD, "/proc/self/exe", false).unwrap();
    assert_eq!(r.node, Some(Node::ExeLink));
    assert!(r.host.is_none(), "lstat: the host's link");
    let r = check(&fds, CWD, "/proc/self/exe", true).unwrap();
    assert_eq!(host_of(&r), Some("/usr/bin/prog"));
    let r = check(&fds, CWD, "/proc/self/exe/x", false).unwrap();
    assert_eq!(host_of(&r), Some("/usr/bin/prog/x"));
}

#[test]
fn directories() {
    let fds = table();
    let node = |path, follow| check(&fds, CWD, path, follow).unwrap().node;
    assert_eq!(
        node("/proc/self/fd", true),
        Some(Node::Listing(Listing::Fds))
    );
    assert_eq!(node("/dev/fd/", false), Some(Node::Listing(Listing::Fds)));
    assert_eq!(
        node("/proc/self/fdinfo", true),
        Some(Node::Listing(Listing::FdInfo))
    );
    assert_eq!(
        node("/proc/self/task", true),
        Some(Node::Listing(Listing::Tasks))
    );
    assert_eq!(node("/proc/thread-self/task", true), None);
    assert_eq!(node("/proc/self", true), Some(Node::Dir));
    assert_eq!(node("/proc", true), Some(Node::Dir));
    assert_eq!(node("/", true), Some(Node::Dir));
    let r = check(&fds, CWD, "/proc/self/", false).unwrap();
    assert_eq!(r.canonical, b"/proc/4242");
    assert!(r.dir_slash);
}

#[test]
fn refused_and_redirected() {
    let fds = table();
    let node = |path| check(&fds, CWD, path, true).unwrap().node;
    assert_eq!(node("/proc/self/mem"), Some(Node::Denied));
    assert_eq!(
        node("/proc/self/map_files/400000-401000"),
        Some(Node::Denied)
    );
    let r = check(&fds, CWD, "/proc/self/comm", true).unwrap();
    assert_eq!(host_of(&r), Some("/proc/thread-self/comm"));
    assert_eq!(r.node, None);
}
