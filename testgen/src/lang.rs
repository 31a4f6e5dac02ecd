//! Line templates for the programming languages of generated source trees.
//!
//! A template is literal text with `~X` holes: `~v`/`~w` variables, `~f` function,
//! `~T`/`~U` type names, `~y` builtin type, `~k` constant, `~m` module, `~n` number,
//! `~s` a few words, `~c` a comment sentence; `~~` is a literal tilde. Templates are
//! parsed once per corpus into [`Piece`]s so rendering is plain concatenation.

/// The languages source files are written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LangId {
    Rust = 0,
    Python = 1,
    TypeScript = 2,
    Go = 3,
    Shell = 4,
}

impl LangId {
    pub(crate) const ALL: [LangId; 5] = [LangId::Rust, LangId::Python, LangId::TypeScript, LangId::Go, LangId::Shell];

    /// The language of a file extension (`tsx` and `js` use the TypeScript templates).
    pub(crate) fn from_ext(ext: &str) -> Option<LangId> {
        Some(match ext {
            "rs" => LangId::Rust,
            "py" => LangId::Python,
            "ts" | "tsx" | "js" => LangId::TypeScript,
            "go" => LangId::Go,
            "sh" => LangId::Shell,
            _ => return None,
        })
    }

    /// Name used in markdown code fences.
    pub(crate) fn fence(self) -> &'static str {
        match self {
            LangId::Rust => "rust",
            LangId::Python => "python",
            LangId::TypeScript => "typescript",
            LangId::Go => "go",
            LangId::Shell => "bash",
        }
    }

    pub(crate) fn ext(self) -> &'static str {
        match self {
            LangId::Rust => "rs",
            LangId::Python => "py",
            LangId::TypeScript => "ts",
            LangId::Go => "go",
            LangId::Shell => "sh",
        }
    }
}

/// What fills a template hole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Field {
    Var,
    Var2,
    Func,
    Type,
    Type2,
    Builtin,
    Const,
    Module,
    Num,
    Short,
    Comment,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Piece {
    Lit(&'static str),
    Hole(Field),
}

pub(crate) type Template = Vec<Piece>;

/// A language's parsed templates and conventions.
pub(crate) struct Lang {
    pub comment: &'static str,
    pub indent: &'static str,
    /// Identifiers in camelCase rather than snake_case.
    pub camel: bool,
    pub builtins: &'static [&'static str],
    pub imports: Vec<Template>,
    /// Top-level block openers (a function, a type, a test).
    pub openers: Vec<Template>,
    /// Statements inside blocks.
    pub body: Vec<Template>,
    /// Openers of nested blocks inside bodies.
    pub nested: Vec<Template>,
    /// Block closer; empty for indentation-scoped languages.
    pub close: &'static str,
}

struct LangSrc {
    comment: &'static str,
    indent: &'static str,
    camel: bool,
    builtins: &'static [&'static str],
    imports: &'static [&'static str],
    openers: &'static [&'static str],
    body: &'static [&'static str],
    nested: &'static [&'static str],
    close: &'static str,
}

