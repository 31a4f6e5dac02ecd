//! Time travel through snapshots: `ls`, `find` and `history` on an agent
//! workspace snapshotted at fixed hours (init, tick 1, tick 2, disaster),
//! checked against what the generator reports and what was on disk at each
//! snapshot.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use cairn_testgen::{Scale, T0, TickReport};
use serde_json::Value;

use crate::common::*;

/// A file on disk when a snapshot was taken: size and a hash of its bytes.
type State = BTreeMap<PathBuf, (u64, u64)>;

/// The workspace, its snapshots (0: after init, 1 and 2: after ticks, 3:
/// after the disaster) and what was on disk at each.
struct World {
    env: Env,
    /// Canonical workspace root (as snapshots record it).
    ws: PathBuf,
    ticks: Vec<TickReport>,
    /// Files (relative) the disaster deleted.
    md_before_disaster: Vec<PathBuf>,
    /// `.claude/CLAUDE.md` just before the disaster.
    claude_md: String,
    states: Vec<State>,
    ids: Vec<String>,
}

fn time_of(snapshot: usize) -> u64 {
    T0 + snapshot as u64 * 3600
}

fn take_snapshot(env: &Env, ws: &Path, snapshot: usize) -> String {
    let out = env
        .cairn()
        // Everything is stored, so the snapshots hold exactly what is on disk;
        // the disaster's alarm (tests/integration/alarm.rs) would exit 4.
        .args([
            "snapshot",
            "--json",
            "--no-default-excludes",
            "--no-alarm",
            "--time",
            &format!("@{}", time_of(snapshot)),
        ])
        .arg(ws)
        .output()
        .expect("run cairn");
    assert!(out.status.success(), "snapshot failed: {}", stderr_of(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    v["id"].as_str().expect("id").to_string()
}

fn disk_state(root: &Path) -> State {
    let mut state = State::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).expect("read_dir") {
            let e = e.expect("entry");
            let md = fs::symlink_metadata(e.path()).expect("metadata");
            if md.is_dir() {
                stack.push(e.path());
            } else if md.is_file() {
                let mut h = DefaultHasher::new();
                fs::read(e.path()).expect("read").hash(&mut h);
                state.insert(e.path().strip_prefix(root).expect("inside").to_path_buf(), (md.len(), h.finish()));
            }
        }
    }
    state
}

fn world() -> World {
    let env = Env::new();
    let dir = env.path("ws");
    cairn_testgen::init(&dir, Scale::Tiny, 11).expect("init");
    let ws = fs::canonicalize(&dir).expect("canonical");
    let mut ids = vec![take_snapshot(&env, &ws, 0)];
    let mut states = vec![disk_state(&ws)];
    let mut ticks = Vec::new();
    for hour in 1..=2 {
        ticks.push(cairn_testgen::tick(&ws, hour).expect("tick"));
        ids.push(take_snapshot(&env, &ws, hour as usize));
        states.push(disk_state(&ws));
    }
    let claude_md = fs::read_to_string(ws.join(".claude/CLAUDE.md")).expect("CLAUDE.md before the disaster");
    let md_before_disaster = cairn_testgen::disaster(&ws).expect("disaster");
    ids.push(take_snapshot(&env, &ws, 3));
    states.push(disk_state(&ws));
    World { env, ws, ticks, md_before_disaster, claude_md, states, ids }
}

impl World {
    fn run(&self, args: &[&str]) -> std::process::Output {
        self.env.cairn().args(args).output().expect("run cairn")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "cairn {args:?} failed: {}", stderr_of(&out));
        stdout_of(&out)
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        serde_json::from_str(&self.ok(&all)).expect("valid JSON")
    }

    fn abs(&self, rel: &Path) -> String {
        self.ws.join(rel).to_str().expect("utf-8 path").to_string()
    }

    /// The events `history` should report for a file, from the disk states:
    /// (snapshot index, event, size) for each change.
    fn expected_events(&self, rel: &Path) -> Vec<(usize, &'static str, Option<u64>)> {
        let mut out = Vec::new();
        let mut last: Option<(u64, u64)> = None;
        let mut present = false;
        for (i, state) in self.states.iter().enumerate() {
            let now = state.get(rel).copied();
            let event = match (now, last, present) {
                (None, _, true) => Some("deleted"),
                (None, _, false) => None,
                (Some(_), None, _) => Some("created"),
                (Some(_), Some(_), false) => Some("came back"),
                (Some(n), Some(l), true) if n == l => None,
                (Some(_), Some(_), true) => Some("modified"),
            };
            if let Some(e) = event {
                out.push((i, e, now.map(|(size, _)| size)));
            }
            present = now.is_some();
            last = now.or(last);
        }
        out
    }

    /// Runs of identical contents of `rel` over consecutive snapshots:
    /// (first, last, the snapshot that no longer had it) as indexes.
    fn expected_versions(&self, rel: &Path) -> Vec<(usize, usize, Option<usize>)> {
        let mut versions: Vec<(usize, usize, Option<usize>)> = Vec::new();
        let mut previous: Option<(u64, u64)> = None;
        for (i, state) in self.states.iter().enumerate() {
            let now = state.get(rel).copied();
            match (now, versions.last_mut()) {
                (Some(_), Some(v)) if now == previous => v.1 = i,
                (Some(_), _) => versions.push((i, i, None)),
                (None, Some(v)) if previous.is_some() => v.2 = Some(i),
                (None, _) => {}
            }
            previous = now;
        }
        versions
    }

    /// `find --json` versions as (first, last, gone in) snapshot indexes.
    fn versions_of(&self, found: &Value) -> Vec<(usize, usize, Option<usize>)> {
        let index = |v: &Value| self.ids.iter().position(|id| v == id.as_str());
        found["versions"]
            .as_array()
            .expect("versions")
            .iter()
            .map(|v| {
                let first = index(&v["first_snapshot"]).expect("a known snapshot");
                let last = index(&v["last_snapshot"]).expect("a known snapshot");
                (first, last, index(&v["gone_in"]))
            })
            .collect()
    }
}

