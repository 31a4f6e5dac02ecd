//! Entry points for fuzzing the parsers of network input: each takes
//! arbitrary bytes and must never panic. The cargo-fuzz target
//! `fuzz/fuzz_targets/serve_input.rs` calls [`serve_input`]; its seeds in
//! `fuzz/corpus/serve_input/` also run in `cargo test -p cairn-server`.

/// First byte: which parser (modulo 4); the rest: its input.
/// 0: a request path, 1: a `Range` header (against a size taken from the
/// next 8 bytes), 2: an htpasswd file, 3: an `Authorization` header.
pub fn serve_input(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else { return };
    match which % 4 {
        0 => {
            if let Ok(path) = std::str::from_utf8(rest) {
                let _ = crate::route::parse_path(path);
            }
        }
        1 => {
            let (size, header) = rest.split_at(rest.len().min(8));
            let mut b = [0u8; 8];
            b[..size.len()].copy_from_slice(size);
            let size = u64::from_le_bytes(b);
            if let crate::range::RangeAnswer::Partial { start, len } = crate::range::parse_range(Some(header), size) {
                assert!(len > 0 && start.checked_add(len).is_some_and(|end| end <= size), "a range outside the file");
            }
        }
        2 => {
            if let Ok(text) = std::str::from_utf8(rest) {
                let _ = crate::auth::htpasswd::parse(text);
            }
        }
        _ => {
            let _ = crate::auth::parse_basic(rest);
        }
    }
}
