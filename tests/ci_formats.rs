//! What a CI system reads from medocr (docs/ci.md): JUnit XML parsed with a parser of its
//! own, a quiet exit 0 when the reader closes the pipe, and the GitHub Actions and GitLab
//! release gates of deploy/ci/ run step by step as those systems would run them.

mod common;

use common::text;
use saphyr::{LoadableYamlNode, Yaml};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every `<testcase>` of a JUnit file: (classname, name, failure message if failed,
/// skipped).
fn cases(xml: &str) -> Vec<(String, String, Option<String>, bool)> {
    let doc = roxmltree::Document::parse(xml).expect("well-formed JUnit XML");
    assert_eq!(doc.root_element().tag_name().name(), "testsuites");
    doc.descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .map(|n| {
            let failure = n
                .children()
                .find(|c| c.has_tag_name("failure"))
                .map(|f| f.attribute("message").unwrap_or_default().to_string());
            let skipped = n.children().any(|c| c.has_tag_name("skipped"));
            (
                n.attribute("classname").unwrap_or_default().to_string(),
                n.attribute("name").unwrap_or_default().to_string(),
                failure,
                skipped,
            )
        })
        .collect()
}

/// Predictions for the bundled dataset with every `mg` turned into `g` (a thousandfold
/// dose: critical) in the prescriptions.
fn bad_predictions(dir: &Path) -> PathBuf {
    let p = dir.join("bad.jsonl");
    common::predictions(&root().join("datasets/bundled"), &p, |t| {
        t.replace("mg", "g")
    });
    p
}

#[test]
fn a_failing_sla_limit_is_a_failed_junit_test_case() {
    let tmp = tempfile::tempdir().unwrap();
    let preds = bad_predictions(tmp.path());
    let o = common::medocr(
        &[
            "score",
            "--predictions",
            preds.to_str().unwrap(),
            "--out",
            "reports",
            "--run-id",
            "bad",
            "--junit",
            "ci/sla.xml",
        ],
        tmp.path(),
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let xml = std::fs::read_to_string(tmp.path().join("ci/sla.xml")).unwrap();
    let all = cases(&xml);
    let summary = common::summary(&tmp.path().join("reports/bad"));
    let checks: usize = summary["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["verdict"]["checks"].as_array().unwrap().len())
        .sum();
    let suites = summary["verdicts"].as_array().unwrap().len();
    assert_eq!(
        all.len(),
        checks + suites,
        "one test case per SLA check, and one sample-size case per suite"
    );
    // The bundled dataset is small: under the default policy the sample case is skipped.
    let sample = all
        .iter()
        .find(|c| c.1.starts_with("sample.min_documents"))
        .expect("a sample-size case");
    assert!(sample.3 && sample.2.is_none(), "{sample:?}");
    let critical = all
        .iter()
        .find(|c| {
            c.0 == "sla.prescription.300dpi" && c.1.starts_with("accuracy.max_critical_errors")
        })
        .expect("the prescription's critical-error limit");
    let message = critical.2.as_deref().expect("a failure");
    assert!(
        message.starts_with("critical field errors ≤ 0 (got "),
        "{message}"
    );
    // The replayed run has no timing: its latency limits are skipped, not passed.
    assert!(all.iter().any(|c| c.1.starts_with("latency.") && c.3));
    // Limits that held are passing cases.
    assert!(all.iter().any(|c| c.2.is_none() && !c.3));
}

#[test]
fn a_failed_compare_gate_is_a_failed_junit_test_case() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good.jsonl");
    common::predictions(&root().join("datasets/bundled"), &good, |t| t.to_string());
    let bad = bad_predictions(tmp.path());
    for (id, p) in [("good", &good), ("bad", &bad)] {
        let o = common::medocr(
            &[
                "score",
                "--predictions",
                p.to_str().unwrap(),
                "--run-id",
                id,
                "--quiet",
            ],
            tmp.path(),
        );
        assert!(matches!(o.status.code(), Some(0 | 1)), "{}", text(&o));
    }
    let o = common::medocr(
        &[
            "compare",
            "good",
            "bad",
            "--junit",
            "gate.xml",
            "--export-json",
            "-",
            "--resamples",
            "300",
        ],
        tmp.path(),
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON alone");
    assert_eq!(json["passed"], false);
    let all = cases(&std::fs::read_to_string(tmp.path().join("gate.xml")).unwrap());
    let failed: Vec<_> = all.iter().filter(|c| c.2.is_some()).collect();
    assert!(
        failed
            .iter()
            .any(|c| c.0 == "compare.all" && c.1 == "critical_per_document"),
        "{failed:?}"
    );
    let msg = failed[0].2.as_deref().unwrap();
    assert!(
        msg.contains("baseline") && msg.contains("candidate") && msg.contains("margin"),
        "{msg}"
    );
}

#[test]
fn a_reader_that_closes_the_pipe_ends_the_command_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    let preds = bad_predictions(tmp.path());
    // `medocr … | head -1` the way a shell runs it.
    let cmd = format!(
        "'{}' score --predictions '{}' --run-id piped --quiet --export-json - | head -1; echo \"exit ${{PIPESTATUS[0]}}\"",
        env!("CARGO_BIN_EXE_medocr"),
        preds.display()
    );
    let o = Command::new("bash")
        .arg("-c")
        .arg(&cmd)
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.starts_with("{\n"), "{}", text(&o));
    // The run failed its SLA (exit 1) unless the pipe closed first: either way no panic.
    assert!(
        out.contains("exit 0") || out.contains("exit 1"),
        "{}",
        text(&o)
    );
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("panicked"),
        "{}",
        text(&o)
    );

    // Deterministically: the reader is gone before the first byte is written.
    let mut child = Command::new(env!("CARGO_BIN_EXE_medocr"))
        .args([
            "score",
            "--predictions",
            preds.to_str().unwrap(),
            "--run-id",
            "closed",
        ])
        .current_dir(tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(o.stderr.is_empty(), "{}", text(&o));
    // The results were written before anything was printed.
    assert!(tmp.path().join("reports/closed/summary.json").is_file());
}

/// A folder laid out like a repository using the examples: a one-document release
/// dataset, the shipped model as baseline and candidate, and `medocr` on PATH.
struct Repo {
    tmp: tempfile::TempDir,
    path: String,
}

impl Repo {
    fn new(latency_limit_ms: Option<u32>) -> Repo {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path();
        let bin = p.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_medocr"), bin.join("medocr")).unwrap();
        std::fs::create_dir_all(p.join("models")).unwrap();
        for name in ["builtin", "candidate"] {
            std::os::unix::fs::symlink(root().join("models/builtin"), p.join("models").join(name))
                .unwrap();
        }
        let (data, _) = common::bundled_document(&p.join("datasets"), "diagnosis");
        std::fs::rename(data, p.join("datasets/release")).unwrap();
        // The repository's own profile, with or without a latency limit it must miss.
        std::fs::create_dir_all(p.join("profiles")).unwrap();
        let mut profile = "doc_type = \"diagnosis\"\n[accuracy]\nmax_cer = 0.5\n".to_string();
        if let Some(ms) = latency_limit_ms {
            profile += &format!("[latency]\nmax_e2e_ms = {ms}\n");
        }
        std::fs::write(p.join("profiles/diagnosis.toml"), profile).unwrap();
        std::fs::create_dir_all(p.join("deploy/ci")).unwrap();
        std::fs::copy(
            root().join("deploy/ci/release-margins.toml"),
            p.join("deploy/ci/release-margins.toml"),
        )
        .unwrap();
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        Repo { tmp, path }
    }

    /// Runs a CI step's shell text as the CI system does, with the workflow's variables.
    fn step(&self, script: &str, env: &[(String, String)]) -> (i32, String) {
        let o = Command::new("bash")
            .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
            .current_dir(self.tmp.path())
            .env("PATH", &self.path)
            .env("MEDOCR_PROFILES", "profiles")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .unwrap();
        (o.status.code().unwrap_or(-1), text(&o))
    }

    fn passed_all(&self, file: &str) -> bool {
        let xml = std::fs::read_to_string(self.tmp.path().join(file))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let all = cases(&xml);
        !all.is_empty() && all.iter().all(|c| c.2.is_none())
    }
}

fn load(path: &str) -> Yaml<'static> {
    let text = std::fs::read_to_string(root().join(path)).unwrap();
    let mut docs = Yaml::load_from_str(Box::leak(text.into_boxed_str())).expect("valid YAML");
    assert_eq!(docs.len(), 1, "{path}: one YAML document");
    docs.remove(0)
}

