//! The check that keeps `src/api` free of import circles (issue 17): every file's references to
//! other `src/api` files, by `use` line or by inline path (`crate::api::x::y`, `super::x`), form
//! a graph that must have no cycle. A circle (host parsing needing the vault layer, which needs
//! the extractors, which need host parsing) is what made the layer hard to read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/api is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file below `src`: `api/data_plane/mod.rs` is `["api", "data_plane"]`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).expect("under src").with_extension("");
    let mut segments: Vec<String> = relative.iter().map(|s| s.to_string_lossy().into_owned()).collect();
    if segments.last().is_some_and(|s| s == "mod") {
        segments.pop();
    }
    segments
}

/// The file that defines the longest prefix of `segments` that is a module.
fn file_of(src: &Path, segments: &[String]) -> Option<PathBuf> {
    (1..=segments.len()).rev().find_map(|n| {
        let base = src.join(segments[..n].join("/"));
        let file = base.with_extension("rs");
        let module = base.join("mod.rs");
        if file.is_file() {
            Some(file)
        } else if module.is_file() {
            Some(module)
        } else {
            None
        }
    })
}

/// `a::{b, c::{d, e}}` as `a::b`, `a::c::d`, `a::c::e`.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        return vec![tree.split(" as ").next().unwrap_or(tree).trim().to_owned()];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let (mut parts, mut depth, mut current) = (Vec::new(), 0, String::new());
    for ch in inner.chars() {
        match ch {
            ',' if depth == 0 => parts.push(std::mem::take(&mut current)),
            '{' | '}' => {
                depth += if ch == '{' { 1 } else { -1 };
                current.push(ch);
            }
            _ => current.push(ch),
        }
    }
    parts.push(current);
    parts.iter().filter(|p| !p.trim().is_empty()).flat_map(|p| expand(p)).map(|p| format!("{prefix}{p}")).collect()
}

/// Every path a file's code names: its `use` trees, and `crate::`/`super::` paths inline.
fn paths_in(code: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut statement: Option<String> = None;
    for line in code.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("//") {
            continue;
        }
        let starts_use =
            ["use ", "pub use ", "pub(crate) use ", "pub(super) use "].iter().find_map(|p| trimmed.strip_prefix(p));
        if let Some(rest) = starts_use.filter(|_| statement.is_none()) {
            statement = Some(rest.to_owned());
        } else if let Some(open) = statement.as_mut() {
            open.push_str(trimmed);
        } else {
            for start in ["crate::api::", "super::"] {
                let mut from = 0;
                while let Some(at) = line[from..].find(start) {
                    let begin = from + at;
                    let end = line[begin..]
                        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                        .map_or(line.len(), |n| begin + n);
                    paths.push(line[begin..end].trim_end_matches(':').to_owned());
                    from = end.max(begin + start.len());
                }
            }
        }
        if statement.as_ref().is_some_and(|s| s.contains(';')) {
            let text = statement.take().unwrap_or_default();
            paths.extend(expand(text.split(';').next().unwrap_or("")));
        }
    }
    paths
}

/// Which `src/api` files each `src/api` file refers to.
fn graph(src: &Path) -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let mut files = Vec::new();
    rust_files(&src.join("api"), &mut files);
    let mut edges = BTreeMap::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable source");
        // Tests may reach anywhere; the layering is about the code that ships.
        let code = text.split("#[cfg(test)]").next().unwrap_or(&text);
        let module = module_of(src, file);
        let mut targets = BTreeSet::new();
        for path in paths_in(code) {
            let mut segments: Vec<String> = path.split("::").map(|s| s.trim().to_owned()).collect();
            let absolute: Vec<String> = match segments.first().map(String::as_str) {
                Some("crate") => segments.split_off(1),
                Some("super" | "self") => {
                    let mut base = module.clone();
                    while let Some(first) = segments.first().map(String::as_str) {
                        match first {
                            "super" => {
                                base.pop();
                            }
                            "self" => {}
                            _ => break,
                        }
                        segments.remove(0);
                    }
                    base.extend(segments);
                    base
                }
                // A child module of this one (`use errors::ApiError` in `api/mod.rs`); any
                // other first segment is an external crate.
                Some(first) => {
                    let child = src.join(module.join("/")).join(first);
                    if !(child.with_extension("rs").is_file() || child.join("mod.rs").is_file()) {
                        continue;
                    }
                    module.iter().cloned().chain(segments).collect()
                }
                None => continue,
            };
            if absolute.first().is_some_and(|s| s == "api")
                && let Some(target) = file_of(src, &absolute)
                && target != *file
            {
                targets.insert(target);
            }
        }
        edges.insert(file.clone(), targets);
    }
    edges
}

fn find_cycle(edges: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Option<Vec<PathBuf>> {
    fn visit(
        node: &Path,
        edges: &BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        state: &mut BTreeMap<PathBuf, bool>,
        stack: &mut Vec<PathBuf>,
    ) -> Option<Vec<PathBuf>> {
        state.insert(node.to_path_buf(), true);
        stack.push(node.to_path_buf());
        for next in edges.get(node).into_iter().flatten() {
            match state.get(next) {
                Some(true) => {
                    let start = stack.iter().position(|n| n == next).unwrap_or(0);
                    let mut cycle = stack[start..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Some(false) => {}
                None => {
                    if let Some(cycle) = visit(next, edges, state, stack) {
                        return Some(cycle);
                    }
                }
            }
        }
        stack.pop();
        state.insert(node.to_path_buf(), false);
        None
    }
    let mut state = BTreeMap::new();
    for node in edges.keys() {
        if !state.contains_key(node)
            && let Some(cycle) = visit(node, edges, &mut state, &mut Vec::new())
        {
            return Some(cycle);
        }
    }
    None
}

#[test]
fn src_api_has_no_import_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let edges = graph(&src);
    assert!(edges.len() > 20, "the walk found the api files");
    let host = src.join("api/host.rs");
    assert!(edges[&src.join("api/extract.rs")].contains(&host), "the graph sees inline paths");
    if let Some(cycle) = find_cycle(&edges) {
        let names: Vec<String> =
            cycle.iter().map(|p| p.strip_prefix(&src).unwrap_or(p).display().to_string()).collect();
        panic!("import circle in src/api: {}", names.join(" -> "));
    }
}

#[test]
fn the_check_finds_a_circle() {
    let a = PathBuf::from("a.rs");
    let b = PathBuf::from("b.rs");
    let edges = BTreeMap::from([(a.clone(), BTreeSet::from([b.clone()])), (b.clone(), BTreeSet::from([a.clone()]))]);
    assert!(find_cycle(&edges).is_some());
    assert_eq!(
        expand("crate::api::{errors::{ApiError, ApiResult}, extract}"),
        ["crate::api::errors::ApiError", "crate::api::errors::ApiResult", "crate::api::extract"]
    );
}
