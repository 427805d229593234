//! The fuzz targets (`fuzz/`, `make fuzz`) agree with their list: each `[[bin]]` of
//! fuzz/Cargo.toml has its source and a seed corpus, each source is listed, and the
//! script runs the list rather than names of its own. Runs on stable; fuzzing does not.

use std::{collections::BTreeSet, fs, path::Path};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().parent().unwrap()
}

/// (name, path) of each `[[bin]]` of fuzz/Cargo.toml.
fn listed() -> Vec<(String, String)> {
    let manifest = fs::read_to_string(root().join("fuzz/Cargo.toml")).unwrap();
    let value = |line: &str, key: &str| {
        let rest = line.strip_prefix(key)?.trim_start().strip_prefix('=')?;
        Some(rest.trim().trim_matches('"').to_string())
    };
    let mut bins = Vec::new();
    let mut in_bin = false;
    let (mut name, mut path) = (None, None);
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            if let (Some(n), Some(p)) = (name.take(), path.take()) {
                bins.push((n, p));
            }
            in_bin = line == "[[bin]]";
        } else if in_bin {
            name = name.or_else(|| value(line, "name"));
            path = path.or_else(|| value(line, "path"));
        }
    }
    if let (Some(n), Some(p)) = (name, path) {
        bins.push((n, p));
    }
    bins
}

#[test]
fn every_fuzz_target_has_its_source_and_seeds_and_every_source_is_a_target() {
    let bins = listed();
    assert!(bins.len() >= 7, "{bins:?}");
    for (name, path) in &bins {
        assert_eq!(path, &format!("fuzz_targets/{name}.rs"));
        let source = fs::read_to_string(root().join("fuzz").join(path)).unwrap();
        assert!(source.contains("fuzz_target!"), "{path} is no fuzz target");
        let seeds = fs::read_dir(root().join("fuzz/corpus").join(name))
            .unwrap_or_else(|e| panic!("fuzz/corpus/{name}: {e}"))
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with("seed-"))
            .count();
        assert!(seeds > 0, "fuzz/corpus/{name} has no seed");
    }
    let sources: BTreeSet<String> = fs::read_dir(root().join("fuzz/fuzz_targets"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    let names: BTreeSet<String> = bins.into_iter().map(|(n, _)| n).collect();
    assert_eq!(sources, names, "fuzz/fuzz_targets and the [[bin]]s of fuzz/Cargo.toml differ");
}

#[test]
fn make_fuzz_runs_the_listed_targets() {
    let makefile = fs::read_to_string(root().join("Makefile")).unwrap();
    assert!(makefile.contains("fuzz:\n\tscripts/fuzz.sh"), "make fuzz runs scripts/fuzz.sh");
    let script = fs::read_to_string(root().join("scripts/fuzz.sh")).unwrap();
    assert!(script.contains("cargo +nightly fuzz list"), "the script takes the list from fuzz/Cargo.toml");
    let workspace = fs::read_to_string(root().join("Cargo.toml")).unwrap();
    assert!(workspace.contains("exclude = [\"fuzz\"]"), "the fuzz crate stays out of the stable workspace");
}
