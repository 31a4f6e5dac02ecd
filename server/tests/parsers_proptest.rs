//! Properties of the parsers of network input over arbitrary input (the
//! fuzz target's invariants, run on stable in `cargo test`): a path that
//! parses names a repository that cannot leave the root, and a range that
//! parses lies inside the file.

use cairn_server::range::{RangeAnswer, parse_range};
use cairn_server::route::{RepoName, parse_path};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn a_parsed_path_stays_inside_the_root(path in "(/|%2[eEfF]|%00|\\.|[a-z0-9_.-]{0,6}|config|data|keys|cairn|maintenance|[0-9a-f]{64}){0,6}") {
        if let Ok(target) = parse_path(&path)
            && let RepoName::Named(name) = target.repo
        {
            prop_assert!(!name.is_empty() && !name.starts_with('.'), "{name:?} from {path:?}");
            prop_assert!(!name.contains('/') && !name.contains('\0') && !name.contains('%'), "{name:?} from {path:?}");
        }
    }

    #[test]
    fn any_bytes_as_a_path_do_not_panic(path in ".{0,80}") {
        let _ = parse_path(&path);
    }

    #[test]
    fn a_partial_range_lies_inside_the_file(a in 0u64..5000, b in 0u64..5000, form in 0u8..4, size in 0u64..4000) {
        let header = match form {
            0 => format!("bytes={a}-{b}"),
            1 => format!("bytes={a}-"),
            2 => format!("bytes=-{b}"),
            _ => format!("bytes={a}-{b},{b}-"),
        };
        if let RangeAnswer::Partial { start, len } = parse_range(Some(header.as_bytes()), size) {
            prop_assert!(len > 0 && start + len <= size, "{header} on {size}: {start}+{len}");
        }
    }
}
