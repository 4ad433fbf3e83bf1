//! Man pages and shell completions come from the same definitions as `--help`.

mod common;

use std::fs;
use std::process::{Command, Stdio};

use common::*;

#[test]
fn man_pages_cover_every_command() {
    let dir = TempDir::new("man");
    let out = run(Command::new(env!("CARGO_BIN_EXE_trapline")).arg("man").arg(dir.path()).stderr(Stdio::piped()));
    assert_eq!(out.code(), 0, "{}", out.stderr_str());
    for command in ["", "-record", "-profile", "-merge", "-diff", "-check", "-run", "-lint", "-import", "-decode"] {
        let page = fs::read_to_string(dir.join(format!("trapline{command}.1"))).expect("page written");
        assert!(page.starts_with(".ie") || page.contains(".TH"), "not roff: {command}");
    }
    let record = fs::read_to_string(dir.join("trapline-record.1")).unwrap();
    assert!(record.contains("container") && record.contains("known"), "record's page lists its options");
    // Nested commands have pages too, and every page a page names exists.
    let strace = fs::read_to_string(dir.join("trapline-import-strace.1")).expect("nested command's page");
    assert!(strace.contains("strace"), "{strace}");
    for entry in fs::read_dir(dir.path()).unwrap() {
        let page = fs::read_to_string(entry.unwrap().path()).unwrap();
        for (at, _) in page.match_indices("(1)") {
            let name: String = page[..at]
                .chars()
                .rev()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '\\')
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            let name = name.replace('\\', "");
            if name.starts_with("trapline") {
                assert!(dir.join(format!("{name}.1")).exists(), "a page names {name}(1), which was not written");
            }
        }
    }
}

#[test]
fn completions_know_the_commands() {
    for shell in ["bash", "zsh", "fish"] {
        let out = run(Command::new(env!("CARGO_BIN_EXE_trapline"))
            .args(["completions", shell])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()));
        assert_eq!(out.code(), 0, "{shell}: {}", out.stderr_str());
        let script = out.stdout_str();
        assert!(script.contains("record") && script.contains("profile") && script.contains("gpu-portable"), "{shell}");
    }
}
