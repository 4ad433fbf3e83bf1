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
    let lint = trapline(&["lint", "--runtime", "none", as_json.to_str().unwrap()]);
    assert_eq!(lint.code(), 0, "{}{}", lint.stdout_str(), lint.stderr_str());

    // Every format trapline writes it also reads: the YAML itself, for lint, check, diff and run.
    let yaml = spo_path.to_str().unwrap();
    let lint = trapline(&["lint", "--runtime", "none", yaml]);
    assert_eq!(lint.code(), 0, "{}{}", lint.stdout_str(), lint.stderr_str());
    let check = trapline(&["check", "--profile", yaml, trace]);
    assert_eq!(check.code(), 0, "{}{}", check.stdout_str(), check.stderr_str());
    let diff = trapline(&["diff", "--exit-code", yaml, as_json.to_str().unwrap()]);
    assert_eq!(diff.code(), 0, "{}{}", diff.stdout_str(), diff.stderr_str());
    let enforced = trapline(&["run", "--profile", yaml, "--", "/bin/echo", "hi"]);
    assert_eq!((enforced.code(), enforced.stdout_str()), (0, "hi\n".to_string()), "{}", enforced.stderr_str());
}

/// A manifest as `kubectl apply -f` takes it: several YAML documents, workloads beside profiles. lint lints
/// each as what it is, naming the document (`items[N]`); a profile command refuses the stream's several
/// profiles in one line; a YAML syntax error names its line.
#[test]
fn yaml_manifests_are_read_document_by_document() {
    let dir = TempDir::new("yaml-manifest");
    let manifest = dir.join("all.yaml");
    fs::write(
        &manifest,
        "apiVersion: security-profiles-operator.x-k8s.io/v1beta1\nkind: SeccompProfile\nmetadata: {name: a}\n\
         spec:\n  defaultAction: SCMP_ACT_ERRNO\n  syscalls:\n  - names: [bogus_call]\n    action: SCMP_ACT_ALLOW\n\
         ---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: train\n    image: x\n\
         \x20   securityContext: {privileged: true}\n",
    )
    .unwrap();
    let path = manifest.to_str().unwrap();
    let lint = trapline(&["lint", path]);
    assert_eq!(lint.code(), 1, "{}", lint.stderr_str());
    let report = lint.stdout_str();
    assert!(
        report.contains("items[0].spec.syscalls[0].names[0]: warning: ") && report.contains("bogus_call"),
        "{report}"
    );
    assert!(report.contains("items[2].spec.containers[0].securityContext.privileged: warning: "), "{report}");
    assert!(!report.contains("items[1]"), "a ConfigMap has nothing to lint: {report}");

    let broken = dir.join("broken.yaml");
    fs::write(&broken, "kind: SeccompProfile\nspec:\n  defaultAction: [unclosed\n").unwrap();
    let out = trapline(&["run", "--profile", broken.to_str().unwrap(), "--", "/bin/true"]);
    assert_eq!(out.code(), 2, "{}", out.stderr_str());
    let stderr = out.stderr_str();
    assert!(stderr.starts_with(&format!("trapline: {}:", broken.display())) && stderr.lines().count() == 1, "{stderr}");
    assert!(stderr.contains("JSON or YAML"), "{stderr}");
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
    assert!(text.contains("seccomp.security.alpha.kubernetes.io/pod: localhost/pytorch-train.json"), "{text}");
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

/// `--format spo` applies to the recording profile too, instead of being ignored.
#[test]
fn the_recording_profile_comes_as_an_spo_object_too() {
    let out = trapline(&["profile", "--recording", "--listener", "/run/t.sock", "--format", "spo", "--name", "rec"]);
    assert_eq!(out.code(), 0, "{}", out.stderr_str());
    let text = out.stdout_str();
    assert!(text.starts_with("apiVersion: security-profiles-operator.x-k8s.io/"), "{text}");
    assert!(text.contains("listenerPath: /run/t.sock") && text.contains("SCMP_ACT_NOTIFY"), "{text}");
}

/// `--spo-api v1` writes the storage version of newer operators, whose SeccompProfile is cluster-scoped: no
/// namespace, and asking for one is refused before anything is written. The object reads back as a profile.
#[test]
fn a_v1_spo_object_is_cluster_scoped() {
    let recorded = record(&["/bin/echo", "hi"]);
    let trace = recorded.dir.join("trace.json");
    let trace = trace.to_str().unwrap();
    let out = recorded.dir.join("v1.yaml");
    let out = out.to_str().unwrap();
    let spo = ["profile", "--runtime", "none", "--format", "spo", "--name", "echo-demo", "--spo-api", "v1"];
    let made = trapline(&[&spo[..], &["-o", out, trace]].concat());
    assert_eq!(made.code(), 0, "{}", made.stderr_str());
    let text = fs::read_to_string(out).unwrap();
    assert!(text.starts_with("apiVersion: security-profiles-operator.x-k8s.io/v1\n"), "{text}");
    assert!(!text.contains("namespace"), "{text}");
    let linted = trapline(&["lint", "--runtime", "none", out]);
    assert_eq!(linted.code(), 0, "{}{}", linted.stdout_str(), linted.stderr_str());

    let refused = recorded.dir.join("refused.yaml");
    let with_namespace = trapline(&[&spo[..], &["--namespace", "ml", "-o", refused.to_str().unwrap(), trace]].concat());
    assert_eq!(with_namespace.code(), 2);
    let stderr = with_namespace.stderr_str();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("cluster-scoped"), "{stderr}");
    assert!(!refused.exists(), "nothing is written");
}
