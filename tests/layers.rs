//! The crate's layers, each importing only the ones below it (see `src/lib.rs`): a file that
//! names a module of a higher layer fails this test with the file, the line and the layer.

use std::path::{Path, PathBuf};

/// Bottom to top.
const LAYERS: &[&str] = &[
    "model",
    "dialect",
    "system",
    "supervisor",
    "backends",
    "engine",
    "manager",
    "cli",
];

fn layer_of(path: &Path, root: &Path) -> Option<usize> {
    let rel = path.strip_prefix(root).ok()?;
    let mut parts = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned());
    let first = parts.next()?;
    let name = if first == "backends" {
        "backends".to_string()
    } else {
        parts.next()?.trim_end_matches(".rs").to_string()
    };
    LAYERS.iter().position(|l| *l == name)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_layer_imports_one_above_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    rust_files(&root.join("backends"), &mut files);
    let mut checked = 0;
    let mut upward = Vec::new();
    for file in &files {
        let Some(own) = layer_of(file, root) else {
            continue; // lib.rs and main.rs stand above every layer
        };
        checked += 1;
        for (n, line) in std::fs::read_to_string(file).unwrap().lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for (i, _) in code.match_indices("crate::") {
                let rest = &code[i + "crate::".len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if let Some(used) = LAYERS.iter().position(|l| *l == name) {
                    if used > own {
                        upward.push(format!(
                            "{}:{}: {} imports {}",
                            file.strip_prefix(root).unwrap().display(),
                            n + 1,
                            LAYERS[own],
                            name
                        ));
                    }
                }
            }
        }
    }
    assert!(checked > 40, "only {checked} files were read");
    assert!(
        upward.is_empty(),
        "imports that run up:\n{}",
        upward.join("\n")
    );
}
