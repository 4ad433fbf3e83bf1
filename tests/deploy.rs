//! Deployment outputs: a Security Profiles Operator SeccompProfile that parses as the CRD expects and holds
//! exactly the OCI profile, and the Kubernetes Localhost snippet.

mod common;

use std::fs;
use std::process::{Command, Stdio};

use serde_json::Value;

use common::*;

fn trapline(args: &[&str]) -> Finished {
    run(Command::new(env!("CARGO_BIN_EXE_trapline")).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()))
}

#[test]
fn spo_object_round_trips_to_the_same_profile() {
    let recorded = record(&["/bin/echo", "hi"]);
    let trace = recorded.dir.join("trace.json");
    let trace = trace.to_str().unwrap();
    let oci = trapline(&["profile", "--runtime", "none", trace]);
    assert_eq!(oci.code(), 0, "{}", oci.stderr_str());
    let spo_path = recorded.dir.join("spo.yaml");
    let spo = trapline(&[
        "profile",
        "--runtime",
        "none",
        "--format",
        "spo",
        "--name",
        "echo-demo",
        "--namespace",
        "ml",
        "-o",
        spo_path.to_str().unwrap(),
        trace,
    ]);
    assert_eq!(spo.code(), 0, "{}", spo.stderr_str());

    // A real YAML parser, as kubectl would use: the YAML must mean exactly the OCI profile under `spec`.
    // Debian's interpreter, which `make deps` gives python3-yaml (a version manager's python3 may lack it).
    let parsed = run(Command::new("/usr/bin/python3")
        .args(["-c", "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))"])
        .arg(&spo_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    assert_eq!(parsed.code(), 0, "python3 yaml (Debian: python3-yaml): {}", parsed.stderr_str());
    let object: Value = serde_json::from_str(&parsed.stdout_str()).unwrap();
    assert_eq!(object["apiVersion"], "security-profiles-operator.x-k8s.io/v1beta1");
    assert_eq!(object["kind"], "SeccompProfile");
    assert_eq!(object["metadata"]["name"], "echo-demo");
    assert_eq!(object["metadata"]["namespace"], "ml");
    let profile: Value = serde_json::from_str(&oci.stdout_str()).unwrap();
    assert_eq!(object["spec"], profile);
    assert!(object["spec"]["defaultAction"].is_string() && object["spec"]["syscalls"].is_array());

    // lint reads the SPO object (as JSON) and finds the same profile clean.
    let as_json = recorded.dir.join("spo.json");
    fs::write(&as_json, serde_json::to_vec(&object).unwrap()).unwrap();
    let lint = trapline(&["lint", as_json.to_str().unwrap()]);
    assert_eq!(lint.code(), 0, "{}{}", lint.stdout_str(), lint.stderr_str());
}

#[test]
fn spo_needs_a_name() {
    let out = trapline(&["profile", "--format", "spo", "nonexistent.json"]);
    assert_eq!(out.code(), 2);
    assert!(out.stderr_str().contains("--name"), "{}", out.stderr_str());
}

#[test]
fn k8s_snippet_names_the_node_path_and_the_pod_field() {
    let out = trapline(&["k8s-snippet", "pytorch-train"]);
    assert_eq!(out.code(), 0);
    let text = out.stdout_str();
    assert!(text.contains("/var/lib/kubelet/seccomp/profiles/pytorch-train.json"), "{text}");
    assert!(
        text.contains("type: Localhost") && text.contains("localhostProfile: profiles/pytorch-train.json"),
        "{text}"
    );
    assert!(text.contains("Privileged containers ignore seccomp"), "{text}");
}

/// Names Kubernetes would refuse are refused here, in one line, before anything is read or written.
#[test]
fn kubernetes_names_are_refused_up_front() {
    let dir = TempDir::new("k8s-names");
    let out = dir.join("spo.yaml");
    let out = out.to_str().unwrap();
    let long = "a".repeat(300);
    for names in [&["--name", "Foo_Bar"][..], &["--name", &long], &["--name", "ok", "--namespace", "Bad NS"]] {
        let refused = trapline(&[&["profile", "--format", "spo", "-o", out], names, &["nonexistent.json"]].concat());
        let value = names.last().unwrap();
        let stderr = refused.stderr_str();
        assert_eq!(refused.code(), 2, "{value}: {stderr}");
        assert!(stderr.starts_with("trapline: invalid value") && stderr.lines().count() == 1, "{stderr}");
        assert!(stderr.contains("Kubernetes"), "{stderr}");
        assert!(!dir.join("spo.yaml").exists());
    }
    let escaping = trapline(&["k8s-snippet", "../etc/x"]);
    assert_eq!(escaping.code(), 2, "{}", escaping.stderr_str());
    assert!(escaping.stdout.is_empty());
    let with_suffix = trapline(&["k8s-snippet", "foo.json"]);
    assert!(with_suffix.stdout_str().contains("localhostProfile: profiles/foo.json\n"), "{}", with_suffix.stdout_str());
}
