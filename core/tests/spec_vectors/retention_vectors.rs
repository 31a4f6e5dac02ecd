//! The vectors (n) and (o) of format-spec.md §13: a policy file and a pin
//! (§10.1). As in the parent module, every hex string here appears
//! verbatim in the specification.

use super::more_vectors::assert_vector;
use super::{master, unhex};
use cairn_core::format::Timestamp;
use cairn_core::format::codec::{self, ObjectKind};
use cairn_core::format::crypto::{Keys, fixed_nonces};
use cairn_core::format::retention::{KeepRules, PinFile, PolicyFile, Span};
use cairn_core::id::Id;

/// 2025-06-01T14:00:00+02:00, the vectors' time in a UTC+2 offset.
const TIME: Timestamp = Timestamp { unix_seconds: 1_748_779_200, nanos: 0, offset_seconds: 7200 };

#[test]
fn n_policy_file() {
    let rules = KeepRules {
        within: Some(Span { years: 0, months: 0, days: 2, hours: 12 }),
        tags: vec![vec![String::from("keep")]],
        ..KeepRules::repository_default()
    };
    let policy = PolicyFile { version: 1, time: TIME, host: String::from("h"), user: String::from("u"), rules };
    let raw = codec::to_postcard(&policy).unwrap();
    assert_vector(
        "policy postcard",
        &raw,
        &["018083e2830d00c0700168017500181e0c0c00010000020c0000000000010104", "6b656570"],
    );
    assert_eq!(codec::from_postcard::<PolicyFile>(&raw, "policy").unwrap(), policy);
    let keys = Keys::from_master(&master());
    let sealed = fixed_nonces::during(|| codec::encode(&keys, ObjectKind::Policy, &policy, 3)).unwrap();
    assert_vector(
        "sealed policy",
        &sealed,
        &[
            "000000000000000000000000000000000000000000000000fb17c5476056272c",
            "31e4b5c7b5002b6779b630971085a5534042f880a8c966eb6dee305aa8933e7a",
            "1c81a72f5cc9a700634c5f1c65",
        ],
    );
    assert_eq!(Id::of_file_bytes(&sealed).to_hex(), "bab04d2733a3db620ef357b32546f27df094346250c71af82c0dca3a52334f03");
    assert_eq!(codec::decode::<PolicyFile>(&keys, ObjectKind::Policy, &sealed).unwrap(), policy);
    assert!(codec::decode::<PolicyFile>(&keys, ObjectKind::Pin, &sealed).is_err());
}

#[test]
fn o_pin_file() {
    let snapshot = Id(unhex("0505050505050505050505050505050505050505050505050505050505050505").try_into().unwrap());
    let pin = PinFile { version: 1, snapshot, time: TIME, host: String::from("h"), user: String::from("u") };
    let raw = codec::to_postcard(&pin).unwrap();
    assert_vector(
        "pin postcard",
        &raw,
        &["0105050505050505050505050505050505050505050505050505050505050505", "058083e2830d00c07001680175"],
    );
    let keys = Keys::from_master(&master());
    let sealed = fixed_nonces::during(|| codec::encode(&keys, ObjectKind::Pin, &pin, 3)).unwrap();
    assert_vector(
        "sealed pin",
        &sealed,
        &[
            "000000000000000000000000000000000000000000000000fa3ef0eb7ff50789",
            "f194c4aeb1f5a89de4b73c576184cd503943f88d68cb7890ad99f786610ecc74",
            "7259ff2efbab",
        ],
    );
    assert_eq!(codec::decode::<PinFile>(&keys, ObjectKind::Pin, &sealed).unwrap(), pin);
    assert!(codec::decode::<PinFile>(&keys, ObjectKind::Snapshot, &sealed).is_err());
}
