//! The profile file (issue 12, point 1): `init --paths` writes it, every
//! command uses its repository and password, flags and environment
//! variables override it, `config show` says where each setting came from,
//! and mistakes are reported with file, line and key.

use std::fs;
use std::path::PathBuf;

use assert_cmd::Command;
use tempfile::TempDir;

use crate::common::*;

/// A fresh HOME with `~/.claude` and `~/projects` holding a few files.
pub struct Home {
    pub dir: TempDir,
}

impl Home {
    pub fn new() -> Home {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join(".claude")).unwrap();
        fs::write(dir.path().join(".claude/CLAUDE.md"), "be careful\n").unwrap();
        fs::create_dir_all(dir.path().join("projects/app")).unwrap();
        for i in 0..5 {
            fs::write(dir.path().join(format!("projects/app/f{i}.txt")), format!("file {i}\n")).unwrap();
        }
        Home { dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// `cairn` with this HOME and nothing else in its environment.
    pub fn cairn(&self) -> Command {
        bare_cairn(self.dir.path())
    }

    pub fn std_cairn(&self) -> std::process::Command {
        bare_std_cairn(self.dir.path())
    }

    /// `cairn init --paths ~/.claude ~/projects` (weak KDF: tests only).
    pub fn init(&self) {
        self.cairn()
            .args(["init", "--kdf-memory-kib", "8", "--kdf-iterations", "1", "--paths"])
            .arg(self.path(".claude"))
            .arg(self.path("projects"))
            .assert()
            .success();
    }

    pub fn config_file(&self) -> PathBuf {
        self.path(".config/cairn/config.toml")
    }

    /// The profile's state folder.
    pub fn state_dir(&self, profile: &str) -> PathBuf {
        self.path(".local/state/cairn/profiles").join(profile)
    }

    pub fn state(&self, profile: &str) -> serde_json::Value {
        serde_json::from_slice(&fs::read(self.state_dir(profile).join("state.json")).unwrap()).unwrap()
    }

    /// Appends `text` to the profile file.
    pub fn append_config(&self, text: &str) {
        let mut all = fs::read_to_string(self.config_file()).unwrap_or_default();
        all.push_str(text);
        fs::write(self.config_file(), all).unwrap();
    }

    /// The number of snapshots in the repository at `repo` (password from the default file).
    pub fn snapshot_count(&self, args: &[&str]) -> usize {
        let out = self.cairn().args(["snapshots", "--json"]).args(args).output().unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout).unwrap().len()
    }
}

/// `config show --json` as key → (value, source).
fn shown(cmd: &mut Command) -> std::collections::HashMap<String, (String, String)> {
    let out = cmd.args(["config", "show", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    rows.iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap().to_string();
            (s("key"), (s("value"), s("source")))
        })
        .collect()
}

#[test]
fn init_paths_writes_a_profile_that_snapshot_and_snapshots_use() {
    let home = Home::new();
    home.init();
    let text = fs::read_to_string(home.config_file()).unwrap();
    assert!(text.starts_with("[default]\n"), "{text}");
    assert!(text.contains(&format!("\"{}\"", home.path(".claude").display())), "{text}");
    assert!(text.contains("password-file = "), "{text}");
    // `snapshot` without PATH takes the profile's paths, into its repository.
    home.cairn().args(["snapshot", "--quiet"]).assert().success();
    assert_eq!(home.snapshot_count(&[]), 1);
    let out = home.cairn().args(["snapshots", "--json"]).output().unwrap();
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["paths"].as_array().unwrap().len(), 2, "{list:?}");
    // A second init of the same profile is refused, and creates nothing.
    let out = home
        .cairn()
        .args(["init", "--kdf-memory-kib", "8", "--kdf-iterations", "1", "--repo"])
        .arg(home.path("other"))
        .arg("--paths")
        .arg(home.path("projects"))
        .env("CAIRN_PASSWORD_FILE", home.path(".config/cairn/password"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("already has a profile `default`; give --force"), "{}", stderr_of(&out));
    assert!(!home.path("other").exists());
    assert_eq!(fs::read_to_string(home.config_file()).unwrap(), text);
}

