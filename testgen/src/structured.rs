//! Structured text: JSON, YAML, TOML and minified JavaScript, built from the
//! same vocabulary as the prose and code of `text`.

use crate::lang::LangId;
use crate::text::Gen;

impl Gen<'_> {
    /// A JSON object of about `size` bytes (config, fixtures, todos).
    pub(crate) fn json(&mut self, size: usize) -> String {
        let mut out = String::with_capacity(size + 256);
        out.push_str("{\n");
        let mut first = true;
        while out.len() < size || first {
            if !first {
                out.push_str(",\n");
            }
            first = false;
            out.push_str("  \"");
            out.push_str(&self.v.ident(&mut self.rng).camel);
            out.push_str("\": ");
            self.json_value(&mut out, 1);
        }
        out.push_str("\n}\n");
        out
    }

    fn json_value(&mut self, out: &mut String, depth: usize) {
        let r = self.rng.f64();
        if r < 0.3 {
            out.push('"');
            let k = self.rng.range(1, 5);
            self.words(k, out);
            out.push('"');
        } else if r < 0.5 {
            out.push_str(&self.rng.range(0, 100_000).to_string());
        } else if r < 0.6 {
            out.push_str(if self.rng.chance(0.5) { "true" } else { "false" });
        } else if r < 0.8 && depth < 3 {
            out.push_str("{\n");
            let pad = "  ".repeat(depth + 1);
            for i in 0..self.rng.range(1, 5) {
                if i > 0 {
                    out.push_str(",\n");
                }
                out.push_str(&pad);
                out.push('"');
                out.push_str(&self.v.ident(&mut self.rng).camel);
                out.push_str("\": ");
                self.json_value(out, depth + 1);
            }
            out.push('\n');
            out.push_str(&"  ".repeat(depth));
            out.push('}');
        } else {
            out.push('[');
            for i in 0..self.rng.range(1, 6) {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push('"');
                out.push_str(&self.v.ident(&mut self.rng).kebab);
                out.push('"');
            }
            out.push(']');
        }
    }

    /// A YAML document of about `size` bytes (CI workflows, app config).
    pub(crate) fn yaml(&mut self, size: usize) -> String {
        let mut out = String::with_capacity(size + 256);
        out.push_str("# ");
        self.sentence(&mut out);
        out.push('\n');
        while out.len() < size {
            out.push_str(&self.v.ident(&mut self.rng).snake);
            out.push_str(":\n");
            for _ in 0..self.rng.range(1, 6) {
                out.push_str("  ");
                out.push_str(&self.v.ident(&mut self.rng).snake);
                out.push_str(": ");
                if self.rng.chance(0.5) {
                    let k = self.rng.range(1, 4);
                    self.words(k, &mut out);
                } else {
                    out.push_str(&self.rng.range(0, 65536).to_string());
                }
                out.push('\n');
            }
        }
        out
    }

    /// A TOML document with the given leading section, padded to about `size` bytes.
    pub(crate) fn toml(&mut self, head: &str, size: usize) -> String {
        let mut out = String::with_capacity(size + 256);
        out.push_str(head);
        while out.len() < size {
            out.push_str("\n[");
            out.push_str(&self.v.ident(&mut self.rng).kebab);
            out.push_str("]\n");
            for _ in 0..self.rng.range(1, 5) {
                out.push_str(&self.v.ident(&mut self.rng).snake);
                out.push_str(" = ");
                if self.rng.chance(0.5) {
                    out.push('"');
                    let k = self.rng.range(1, 3);
                    self.words(k, &mut out);
                    out.push('"');
                } else {
                    out.push_str(&self.rng.range(0, 10_000).to_string());
                }
                out.push('\n');
            }
        }
        out
    }

    /// Minified JavaScript: long lines of dense code (node_modules dist files).
    pub(crate) fn minified_js(&mut self, size: usize) -> String {
        let names = self.names(LangId::TypeScript);
        let mut out = String::with_capacity(size + 256);
        out.push_str("\"use strict\";");
        while out.len() < size {
            let a = self.rng.pick(&names.vars).clone();
            let b = self.rng.pick(&names.funcs).clone();
            let c = self.hex(2);
            match self.rng.below(4) {
                0 => out.push_str(&format!("var {c}=function({a}){{return {b}({a})}};")),
                1 => out.push_str(&format!("exports.{b}={c};")),
                2 => out.push_str(&format!("function {b}({a},e){{if(!{a})throw new Error(\"{b}\");return e.{a}}}")),
                _ => out.push_str(&format!("{a}.prototype.{b}=function(){{return this.{c}}};")),
            }
            if self.rng.chance(0.02) {
                out.push('\n');
            }
        }
        out.push('\n');
        out
    }
}
