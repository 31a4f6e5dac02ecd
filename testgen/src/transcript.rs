//! Agent session transcripts (`.claude/projects/<slug>/<uuid>.jsonl`): JSON lines of
//! user prompts, assistant replies, tool calls and tool output, plus the timestamp
//! formatting they need.

use crate::lang::LangId;
use crate::text::Gen;
use crate::vocab::MODELS;

/// Where generated projects live as seen by the agent (the workspace root is `$HOME`).
pub(crate) const HOME: &str = "/home/dev";

/// The `.claude/projects/` directory name for a project directory name.
pub(crate) fn slug(project: &str) -> String {
    format!("{HOME}/projects/{project}").replace('/', "-")
}

/// The project directory name back from a slug, if it is one of ours.
pub(crate) fn project_of_slug(slug: &str) -> Option<String> {
    let prefix = format!("{HOME}/projects/").replace('/', "-");
    slug.strip_prefix(&prefix).map(str::to_string)
}

/// Appends `s` as a JSON string literal.
pub(crate) fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for Unix milliseconds.
pub(crate) fn iso_ms(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (proleptic Gregorian), after Howard Hinnant.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z", rem / 3600, rem / 60 % 60, rem % 60, ms % 1000)
}

/// The running state of one session: identity, clock and last message id.
pub(crate) struct Session {
    pub id: String,
    pub project: String,
    pub time_ms: u64,
    pub parent: Option<String>,
    pub model: &'static str,
    pub branch: String,
}

impl Session {
    pub(crate) fn new(g: &mut Gen<'_>, project: &str, id: String, time_ms: u64) -> Session {
        let branch =
            if g.rng.chance(0.5) { "main".to_string() } else { format!("agent/{}", g.v.ident(&mut g.rng).kebab) };
        Session { id, project: project.to_string(), time_ms, parent: None, model: g.rng.pick_copy(&MODELS), branch }
    }

    fn cwd(&self) -> String {
        format!("{HOME}/projects/{}", self.project)
    }
}

/// Appends one JSON line: the envelope around `message` (already JSON).
fn line(g: &mut Gen<'_>, s: &mut Session, kind: &str, message: &str, out: &mut String) {
    s.time_ms += 500 + g.rng.below(60_000) as u64;
    let uuid = g.uuid();
    out.push_str("{\"parentUuid\":");
    match &s.parent {
        Some(p) => json_str(out, p),
        None => out.push_str("null"),
    }
    out.push_str(",\"isSidechain\":false,\"userType\":\"external\",\"cwd\":");
    json_str(out, &s.cwd());
    out.push_str(",\"sessionId\":");
    json_str(out, &s.id);
    out.push_str(",\"version\":\"1.0.");
    out.push_str(&(40 + (s.time_ms / 86_400_000 % 60)).to_string());
    out.push_str("\",\"gitBranch\":");
    json_str(out, &s.branch);
    out.push_str(",\"type\":\"");
    out.push_str(kind);
    out.push_str("\",\"message\":");
    out.push_str(message);
    out.push_str(",\"uuid\":\"");
    out.push_str(&uuid);
    out.push_str("\",\"timestamp\":\"");
    out.push_str(&iso_ms(s.time_ms));
    out.push_str("\"}\n");
    s.parent = Some(uuid);
}

fn assistant(g: &mut Gen<'_>, s: &mut Session, content: &str, out: &mut String) {
    let msg = format!(
        "{{\"id\":\"msg_{}\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"{}\",\"content\":[{content}],\"stop_reason\":null,\"usage\":{{\"input_tokens\":{},\"cache_read_input_tokens\":{},\"output_tokens\":{}}}}}",
        g.hex(24),
        s.model,
        g.rng.range(3, 400),
        g.rng.range(1000, 180_000),
        g.rng.range(20, 4000)
    );
    line(g, s, "assistant", &msg, out);
}

fn text_block(text: &str) -> String {
    let mut c = String::from("{\"type\":\"text\",\"text\":");
    json_str(&mut c, text);
    c.push('}');
    c
}

const COMMANDS: [&str; 12] = [
    "cargo test --workspace",
    "cargo build --release",
    "cargo clippy --all-targets -- -D warnings",
    "npm test",
    "npm run build",
    "pytest -x -q",
    "go test ./...",
    "git status --short",
    "git diff --stat",
    "ls -la src",
    "rg -n TODO",
    "make check",
];

/// Output of a shell command: test runs, compiler diagnostics, listings.
pub(crate) fn command_output(g: &mut Gen<'_>, cmd: &str, size: usize) -> String {
    let mut out = String::with_capacity(size + 256);
    let names = g.names(LangId::Rust);
    while out.len() < size {
        let m = g.v.ident(&mut g.rng).snake.clone();
        let f = g.v.ident(&mut g.rng).snake.clone();
        match g.rng.below(6) {
            0 | 1 if cmd.contains("test") => {
                let ok = g.rng.chance(0.93);
                out.push_str(&format!("test {m}::tests::{f} ... {}\n", if ok { "ok" } else { "FAILED" }));
            }
            0 => out.push_str(&format!("   Compiling {m} v0.{}.{}\n", g.rng.range(1, 9), g.rng.range(0, 20))),
            2 => {
                out.push_str(&format!(
                    "warning: unused variable: `{f}`\n  --> src/{m}.rs:{}:{}\n   |\n",
                    g.rng.range(1, 900),
                    g.rng.range(1, 40)
                ));
                out.push_str(&format!("{:>3} | ", g.rng.range(1, 900)));
                g.code_lines(LangId::Rust, &names, 1, 1, &mut out);
                out.push_str("   |\n\n");
            }
            3 => out.push_str(&format!(
                "-rw-r--r--  1 dev dev {:>7} Jun  1 {:02}:{:02} {f}.rs\n",
                g.rng.range(100, 90_000),
                g.rng.range(0, 23),
                g.rng.range(0, 59)
            )),
            4 => {
                out.push_str(&format!("src/{m}/{f}.rs:{}: ", g.rng.range(1, 900)));
                g.code_lines(LangId::Rust, &names, 1, 0, &mut out);
            }
            _ => {
                g.sentence(&mut out);
                out.push('\n');
            }
        }
    }
    out
}