fn events_of(json: &Value) -> Vec<(String, String, Option<u64>)> {
    json.as_array()
        .expect("array")
        .iter()
        .map(|r| {
            (r["snapshot"].as_str().unwrap().to_string(), r["change"].as_str().unwrap().to_string(), r["size"].as_u64())
        })
        .collect()
}

#[test]
fn timetravel_history_of_a_growing_transcript() {
    let w = world();
    // A transcript that grew in some tick and exists at every snapshot.
    let appended: BTreeSet<&PathBuf> = w.ticks.iter().flat_map(|t| &t.appended).collect();
    let rel = appended
        .iter()
        .find(|p| w.states.iter().all(|s| s.contains_key(**p)))
        .expect("a transcript appended to and present throughout");
    let path = w.abs(rel);
    let grew: Vec<usize> = (1..=2).filter(|&h| w.ticks[h - 1].appended.contains(rel)).collect();
    assert!(!grew.is_empty());

    let text = w.ok(&["history", &path]);
    assert_eq!(text.lines().filter(|l| l.contains(" modified ")).count(), grew.len(), "{text}");
    assert_eq!(text.lines().filter(|l| l.contains(" created ")).count(), 1, "{text}");

    let json = w.json(&["history", &path]);
    let rows = json.as_array().unwrap();
    assert_eq!(rows.len(), 1 + grew.len(), "{json}");
    assert_eq!(rows[0]["change"], "created");
    assert_eq!(rows[0]["snapshot"], w.ids[0].as_str());
    assert_eq!(rows[0]["type"], "file");
    assert_eq!(rows[0]["time"], "2025-06-01T00:00:00+00:00");
    let mut size = rows[0]["size"].as_u64().unwrap();
    assert_eq!(size, w.states[0][*rel].0);
    for (row, &hour) in rows[1..].iter().zip(&grew) {
        assert_eq!(row["change"], "modified");
        assert_eq!(row["snapshot"], w.ids[hour].as_str());
        let now = row["size"].as_u64().unwrap();
        assert!(now > size, "an appended transcript grows: {json}");
        assert_eq!(now, w.states[hour][*rel].0);
        size = now;
    }
    // --all shows every snapshot, the others as unchanged.
    let all = w.json(&["history", "--all", &path]);
    let events: Vec<String> = events_of(&all).into_iter().map(|(_, e, _)| e).collect();
    assert_eq!(events.len(), 4, "{all}");
    assert_eq!(events.iter().filter(|e| *e == "unchanged").count(), 3 - grew.len(), "{all}");
}

