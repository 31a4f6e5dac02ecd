//! `cairn snapshot` killed with SIGKILL at many moments: the repository then
//! checks clean (leftovers are notes, not errors) and earlier snapshots
//! restore byte for byte.

use std::fs;
use std::time::Duration;

use crate::common::*;

#[test]
fn killed_snapshots_leave_a_clean_repository() {
    let env = Env::new();
    let src = env.path("src");
    cairn_testgen::init(&src, cairn_testgen::Scale::Tiny, 5).unwrap();
    env.snapshot_json(&[&src]);
    let good = env.path("good");
    env.cairn().args(["restore", "latest", "--target"]).arg(&good).assert().success();

    // Enough new data that a snapshot takes a while: a few MB of fresh bytes.
    let mut seed = 1u64;
    for (round, delay_ms) in [5u64, 20, 40, 80, 120, 200, 300, 500].into_iter().enumerate() {
        let data: Vec<u8> = (0..6_000_000)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed >> 32) as u8
            })
            .collect();
        fs::write(src.join(format!("blob-{round}.bin")), data).unwrap();
        cairn_testgen::tick(&src, round as u32 + 1).unwrap();
        let mut child = env
            .std_cairn()
            .arg("snapshot")
            .arg(&src)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL
        child.wait().unwrap();

        let out = env.cairn().args(["check", "--read-data"]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "after a kill at {delay_ms} ms:\n{}", stdout_of(&out));
    }
    let out = env.cairn().args(["snapshots", "--json"]).output().unwrap();
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // At least one kill must have landed before its snapshot was saved, or
    // this test proved nothing.
    assert!(
        list.as_array().unwrap().len() < 9,
        "every killed run finished first: {} snapshots",
        list.as_array().unwrap().len()
    );
    let first = list[0]["id"].as_str().unwrap().to_string();
    let target = env.path("again");
    env.cairn().args(["restore", &first, "--target"]).arg(&target).assert().success();
    assert_same_tree(&good, &target);
}
