//! `symbolize`: naming the library, function and caller of a syscall in a real process. The fixture
//! (`tests/fixtures/trapfix/`) is a shared library of our own, `libtrapfix.so`, whose `trapfix_ioctl` calls libc's
//! `ioctl` and whose `trapfix_raw` makes the syscall itself, and a program linked against it that prints addresses
//! and then waits. x86_64 only: `trapfix_raw` is x86_64 assembly, and so is the caller heuristic.
#![cfg(target_arch = "x86_64")]

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;

use nix::sys::ptrace;
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;
use trapline::record::symbolize::Symbolizer;
use trapline::trace::model::{CallSite, Location, Text};

/// The ioctl requests `trapfix_main.c` makes: through libc, by the raw syscall in a leaf, by the one in a frame.
const REQUEST_LIBC: u64 = 0x5041_5254;
const REQUEST_RAW: u64 = 0x5141_5254;
const REQUEST_FRAMED: u64 = 0x5241_5254;

struct Built {
    dir: PathBuf,
    /// A `strip --strip-all` copy of the library, in a directory whose name is not UTF-8.
    stripped_dir: PathBuf,
    program: PathBuf,
}

fn cc(args: &[&OsStr]) {
    let out = Command::new("cc").args(args).stdin(Stdio::null()).output().expect("cannot run cc");
    assert!(out.status.success(), "cc {args:?}:\n{}", String::from_utf8_lossy(&out.stderr));
}

/// Builds the fixture once per test process. Test processes may build it at the same time: each builds in a private
/// directory and renames the results into place, so nobody runs or loads a half-written file.
fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/trapfix");
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("symbolize");
        let stripped_dir = dir.join(OsStr::from_bytes(b"stripped-\xff"));
        let work = dir.join(format!(".build-{}", std::process::id()));
        std::fs::create_dir_all(&stripped_dir).unwrap();
        std::fs::create_dir_all(&work).unwrap();
        let (lib, program, stripped) = (work.join("libtrapfix.so"), work.join("trapfix"), work.join("stripped.so"));
        let flags = ["-O1", "-Wall", "-Wextra"].map(OsStr::new);
        let mut args: Vec<&OsStr> = flags.to_vec();
        args.extend(["-fPIC", "-shared", "-Wl,--build-id=sha1", "-Wl,-soname,libtrapfix.so", "-o"].map(OsStr::new));
        let lib_src = src.join("libtrapfix.c");
        args.extend([lib.as_os_str(), lib_src.as_os_str()]);
        cc(&args);
        let main_src = src.join("trapfix_main.c");
        let mut args: Vec<&OsStr> = flags.to_vec();
        args.extend([OsStr::new("-o"), program.as_os_str(), main_src.as_os_str(), OsStr::new("-L")]);
        args.extend([work.as_os_str(), OsStr::new("-ltrapfix")]);
        cc(&args);
        let out = Command::new("strip")
            .arg("--strip-all")
            .arg("-o")
            .arg(&stripped)
            .arg(&lib)
            .output()
            .expect("cannot run strip");
        assert!(out.status.success(), "strip: {}", String::from_utf8_lossy(&out.stderr));
        std::fs::rename(&lib, dir.join("libtrapfix.so")).unwrap();
        std::fs::rename(&stripped, stripped_dir.join("libtrapfix.so")).unwrap();
        std::fs::rename(&program, dir.join("trapfix")).unwrap();
        std::fs::remove_dir_all(&work).unwrap();
        Built { program: dir.join("trapfix"), dir, stripped_dir }
    })
}

/// The fixture program, stopped at its `read` until [`Running::go`].
struct Running {
    child: Child,
    stdin: Option<ChildStdin>,
    /// What it printed: `raw`, `raw_after`, `slot`, `not_code`, `ioctl`.
    addrs: HashMap<String, u64>,
    reaped: bool,
}

