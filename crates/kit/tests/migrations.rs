//! The services' migration directories (`migrations/<service>/<backend>/<version>_<name>`):
//! diesel keys a migration by its version, so two with one version mean one never runs;
//! and both backends must have the same migrations, so a service's schema does not
//! depend on its database.

use std::collections::BTreeMap;
use std::path::Path;

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.'))
        .collect();
    names.sort();
    names
}

#[test]
fn every_migration_has_its_own_version_and_both_backends_have_the_same() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    let services = names(&root);
    assert!(services.len() >= 3, "{services:?}");
    for service in services {
        let postgres = names(&root.join(&service).join("postgres"));
        let sqlite = names(&root.join(&service).join("sqlite"));
        assert_eq!(postgres, sqlite, "{service}: postgres and sqlite migrations differ");
        let mut versions: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for name in &postgres {
            let (version, _) =
                name.split_once('_').unwrap_or_else(|| panic!("{service}/{name}: no version_"));
            versions.entry(version).or_default().push(name);
        }
        for (version, names) in versions {
            assert_eq!(names.len(), 1, "{service}: version {version} is used by {names:?}");
        }
    }
}
