//! The holes a seccomp profile cannot close by listing calls, closed by how trapline answers them: clone3's
//! flags sit behind a pointer (so an allowed clone3 creates namespaces the clone rule refuses), and what is
//! submitted through io_uring never passes the filter. Real programs, real filters.

mod common;

use std::fs;
use std::process::{Command, Stdio};

use serde_json::Value;

use common::*;

/// `threads`: two pthreads (glibc creates them with clone3, and with clone after ENOSYS). `clone3-ns` and
/// `clone-ns`: a child in new user and network namespaces, asked for with clone3 and with clone. `uring`: an
/// io_uring, or what a libuv-style caller does when there is none.
const PROGRAM: &str = r#"
#define _GNU_SOURCE
#include <errno.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Every thread meets the others at a barrier, so each run blocks in futex the same way: a profile from one
   run then fits the next whatever the timing. */
static pthread_barrier_t all_here;

static void *work(void *arg) {
    pthread_barrier_wait(&all_here);
    return arg;
}

static void report(const char *what, long pid) {
    if (pid == 0) _exit(0);
    if (pid < 0) { printf("%s %s\n", what, strerrorname_np(errno)); return; }
    waitpid(pid, NULL, 0);
    printf("%s created\n", what);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "threads";
    if (strcmp(mode, "threads") == 0) {
        pthread_t t[2];
        pthread_barrier_init(&all_here, NULL, 3);
        for (int i = 0; i < 2; i++) if (pthread_create(&t[i], NULL, work, NULL) != 0) { puts("pthread_create failed"); return 1; }
        pthread_barrier_wait(&all_here);
        for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
        puts("threads ok");
    } else if (strcmp(mode, "clone3-ns") == 0) {
        struct clone_args args;
        memset(&args, 0, sizeof args);
        args.flags = CLONE_NEWUSER | CLONE_NEWNET;
        args.exit_signal = SIGCHLD;
        report("clone3", syscall(SYS_clone3, &args, sizeof args));
    } else if (strcmp(mode, "clone-ns") == 0) {
        report("clone", syscall(SYS_clone, CLONE_NEWUSER | CLONE_NEWNET | SIGCHLD, 0, 0, 0, 0));
    } else if (strcmp(mode, "uring") == 0) {
        char params[120];
        memset(params, 0, sizeof params);
        long fd = syscall(SYS_io_uring_setup, 4, params);
        if (fd >= 0) { puts("io_uring ok"); close(fd); }
        else if (errno == ENOSYS) puts("io_uring ENOSYS: plain syscalls instead");
        else { printf("io_uring %s\n", strerrorname_np(errno)); return 1; }
    }
    return 0;
}
"#;

fn trapline(dir: &TempDir, args: &[&str]) -> Finished {
    run(Command::new(TRAPLINE).current_dir(dir.path()).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()))
}

/// Records `mode` and makes its profile (no runtime: the program runs on the host); returns the profile.
fn profile_of(dir: &TempDir, exe: &str, mode: &str, opts: &[&str]) -> Value {
    let recorded = trapline(dir, &["record", "-q", "-o", "t.json", "--", exe, mode]);
    assert_eq!(recorded.code(), 0, "{}", recorded.stderr_str());
    let made = trapline(dir, &[&["profile", "--runtime", "none", "t.json", "-o", "p.json"], opts].concat());
    assert_eq!(made.code(), 0, "{}", made.stderr_str());
    serde_json::from_slice(&fs::read(dir.join("p.json")).unwrap()).unwrap()
}

fn entries_for<'a>(profile: &'a Value, name: &str) -> Vec<&'a Value> {
    profile["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["names"].as_array().unwrap().contains(&name.into()))
        .collect()
}

