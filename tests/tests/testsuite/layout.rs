//! The layout the crates keep (docs/design.md, "Inside the crates"): no
//! library file over 800 lines, and no two modules that use each other,
//! directly or around a longer loop. Read from the sources as text: a
//! module uses another where it names a path into it (`crate::…`,
//! `super::…`) outside comments and unit tests.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const CRATES: [&str; 4] = ["occ-core", "occ-axum", "occ-client", "occ-derive"];
const MAX_LINES: usize = 800;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate is inside the workspace")
        .to_path_buf()
}

/// Every `.rs` file below `dir`.
fn sources(dir: &Path, into: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a source folder") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            sources(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
}

/// A file's module path inside its crate (`repository::sql::read`; the
/// crate root, `lib.rs`, is empty).
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).expect("inside src");
    let mut parts: Vec<String> = relative
        .with_extension("")
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// The text that counts: no comments, no `#[cfg(test)] mod tests { … }`.
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests {") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .map(|line| line.split_once("//").map_or(line, |(code, _)| code))
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The paths of a use tree or a path expression starting at `text`:
/// `a::b::C`, or `a::{b::C, d::{E, F}, self}` expanded to each path.
fn tree(prefix: &[String], text: &str) -> Vec<Vec<String>> {
    let mut path = prefix.to_vec();
    let mut rest = text.trim_start();
    loop {
        let end = rest.find(|c: char| !is_ident(c)).unwrap_or(rest.len());
        let segment = &rest[..end];
        if segment.is_empty() {
            break;
        }
        if segment != "self" || path.is_empty() {
            path.push(segment.to_owned());
        }
        rest = &rest[end..];
        match rest.strip_prefix("::") {
            Some(after) => rest = after,
            None => return vec![path],
        }
    }
    let Some(group) = rest.strip_prefix('{') else {
        // `*`, or the end of the text.
        return vec![path];
    };
    // Split the group at its top-level commas.
    let (mut depth, mut start, mut found) = (0usize, 0usize, Vec::new());
    for (at, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                found.extend(tree(&path, &group[start..at]));
                return found;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                found.extend(tree(&path, &group[start..at]));
                start = at + 1;
            }
            _ => {}
        }
    }
    found
}

/// The paths a file names that start at `crate`, `super` or `self`,
/// groups expanded.
fn paths(code: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let bytes = code.as_bytes();
    for start in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(at) = code[from..].find(start) {
            let at = from + at;
            from = at + start.len();
            let boundary = at == 0 || !is_ident(char::from(bytes[at - 1]));
            if !boundary || (at >= 2 && &code[at - 2..at] == "::") {
                continue;
            }
            found.extend(tree(&[], &code[at..]).into_iter().filter(|p| p.len() > 1));
        }
    }
    found
}

/// `path`, named in module `at` (from `crate`, `super` or `self`), as a
/// path from the crate root.
fn absolute(at: &[String], path: &[String]) -> Option<Vec<String>> {
    let mut base: Vec<String> = match path.first().map(String::as_str) {
        Some("crate") => Vec::new(),
        Some("self") => at.to_vec(),
        Some("super") => at[..at.len().saturating_sub(1)].to_vec(),
        _ => return None,
    };
    let mut rest = &path[1..];
    while rest.first().map(String::as_str) == Some("super") {
        base.pop();
        rest = &rest[1..];
    }
    base.extend_from_slice(rest);
    Some(base)
}

/// What each module's own `use` declarations bring in, by the name they
/// bring it in as: a module that names an item through a parent that
/// re-exports it uses the module that defines it.
type Imports = BTreeMap<Vec<String>, BTreeMap<String, Vec<String>>>;

fn imports(
    modules: &BTreeSet<Vec<String>>,
    at: &[String],
    code: &str,
) -> BTreeMap<String, Vec<String>> {
    let mut found = BTreeMap::new();
    for statement in code.split(';') {
        let statement = statement.trim();
        let Some(at_use) = statement.find("use ") else {
            continue;
        };
        // What stands before `use` on its line: nothing, or a visibility.
        let head = statement[..at_use].rsplit('\n').next().unwrap_or("").trim();
        if !(head.is_empty() || head.starts_with("pub")) {
            continue;
        }
        for path in tree(&[], &statement[at_use + 4..]) {
            let full = match path.first().map(String::as_str) {
                Some("crate" | "self" | "super") => absolute(at, &path),
                // `use child::Item` in a module's own file.
                Some(first) => {
                    let mut child = at.to_vec();
                    child.push(first.to_owned());
                    modules.contains(&child).then(|| {
                        let mut full = at.to_vec();
                        full.extend(path.iter().cloned());
                        full
                    })
                }
                None => None,
            };
            if let (Some(full), Some(name)) = (full, path.last()) {
                found.insert(name.clone(), full);
            }
        }
    }
    found
}