#[test]
fn timetravel_history_of_claude_md_deleted_and_back() {
    let w = world();
    let rel = Path::new(".claude/CLAUDE.md");
    assert!(w.md_before_disaster.iter().any(|p| p == rel));
    let path = w.abs(rel);
    let expected = w.expected_events(rel);
    assert_eq!(expected.first().map(|e| e.1), Some("created"));
    assert_eq!(expected.last().map(|e| (e.0, e.1)), Some((3, "deleted")));

    let json = w.json(&["history", &path]);
    let got = events_of(&json);
    let want: Vec<(String, String, Option<u64>)> =
        expected.iter().map(|(i, e, size)| (w.ids[*i].clone(), e.to_string(), *size)).collect();
    assert_eq!(got, want, "{json}");

    // --content shows what it said before the agent deleted it.
    let last_text = &w.claude_md;
    let text = w.ok(&["history", "--content", &path]);
    let deleted_at = text.find(" deleted ").expect("a deleted row");
    let after = &text[deleted_at..];
    for line in last_text.lines().filter(|l| !l.is_empty()).take(5) {
        assert!(after.contains(&format!("-{line}\n")), "missing {line:?} in:\n{after}");
    }

    // Written again and snapshotted: it came back.
    fs::write(w.ws.join(rel), "# Agent instructions\n\nBe careful with rm.\n").unwrap();
    let id = take_snapshot(&w.env, &w.ws, 4);
    let json = w.json(&["history", &path]);
    let got = events_of(&json);
    assert_eq!(got.last().map(|e| (e.0.as_str(), e.1.as_str())), Some((id.as_str(), "came back")), "{json}");
    let text = w.ok(&["history", "--content", &path]);
    assert!(text.contains("+Be careful with rm."), "{text}");
}

#[test]
fn timetravel_find_markdown_versions() {
    let w = world();
    let mut md: BTreeSet<PathBuf> = BTreeSet::new();
    for state in &w.states {
        md.extend(state.keys().filter(|p| p.extension().is_some_and(|e| e == "md")).cloned());
    }
    assert!(!md.is_empty());

    let text = w.ok(&["find", "*.md"]);
    for rel in &md {
        assert!(text.lines().any(|l| l == w.abs(rel)), "{} not listed", rel.display());
    }
    assert!(text.contains(&format!("gone in {} 2025-06-01 03:00:00", &w.ids[3][..8])), "{text}");

    let json = w.json(&["find", "*.md"]);
    let found = json.as_array().unwrap();
    let paths: BTreeSet<String> = found.iter().map(|f| f["path"].as_str().unwrap().to_string()).collect();
    let want: BTreeSet<String> = md.iter().map(|p| w.abs(p)).collect();
    assert_eq!(paths, want);
    assert!(found.iter().any(|f| f["versions"].as_array().unwrap().len() > 1), "some file changed: {json}");
    for f in found {
        let rel = Path::new(f["path"].as_str().unwrap()).strip_prefix(&w.ws).unwrap().to_path_buf();
        let want = w.expected_versions(&rel);
        assert_eq!(w.versions_of(f), want, "{f}");
        // Every markdown file is gone, by the disaster at the latest.
        assert!(want.last().unwrap().2.is_some());
        assert!(f["versions"].as_array().unwrap().iter().all(|v| v["type"] == "file"));
    }

    let rel = Path::new(".claude/CLAUDE.md");
    let json = w.json(&["find", "CLAUDE.md"]);
    let found = json.as_array().unwrap();
    assert_eq!(found.len(), 1, "{json}");
    assert_eq!(w.versions_of(&found[0]), w.expected_versions(rel), "{json}");
    let versions = found[0]["versions"].as_array().unwrap();
    assert_eq!(versions[0]["first_snapshot"], w.ids[0].as_str());
    assert_eq!(versions[0]["first_time"], "2025-06-01T00:00:00+00:00");
    assert_eq!(versions[0]["size"], w.states[0][rel].0);
    let last = versions.last().unwrap();
    assert_eq!(last["last_snapshot"], w.ids[2].as_str());
    assert_eq!(last["gone_in"], w.ids[3].as_str());

    // Anchored globs: `*` does not cross `/`, `**` does. `.claude/*.md`
    // must give exactly the markdown files directly in `.claude`, and the
    // workspace holds deeper ones too, so a `*` that crossed `/` would show.
    let paths_of = |v: &Value| -> BTreeSet<String> {
        v.as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap().to_string()).collect()
    };
    let in_claude: BTreeSet<String> =
        md.iter().filter(|p| p.parent() == Some(Path::new(".claude"))).map(|p| w.abs(p)).collect();
    assert!(!in_claude.is_empty() && in_claude.len() < md.len(), "{md:?}");
    let anchored = w.json(&["find", &format!("{}/.claude/*.md", w.ws.display())]);
    assert_eq!(paths_of(&anchored), in_claude);
    let deep = w.json(&["find", &format!("{}/**/*.md", w.ws.display())]);
    assert_eq!(paths_of(&deep), md.iter().map(|p| w.abs(p)).collect::<BTreeSet<_>>());
}

