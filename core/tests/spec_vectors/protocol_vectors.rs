//! The vectors (p) and (q) of format-spec.md §13: `RepoParams` version 2
//! and a run marker (§6, "The deletion protocol"). As in the parent module,
//! every hex string here appears verbatim in the specification.

use super::more_vectors::assert_vector;
use super::{VECTOR_PARAMS, master};
use cairn_core::format::codec::{self, ObjectKind};
use cairn_core::format::crypto::{Keys, fixed_nonces};
use cairn_core::format::marker::{MarkerFile, MarkerRole};
use cairn_core::format::{RepoParams, Timestamp};
use cairn_core::id::Id;

#[test]
fn p_repo_params_version_2() {
    let v2 = RepoParams { version: 2, features: 1, ..VECTOR_PARAMS };
    let raw = codec::to_postcard(&v2).unwrap();
    assert_vector("repo params v2", &raw, &["02808004808010808040808080080601"]);
    let v1 = codec::to_postcard(&VECTOR_PARAMS).unwrap();
    assert_eq!(&raw[1..v1.len()], &v1[1..], "version 1's fields, then `features`");
    assert_eq!(RepoParams::decode(&raw).unwrap(), v2);
    assert_eq!(RepoParams::decode(&v1).unwrap(), VECTOR_PARAMS);
}

#[test]
fn q_marker_file() {
    let marker = MarkerFile {
        version: 1,
        role: MarkerRole::Prune,
        run: Id([0x06; 32]),
        started: Timestamp { unix_seconds: 1_748_779_200, nanos: 0, offset_seconds: 7200 },
        time: Timestamp { unix_seconds: 1_748_779_500, nanos: 0, offset_seconds: 7200 },
        host: String::from("h"),
        user: String::from("u"),
        pid: 4242,
        boot_id: String::from("b"),
        pid_start: 123_456,
    };
    let raw = codec::to_postcard(&marker).unwrap();
    assert_vector(
        "marker postcard",
        &raw,
        &[
            "0101060606060606060606060606060606060606060606060606060606060606",
            "06068083e2830d00c070d887e2830d00c0700168017592210162c0c407",
        ],
    );
    assert_eq!(codec::from_postcard::<MarkerFile>(&raw, "marker").unwrap(), marker);
    let keys = Keys::from_master(&master());
    let sealed = fixed_nonces::during(|| codec::encode(&keys, ObjectKind::Marker, &marker, 3)).unwrap();
    assert_vector(
        "sealed marker",
        &sealed,
        &[
            "000000000000000000000000000000000000000000000000fa3ef0eb7ff51729",
            "f09474aeb573abfc85393197d1f57dd64d2af9f53ae86688a941523dd8409300",
            "a95ff329928dd573bf94e1339ff49ad1614f",
        ],
    );
    assert_vector(
        "marker file name",
        &Id::of_file_bytes(&sealed).0,
        &["d8268d1b5fe6f3d5cc56c7e203f94b0604817f40a1e6612734a746dc763454f1"],
    );
}