fn variables(map: &Yaml) -> Vec<(String, String)> {
    map.as_mapping()
        .expect("a mapping of variables")
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().unwrap().to_string(),
                v.as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Install steps are the one part a test cannot repeat: the binary under test is on PATH.
fn installs(script: &str) -> bool {
    script.contains("scripts/setup.sh") || script.contains("cargo install")
}

#[test]
fn the_github_actions_gate_runs_as_written() {
    let wf = load("deploy/ci/github-release-gate.yml");
    let env = variables(&wf["env"]);
    let steps = wf["jobs"]["gate"]["steps"].as_sequence().expect("steps");
    for (limit, candidate_passes) in [(None, true), (Some(1), false)] {
        let repo = Repo::new(limit);
        let mut failed = false;
        let mut ran = Vec::new();
        for step in steps {
            let Some(script) = step.as_mapping_get("run").and_then(|r| r.as_str()) else {
                continue; // a marketplace action (`uses:`)
            };
            if installs(script) {
                continue;
            }
            // GitHub runs a step after a failure only when its `if` says so.
            let always = step
                .as_mapping_get("if")
                .and_then(|c| c.as_str())
                .is_some_and(|c| c.contains("!cancelled()"));
            if failed && !always {
                continue;
            }
            let (code, out) = repo.step(script, &env);
            ran.push(step["name"].as_str().unwrap_or("?").to_string());
            if code != 0 {
                assert!(!candidate_passes, "{script}: exit {code}\n{out}");
                failed = true;
            }
        }
        assert_eq!(
            ran,
            ["Baseline run", "Candidate run", "Non-inferiority gate"]
        );
        assert_eq!(failed, !candidate_passes);
        assert_eq!(repo.passed_all("sla-candidate.xml"), candidate_passes);
        // Same model on both sides: the gate passes either way.
        assert!(repo.passed_all("gate.xml"));
        let gate: serde_json::Value =
            serde_json::from_slice(&std::fs::read(repo.tmp.path().join("gate.json")).unwrap())
                .unwrap();
        assert_eq!(gate["passed"], true);
    }
}

#[test]
fn the_gitlab_gate_runs_as_written() {
    let ci = load("deploy/ci/gitlab-release-gate.yml");
    let env = variables(&ci["variables"]);
    let job = &ci["release-gate"];
    let junit: Vec<&str> = job["artifacts"]["reports"]["junit"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(junit, ["sla-*.xml", "gate.xml"]);
    let script: Vec<&str> = job["script"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|l| {
            l.as_str()
                .expect("every script line is a string (a ': ' makes a mapping)")
        })
        .filter(|l| !installs(l))
        .collect();
    // GitLab runs the script lines in one shell that stops at the first failing line.
    let script = script.join("\n");
    for (limit, expected) in [(None, 0), (Some(1), 1)] {
        let repo = Repo::new(limit);
        let (code, out) = repo.step(&script, &env);
        assert_eq!(code, expected, "{out}");
        assert!(repo.passed_all("gate.xml"), "{out}");
        assert_eq!(repo.passed_all("sla-candidate.xml"), expected == 0);
    }
}
