//! Unit tests of the text generators.

use super::*;
use std::collections::HashMap;

#[test]
fn code_is_repetitive_but_distinct() {
    let v = Vocab::new(1);
    let mut g = Gen::new(&v, Rng::derive(1, "t", 0));
    for lang in LangId::ALL {
        let a = g.code(lang, 20_000);
        let b = g.code(lang, 20_000);
        assert_ne!(a, b);
        assert!(a.len() >= 20_000 && a.is_ascii());
        // Cheap compressibility proxy: the top identifiers/words recur a lot.
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for w in a.split(|c: char| !c.is_ascii_alphanumeric() && c != '_') {
            if !w.is_empty() {
                *counts.entry(w).or_default() += 1;
            }
        }
        let total: usize = counts.values().sum();
        assert!(counts.len() * 4 < total, "{lang:?}: {} distinct of {total}", counts.len());
    }
}

#[test]
fn markdown_and_json() {
    let v = Vocab::new(2);
    let mut g = Gen::new(&v, Rng::derive(2, "t", 0));
    let md = g.markdown(5000, Some("Hello"));
    assert!(md.starts_with("# Hello\n"));
    let j = g.json(3000);
    assert!(j.starts_with("{\n") && j.ends_with("}\n"));
    let u = g.uuid();
    assert_eq!(u.len(), 36);
    assert_eq!(&u[14..15], "4");
}
