//! Text content: source code, markdown, changelogs and structured config, built by
//! concatenating vocabulary words and language templates.
//!
//! Each document picks a small private set of identifiers and phrases and keeps reusing
//! them (as real files do), which makes output compress like code and prose while
//! per-file randomness keeps every file distinct.

use crate::lang::{Field, Lang, LangId, Piece, Template};
use crate::rng::Rng;
use crate::vocab::Vocab;

/// Per-document identifiers that a file keeps reusing.
pub(crate) struct Names {
    pub(crate) vars: Vec<String>,
    pub(crate) funcs: Vec<String>,
    types: Vec<String>,
    consts: Vec<String>,
    mods: Vec<String>,
    builtins: &'static [&'static str],
}

/// A text generator: one random stream plus the shared vocabulary.
pub(crate) struct Gen<'a> {
    pub v: &'a Vocab,
    pub rng: Rng,
    /// Per-document phrases that prose keeps returning to.
    topic: Vec<String>,
}

const LICENSES: [&str; 3] = [
    "Copyright (c) ~Y ~O\n\nPermission is granted, free of charge, to any person obtaining a copy of this\nsoftware and associated documentation files, to deal in the software without\nrestriction, including the rights to use, copy, modify, merge, publish and\ndistribute it, subject to the conditions that the above copyright notice and\nthis permission notice appear in all copies or substantial portions of it.\nTHE SOFTWARE IS PROVIDED AS IS, WITHOUT WARRANTY OF ANY KIND.",
    "Copyright ~Y ~O\n\nLicensed under the Apache License, Version 2.0 (the \"License\"); you may not\nuse this file except in compliance with the License. Unless required by\napplicable law or agreed to in writing, software distributed under the\nLicense is distributed on an \"AS IS\" BASIS, WITHOUT WARRANTIES OR CONDITIONS\nOF ANY KIND, either express or implied. See the License for the specific\nlanguage governing permissions and limitations under the License.",
    "SPDX-License-Identifier: MIT OR Apache-2.0\nCopyright (c) ~Y ~O and contributors. All rights reserved.",
];

impl<'a> Gen<'a> {
    pub(crate) fn new(v: &'a Vocab, rng: Rng) -> Gen<'a> {
        Gen { v, rng, topic: Vec::new() }
    }

    // -- words and prose ----------------------------------------------------

    /// Picks a fresh set of `n` phrases for the current document.
    pub(crate) fn set_topic(&mut self, n: usize) {
        let mut topic = std::mem::take(&mut self.topic);
        topic.clear();
        for _ in 0..n {
            let k = self.rng.range(1, 4);
            let mut p = String::new();
            for i in 0..k {
                if i > 0 {
                    p.push(' ');
                }
                p.push_str(self.v.word(&mut self.rng));
            }
            topic.push(p);
        }
        self.topic = topic;
    }

    /// About `k` words, mostly from the document's topic phrases.
    pub(crate) fn words(&mut self, k: usize, out: &mut String) {
        let start = out.len();
        let mut n = 0;
        while n < k {
            if start != out.len() {
                out.push(' ');
            }
            if !self.topic.is_empty() && self.rng.chance(0.7) {
                let p = self.rng.pick(&self.topic);
                n += 1 + p.bytes().filter(|&b| b == b' ').count();
                out.push_str(p);
            } else {
                out.push_str(self.v.word(&mut self.rng));
                n += 1;
            }
        }
    }

    pub(crate) fn sentence(&mut self, out: &mut String) {
        if self.rng.chance(0.4) {
            out.push_str(self.rng.pick(&self.v.sentences).as_str());
            return;
        }
        let start = out.len();
        let k = self.rng.range(5, 18);
        self.words(k, out);
        if self.rng.chance(0.2) {
            out.push_str(" `");
            out.push_str(&self.v.ident(&mut self.rng).snake);
            out.push('`');
        }
        if let Some(c) = out.get(start..start + 1) {
            let up = c.to_ascii_uppercase();
            out.replace_range(start..start + 1, &up);
        }
        out.push(*self.rng.pick(&['.', '.', '.', '.', '?', '!', ':']));
    }

    pub(crate) fn paragraph(&mut self, out: &mut String) {
        let n = self.rng.range(2, 6);
        for i in 0..n {
            if i > 0 {
                out.push(' ');
            }
            self.sentence(out);
        }
    }

    /// A short title-case heading.
    pub(crate) fn title(&mut self, out: &mut String) {
        let mut s = String::new();
        let k = self.rng.range(1, 4);
        self.words(k, &mut s);
        let mut up = true;
        for c in s.chars() {
            out.push(if up { c.to_ascii_uppercase() } else { c });
            up = c == ' ';
        }
    }

    // -- identifiers --------------------------------------------------------

    pub(crate) fn hex(&mut self, n: usize) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(n);
        let mut bits = 0u64;
        for i in 0..n {
            if i % 16 == 0 {
                bits = self.rng.u64();
            }
            s.push(HEX[(bits & 15) as usize] as char);
            bits >>= 4;
        }
        s
    }