const RUST: LangSrc = LangSrc {
    comment: "//",
    indent: "    ",
    camel: false,
    builtins: &["u64", "usize", "bool", "String", "&str", "Vec<u8>", "i64", "PathBuf", "Duration", "u32"],
    imports: &[
        "use std::collections::BTreeMap;",
        "use std::collections::HashMap;",
        "use std::fs::{self, File};",
        "use std::io::{self, BufRead, Write};",
        "use std::path::{Path, PathBuf};",
        "use std::sync::{Arc, Mutex};",
        "use std::time::{Duration, SystemTime};",
        "use anyhow::{bail, Context, Result};",
        "use serde::{Deserialize, Serialize};",
        "use tracing::{debug, info, warn};",
        "use crate::~m::~T;",
        "use crate::~m::{~T, ~U};",
        "use super::~m;",
    ],
    openers: &[
        "pub fn ~f(~v: &~T, ~w: ~y) -> Result<~U> {",
        "fn ~f(&self, ~v: ~y) -> Option<~y> {",
        "pub(crate) fn ~f(~v: &mut ~T) -> io::Result<()> {",
        "impl ~T {",
        "impl From<~T> for ~U {\n    fn from(~v: ~T) -> Self {",
        "#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]\npub struct ~T {",
        "#[derive(Debug, Clone, Copy)]\npub enum ~T {",
        "#[test]\nfn ~f() {",
        "pub async fn ~f(&mut self, ~v: ~T) -> Result<~U> {",
        "impl Default for ~T {\n    fn default() -> Self {",
    ],
    body: &[
        "let ~v = ~f(&~w)?;",
        "let mut ~v = ~T::new(~n);",
        "let ~v: ~y = ~w.~f().unwrap_or_default();",
        "~v.push(~w.clone());",
        "~v.insert(~w.to_string(), ~n);",
        "if ~v.len() > ~k { bail!(\"~s: {}\", ~v.len()); }",
        "debug!(~v = ?~w, \"~s\");",
        "info!(\"~s {}\", ~v);",
        "self.~v = ~w;",
        "self.~v += ~n;",
        "assert_eq!(~v.~f(), ~n);",
        "assert!(~v.is_empty(), \"~s\");",
        "// ~c",
        "/// ~c",
        "Ok(~v)",
        "pub ~v: ~y,",
        "~v: ~T,",
        "~T(~y),",
        "let ~v = ~w.iter().filter(|x| x.~f()).count();",
        "let ~v: Vec<_> = ~w.into_iter().map(~T::from).collect();",
        "~T::~U => ~f(~v),",
        "const ~k: usize = ~n;",
        "return Err(~T::~U(~v).into());",
        ".with_context(|| format!(\"~s {}\", ~v.display()))?;",
        "let ~v = fs::read_to_string(&~w)?;",
        "writeln!(~v, \"{}: {}\", ~w, ~n)?;",
    ],
    nested: &[
        "if ~v.is_empty() {",
        "for ~v in &~w {",
        "match ~v {",
        "while let Some(~v) = ~w.pop() {",
        "if let Some(~v) = self.~w.get(&~v) {",
        "} else {",
    ],
    close: "}",
};

const PYTHON: LangSrc = LangSrc {
    comment: "#",
    indent: "    ",
    camel: false,
    builtins: &["str", "int", "bool", "float", "bytes", "Path", "list[str]", "dict[str, Any]", "Optional[int]"],
    imports: &[
        "import os",
        "import re",
        "import sys",
        "import json",
        "import logging",
        "import asyncio",
        "from pathlib import Path",
        "from typing import Any, Iterable, Optional",
        "from dataclasses import dataclass, field",
        "from collections import Counter, defaultdict",
        "from .~m import ~T",
        "from .~m import ~f, ~U",
        "import ~m",
    ],
    openers: &[
        "def ~f(~v: ~y, ~w: ~y = None) -> ~y:",
        "def ~f(self, ~v: ~T) -> ~y:",
        "class ~T:",
        "class ~T(~U):",
        "@dataclass\nclass ~T:",
        "async def ~f(self, ~v: ~y) -> None:",
        "def test_~f(tmp_path):",
        "@property\ndef ~f(self) -> ~y:",
    ],
    body: &[
        "~v = ~f(~w)",
        "~v = self.~w.~f(~n)",
        "return ~v",
        "return ~T(~v, ~w)",
        "~v.append(~w)",
        "# ~c",
        "\"\"\"~c\"\"\"",
        "log.debug(\"~s %s\", ~v)",
        "~v: ~y = field(default_factory=list)",
        "~v: ~y = ~n",
        "assert ~v == ~n, \"~s\"",
        "raise ValueError(f\"~s: {~v!r}\")",
        "~v[~w] = ~n",
        "~v = [~f(x) for x in ~w if x]",
        "~v = {k: v for k, v in ~w.items() if v}",
        "self.~v = ~w",
        "~k = ~n",
        "yield ~v",
        "~v = await self.~f(~w)",
        "~v += len(~w)",
        "~v = Path(~w) / \"~m\"",
    ],
    nested: &[
        "if ~v is None:",
        "if not ~v:",
        "for ~v in ~w:",
        "try:",
        "except ~T as exc:",
        "while ~v:",
        "with open(~v) as fh:",
        "else:",
    ],
    close: "",
};

