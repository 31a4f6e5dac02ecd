//! The corpus-wide vocabulary: words, identifiers, stock sentences and a text blob, all
//! derived from the seed alone so that `init` and every `tick` share them.

use std::collections::HashSet;

use crate::lang::{self, Lang};
use crate::rng::Rng;

/// Everyday English, most frequent first (the skewed picker favours the front).
const ENGLISH: &str = "the to and of a in is it that for this we on with be as not
are at by or so from but if now can will have should then was all an use one also
just when which there what into need more only make sure than other still like here
new after before because while where without each some same first next last again
does done works working seems looks good fine better simple quick clean safe fast slow
right wrong expected actual instead maybe probably already yet both either every few
many most less least much very too really about around between through over under
let's we'll it's that's don't doesn't isn't can't won't here's there's i'll you'll
think know want try see found fixed added removed changed moved kept left broke passes
fails failing passing missing wrong case cases point way thing things part parts place
reason idea plan step steps time times line lines bit lot kind sort side end start";

/// Programming nouns and verbs: the raw material of identifiers.
const TECH: &str = "file path dir entry node tree leaf root branch commit object blob chunk pack
index cache store repo snapshot backup restore prune forget verify check scan walk
watch lock guard mutex queue stream buffer reader writer parser lexer token span error
result state event message frame packet socket conn pool worker thread task job batch
config option flag arg param spec schema table row column field record key value map
set list vec item count size len offset limit range window page cursor iter trace log
metric timer clock date hour day diff patch delta merge tag ref hash digest cipher nonce
salt header body meta info stats total avg max min prev parent child source sink
channel signal status mode kind level depth width height user session agent tool prompt
reply model client server request response handler manager service router controller
endpoint route api auth login secret id uuid name label title summary note todo plan
vector score rank search filter sort group shard replica peer cluster region bucket
upload download sync future callback hook plugin module package crate lib main init
setup builder factory registry provider adapter bridge proxy render view widget button
form input output style theme color image asset font icon layout document context env";

/// Syllables for pseudo-words: product names, crate names, made-up jargon.
const SYLLABLES: &str = "ba be bo ka ki ko ra ri ro ta te to na ni no la li lo ma mi mo sa se so
za zu vel vor dex dra fen gal hol jin kor lum mir nox pix quil rax sul tun vex wyn
xan yor zep bri cla dro flu gre ple sku tra";

/// Models named in transcripts.
pub(crate) const MODELS: [&str; 3] = ["claude-opus-4-1", "claude-sonnet-4-5", "claude-haiku-4-5"];

/// An identifier in every spelling the generators need.
pub(crate) struct Ident {
    pub snake: String,
    pub camel: String,
    pub pascal: String,
    pub kebab: String,
    pub upper: String,
}

impl Ident {
    pub(crate) fn new(parts: &[&str]) -> Ident {
        let cap = |p: &str| {
            let mut c = p.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        };
        let pascal: String = parts.iter().map(|p| cap(p)).collect();
        let camel = match parts.split_first() {
            Some((first, rest)) => (*first).to_string() + &rest.iter().map(|p| cap(p)).collect::<String>(),
            None => String::new(),
        };
        Ident {
            snake: parts.join("_"),
            camel,
            pascal,
            kebab: parts.join("-"),
            upper: parts.join("_").to_ascii_uppercase(),
        }
    }
}

/// Shared material for all generators of one corpus.
pub(crate) struct Vocab {
    /// Word pool for prose, most frequent first.
    pub words: Vec<String>,
    /// Identifier pool for code, most frequent first.
    pub idents: Vec<Ident>,
    /// Made-up words, used for per-file unique identifiers and product names.
    pub pseudo: Vec<String>,
    /// Stock sentences that recur across docs and transcripts.
    pub sentences: Vec<String>,
    /// People (authors, copyright owners).
    pub people: Vec<String>,
    /// About 1 MiB of prose, sliced into the compressible parts of binary files.
    pub blob: Vec<u8>,
    /// Parsed code templates, indexed by [`lang::LangId`].
    pub langs: Vec<Lang>,
}

