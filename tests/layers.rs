//! The house rules of src/, as ARCHITECTURE.md states them, checked on the source itself: a module uses only
//! modules on lower floors, sibling modules never use each other in a circle, every module with children is a
//! `mod.rs`, and no hand-written file grows past 700 lines.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The floors, lowest first. A module may use its own floor's modules only when they are itself.
const FLOORS: &[&[&str]] =
    &[&["files"], &["decode"], &["trace"], &["profile"], &["review"], &["observe"], &["import", "record"], &["cli"]];

/// Hand-written files stay small enough to read; generated tables say so in their header and are exempt.
const MAX_LINES: usize = 700;

type ModPath = Vec<String>;

struct Source {
    path: PathBuf,
    module: ModPath,
    text: String,
}

fn sources() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    collect(&root, &mut files);
    files
        .into_iter()
        .map(|path| {
            let relative = path.strip_prefix(&root).unwrap().with_extension("");
            let mut module: ModPath = relative.iter().map(|c| c.to_string_lossy().into_owned()).collect();
            if matches!(module.last().map(String::as_str), Some("mod" | "lib" | "main")) {
                module.pop();
            }
            let text = fs::read_to_string(&path).unwrap();
            Source { path, module, text }
        })
        .collect()
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module paths a file names (`crate::a::b`, `super::c`, `self::d`, and each branch of a `{...}` group),
/// resolved to absolute paths. `super` inside a file's inline test module is that file's own module, so
/// relative paths are only read before the first `#[cfg(test)]`.
fn references(source: &Source) -> Vec<ModPath> {
    let (code, tests) = match source.text.find("#[cfg(test)]") {
        Some(i) => source.text.split_at(i),
        None => (source.text.as_str(), ""),
    };
    let mut found = Vec::new();
    let parent: ModPath = source.module[..source.module.len().saturating_sub(1)].to_vec();
    for (text, relative) in [(code, true), (tests, false)] {
        let mut anchors = vec![("crate::", ModPath::new())];
        if relative {
            anchors.push(("super::", parent.clone()));
            anchors.push(("self::", source.module.clone()));
        }
        for (anchor, base) in anchors {
            for (i, _) in text.match_indices(anchor) {
                let preceded =
                    text[..i].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
                if !preceded {
                    paths(&text[i + anchor.len()..], &base, &mut found);
                }
            }
        }
    }
    found
}

/// Reads `a::b::{c, d::e}` at the start of `rest` into absolute paths under `base`.
fn paths(rest: &str, base: &ModPath, out: &mut Vec<ModPath>) {
    let mut path = base.clone();
    let mut rest = rest;
    loop {
        if let Some(group) = rest.strip_prefix('{') {
            let end = matching_brace(group);
            for branch in split_top_level(&group[..end]) {
                paths(branch.trim(), &path, out);
            }
            return;
        }
        let ident: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if ident.is_empty() {
            break;
        }
        if ident == "super" {
            path.pop();
        } else if ident != "self" {
            path.push(ident.clone());
        }
        rest = &rest[ident.len()..];
        match rest.strip_prefix("::") {
            Some(next) => rest = next,
            None => break,
        }
    }
    if path.len() > base.len() {
        out.push(path);
    }
}

fn matching_brace(text: &str) -> usize {
    let mut depth = 0;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return i,
            '}' => depth -= 1,
            _ => {}
        }
    }
    text.len()
}

fn split_top_level(text: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn floor(top: &str) -> Option<usize> {
    FLOORS.iter().position(|floor| floor.contains(&top))
}

#[test]
fn every_top_level_module_has_a_floor() {
    for source in sources() {
        if let Some(top) = source.module.first() {
            assert!(floor(top).is_some(), "{}: module `{top}` is on no floor of FLOORS", source.path.display());
        }
    }
}

#[test]
fn modules_use_only_lower_floors() {
    let mut violations = Vec::new();
    for source in sources() {
        let Some(from) = source.module.first() else { continue };
        for target in references(&source) {
            let to = &target[0];
            let (Some(a), Some(b)) = (floor(from), floor(to)) else { continue };
            if from != to && a <= b {
                violations.push(format!("{} uses crate::{}", source.path.display(), target.join("::")));
            }
        }
    }
    violations.sort();
    violations.dedup();
    assert!(violations.is_empty(), "modules reaching sideways or up:\n{}", violations.join("\n"));
}

#[test]
fn sibling_modules_form_no_cycle() {
    let sources = sources();
    let modules: BTreeSet<ModPath> = sources.iter().map(|s| s.module.clone()).collect();
    // parent -> (child -> children it uses)
    let mut graphs: BTreeMap<ModPath, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for source in &sources {
        for target in references(source) {
            let common = source.module.iter().zip(&target).take_while(|(a, b)| a == b).count();
            let (Some(x), Some(y)) = (source.module.get(common), target.get(common)) else { continue };
            // Only a sibling that is a module of its own; an item of the parent's file is no sibling.
            if modules.contains(&target[..=common]) {
                let parent = target[..common].to_vec();
                graphs.entry(parent).or_default().entry(x.clone()).or_default().insert(y.clone());
            }
        }
    }
    let mut cycles = Vec::new();
    for (parent, graph) in &graphs {
        for start in graph.keys() {
            if let Some(cycle) = cycle_from(graph, start) {
                let prefix = if parent.is_empty() { String::new() } else { format!("{}::", parent.join("::")) };
                cycles.push(cycle.iter().map(|m| format!("{prefix}{m}")).collect::<Vec<_>>().join(" -> "));
            }
        }
    }
    assert!(cycles.is_empty(), "import cycles between sibling modules:\n{}", cycles.join("\n"));
}

/// A path from `start` back to itself, if there is one.
fn cycle_from(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    let mut stack = vec![vec![start.to_string()]];
    let mut seen = BTreeSet::new();
    while let Some(path) = stack.pop() {
        for next in graph.get(path.last().unwrap()).into_iter().flatten() {
            let mut longer = path.clone();
            longer.push(next.clone());
            if next == start {
                return Some(longer);
            }
            if seen.insert(next.clone()) {
                stack.push(longer);
            }
        }
    }
    None
}

#[test]
fn modules_with_children_are_mod_rs() {
    let mut stray = Vec::new();
    for source in sources() {
        let path = &source.path;
        if path.file_name().is_some_and(|n| n != "mod.rs" && n != "lib.rs" && n != "main.rs")
            && path.with_extension("").is_dir()
        {
            stray.push(path.display().to_string());
        }
    }
    assert!(stray.is_empty(), "files beside a directory of the same name (use DIR/mod.rs):\n{}", stray.join("\n"));
}

#[test]
fn hand_written_files_stay_under_the_limit() {
    let mut long = Vec::new();
    for source in sources() {
        let generated = source.text.lines().take(10).any(|l| l.to_lowercase().contains("do not edit"));
        let lines = source.text.lines().count();
        if !generated && lines > MAX_LINES {
            long.push(format!("{}: {lines} lines", source.path.display()));
        }
    }
    assert!(long.is_empty(), "files over {MAX_LINES} lines; split them by job:\n{}", long.join("\n"));
}