const TYPESCRIPT: LangSrc = LangSrc {
    comment: "//",
    indent: "  ",
    camel: true,
    builtins: &["string", "number", "boolean", "unknown", "Date", "string[]", "Uint8Array", "Record<string, number>"],
    imports: &[
        "import { ~T } from './~m';",
        "import { ~T, ~U } from '../~m';",
        "import type { ~T } from './types';",
        "import * as path from 'node:path';",
        "import { readFile, writeFile } from 'node:fs/promises';",
        "import { z } from 'zod';",
        "import { useEffect, useMemo, useState } from 'react';",
        "import { describe, expect, it } from 'vitest';",
    ],
    openers: &[
        "export function ~f(~v: ~T, ~w: ~y): ~U {",
        "export async function ~f(~v: ~y): Promise<~T> {",
        "export class ~T {",
        "export interface ~T {",
        "export type ~T = {",
        "export const ~f = (~v: ~y): ~y => {",
        "describe('~s', () => {",
        "export default function ~T({ ~v, ~w }: ~U) {",
    ],
    body: &[
        "const ~v = ~f(~w);",
        "const ~v = await this.~f(~w);",
        "let ~v: ~y = ~n;",
        "return ~v;",
        "return { ~v, ~w };",
        "~v.push(~w);",
        "// ~c",
        "/** ~c */",
        "console.debug('~s', ~v);",
        "this.~v = ~w;",
        "expect(~v).toEqual(~n);",
        "~v: ~y;",
        "readonly ~v: ~T;",
        "throw new Error(`~s: ${~v}`);",
        "const { ~v, ~w } = ~f();",
        "export const ~k = ~n;",
        "const ~v = ~w.filter((x) => x.~f).map((x) => x.~v);",
        "if (~v > ~k) return null;",
    ],
    nested: &[
        "if (!~v) {",
        "for (const ~v of ~w) {",
        "try {",
        "} catch (err) {",
        "it('~s', async () => {",
        "switch (~v) {",
        "} else {",
    ],
    close: "}",
};

const GO: LangSrc = LangSrc {
    comment: "//",
    indent: "\t",
    camel: true,
    builtins: &["string", "int", "int64", "bool", "[]byte", "error", "time.Duration", "map[string]int"],
    imports: &[
        "\"context\"",
        "\"errors\"",
        "\"fmt\"",
        "\"io\"",
        "\"os\"",
        "\"path/filepath\"",
        "\"sort\"",
        "\"strings\"",
        "\"sync\"",
        "\"time\"",
        "\"example.com/~m/internal/~m\"",
    ],
    openers: &[
        "func ~f(~v ~y, ~w *~T) (~U, error) {",
        "func (s *~T) ~f(ctx context.Context, ~v ~y) error {",
        "type ~T struct {",
        "type ~T interface {",
        "func Test~T(t *testing.T) {",
        "func New~T(~v ~y) *~T {",
    ],
    body: &[
        "~v, err := ~f(~w)",
        "if err != nil {\n\t\treturn nil, fmt.Errorf(\"~s: %w\", err)\n\t}",
        "return ~v, nil",
        "return nil",
        "~v = append(~v, ~w)",
        "// ~c",
        "~v ~y",
        "~v ~y `json:\"~v\"`",
        "s.~v = ~n",
        "defer ~v.Close()",
        "log.Printf(\"~s: %v\", ~v)",
        "~v := make(map[string]~y, ~n)",
        "const ~k = ~n",
        "t.Fatalf(\"~s: got %v, want %v\", ~v, ~n)",
        "s.mu.Lock()\n\tdefer s.mu.Unlock()",
    ],
    nested: &["if ~v == nil {", "for _, ~v := range ~w {", "switch ~v {", "select {", "} else {"],
    close: "}",
};