#[test]
fn a_password_only_in_cairn_password_is_refused_for_a_profile() {
    let home = Home::new();
    let out = home
        .cairn()
        .args(["init", "--kdf-memory-kib", "8", "--kdf-iterations", "1", "--repo"])
        .arg(home.path("repo"))
        .arg("--paths")
        .arg(home.path("projects"))
        .env("CAIRN_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("CAIRN_PASSWORD") && err.contains("--password-file"), "{err}");
    assert!(!home.path("repo").exists() && !home.config_file().exists());
}

#[test]
fn flags_beat_environment_beats_profile_beats_default() {
    let home = Home::new();
    home.init();
    let file = home.config_file();
    let line = |key: &str| {
        let text = fs::read_to_string(&file).unwrap();
        let n = text.lines().position(|l| l.starts_with(key)).unwrap() + 1;
        format!("{}:{n}", file.display())
    };
    let profile_repo = home.path(".local/share/cairn/repo").display().to_string();
    let s = shown(&mut home.cairn());
    assert_eq!(s["repository"], (profile_repo.clone(), line("repository")));
    assert_eq!(s["profile"].0, "default");
    assert_eq!(s["prune-every"], ("1d".to_string(), "default".to_string()));
    assert_eq!(s["paths"].1, line("paths"));
    assert_eq!(s["password"].1, line("password-file"));
    let s = shown(home.cairn().env("CAIRN_PASSWORD_FILE", "/env/pw"));
    assert_eq!(s["password"], ("file /env/pw".to_string(), "env CAIRN_PASSWORD_FILE".to_string()));
    let s = shown(home.cairn().env("CAIRN_PASSWORD", "x"));
    assert_eq!(s["password"].1, "env CAIRN_PASSWORD");
    let s = shown(home.cairn().env("CAIRN_REPO", "/env/repo"));
    assert_eq!(s["repository"], ("/env/repo".to_string(), "env CAIRN_REPO".to_string()));
    let s = shown(home.cairn().env("CAIRN_REPO", "/env/repo").args(["--repo", "/flag/repo"]));
    assert_eq!(s["repository"], ("/flag/repo".to_string(), "flag --repo".to_string()));
    home.append_config("prune-every = \"never\"\n");
    let s = shown(&mut home.cairn());
    assert_eq!(s["prune-every"], ("never".to_string(), line("prune-every")));
    // Another profile, by flag and by environment.
    home.append_config("\n[work]\nrepository = \"/work/repo\"\n");
    let s = shown(home.cairn().env("CAIRN_PROFILE", "work"));
    assert_eq!(s["profile"], ("work".to_string(), "env CAIRN_PROFILE".to_string()));
    assert_eq!(s["repository"], ("/work/repo".to_string(), line("repository = \"/work")));
    let s = shown(home.cairn().env("CAIRN_PROFILE", "work").args(["--profile", "default"]));
    assert_eq!(s["repository"].0, profile_repo);
    // Without a profile file: the built-in default.
    fs::remove_file(&file).unwrap();
    let s = shown(&mut home.cairn());
    assert_eq!(s["repository"], (profile_repo, "default".to_string()));
    // The environment's repository is the one every command uses.
    home.cairn().args(["snapshots"]).env("CAIRN_REPO", home.path("nothing")).assert().code(10);
}

#[test]
fn a_profile_that_does_not_exist_is_an_error_naming_those_that_do() {
    let home = Home::new();
    home.init();
    home.append_config("\n[work]\npaths = [\"/tmp\"]\n");
    let out = home.cairn().args(["--profile", "nope", "snapshots"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("no profile `nope` in") && stderr_of(&out).contains("default, work"));
}

/// The error of `cairn snapshots` with `text` as the profile file.
fn error_with(text: &str) -> (String, PathBuf, TempDir) {
    let home = Home::new();
    let file = home.path("my.toml");
    fs::write(&file, text).unwrap();
    let out = home.cairn().args(["snapshots"]).env("CAIRN_CONFIG", &file).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    (stderr_of(&out), file, home.dir)
}

#[test]
fn an_unknown_key_or_a_bad_value_names_file_line_and_key() {
    let (err, file, _d) = error_with("[default]\npaths = [\"/tmp\"]\n\n[work]\nexlude = [\"x\"]\n");
    let want = format!("cairn: error: {}:5: unknown key `exlude` in profile `work`", file.display());
    assert!(err.starts_with(&want), "{err}");
    let (err, file, _d) = error_with("[default]\nrestore-sample = \"many\"\n");
    let want = format!("cairn: error: {}:2: key `restore-sample` in profile `default`: ", file.display());
    assert!(err.starts_with(&want), "{err}");
    let (err, file, _d) = error_with("[default]\ncheck-every = \"weekly\"\n");
    let want = format!("cairn: error: {}:2: key `check-every` in profile `default`: ", file.display());
    assert!(err.starts_with(&want), "{err}");
    let (err, file, _d) = error_with("[default]\n[default.alarm]\nmin-files = 3\nshare = 0.5\n");
    let want = format!("cairn: error: {}:4: unknown key `alarm.share` in profile `default`", file.display());
    assert!(err.starts_with(&want), "{err}");
    // A file named by --config / CAIRN_CONFIG must exist.
    let home = Home::new();
    let out = home.cairn().args(["snapshots", "--config"]).arg(home.path("absent.toml")).output().unwrap();
    assert!(stderr_of(&out).contains("could not read the profile file"), "{}", stderr_of(&out));
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn init_paths_on_an_existing_repository_writes_only_the_profile() {
    let home = Home::new();
    // Snapshots taken before there was a profile.
    home.cairn().args(["snapshot", "--quiet"]).arg(home.path("projects")).assert().success();
    // A password that does not open it writes nothing.
    fs::write(home.path("wrong"), "wrong\n").unwrap();
    let out = home
        .cairn()
        .args(["init", "--paths"])
        .arg(home.path("projects"))
        .arg("--password-file")
        .arg(home.path("wrong"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(12), "{}", stderr_of(&out));
    assert!(!home.config_file().exists());
    let out = home.cairn().args(["init", "--paths"]).arg(home.path("projects")).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(stdout_of(&out).contains("exists already; wrote the profile `default`"), "{}", stdout_of(&out));
    home.cairn().arg("run").assert().success();
    assert_eq!(home.snapshot_count(&[]), 2);
}

/// The README's complete profile example is a valid profile file: every key
/// it shows is known and every value parses.
#[test]
fn the_readmes_example_profile_parses() {
    let readme = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let start = readme.find("```toml\n[default]").expect("README has the example profile") + "```toml\n".len();
    let end = start + readme[start..].find("```").unwrap();
    let home = Home::new();
    let example = readme[start..end].replace("/home/me", &home.dir.path().display().to_string());
    let file = home.path("example.toml");
    fs::write(&file, &example).unwrap();
    let out = home.cairn().arg("--config").arg(&file).args(["config", "show", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let shown = stdout_of(&out);
    for want in ["protected-min", "restore-sample", "hourly", "laptop"] {
        assert!(shown.contains(want), "{want} missing from {shown}");
    }
}
