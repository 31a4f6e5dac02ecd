//! The structures `cairn copy` added (format-spec.md §13 (r), (s)): a
//! version-3 `Snapshot` (a copy, naming its original) and `RepoParams`
//! carrying an adopted blob-id key and chunker seed. As in the parent
//! module, every hex string here appears verbatim in the specification.

use super::more_vectors::assert_vector;
use super::{VECTOR_PARAMS, example_snapshot, master};
use cairn_core::format::codec;
use cairn_core::format::crypto::Keys;
use cairn_core::format::{AdoptedIds, RepoParams, Snapshot};
use cairn_core::id::Id;

#[test]
fn r_snapshot_version_3() {
    let copy = Snapshot { version: 3, recipe: None, original: Some(Id([0x07; 32])), ..example_snapshot() };
    let bytes = codec::to_postcard(&copy).unwrap();
    let v1 = codec::to_postcard(&example_snapshot()).unwrap();
    assert_eq!(bytes[0], 3);
    assert_eq!(&bytes[1..v1.len()], &v1[1..], "version 1's fields, unchanged");
    assert_vector(
        "snapshot v3 after version 1's fields",
        &bytes[v1.len()..],
        &["0001070707070707070707070707070707070707070707070707070707070707", "0707"],
    );
    assert_eq!(codec::from_postcard::<Snapshot>(&bytes, "snapshot").unwrap(), copy);
}

#[test]
fn s_repo_params_with_adopted_ids() {
    let adopted = AdoptedIds { blob_id_key: [0x08; 32], chunker_seed: 0x0102_0304_0506_0708 };
    let params = RepoParams { version: 2, features: 1, ..VECTOR_PARAMS }.adopting(adopted.clone());
    assert_eq!(params.features, 3);
    let raw = codec::to_postcard(&params).unwrap();
    assert_vector(
        "repo params with adopted ids",
        &raw,
        &[
            "0280800480801080804080808008060308080808080808080808080808080808",
            "08080808080808080808080808080808888e98a8c0e0808101",
        ],
    );
    assert_eq!(RepoParams::decode(&raw).unwrap(), params);
    // The adopted key names blobs; the master key of (a) still seals.
    let keys = Keys::from_master(&master()).adopting(&adopted);
    assert_eq!(keys.blob_id(b"hello cairn").0, *blake3::keyed_hash(&[0x08; 32], b"hello cairn").as_bytes());
    assert_eq!(keys.chunker_seed(), 0x0102_0304_0506_0708);
}