#[test]
fn clone3_cannot_create_namespaces_the_clone_rule_refuses() {
    let dir = TempDir::new("clone3-hole");
    let exe = program("holes", PROGRAM);
    let exe = exe.to_str().unwrap();
    let profile = profile_of(&dir, exe, "threads", &[]);
    let clone3 = entries_for(&profile, "clone3");
    assert_eq!(clone3.len(), 1, "{profile:#}");
    assert_eq!((clone3[0]["action"].as_str(), clone3[0]["errnoRet"].as_u64()), (Some("SCMP_ACT_ERRNO"), Some(38)));
    assert!(!entries_for(&profile, "clone").is_empty(), "clone admits the threads glibc makes after ENOSYS");

    // The workload runs: glibc falls back to clone for its threads.
    let threads = trapline(&dir, &["run", "--profile", "p.json", "--", exe, "threads"]);
    assert_eq!((threads.code(), threads.stdout_str()), (0, "threads ok\n".to_string()), "{}", threads.stderr_str());
    // Namespaces stay refused either way.
    let via_clone3 = trapline(&dir, &["run", "--profile", "p.json", "--", exe, "clone3-ns"]);
    assert_eq!(via_clone3.stdout_str(), "clone3 ENOSYS\n", "{}", via_clone3.stderr_str());
    let via_clone = trapline(&dir, &["run", "--profile", "p.json", "--", exe, "clone-ns"]);
    assert_eq!(via_clone.stdout_str(), "clone EPERM\n", "{}", via_clone.stderr_str());

    // The review agrees: the run's own clone3 calls fall back to an allowed clone.
    let check = trapline(&dir, &["check", "--profile", "p.json", "t.json"]);
    assert_eq!(check.code(), 0, "{}{}", check.stdout_str(), check.stderr_str());
    let diff = trapline(&dir, &["diff", "--exit-code", "p.json", "t.json"]);
    assert_eq!(diff.code(), 0, "{}{}", diff.stdout_str(), diff.stderr_str());
    let report = trapline(&dir, &["profile", "--runtime", "none", "t.json", "-o", "/dev/null", "--explain", "p.md"]);
    assert_eq!(report.code(), 0, "{}", report.stderr_str());
    let md = fs::read_to_string(dir.join("p.md")).unwrap();
    assert!(md.contains("| `clone3` | denied with errno 38 |") && md.contains("glibc falls back to clone"), "{md}");

    // lint says what an allowing profile lets through.
    let mut allowing = profile.clone();
    allowing["syscalls"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"names": ["clone3"], "action": "SCMP_ACT_ALLOW"}));
    fs::write(dir.join("allowing.json"), serde_json::to_vec(&allowing).unwrap()).unwrap();
    let lint = trapline(&dir, &["lint", "--runtime", "none", "allowing.json"]);
    assert!(
        lint.stdout_str().contains("warning: clone3 is allowed: seccomp cannot see clone3's flags"),
        "{}",
        lint.stdout_str()
    );
}

#[test]
fn io_uring_is_answered_with_enosys_unless_kept_on_purpose() {
    if fs::read_to_string("/proc/sys/kernel/io_uring_disabled").is_ok_and(|v| v.trim() != "0") {
        eprintln!("io_uring_is_answered_with_enosys_unless_kept_on_purpose: skipped: io_uring is disabled here");
        return;
    }
    let dir = TempDir::new("io-uring");
    let exe = program("holes", PROGRAM);
    let exe = exe.to_str().unwrap();
    let native = run(Command::new(exe).arg("uring").stdout(Stdio::piped()));
    assert_eq!(native.stdout_str(), "io_uring ok\n");

    let profile = profile_of(&dir, exe, "uring", &[]);
    let setup = entries_for(&profile, "io_uring_setup");
    assert_eq!((setup.len(), setup[0]["errnoRet"].as_u64()), (1, Some(38)), "{profile:#}");
    let under = trapline(&dir, &["run", "--profile", "p.json", "--", exe, "uring"]);
    assert_eq!(under.stdout_str(), "io_uring ENOSYS: plain syscalls instead\n", "{}", under.stderr_str());
    let lint = trapline(&dir, &["lint", "--runtime", "none", "p.json"]);
    assert!(!lint.stdout_str().contains("io_uring"), "{}", lint.stdout_str());

    let kept = profile_of(&dir, exe, "uring", &["--allow-io-uring"]);
    assert!(entries_for(&kept, "io_uring_setup").iter().any(|e| e["action"] == "SCMP_ACT_ALLOW"), "{kept:#}");
    let under = trapline(&dir, &["run", "--profile", "p.json", "--", exe, "uring"]);
    assert_eq!(under.stdout_str(), "io_uring ok\n", "{}", under.stderr_str());
    let lint = trapline(&dir, &["lint", "--runtime", "none", "p.json"]);
    assert!(lint.stdout_str().contains("warning: io_uring_setup is allowed: "), "{}", lint.stdout_str());
}

/// A call that weakens isolation, made by the workload, is allowed (the run needed it) and put in front of the
/// reviewer: lint warns with why it matters and what Docker's default does, and the explain report names the
/// executable that needed it.
#[test]
fn calls_that_weaken_isolation_are_put_before_the_reviewer() {
    let dir = TempDir::new("risky");
    let exe =
        program("unshare_nothing", "#define _GNU_SOURCE\n#include <sched.h>\nint main(void) { return unshare(0); }\n");
    let exe = exe.to_str().unwrap();
    profile_of(&dir, exe, "", &["--explain", "p.md"]);
    let lint = trapline(&dir, &["lint", "--runtime", "none", "p.json"]);
    let report = lint.stdout_str();
    assert!(report.contains("warning: unshare is allowed, and it enters new or other namespaces"), "{report}");
    assert!(report.contains("Docker's default profile: allowed only with CAP_SYS_ADMIN"), "{report}");
    let md = fs::read_to_string(dir.join("p.md")).unwrap();
    let section = md.split("## Calls that weaken isolation").nth(1).unwrap_or_else(|| panic!("{md}"));
    assert!(
        section.contains("| `unshare` | enters new or other namespaces") && section.contains("unshare_nothing"),
        "{section}"
    );
}
