//! The version-2 `Snapshot` of format-spec.md §13 (d), which is the
//! version-1 example followed by its `Recipe` (§10). As in the parent
//! module, every hex string here appears verbatim in the specification.

use serde_bytes::ByteBuf;

use super::{example_snapshot, hex, show};
use cairn_core::format::Snapshot;
use cairn_core::format::codec;
use cairn_core::format::recipe::{ExcludeRecord, GivenLink, Recipe};

const SPEC: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../format-spec.md"));

fn example_recipe() -> Recipe {
    Recipe {
        excludes: ExcludeRecord {
            patterns: vec!["node_modules/".into(), "**/a/b".into()],
            cargo_target: true,
            markers: vec!["CACHEDIR.TAG".into()],
            git_ignore: false,
            one_file_system: true,
            larger_than: Some(1024),
            skip_pseudo_filesystems: true,
            self_excluded: vec![ByteBuf::from(b"/r".to_vec())],
        },
        links: vec![GivenLink { given: ByteBuf::from(b"/l".to_vec()), target: ByteBuf::from(b"/w".to_vec()) }],
    }
}

#[test]
fn n_snapshot_version_2() {
    let v2 = Snapshot { version: 2, recipe: Some(example_recipe()), ..example_snapshot() };
    let bytes = codec::to_postcard(&v2).unwrap();
    show("snapshot v2", &bytes);
    let v1 = codec::to_postcard(&example_snapshot()).unwrap();
    assert_eq!(&bytes[1..v1.len()], &v1[1..], "version 1's fields, unchanged");
    let recipe = codec::to_postcard(&example_recipe()).unwrap();
    show("recipe", &recipe);
    let lines: &[&str] = &[
        "020d6e6f64655f6d6f64756c65732f062a2a2f612f6201010c43414348454449",
        "522e54414700010180080101022f7201022f6c022f77",
    ];
    assert_eq!(hex(&recipe), lines.concat(), "the recipe is no longer what format-spec.md §13 shows");
    let block = format!("```\n{}\n```", lines.join("\n"));
    assert!(SPEC.contains(&block), "format-spec.md §13 does not show the recipe as\n{block}");
    assert_eq!(codec::from_postcard::<Snapshot>(&bytes, "snapshot").unwrap(), v2);
}