    pub(crate) fn uuid(&mut self) -> String {
        let h = self.hex(32);
        let variant = ["8", "9", "a", "b"][self.rng.below(4)];
        format!("{}-{}-4{}-{}{}-{}", &h[..8], &h[8..12], &h[13..16], variant, &h[17..20], &h[20..])
    }

    /// A new per-document identifier set for `lang`.
    pub(crate) fn names(&mut self, lang: LangId) -> Names {
        let camel = self.v.langs[lang as usize].camel;
        let n = self.rng.range(10, 28);
        let mut chosen: Vec<(String, String, String, String)> = (0..n)
            .map(|_| {
                let id = self.v.ident(&mut self.rng);
                let var = if camel { id.camel.clone() } else { id.snake.clone() };
                (var, id.pascal.clone(), id.upper.clone(), id.snake.clone())
            })
            .collect();
        // A few identifiers unique to this file.
        for _ in 0..self.rng.range(2, 5) {
            let a = self.rng.pick(&self.v.pseudo).clone();
            let b = self.v.word(&mut self.rng).to_string();
            let id = crate::vocab::Ident::new(&[a.as_str(), b.as_str()]);
            let var = if camel { id.camel } else { id.snake.clone() };
            chosen.push((var, id.pascal, id.upper, id.snake));
        }
        let vars: Vec<String> = chosen.iter().map(|c| c.0.clone()).collect();
        Names {
            funcs: vars.iter().step_by(2).cloned().collect(),
            types: chosen.iter().take(n / 3 + 2).map(|c| c.1.clone()).collect(),
            consts: chosen.iter().take(6).map(|c| c.2.clone()).collect(),
            mods: chosen.iter().rev().take(6).map(|c| c.3.clone()).collect(),
            vars,
            builtins: self.v.langs[lang as usize].builtins,
        }
    }

    fn field(&mut self, f: Field, names: &Names, out: &mut String) {
        match f {
            Field::Var | Field::Var2 => out.push_str(self.rng.pick_skewed(&names.vars).as_str()),
            Field::Func => out.push_str(self.rng.pick_skewed(&names.funcs).as_str()),
            Field::Type | Field::Type2 => out.push_str(self.rng.pick_skewed(&names.types).as_str()),
            Field::Builtin => {
                if self.rng.chance(0.75) {
                    out.push_str(self.rng.pick_copy(names.builtins));
                } else {
                    out.push_str(self.rng.pick_skewed(&names.types).as_str());
                }
            }
            Field::Const => out.push_str(self.rng.pick(&names.consts).as_str()),
            Field::Module => out.push_str(self.rng.pick(&names.mods).as_str()),
            Field::Num => {
                let x = self.rng.f64();
                let n = (x * x * x * 4096.0) as u64;
                out.push_str(&n.to_string());
            }
            Field::Short => {
                let k = self.rng.range(1, 4);
                self.words(k, out);
            }
            Field::Comment => {
                if self.rng.chance(0.5) {
                    out.push_str(self.rng.pick(&self.v.sentences).as_str());
                } else {
                    let k = self.rng.range(3, 12);
                    self.words(k, out);
                }
            }
        }
    }

    fn render(&mut self, t: &Template, names: &Names, out: &mut String) {
        for p in t {
            match *p {
                Piece::Lit(s) => out.push_str(s),
                Piece::Hole(f) => self.field(f, names, out),
            }
        }
    }