impl Vocab {
    pub(crate) fn new(seed: u64) -> Vocab {
        let mut rng = Rng::derive(seed, "vocab", 0);
        let syllables: Vec<&str> = SYLLABLES.split_whitespace().collect();
        let mut seen = HashSet::new();
        let mut pseudo = Vec::new();
        while pseudo.len() < 1600 {
            let n = rng.range(2, 3);
            let w: String = (0..n).map(|_| *rng.pick(&syllables)).collect();
            if seen.insert(w.clone()) {
                pseudo.push(w);
            }
        }

        let mut words: Vec<String> = ENGLISH.split_whitespace().map(String::from).collect();
        words.extend(TECH.split_whitespace().map(String::from));
        words.extend(pseudo.iter().take(900).cloned());

        let tech: Vec<&str> = TECH.split_whitespace().collect();
        let mut parts_pool: Vec<&str> = tech.clone();
        parts_pool.extend(pseudo.iter().take(120).map(String::as_str));
        let mut seen = HashSet::new();
        let mut idents = Vec::new();
        while idents.len() < 5000 {
            let n = *rng.pick(&[1usize, 2, 2, 2, 3, 3]);
            let parts: Vec<&str> = (0..n).map(|_| *rng.pick(&parts_pool)).collect();
            let id = Ident::new(&parts);
            if seen.insert(id.snake.clone()) {
                idents.push(id);
            }
        }

        let people = (0..24)
            .map(|_| {
                let a = Ident::new(&[rng.pick(&pseudo).as_str()]).pascal;
                let b = Ident::new(&[rng.pick(&pseudo).as_str(), *rng.pick(&syllables)]).pascal;
                format!("{a} {b}")
            })
            .collect();

        let mut v =
            Vocab { words, idents, pseudo, sentences: Vec::new(), people, blob: Vec::new(), langs: lang::parse_all() };
        v.sentences = (0..2500).map(|_| v.fresh_sentence(&mut rng)).collect();
        let mut blob = String::with_capacity(1 << 20);
        while blob.len() < 1 << 20 {
            blob.push_str(rng.pick(&v.sentences).as_str());
            blob.push(' ');
            for _ in 0..6 {
                blob.push_str(v.word(&mut rng));
                blob.push(' ');
            }
            blob.push('\n');
        }
        v.blob = blob.into_bytes();
        v
    }

    /// A word, skewed toward the frequent ones.
    pub(crate) fn word(&self, rng: &mut Rng) -> &str {
        rng.pick_skewed(&self.words).as_str()
    }

    pub(crate) fn ident(&self, rng: &mut Rng) -> &Ident {
        rng.pick_skewed(&self.idents)
    }

    fn fresh_sentence(&self, rng: &mut Rng) -> String {
        let n = rng.range(5, 16);
        let mut s = String::new();
        for i in 0..n {
            let w = self.word(rng);
            if i == 0 {
                s.push_str(&Ident::new(&[w]).pascal);
            } else {
                s.push(' ');
                s.push_str(w);
            }
        }
        s.push(*rng.pick(&['.', '.', '.', '.', '?', ':', '!']));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocab_is_deterministic() {
        let a = Vocab::new(5);
        let b = Vocab::new(5);
        let c = Vocab::new(6);
        assert_eq!(a.sentences, b.sentences);
        assert_eq!(a.blob, b.blob);
        assert_ne!(a.sentences, c.sentences);
        assert!(a.blob.is_ascii());
    }

    #[test]
    fn ident_spellings() {
        let id = Ident::new(&["cache", "entry", "map"]);
        assert_eq!(id.snake, "cache_entry_map");
        assert_eq!(id.camel, "cacheEntryMap");
        assert_eq!(id.pascal, "CacheEntryMap");
        assert_eq!(id.kebab, "cache-entry-map");
        assert_eq!(id.upper, "CACHE_ENTRY_MAP");
    }
}