/// A random tool call and its result, as (tool_use JSON, tool_result text).
fn tool_call(g: &mut Gen<'_>, s: &Session, id: &str) -> (String, String) {
    let size = if g.rng.chance(0.1) { g.rng.log_uniform(8_000, 120_000) } else { g.rng.log_uniform(150, 12_000) };
    let lang = *g.rng.pick(&LangId::ALL);
    let file = format!("{}/src/{}.{}", s.cwd(), g.v.ident(&mut g.rng).snake, lang.ext());
    let mut input = String::new();
    let (name, result) = match g.rng.below(6) {
        0 | 1 => {
            let cmd = *g.rng.pick(&COMMANDS);
            input.push_str("{\"command\":");
            json_str(&mut input, cmd);
            input.push_str(",\"description\":");
            let mut d = String::new();
            g.words(4, &mut d);
            json_str(&mut input, &d);
            input.push('}');
            ("Bash", command_output(g, cmd, size))
        }
        2 | 3 => {
            input.push_str("{\"file_path\":");
            json_str(&mut input, &file);
            input.push('}');
            let code = g.code(lang, size);
            let mut numbered = String::with_capacity(code.len() + code.len() / 4);
            for (i, l) in code.lines().enumerate() {
                numbered.push_str(&format!("{:>6}\t{l}\n", i + 1));
            }
            ("Read", numbered)
        }
        4 => {
            let names = g.names(lang);
            let mut old = String::new();
            let k = g.rng.range(1, 8);
            g.code_lines(lang, &names, k, 1, &mut old);
            let mut new = String::new();
            let k = g.rng.range(1, 12);
            g.code_lines(lang, &names, k, 1, &mut new);
            input.push_str("{\"file_path\":");
            json_str(&mut input, &file);
            input.push_str(",\"old_string\":");
            json_str(&mut input, &old);
            input.push_str(",\"new_string\":");
            json_str(&mut input, &new);
            input.push('}');
            ("Edit", format!("The file {file} has been updated."))
        }
        _ => {
            let mut pattern = String::new();
            pattern.push_str(&g.v.ident(&mut g.rng).snake);
            input.push_str("{\"pattern\":");
            json_str(&mut input, &pattern);
            input.push_str(",\"output_mode\":\"content\"}");
            ("Grep", command_output(g, "rg", size.min(6000)))
        }
    };
    let mut tool = String::from("{\"type\":\"tool_use\",\"id\":\"");
    tool.push_str(id);
    tool.push_str("\",\"name\":\"");
    tool.push_str(name);
    tool.push_str("\",\"input\":");
    tool.push_str(&input);
    tool.push('}');
    (tool, result)
}

/// Appends about `size` bytes of conversation (whole turns) for session `s`.
pub(crate) fn write_turns(g: &mut Gen<'_>, s: &mut Session, size: usize, out: &mut String) {
    let target = out.len() + size;
    g.set_topic(40);
    while out.len() < target {
        // The user's prompt.
        let mut prompt = String::new();
        g.paragraph(&mut prompt);
        let mut msg = String::from("{\"role\":\"user\",\"content\":");
        json_str(&mut msg, &prompt);
        msg.push('}');
        line(g, s, "user", &msg, out);
        // Tool rounds.
        for _ in 0..g.rng.range(1, 6) {
            if out.len() >= target {
                break;
            }
            let id = format!("toolu_{}", g.hex(24));
            let mut said = String::new();
            g.sentence(&mut said);
            let (tool, result) = tool_call(g, s, &id);
            let content = format!("{},{tool}", text_block(&said));
            assistant(g, s, &content, out);
            let mut msg = String::from("{\"role\":\"user\",\"content\":[{\"tool_use_id\":\"");
            msg.push_str(&id);
            msg.push_str("\",\"type\":\"tool_result\",\"content\":");
            json_str(&mut msg, &result);
            msg.push_str(",\"is_error\":false}]}");
            line(g, s, "user", &msg, out);
        }
        // The wrap-up.
        let mut reply = String::new();
        for _ in 0..g.rng.range(1, 3) {
            g.md_chunk(&mut reply);
        }
        let content = text_block(&reply);
        assistant(g, s, &content, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use crate::vocab::Vocab;

    #[test]
    fn iso_dates() {
        assert_eq!(iso_ms(1_748_736_000_000), "2025-06-01T00:00:00.000Z");
        assert_eq!(iso_ms(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(iso_ms(0), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn slugs_round_trip() {
        let s = slug("p03-cache-map");
        assert_eq!(s, "-home-dev-projects-p03-cache-map");
        assert_eq!(project_of_slug(&s).as_deref(), Some("p03-cache-map"));
    }

    #[test]
    fn lines_are_json() {
        let v = Vocab::new(3);
        let mut g = Gen::new(&v, Rng::derive(3, "tr", 0));
        let mut s = Session::new(&mut g, "p00-x", "abc".into(), 1_748_000_000_000);
        let mut out = String::new();
        write_turns(&mut g, &mut s, 50_000, &mut out);
        assert!(out.len() >= 50_000);
        for l in out.lines() {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert!(v["timestamp"].is_string() && v["message"].is_object());
        }
    }
}