/// The module that defines what `path` (from the crate root) names: the
/// longest prefix of it that is a module, followed through that module's
/// imports when the next segment is one of them.
fn target(
    modules: &BTreeSet<Vec<String>>,
    imports: &Imports,
    path: &[String],
) -> Option<Vec<String>> {
    let mut path = path.to_vec();
    for _ in 0..8 {
        let module = (0..=path.len()).rev().find_map(|n| {
            let candidate = path[..n].to_vec();
            modules.contains(&candidate).then_some(candidate)
        })?;
        let next = path.get(module.len());
        match next.and_then(|name| imports.get(&module)?.get(name)) {
            Some(imported) if imported != &path => {
                let mut followed = imported.clone();
                followed.extend_from_slice(&path[module.len() + 1..]);
                path = followed;
            }
            _ => return Some(module),
        }
    }
    None
}

/// The modules of a crate and which others each one uses (a module's own
/// submodules and parents aside: a parent declares its children).
fn graph(krate: &str) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let src = workspace().join(krate).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(&src, f)).collect();
    let texts: Vec<(Vec<String>, String)> = files
        .iter()
        .map(|file| {
            let text = std::fs::read_to_string(file).expect("a source file");
            (module_of(&src, file), code(&text))
        })
        .collect();
    let imports: Imports = texts
        .iter()
        .map(|(at, code)| (at.clone(), imports(&modules, at, code)))
        .collect();
    let mut uses = BTreeMap::new();
    for (at, code) in &texts {
        let used: BTreeSet<Vec<String>> = paths(code)
            .iter()
            .filter_map(|path| absolute(at, path))
            .filter_map(|path| target(&modules, &imports, &path))
            .filter(|used| !used.starts_with(at) && !at.starts_with(used))
            .collect();
        uses.insert(at.clone(), used);
    }
    uses
}

/// A loop of modules that use each other, if there is one.
fn find_cycle(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        node: &Vec<String>,
        graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        marks: &mut BTreeMap<Vec<String>, Mark>,
        stack: &mut Vec<Vec<String>>,
    ) -> Option<Vec<String>> {
        marks.insert(node.clone(), Mark::Open);
        stack.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            match marks.get(next) {
                Some(Mark::Open) => {
                    let from = stack.iter().position(|n| n == next).unwrap_or(0);
                    let mut cycle: Vec<String> =
                        stack[from..].iter().map(|m| m.join("::")).collect();
                    cycle.push(next.join("::"));
                    return Some(cycle);
                }
                Some(Mark::Done) => {}
                None => {
                    if let Some(cycle) = visit(next, graph, marks, stack) {
                        return Some(cycle);
                    }
                }
            }
        }
        stack.pop();
        marks.insert(node.clone(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in graph.keys() {
        if !marks.contains_key(node) {
            if let Some(cycle) = visit(node, graph, &mut marks, &mut Vec::new()) {
                return Some(cycle);
            }
        }
    }
    None
}

#[test]
fn no_two_modules_use_each_other() {
    for krate in CRATES {
        let graph = graph(krate);
        assert!(graph.len() > 3, "{krate}: its modules were not found");
        if let Some(cycle) = find_cycle(&graph) {
            panic!(
                "{krate}: modules that use each other: {}",
                cycle.join(" -> ")
            );
        }
    }
}

#[test]
fn the_loop_finder_finds_a_loop() {
    let module = |name: &str| vec![name.to_owned()];
    let mut graph = BTreeMap::new();
    graph.insert(module("a"), BTreeSet::from([module("b")]));
    graph.insert(module("b"), BTreeSet::from([module("c")]));
    graph.insert(module("c"), BTreeSet::from([module("a")]));
    assert_eq!(
        find_cycle(&graph),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    graph.insert(module("c"), BTreeSet::new());
    assert_eq!(find_cycle(&graph), None);
}

#[test]
fn the_parser_reads_groups_and_follows_re_exports() {
    let names =
        |paths: Vec<Vec<String>>| -> Vec<String> { paths.iter().map(|p| p.join("::")).collect() };
    assert_eq!(
        names(paths(
            "use crate::a::{b::C, d::{E, self}};\nlet x = super::f::G;"
        )),
        [
            "crate::a::b::C",
            "crate::a::d::E",
            "crate::a::d",
            "super::f::G"
        ]
    );
    // `pipeline::read` names `Snapshot` through `repository`, which
    // re-exports it from `repository::snapshot`.
    let module = |path: &str| path.split("::").map(str::to_owned).collect::<Vec<_>>();
    let modules: BTreeSet<Vec<String>> = [
        "",
        "repository",
        "repository::snapshot",
        "pipeline",
        "pipeline::read",
    ]
    .iter()
    .map(|m| if m.is_empty() { Vec::new() } else { module(m) })
    .collect();
    let mut imported = Imports::new();
    imported.insert(
        module("repository"),
        imports(
            &modules,
            &module("repository"),
            "pub use snapshot::{Page, Snapshot};",
        ),
    );
    assert_eq!(
        target(&modules, &imported, &module("repository::Snapshot")),
        Some(module("repository::snapshot"))
    );
}

#[test]
fn no_library_file_is_over_800_lines() {
    for krate in CRATES {
        let mut files = Vec::new();
        sources(&workspace().join(krate).join("src"), &mut files);
        for file in files {
            let lines = std::fs::read_to_string(&file)
                .expect("a source file")
                .lines()
                .count();
            assert!(
                lines <= MAX_LINES,
                "{}: {lines} lines, over {MAX_LINES}",
                file.display()
            );
        }
    }
}