    fn render_pick(&mut self, pick: fn(&Lang) -> &Vec<Template>, lang: LangId, names: &Names, out: &mut String) {
        let v = self.v;
        let ts = pick(&v.langs[lang as usize]);
        let t = self.rng.pick(ts);
        self.render(t, names, out);
    }

    // -- code ---------------------------------------------------------------

    /// About `n` statement lines at indent `depth`, with nested blocks.
    pub(crate) fn code_lines(&mut self, lang: LangId, names: &Names, n: usize, depth: usize, out: &mut String) {
        let l = &self.v.langs[lang as usize];
        let (indent, close, has_nested) = (l.indent, l.close, !l.nested.is_empty());
        let mut i = 0;
        while i < n {
            for _ in 0..depth {
                out.push_str(indent);
            }
            if has_nested && depth < 4 && self.rng.chance(0.14) {
                self.render_pick(|l| &l.nested, lang, names, out);
                out.push('\n');
                let k = self.rng.range(1, 5);
                self.code_lines(lang, names, k, depth + 1, out);
                i += k + 1;
                if !close.is_empty() {
                    for _ in 0..depth {
                        out.push_str(indent);
                    }
                    out.push_str(close);
                    out.push('\n');
                    i += 1;
                }
            } else {
                self.render_pick(|l| &l.body, lang, names, out);
                out.push('\n');
                i += 1;
            }
        }
    }

    /// One top-level block: a function, a type, a test.
    pub(crate) fn block(&mut self, lang: LangId, names: &Names, out: &mut String) {
        let (comment, close) = {
            let l = &self.v.langs[lang as usize];
            (l.comment, l.close)
        };
        if self.rng.chance(0.35) {
            out.push_str(comment);
            out.push(' ');
            self.sentence(out);
            out.push('\n');
        }
        let opener_start = out.len();
        self.render_pick(|l| &l.openers, lang, names, out);
        out.push('\n');
        // Openers that open two blocks ("impl X {\n    fn from..") need two closers.
        let opened = out[opener_start..].matches('{').count().saturating_sub(out[opener_start..].matches('}').count());
        let n = self.rng.range(3, 24);
        self.code_lines(lang, names, n, opened.max(1), out);
        if !close.is_empty() {
            let indent = self.v.langs[lang as usize].indent;
            for d in (0..opened.max(1)).rev() {
                for _ in 0..d {
                    out.push_str(indent);
                }
                out.push_str(close);
                out.push('\n');
            }
        }
        out.push('\n');
    }

    /// A license header as comment lines.
    pub(crate) fn license(&mut self, comment: &str, out: &mut String) {
        let year = 2015 + self.rng.below(11);
        let owner = self.rng.pick(&self.v.people).clone();
        let text = self.rng.pick(&LICENSES).replace("~Y", &year.to_string()).replace("~O", &owner);
        for line in text.lines() {
            out.push_str(comment);
            if !line.is_empty() {
                out.push(' ');
                out.push_str(line);
            }
            out.push('\n');
        }
        out.push('\n');
    }

    /// A whole source file of about `size` bytes.
    pub(crate) fn code(&mut self, lang: LangId, size: usize) -> String {
        let mut out = String::with_capacity(size + 1024);
        let names = self.names(lang);
        self.set_topic(24);
        let v = self.v;
        let l = &v.langs[lang as usize];
        if lang == LangId::Shell {
            out.push_str("#!/usr/bin/env bash\n# ");
            self.words(8, &mut out);
            out.push('\n');
        }
        if self.rng.chance(0.5) {
            self.license(l.comment, &mut out);
        }
        let k = self.rng.range(2, 7).min(l.imports.len());
        let picks = self.rng.sample(l.imports.len(), k);
        match lang {
            LangId::Go => {
                out.push_str("package ");
                out.push_str(self.rng.pick(&names.mods).as_str());
                out.push_str("\n\nimport (\n");
                for i in picks {
                    out.push('\t');
                    self.render(&l.imports[i], &names, &mut out);
                    out.push('\n');
                }
                out.push_str(")\n\n");
            }
            _ => {
                for i in picks {
                    self.render(&l.imports[i], &names, &mut out);
                    out.push('\n');
                }
                out.push('\n');
            }
        }
        while out.len() < size {
            self.block(lang, &names, &mut out);
        }
        out
    }

