//! The direction of dependencies, checked on the sources: detection (its own crate) ←
//! model and errors ← Microsoft's clients ← the store ← collection, enrichment,
//! remediation and the partner ← the application layer ← the CLI and the desktop. A
//! module that imports against this order, an import cycle among core's modules, or a
//! front end reaching past the application layer fails here, naming the file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Core's top-level modules by layer, lowest first. A module may use its own layer and
/// those below; a new module must be placed here.
const LAYERS: [(&str, &[&str]); 5] = [
    (
        "model and errors",
        &[
            "clock", "cloud", "problem", "secrets", "split", "folder", "logging",
        ],
    ),
    (
        "Microsoft's clients",
        &["http", "auth", "api", "activity", "graph"],
    ),
    ("the store", &["store"]),
    (
        "collection, enrichment, remediation, the partner",
        &[
            "geo",
            "enrich",
            "sign_ins",
            "partner",
            "remediate",
            "undo",
            "report",
            "tenants",
            "tuning",
            "engine",
            "deliver",
            "team",
        ],
    ),
    ("the application layer", &["app"]),
];

/// What a front end may name in core: the application layer, and detection's model
/// (re-exported from the pure crate).
const FRONT_END_MAY_USE: [&str; 3] = ["app", "detect", "shown"];

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "tests") {
                out.extend(rust_files(&path));
            }
        } else if path.extension().is_some_and(|e| e == "rs")
            && path.file_name().is_some_and(|n| n != "tests.rs")
        {
            out.push(path);
        }
    }
    out
}

/// The code a build without tests compiles, without comments: the unit tests at the end
/// of a file may reach anywhere.
fn shipped_code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let tests = [
        "#[cfg(test)]\nmod tests",
        "#[cfg(all(test, unix))]\nmod tests",
    ]
    .iter()
    .filter_map(|t| text.find(t))
    .min();
    let code = tests.map_or(text.as_str(), |at| &text[..at]);
    code.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Each `prefix::name` in `code`; a grouped `prefix::{…}` import is named `{`, so
/// the checks refuse it rather than miss what it imports.
fn named_after(code: &str, prefix: &str) -> BTreeSet<String> {
    code.match_indices(prefix)
        .map(|(at, _)| {
            let rest = &code[at + prefix.len()..];
            if rest.starts_with('{') {
                return "{".to_string();
            }
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|name| !name.is_empty())
        .collect()
}

fn src(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// The top-level module a file of `root` belongs to.
fn module_of(root: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(root).unwrap();
    let first = relative.components().next().unwrap().as_os_str();
    first.to_string_lossy().trim_end_matches(".rs").to_string()
}

/// Each top-level module of the crate at `root` and the modules it uses, with the file.
fn edges_in(root: &Path) -> BTreeMap<String, BTreeSet<(String, String)>> {
    let mut edges: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    for file in rust_files(root) {
        let module = module_of(root, &file);
        if module == "lib" {
            continue;
        }
        let shown = file.strip_prefix(root).unwrap().display().to_string();
        for used in named_after(&shipped_code(&file), "crate::") {
            if used != module {
                edges
                    .entry(module.clone())
                    .or_default()
                    .insert((used, shown.clone()));
            }
        }
    }
    edges
}

fn core_edges() -> BTreeMap<String, BTreeSet<(String, String)>> {
    edges_in(&src("src"))
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, ms)| ms.contains(&module))
}

#[test]
fn every_core_module_imports_only_its_own_layer_and_those_below() {
    let mut wrong = Vec::new();
    for file in rust_files(&src("src")) {
        let module = module_of(&src("src"), &file);
        if module != "lib" && layer_of(&module).is_none() {
            wrong.push(format!("{module} is in no layer: add it to LAYERS"));
        }
    }
    for (module, used) in core_edges() {
        let Some(own) = layer_of(&module) else {
            continue;
        };
        for (target, file) in used {
            if target == "{" {
                wrong.push(format!(
                    "{file}: name each module of core it uses, not crate::{{…}}"
                ));
            }
            // detect, allowlist and shown come from the pure crate, below everything.
            if let Some(theirs) = layer_of(&target)
                && theirs > own
            {
                wrong.push(format!(
                    "{file}: {module} ({}) uses {target} ({})",
                    LAYERS[own].0, LAYERS[theirs].0
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Every import cycle among the modules of `edges`, as a path.
fn cycles(edges: BTreeMap<String, BTreeSet<(String, String)>>) -> Vec<String> {
    let modules: BTreeSet<String> = edges.keys().cloned().collect();
    let edges: BTreeMap<String, BTreeSet<String>> = edges
        .into_iter()
        .map(|(m, used)| {
            let targets = used
                .into_iter()
                .map(|(t, _)| t)
                .filter(|t| modules.contains(t))
                .collect();
            (m, targets)
        })
        .collect();
    // A cycle passes through some module twice on a walk from it.
    fn reaches(
        edges: &BTreeMap<String, BTreeSet<String>>,
        from: &str,
        goal: &str,
        seen: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        for next in edges.get(from).into_iter().flatten() {
            if next == goal {
                return Some(vec![next.clone()]);
            }
            if seen.insert(next.clone())
                && let Some(mut path) = reaches(edges, next, goal, seen)
            {
                path.insert(0, next.clone());
                return Some(path);
            }
        }
        None
    }
    edges
        .keys()
        .filter_map(|m| {
            reaches(&edges, m, m, &mut BTreeSet::new())
                .map(|p| format!("{m} -> {}", p.join(" -> ")))
        })
        .collect()
}

#[test]
fn no_import_cycle_remains_among_core_modules() {
    let found = cycles(core_edges());
    assert!(found.is_empty(), "import cycles:\n{}", found.join("\n"));
}

#[test]
fn no_import_cycle_remains_among_detection_modules() {
    let found = cycles(edges_in(&src("../detect/src")));
    assert!(found.is_empty(), "import cycles:\n{}", found.join("\n"));
}

#[test]
fn the_front_ends_import_only_the_application_layer_and_the_model() {
    let mut wrong = Vec::new();
    for dir in ["../cli/src", "../../src-tauri/src"] {
        let dir = src(dir);
        for file in rust_files(&dir) {
            for used in named_after(&shipped_code(&file), "rulewatch_core::") {
                if !FRONT_END_MAY_USE.contains(&used.as_str()) {
                    wrong.push(format!("{}: rulewatch_core::{used}", file.display()));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "front ends go through rulewatch_core::app:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_checks_see_imports_and_cycles_when_there_are_some() {
    let code = "use crate::store::Store;\n// crate::app in a comment\nfn f() { crate::geo::x() }";
    assert_eq!(
        named_after(code, "crate::"),
        ["app", "geo", "store"].map(String::from).into()
    );
    assert!(named_after("use rulewatch_core::{store, app};", "rulewatch_core::").contains("{"));
    let cleaned = code
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(
        named_after(&cleaned, "crate::"),
        ["geo", "store"].map(String::from).into()
    );
    assert!(layer_of("store") < layer_of("engine"));
    assert!(layer_of("http") < layer_of("partner"));
    let pair = |a: &str, b: &str| {
        BTreeMap::from([
            (
                a.to_string(),
                BTreeSet::from([(b.to_string(), format!("{a}.rs"))]),
            ),
            (
                b.to_string(),
                BTreeSet::from([(a.to_string(), format!("{b}.rs"))]),
            ),
        ])
    };
    assert_eq!(
        cycles(pair("rules", "allowlist")).len(),
        2,
        "both ends of a cycle are named"
    );
}