#[test]
fn timetravel_ls_latest_at_and_missing_paths() {
    let w = world();
    let folder = w.ws.join(".claude");
    let mut names: Vec<String> =
        fs::read_dir(&folder).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    let folder_s = folder.to_str().unwrap();

    // One level: the folder's entries, as on disk after the last snapshot.
    let text = w.ok(&["ls", "latest", folder_s]);
    let listed: Vec<String> =
        text.lines().map(|l| Path::new(l).file_name().unwrap().to_str().unwrap().to_string()).collect();
    assert_eq!(listed, names);

    // --long: type letter and rwx, size, local (UTC here) mtime, path.
    let settings = folder.join("settings.json");
    let md = fs::symlink_metadata(&settings).unwrap();
    let long = w.ok(&["ls", "-l", "latest", folder_s]);
    let line = long.lines().find(|l| l.ends_with("/settings.json")).expect("settings.json listed");
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(fields[0].len(), 10);
    assert!(fields[0].starts_with('-'), "{line}");
    let rwx = |bits: u32| {
        let f = |mask: u32, c: char| if bits & mask != 0 { c } else { '-' };
        [f(4, 'r'), f(2, 'w'), f(1, 'x')].iter().collect::<String>()
    };
    let mode = md.mode();
    assert_eq!(&fields[0][1..], format!("{}{}{}", rwx(mode >> 6), rwx(mode >> 3), rwx(mode)), "{line}");
    assert_eq!(fields[1], md.len().to_string());
    let mtime = jiff::Timestamp::from_second(md.mtime()).unwrap().strftime("%Y-%m-%d %H:%M:%S").to_string();
    assert_eq!(format!("{} {}", fields[2], fields[3]), mtime, "{line}");
    assert!(long.lines().any(|l| l.starts_with('d')), "a folder in .claude: {long}");

    // --json fields.
    let json = w.json(&["ls", "latest", folder_s]);
    let entry = json.as_array().unwrap().iter().find(|e| e["path"] == settings.to_str().unwrap()).unwrap();
    assert_eq!(entry["type"], "file");
    assert_eq!(entry["size"], md.len());
    assert_eq!(entry["mode"], format!("{:04o}", md.mode() & 0o7777));
    let t: jiff::Timestamp = entry["mtime"].as_str().unwrap().parse().unwrap();
    assert_eq!((t.as_second(), t.subsec_nanosecond() as i64), (md.mtime(), md.mtime_nsec()));
    assert!(entry["target"].is_null());
    assert!(json.as_array().unwrap().iter().any(|e| e["type"] == "dir"));

    // --recursive: every file and folder under it.
    let all = w.json(&["ls", "--recursive", "latest", folder_s]);
    let files = all.as_array().unwrap().iter().filter(|e| e["type"] == "file").count();
    let on_disk = w.states[3].keys().filter(|p| p.starts_with(".claude")).count();
    assert_eq!(files, on_disk);
    let mut dirs = 0;
    let mut stack = vec![folder.clone()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                dirs += 1;
                stack.push(e.path());
            }
        }
    }
    assert_eq!(all.as_array().unwrap().len(), files + dirs);

    // Without a path: the snapshot's paths.
    assert_eq!(w.ok(&["ls", "latest"]).trim(), w.ws.to_str().unwrap());

    // --at between snapshots 0 and 1: the state after init. A file tick 1
    // created in a folder that already existed is absent.
    let (created_dir, created) = w.ticks[0]
        .created
        .iter()
        .filter_map(|p| Some((p.parent()?.to_path_buf(), p.clone())))
        .find(|(d, _)| w.states[0].keys().any(|k| k.parent() == Some(d.as_path())))
        .expect("a file created by tick 1 in a folder that existed");
    let dir_s = w.abs(&created_dir);
    let at = format!("@{}", time_of(0) + 1800);
    let then = w.ok(&["ls", "--at", &at, &dir_s]);
    assert!(!then.lines().any(|l| l == w.abs(&created)), "{then}");
    let files_then: BTreeSet<String> =
        w.states[0].keys().filter(|k| k.parent() == Some(created_dir.as_path())).map(|k| w.abs(k)).collect();
    let listed: BTreeSet<String> = w
        .json(&["ls", "--at", &at, &dir_s])
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "file")
        .map(|e| e["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed, files_then);
    let now = w.ok(&["ls", "latest", &dir_s]);
    assert!(now.lines().any(|l| l == w.abs(&created)) || !w.states[3].contains_key(&created));

    // Paths the snapshot lacks: an error naming the closest ones.
    let out = w.run(&["ls", "latest", "/no/such"]);
    assert!(!out.status.success());
    let err = stderr_of(&out);
    assert!(err.contains("/no/such") && err.contains("closest existing paths"), "{err}");
    assert!(err.contains(w.ws.to_str().unwrap()), "names what the snapshot holds: {err}");
    let typo = folder.join("setings.json");
    let out = w.run(&["ls", "latest", typo.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = stderr_of(&out);
    let close = err.split("closest existing paths: ").nth(1).expect(&err);
    assert!(close.starts_with(settings.to_str().unwrap()), "{err}");
}