    // -- prose and structured text ------------------------------------------

    /// A markdown document of about `size` bytes.
    pub(crate) fn markdown(&mut self, size: usize, title: Option<&str>) -> String {
        let mut out = String::with_capacity(size + 1024);
        self.set_topic(50);
        out.push_str("# ");
        match title {
            Some(t) => out.push_str(t),
            None => self.title(&mut out),
        }
        out.push_str("\n\n");
        self.paragraph(&mut out);
        out.push_str("\n\n");
        while out.len() < size {
            self.md_chunk(&mut out);
        }
        out
    }

    /// One markdown element: heading, paragraph, list, code fence or table.
    pub(crate) fn md_chunk(&mut self, out: &mut String) {
        let r = self.rng.f64();
        if r < 0.15 {
            out.push_str("## ");
            self.title(out);
            out.push_str("\n\n");
        } else if r < 0.55 {
            self.paragraph(out);
            out.push_str("\n\n");
        } else if r < 0.75 {
            for _ in 0..self.rng.range(2, 7) {
                out.push_str("- ");
                self.sentence(out);
                out.push('\n');
            }
            out.push('\n');
        } else if r < 0.9 {
            let lang = *self.rng.pick(&LangId::ALL);
            let names = self.names(lang);
            out.push_str("```");
            out.push_str(lang.fence());
            out.push('\n');
            let n = self.rng.range(3, 16);
            self.code_lines(lang, &names, n, 0, out);
            out.push_str("```\n\n");
        } else {
            let cols = self.rng.range(2, 5);
            out.push('|');
            for _ in 0..cols {
                out.push(' ');
                self.title(out);
                out.push_str(" |");
            }
            out.push_str("\n|");
            for _ in 0..cols {
                out.push_str("---|");
            }
            out.push('\n');
            for _ in 0..self.rng.range(2, 8) {
                out.push('|');
                for _ in 0..cols {
                    out.push(' ');
                    let k = self.rng.range(1, 3);
                    self.words(k, out);
                    out.push_str(" |");
                }
                out.push('\n');
            }
            out.push('\n');
        }
    }

    /// A CHANGELOG.md of about `size` bytes.
    pub(crate) fn changelog(&mut self, size: usize) -> String {
        let mut out = String::from("# Changelog\n\nAll notable changes to this project are documented here.\n\n");
        self.set_topic(40);
        let (mut major, mut minor, mut patch) = (self.rng.range(0, 3), self.rng.range(1, 30), 0usize);
        while out.len() < size {
            out.push_str(&format!(
                "## [{major}.{minor}.{patch}] - 2025-{:02}-{:02}\n\n",
                self.rng.range(1, 5),
                self.rng.range(1, 28)
            ));
            for section in ["### Added", "### Changed", "### Fixed"] {
                if self.rng.chance(0.6) {
                    out.push_str(section);
                    out.push_str("\n\n");
                    for _ in 0..self.rng.range(1, 6) {
                        out.push_str("- ");
                        self.sentence(&mut out);
                        out.push_str(&format!(" (#{})\n", self.rng.range(10, 4000)));
                    }
                    out.push('\n');
                }
            }
            if patch > 0 {
                patch -= 1;
            } else if minor > 0 {
                minor -= 1;
                patch = self.rng.range(0, 4);
            } else {
                major = major.saturating_sub(1);
                minor = 9;
            }
        }
        out
    }
}

/// Plain text of a given language: source for code extensions, markdown for `md`,
/// JSON for `json`, and so on.
pub(crate) fn for_ext(g: &mut Gen<'_>, ext: &str, size: usize) -> String {
    if let Some(lang) = LangId::from_ext(ext) {
        return g.code(lang, size);
    }
    match ext {
        "md" => g.markdown(size, None),
        "json" => g.json(size),
        "yaml" | "yml" => g.yaml(size),
        "toml" => g.toml("", size),
        _ => {
            let mut s = String::new();
            while s.len() < size {
                g.paragraph(&mut s);
                s.push('\n');
            }
            s
        }
    }
}

#[cfg(test)]
#[path = "text_tests.rs"]
mod tests;
