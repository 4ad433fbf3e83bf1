//! Static reachability on real binaries: a C program with a branch its run does not take reaches the syscalls
//! of that branch (through libc's wrappers, libc's `syscall()` and its own `syscall` instruction), and they show
//! as reachable, never observed; what the run made does not.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use trapline::reach::{self, Gaps};
use trapline::trace::model::Trace;

use common::*;

const PROGRAM: &str = r#"
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "net") == 0) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        listen(fd, 1);
        syscall(SYS_getppid);
        long r;
        __asm__ volatile("syscall" : "=a"(r) : "a"((long)SYS_getpgrp) : "rcx", "r11", "memory");
        return fd < 0 || r < 0;
    }
    return 0;
}
"#;

fn gaps_of(exe: &Path, cache: &Path) -> Gaps {
    let recorded = record(&[exe.to_str().unwrap()]);
    assert_eq!(recorded.code(), 0, "{}", recorded.out.stderr_str());
    let trace: Trace = serde_json::from_value(recorded.trace.clone()).unwrap();
    let gaps = reach::unobserved(&[(PathBuf::from("trace.json"), trace)], Some(cache));
    let exe = fs::canonicalize(exe).unwrap();
    gaps.into_iter().find(|g| Path::new(&g.binary) == exe).expect("the executable is among the binaries")
}

#[test]
fn a_branch_the_run_did_not_take_is_reachable_never_observed() {
    let exe = program("reach_branch", PROGRAM);
    let cache = TempDir::new("reach-cache");
    let gaps = gaps_of(&exe, cache.path());
    assert!(gaps.unreadable.is_none(), "{:?}", gaps.unreadable);
    let unobserved: Vec<(&str, String)> =
        gaps.unobserved.iter().map(|(syscall, how)| (syscall.as_str(), how.join(", "))).collect();
    for (syscall, how) in
        [("socket", "socket()"), ("listen", "listen()"), ("getppid", "syscall()"), ("getpgrp", "syscall instruction")]
    {
        assert!(
            unobserved.iter().any(|(s, h)| *s == syscall && h.contains(how)),
            "{syscall} via {how}: {unobserved:?}"
        );
    }
    // What the run made is no gap; a small program is specific, not broad.
    assert!(!unobserved.iter().any(|(s, _)| *s == "exit_group" || *s == "execve"), "{unobserved:?}");
    assert!(!gaps.broad(), "{} reachable", gaps.reachable);

    // The second look comes from the cache, one entry per build-id (the program, libc, the loader), and says
    // the same.
    let entries: Vec<String> =
        fs::read_dir(cache.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    let id = reach::reach(&exe, None).unwrap().build_id.expect("gcc writes a build-id");
    assert!(entries.iter().any(|e| e.starts_with(&id)), "{entries:?}");
    let again = gaps_of(&exe, cache.path());
    assert_eq!(again.unobserved, gaps.unobserved);
}

#[test]
fn the_c_library_is_broad() {
    let libc = ["/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("glibc");
    let reach = reach::reach(Path::new(libc), None).unwrap();
    assert!(reach.ways.len() > reach::BROAD, "libc reaches only {}", reach.ways.len());
    assert!(reach.build_id.is_some());
}