impl Running {
    fn start(lib_dir: &Path) -> Running {
        let mut child = Command::new(&built().program)
            .env("LD_LIBRARY_PATH", lib_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let addrs = line
            .split_whitespace()
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                (k.to_string(), u64::from_str_radix(v.trim_start_matches("0x"), 16).unwrap())
            })
            .collect();
        Running { stdin: child.stdin.take(), child, addrs, reaped: false }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn addr(&self, name: &str) -> u64 {
        self.addrs[name]
    }

    /// Lets the program make its ioctls and exit.
    fn go(&mut self) {
        self.stdin.take().unwrap().write_all(b"\n").unwrap();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn readelf_build_id(path: &Path) -> String {
    let out = Command::new("readelf").arg("-n").arg(path).output().expect("cannot run readelf");
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text.lines().find_map(|l| l.trim().strip_prefix("Build ID: ")).expect("readelf shows no build-id");
    line.trim().to_string()
}

fn ends_with(text: &Text, suffix: &[u8]) -> bool {
    match text {
        Text::Utf8(s) => s.as_bytes().ends_with(suffix),
        Text::Bytes { bytes } => bytes.ends_with(suffix),
    }
}

#[track_caller]
fn assert_in(loc: &Location, library: &str, symbol: &str) {
    assert!(ends_with(&loc.library, library.as_bytes()), "{loc:?} is not in {library}");
    assert_eq!(loc.symbol.as_deref(), Some(symbol), "{loc:?}");
}

#[test]
fn names_library_function_build_id_and_a_caller_stored_on_the_stack() {
    let running = Running::start(&built().dir);
    let mut symbolizer = Symbolizer::new();
    let (raw_after, slot) = (running.addr("raw_after"), running.addr("slot"));

    // trapfix_raw keeps no frame: its unwind rule puts the return address at the stack pointer, here the slot.
    let site = symbolizer.call_site(running.pid(), raw_after, slot, 0).unwrap();
    assert_in(&site.at, "/libtrapfix.so", "trapfix_raw");
    assert_eq!(site.at.offset, format!("{:#x}", raw_after - running.addr("raw")));
    assert_eq!(site.at.soname.as_deref(), Some("libtrapfix.so"));
    assert_eq!(site.at.build_id, Some(readelf_build_id(&built().dir.join("libtrapfix.so"))));
    // The slot holds __builtin_return_address(0) of trapfix_capture: a return address into trapfix_outer.
    let caller = site.caller.expect("no caller from a slot holding a return address");
    assert_in(&caller, "/libtrapfix.so", "trapfix_outer");

    // Where there is no unwind table ([vdso] has no file to read one from), the word at the stack pointer.
    let maps = std::fs::read_to_string(format!("/proc/{}/maps", running.pid())).unwrap();
    if let Some(vdso) = maps.lines().find(|l| l.ends_with("[vdso]")) {
        let start = u64::from_str_radix(vdso.split('-').next().unwrap(), 16).unwrap();
        let site = symbolizer.call_site(running.pid(), start + 0x10, slot, 0).unwrap();
        assert_eq!((site.at.library, site.at.symbol), (Text::from("[vdso]"), None));
        assert_in(site.caller.as_ref().expect("no caller from the word at sp"), "/libtrapfix.so", "trapfix_outer");
    }

    // Not a code address, or unreadable: no caller, and no harm to the rest.
    let site = symbolizer.call_site(running.pid(), raw_after, running.addr("not_code"), 0).unwrap();
    assert_eq!(site.caller, None);
    assert_eq!(symbolizer.call_site(running.pid(), raw_after, 8, 0).unwrap().caller, None);

    // libc's ioctl, from inside it.
    let libc = symbolizer.locate(running.pid(), running.addr("ioctl") + 1).unwrap();
    assert!(ends_with(&libc.library, b"/libc.so.6"), "{libc:?}");
    assert_eq!(libc.soname.as_deref(), Some("libc.so.6"));
    assert!(libc.symbol.as_deref().is_some_and(|s| s.contains("ioctl")), "{libc:?}");
    assert_eq!(libc.offset, "0x1");
    assert!(libc.build_id.is_some(), "{libc:?}");

    // Outside every mapping.
    assert_eq!(symbolizer.call_site(running.pid(), 8, slot, 0), None);
}

#[test]
fn a_stripped_library_resolves_through_dynsym_and_keeps_its_non_utf8_path() {
    let b = built();
    let stripped = b.stripped_dir.join("libtrapfix.so");
    let sections = Command::new("readelf").arg("-S").arg(&stripped).output().unwrap();
    assert!(!String::from_utf8_lossy(&sections.stdout).contains(".symtab"), "strip left a .symtab");

    let running = Running::start(&b.stripped_dir);
    let site = Symbolizer::new().call_site(running.pid(), running.addr("raw_after"), running.addr("slot"), 0).unwrap();
    assert_in(&site.at, "/libtrapfix.so", "trapfix_raw");
    assert_eq!(site.at.library, Text::from_os(stripped.as_os_str()));
    assert!(matches!(site.at.library, Text::Bytes { .. }), "{:?}", site.at.library);
    assert_eq!(site.at.build_id, Some(readelf_build_id(&stripped)));
    assert_eq!(site.at.build_id, Some(readelf_build_id(&b.dir.join("libtrapfix.so"))), "strip keeps the build-id");
    assert_in(site.caller.as_ref().unwrap(), "/libtrapfix.so", "trapfix_outer");

    // The serialized form uses the bytes form for the path and leaves out absent fields.
    let json = serde_json::to_value(&site).unwrap();
    assert!(json["at"]["library"]["bytes"].is_array(), "{json}");
    let back: CallSite = serde_json::from_value(json).unwrap();
    assert_eq!(back, site);
}

/// Traces the program to its three ioctls and symbolizes each at its syscall-entry stop, with the real registers.
#[test]
fn at_a_syscall_stop_the_wrapper_and_its_caller_are_named() {
    let mut running = Running::start(&built().dir);
    let pid = Pid::from_raw(running.pid());
    let options = ptrace::Options::PTRACE_O_TRACESYSGOOD | ptrace::Options::PTRACE_O_EXITKILL;
    ptrace::seize(pid, options).unwrap();
    ptrace::interrupt(pid).unwrap();
    assert!(matches!(waitpid(pid, None).unwrap(), WaitStatus::PtraceEvent(..)));
    ptrace::syscall(pid, None).unwrap();
    running.go();

    let mut symbolizer = Symbolizer::new();
    let mut sites: HashMap<u64, CallSite> = HashMap::new();
    let mut framed_stack_top = None;
    loop {
        let mut inject = None;
        match waitpid(pid, None).unwrap() {
            WaitStatus::Exited(_, code) => {
                running.reaped = true;
                assert_eq!(code, 0);
                break;
            }
            WaitStatus::PtraceSyscall(_) => {
                let regs = ptrace::getregs(pid).unwrap();
                // At syscall entry rax is -ENOSYS; both ioctls fail with EBADF, so their exits never look like this.
                let entering = regs.rax as i64 == -i64::from(libc::ENOSYS);
                if entering && regs.orig_rax == 16 && [REQUEST_LIBC, REQUEST_RAW, REQUEST_FRAMED].contains(&regs.rsi) {
                    let site = symbolizer.call_site(pid.as_raw(), regs.rip, regs.rsp, regs.rbp).unwrap();
                    sites.insert(regs.rsi, site);
                    if regs.rsi == REQUEST_FRAMED {
                        let word = |addr: u64| ptrace::read(pid, addr as ptrace::AddressType).unwrap() as u64;
                        framed_stack_top = Some((word(regs.rsp), word(running.addr("slot"))));
                    }
                }
            }
            WaitStatus::Stopped(_, signal) if signal != Signal::SIGSTOP => inject = Some(signal),
            WaitStatus::Signaled(..) => panic!("the program was killed"),
            _ => {}
        }
        ptrace::syscall(pid, inject).unwrap();
    }

    // libc's ioctl wrapper keeps no frame: the return address at rsp leads back into trapfix_ioctl.
    let libc = &sites[&REQUEST_LIBC];
    assert!(ends_with(&libc.at.library, b"/libc.so.6"), "{libc:?}");
    assert!(libc.at.symbol.as_deref().is_some_and(|s| s.contains("ioctl")), "{libc:?}");
    assert_in(libc.caller.as_ref().expect("no caller for libc's ioctl"), "/libtrapfix.so", "trapfix_ioctl");

    // The raw syscall instruction is in libtrapfix itself, called from the program's main.
    let raw = &sites[&REQUEST_RAW];
    assert_in(&raw.at, "/libtrapfix.so", "trapfix_raw");
    assert_eq!(raw.at.offset, format!("{:#x}", running.addr("raw_after") - running.addr("raw")));
    assert_in(raw.caller.as_ref().expect("no caller for trapfix_raw"), "/trapfix", "main");

    // trapfix_framed's stack pointer holds a decoy, a real return address into trapfix_outer; the unwind table,
    // through the frame pointer, finds the true one.
    let (top, decoy) = framed_stack_top.unwrap();
    assert_eq!(top, decoy, "the fixture no longer puts its decoy at the stack pointer");
    let framed = &sites[&REQUEST_FRAMED];
    assert_in(&framed.at, "/libtrapfix.so", "trapfix_framed");
    assert_in(framed.caller.as_ref().expect("no caller for trapfix_framed"), "/trapfix", "main");
}

/// End to end: `trapline record` names, for each ioctl class, the library and function of the syscall
/// instruction and the caller one frame up, through libc's wrapper and from a raw syscall instruction.
#[test]
fn record_attributes_each_class_to_its_library_and_caller() {
    use std::io::Write;
    let built = built();
    let trace_path = built.dir.join(format!("attributed-{}.json", std::process::id()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_trapline"))
        .args(["record", "-q", "-o"])
        .arg(&trace_path)
        .arg("--")
        .arg(&built.program)
        .env("LD_LIBRARY_PATH", &built.dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("cannot run trapline");
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    assert!(child.wait().unwrap().success());
    let trace: serde_json::Value = serde_json::from_slice(&std::fs::read(&trace_path).unwrap()).unwrap();
    let _ = std::fs::remove_file(&trace_path);
    let site_of = |request: &str| {
        let class = trace["classes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["syscall"] == "ioctl" && c["args"][0]["value"] == request)
            .unwrap_or_else(|| panic!("no ioctl {request} in the trace"));
        class["site"].clone()
    };
    let symbol = |location: &serde_json::Value| location["symbol"].as_str().unwrap_or_default().to_string();
    let soname = |location: &serde_json::Value| location["soname"].as_str().unwrap_or_default().to_string();

    // Through libc's ioctl wrapper: the instruction is libc's, the caller is the test's own library.
    let through_libc = site_of("0x50415254");
    assert_eq!(soname(&through_libc["at"]), "libc.so.6", "{through_libc}");
    assert!(symbol(&through_libc["at"]).contains("ioctl"), "{through_libc}");
    assert_eq!(soname(&through_libc["caller"]), "libtrapfix.so", "{through_libc}");
    assert_eq!(symbol(&through_libc["caller"]), "trapfix_ioctl", "{through_libc}");

    // A raw syscall instruction in the library itself, called from the program's main.
    let raw = site_of("0x51415254");
    assert_eq!(soname(&raw["at"]), "libtrapfix.so", "{raw}");
    assert_eq!(symbol(&raw["at"]), "trapfix_raw", "{raw}");
    assert_eq!(symbol(&raw["caller"]), "main", "{raw}");
}