const SHELL: LangSrc = LangSrc {
    comment: "#",
    indent: "  ",
    camel: false,
    builtins: &["str"],
    imports: &[
        "set -euo pipefail",
        "cd \"$(dirname \"$0\")/..\"",
        "source \"scripts/~m.sh\"",
        "export RUST_BACKTRACE=1",
        "export LC_ALL=C",
    ],
    openers: &["~f() {", "function ~f {"],
    body: &[
        "local ~v=\"${1:-~n}\"",
        "echo \"~s: ${~v}\"",
        "cargo test -p ~m -- ~f",
        "# ~c",
        "~v=$(~f \"$~w\")",
        "rm -rf \"${~v:?}/~m\"",
        "npm run ~f -- --~v=~n",
        "mkdir -p \"$~v/~m\"",
        "return ~n",
    ],
    nested: &["if [[ -z \"${~v:-}\" ]]; then", "for ~v in \"$~w\"/*; do", "while read -r ~v; do"],
    close: "}",
};

fn parse(src: &'static str) -> Template {
    let mut out = Vec::new();
    let mut rest = src;
    while let Some(i) = rest.find('~') {
        if i > 0 {
            out.push(Piece::Lit(&rest[..i]));
        }
        let code = rest[i + 1..].chars().next();
        let field = match code {
            Some('v') => Some(Field::Var),
            Some('w') => Some(Field::Var2),
            Some('f') => Some(Field::Func),
            Some('T') => Some(Field::Type),
            Some('U') => Some(Field::Type2),
            Some('y') => Some(Field::Builtin),
            Some('k') => Some(Field::Const),
            Some('m') => Some(Field::Module),
            Some('n') => Some(Field::Num),
            Some('s') => Some(Field::Short),
            Some('c') => Some(Field::Comment),
            _ => None,
        };
        match field {
            Some(f) => out.push(Piece::Hole(f)),
            // `~~` or a stray tilde: keep one literal tilde.
            None => out.push(Piece::Lit("~")),
        }
        let skip = if matches!(code, Some(c) if field.is_some() || c == '~') { 2 } else { 1 };
        rest = &rest[i + skip..];
    }
    if !rest.is_empty() {
        out.push(Piece::Lit(rest));
    }
    out
}

fn build(src: &LangSrc) -> Lang {
    let all = |t: &'static [&'static str]| t.iter().map(|s| parse(s)).collect();
    Lang {
        comment: src.comment,
        indent: src.indent,
        camel: src.camel,
        builtins: src.builtins,
        imports: all(src.imports),
        openers: all(src.openers),
        body: all(src.body),
        nested: all(src.nested),
        close: src.close,
    }
}

/// All languages, indexed by `LangId as usize`.
pub(crate) fn parse_all() -> Vec<Lang> {
    LangId::ALL
        .iter()
        .map(|id| {
            build(match id {
                LangId::Rust => &RUST,
                LangId::Python => &PYTHON,
                LangId::TypeScript => &TYPESCRIPT,
                LangId::Go => &GO,
                LangId::Shell => &SHELL,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_holes_and_tildes() {
        assert_eq!(
            parse("a ~v = ~~b~"),
            vec![
                Piece::Lit("a "),
                Piece::Hole(Field::Var),
                Piece::Lit(" = "),
                Piece::Lit("~"),
                Piece::Lit("b"),
                Piece::Lit("~"),
            ]
        );
        let langs = parse_all();
        assert_eq!(langs.len(), LangId::ALL.len());
        assert!(langs.iter().all(|l| !l.openers.is_empty() && !l.body.is_empty()));
    }
}
