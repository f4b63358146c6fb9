//! Scale-out on batch schedulers (issue 19). `--shard auto` takes the shard from a
//! Kubernetes Indexed Job (`JOB_COMPLETION_INDEX` and `--shards`) or a Slurm job array
//! (`SLURM_ARRAY_TASK_*`), records it in summary.json like `--shard I/N`, refuses unclear
//! environments naming the variable, and a resume keeps the index it started with.
//!
//! The files in deploy/ are run as their scheduler runs them: the Indexed Job's container
//! script once per index with `JOB_COMPLETION_INDEX` set, in the Containerfile's final
//! stage laid out in a temporary folder with the Job's volumes mounted there, then the
//! merge Job; the sbatch script once per array task with the `SLURM_*` variables Slurm
//! sets, then the dependent merge script. Each merged run equals an unsharded one. The
//! Containerfile is checked against scripts/setup.sh (one package list) and its default
//! command run in that layout.

use serde_json::Value;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use saphyr::YamlOwned as Yaml;

mod common;
use common::text;

const K8S: &str = "JOB_COMPLETION_INDEX";

/// Every variable a scheduler could have left in the environment running these tests,
/// and medocr's defaults a developer may have set.
const CLEARED_VARS: [&str; 11] = [
    K8S,
    "SLURM_ARRAY_JOB_ID",
    "SLURM_JOB_ID",
    "SLURM_ARRAY_TASK_ID",
    "SLURM_ARRAY_TASK_MIN",
    "SLURM_ARRAY_TASK_MAX",
    "SLURM_ARRAY_TASK_COUNT",
    "SLURM_ARRAY_TASK_STEP",
    "MEDOCR_DATASET",
    "MEDOCR_PROFILES",
    "MEDOCR_OUT",
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A command that sees only the scheduler variables a test gives it (the tests may run
/// inside a CI job on Kubernetes or Slurm).
fn clean(program: impl AsRef<OsStr>, cwd: &Path, env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(program);
    for v in CLEARED_VARS {
        c.env_remove(v);
    }
    c.envs(env.iter().copied()).current_dir(cwd);
    c
}

fn medocr(args: &[&str], env: &[(&str, &str)], cwd: &Path) -> Output {
    clean(env!("CARGO_BIN_EXE_medocr"), cwd, env)
        .args(args)
        .output()
        .expect("run medocr")
}

fn read_json(p: &Path) -> Value {
    let body = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&body).unwrap()
}

/// summary.json without what differs between two runs of the same inputs, and without
/// the merged run's list of its shards.
fn scrub(v: &Value) -> Value {
    common::scrub(v, &["merged_from"])
}

/// Keeps the journal's header and its first `n` results, and removes summary.json: the
/// run folder of a run stopped after `n` results (a killed pod, a preempted task).
fn interrupt_after(dir: &Path, n: usize) {
    let journal = dir.join("journal.jsonl");
    let body = std::fs::read_to_string(&journal).unwrap();
    let kept: String = body.lines().take(1 + n).map(|l| format!("{l}\n")).collect();
    std::fs::write(&journal, kept).unwrap();
    std::fs::remove_file(dir.join("summary.json")).unwrap();
}

/// A generated dataset (`per_type` one-page documents of three types), accuracy-only
/// profiles (latency limits would make verdicts timing-dependent) and exact predictions
/// for the replay engine.
struct Fixture {
    tmp: tempfile::TempDir,
}

impl Fixture {
    fn new(per_type: usize) -> Self {
        let fx = Fixture {
            tmp: tempfile::tempdir().unwrap(),
        };
        generate(&fx.path("data"), per_type);
        std::fs::create_dir(fx.path("profiles")).unwrap();
        for t in ["prescription", "lab_result", "diagnosis"] {
            std::fs::write(
                fx.path(&format!("profiles/{t}.toml")),
                format!("doc_type = \"{t}\"\n[accuracy]\nmax_cer = 0.3\n"),
            )
            .unwrap();
        }
        common::predictions(&fx.path("data"), &fx.path("preds.jsonl"), |t| t.to_string());
        fx
    }

    fn path(&self, p: &str) -> PathBuf {
        self.tmp.path().join(p)
    }

    fn s(&self, p: &str) -> String {
        self.path(p).display().to_string()
    }

    /// `medocr <command>` on the fixture's dataset into `reports/<id>` with the replay
    /// engine (`score` reads the same predictions), plus `extra`, in environment `env`.
    fn run(&self, command: &str, id: &str, extra: &[&str], env: &[(&str, &str)]) -> Output {
        let (data, profiles, out, preds) = (
            self.s("data"),
            self.s("profiles"),
            self.s("reports"),
            self.s("preds.jsonl"),
        );
        let mut args = vec![
            command,
            "--quiet",
            "--dataset",
            &data,
            "--profiles",
            &profiles,
            "--out",
            &out,
            "--run-id",
            id,
            "--predictions",
            &preds,
        ];
        match command {
            "run" => args.extend(["--engine", "replay"]),
            "dpi-sweep" => args.extend(["--engines", "replay", "--dpi", "150,300"]),
            _ => {}
        }
        args.extend_from_slice(extra);
        medocr(&args, env, root())
    }

    fn summary(&self, id: &str) -> Value {
        read_json(&self.path(&format!("reports/{id}/summary.json")))
    }
}

/// `medocr gen` of `per_type` documents of three types into `out`.
fn generate(out: &Path, per_type: usize) {
    let out = out.display().to_string();
    let count = per_type.to_string();
    let o = medocr(
        &[
            "gen",
            "--out",
            &out,
            "--count",
            &count,
            "--types",
            "prescription,lab_result,diagnosis",
            "--seed",
            "23",
        ],
        &[],
        root(),
    );
    assert!(o.status.success(), "{}", text(&o));
}

/// The Slurm variables of task `id` of an array submitted as `--array=min-max:step`.
fn slurm_env(id: usize, min: usize, max: usize, step: usize) -> Vec<(&'static str, String)> {
    vec![
        ("SLURM_ARRAY_JOB_ID", "4242".to_string()),
        ("SLURM_JOB_ID", (4242 + 1 + (id - min) / step).to_string()),
        ("SLURM_ARRAY_TASK_ID", id.to_string()),
        ("SLURM_ARRAY_TASK_MIN", min.to_string()),
        ("SLURM_ARRAY_TASK_MAX", max.to_string()),
        (
            "SLURM_ARRAY_TASK_COUNT",
            ((max - min) / step + 1).to_string(),
        ),
        ("SLURM_ARRAY_TASK_STEP", step.to_string()),
    ]
}

fn pairs<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[test]
fn auto_takes_the_shard_from_kubernetes_or_slurm_for_run_score_and_sweep() {
    let fx = Fixture::new(2);

    // Kubernetes: pod index 1 of an Indexed Job with 3 completions is shard 2/3.
    let o = fx.run(
        "run",
        "k8s",
        &["--shard", "auto", "--shards", "3"],
        &[(K8S, "1")],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("--shard auto: shard 2/3 (JOB_COMPLETION_INDEX=1, --shards 3)"),
        "{}",
        text(&o)
    );
    let k8s = fx.summary("k8s");
    let shard = &k8s["config"]["shard"];
    assert_eq!(shard["index"], 2);
    assert_eq!(shard["count"], 3);
    assert_eq!(shard["selected_documents"], 6);
    assert_eq!(k8s["totals"]["documents"], 2);
    // The same run as --shard 2/3 (replay is untimed, so exactly).
    let o = fx.run("run", "fixed", &["--shard", "2/3"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(scrub(&k8s), scrub(&fx.summary("fixed")));

    // Slurm, `--array=1-5:2`: tasks 1, 3, 5; task 5 is shard 3/3. With `score`.
    let env = slurm_env(5, 1, 5, 2);
    let o = fx.run("score", "slurm", &["--shard", "auto"], &pairs(&env));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let s = fx.summary("slurm");
    assert_eq!(s["config"]["shard"]["index"], 3);
    assert_eq!(s["config"]["shard"]["count"], 3);
    assert_eq!(s["totals"]["documents"], 2);

    // `dpi-sweep` under Slurm without SLURM_ARRAY_TASK_STEP (older Slurm), --shards
    // agreeing with the array's size: `--array=0-1`, task 0 is shard 1/2.
    let mut env = slurm_env(0, 0, 1, 1);
    env.retain(|(k, _)| *k != "SLURM_ARRAY_TASK_STEP");
    let o = fx.run(
        "dpi-sweep",
        "sweep",
        &["--shard", "auto", "--shards", "2"],
        &pairs(&env),
    );
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", text(&o));
    let s = fx.summary("sweep");
    assert_eq!(s["config"]["shard"]["index"], 1);
    assert_eq!(s["config"]["shard"]["count"], 2);
    // Three of six documents at two DPIs.
    assert_eq!(s["totals"]["documents"], 6);
}

/// A refused command: subcommand, flags, scheduler variables, what the error must say.
type Refusal<'a> = (&'a str, Vec<&'a str>, Vec<(&'a str, &'a str)>, Vec<&'a str>);

#[test]
fn auto_refuses_an_unclear_environment_naming_the_variable() {
    let fx = Fixture::new(1);
    let slurm_vars = slurm_env(0, 0, 2, 1);
    let slurm = pairs(&slurm_vars);
    let both: Vec<(&str, &str)> = [(K8S, "0")].into_iter().chain(slurm.clone()).collect();
    let without = |var: &str| -> Vec<(&str, &str)> {
        slurm.iter().filter(|(k, _)| *k != var).copied().collect()
    };
    let with = |var: &'static str, value: &'static str| -> Vec<(&str, &str)> {
        let mut v = without(var);
        v.push((var, value));
        v
    };
    let auto3 = ["--shard", "auto", "--shards", "3"];
    let cases: Vec<Refusal> = vec![
        (
            "run",
            auto3.to_vec(),
            vec![],
            vec![
                "neither JOB_COMPLETION_INDEX",
                "SLURM_ARRAY_TASK_ID",
                "--shard I/N",
            ],
        ),
        (
            "score",
            vec!["--shard", "auto"],
            vec![],
            vec!["neither JOB_COMPLETION_INDEX"],
        ),
        (
            "run",
            auto3.to_vec(),
            both,
            vec!["both JOB_COMPLETION_INDEX", "ambiguous"],
        ),
        (
            "run",
            auto3.to_vec(),
            vec![(K8S, "one")],
            vec!["JOB_COMPLETION_INDEX=\"one\" is not a whole number"],
        ),
        (
            "run",
            auto3.to_vec(),
            vec![(K8S, "3")],
            vec![
                "JOB_COMPLETION_INDEX=3 is out of range for --shards 3",
                "spec.completions",
            ],
        ),
        (
            "run",
            vec!["--shard", "auto"],
            vec![(K8S, "0")],
            vec!["needs --shards N", "spec.completions"],
        ),
        (
            "run",
            vec!["--shard", "1/3", "--shards", "3"],
            vec![(K8S, "0")],
            vec!["--shards 3 goes with --shard auto only"],
        ),
        (
            "dpi-sweep",
            vec!["--shards", "3"],
            vec![],
            vec!["--shards 3 goes with --shard auto only"],
        ),
        (
            "run",
            vec!["--shard", "auto", "--shards", "4"],
            slurm.clone(),
            vec!["--shards 4 disagrees with SLURM_ARRAY_TASK_COUNT=3"],
        ),
        (
            "run",
            vec!["--shard", "auto"],
            without("SLURM_ARRAY_TASK_MIN"),
            vec!["SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_MIN is not"],
        ),
        (
            "run",
            vec!["--shard", "auto"],
            with("SLURM_ARRAY_TASK_ID", "4_1"),
            vec!["SLURM_ARRAY_TASK_ID=\"4_1\" is not a whole number"],
        ),
        // `--array=0,2,7`: Slurm reports 3 tasks from 0; 7 has no place among them.
        (
            "run",
            vec!["--shard", "auto"],
            with("SLURM_ARRAY_TASK_ID", "7"),
            vec!["SLURM_ARRAY_TASK_ID=7 is not among", "--array=0-2"],
        ),
        (
            "run",
            vec!["--shard", "auto"],
            with("SLURM_ARRAY_TASK_ID", "3"),
            vec!["SLURM_ARRAY_TASK_ID=3 is not among"],
        ),
    ];
    for (command, args, env, needles) in cases {
        let o = fx.run(command, "bad", &args, &env);
        let msg = text(&o);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{command} {args:?} {env:?}: {msg}"
        );
        for n in needles {
            assert!(
                msg.contains(n),
                "{command} {args:?} {env:?}: expected `{n}` in: {msg}"
            );
        }
        assert!(
            !fx.path("reports/bad").exists(),
            "{command} {args:?}: {msg}"
        );
    }
}

#[test]
fn a_resumed_auto_shard_keeps_the_index_it_started_with() {
    let fx = Fixture::new(2);
    let env = [(K8S, "1")];
    let o = fx.run("run", "pod1", &["--shard", "auto", "--shards", "3"], &env);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let finished = fx.summary("pod1");
    let dir = fx.path("reports/pod1");
    interrupt_after(&dir, 1);
    let journal = std::fs::read(dir.join("journal.jsonl")).unwrap();
    let resume = |env: &[(&str, &str)]| {
        medocr(
            &["run", "--resume", &dir.display().to_string(), "--quiet"],
            env,
            root(),
        )
    };

    // Elsewhere the command line gives another shard, or none: refused, nothing written.
    let o = resume(&[(K8S, "0")]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("it runs shard 2/3, but its command line now gives shard 1/3"),
        "{}",
        text(&o)
    );
    let o = resume(&[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("neither JOB_COMPLETION_INDEX"),
        "{}",
        text(&o)
    );
    assert_eq!(std::fs::read(dir.join("journal.jsonl")).unwrap(), journal);
    assert!(!dir.join("summary.json").exists());

    // The restarted pod has the same index: the run finishes as it would have.
    let o = resume(&env);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("1 of 2 results already"), "{}", text(&o));
    assert_eq!(scrub(&fx.summary("pod1")), scrub(&finished));
}

/// The container image's final stage as the Containerfile writes it.
struct Containerfile {
    /// Instructions per stage, continuation lines joined: (keyword, arguments).
    stages: Vec<Vec<(String, String)>>,
}

impl Containerfile {
    fn load() -> Self {
        let body = std::fs::read_to_string(root().join("Containerfile")).unwrap();
        let mut logical = Vec::new();
        let mut line = String::new();
        for raw in body.lines() {
            let t = raw.trim();
            if line.is_empty() && (t.is_empty() || t.starts_with('#')) {
                continue;
            }
            match t.strip_suffix('\\') {
                Some(head) => {
                    line.push_str(head);
                    line.push(' ');
                }
                None => {
                    line.push_str(t);
                    logical.push(std::mem::take(&mut line));
                }
            }
        }
        let mut stages: Vec<Vec<(String, String)>> = vec![Vec::new()];
        for l in logical {
            let (kw, rest) = l.split_once(char::is_whitespace).unwrap_or((&l, ""));
            let kw = kw.to_ascii_uppercase();
            if kw == "FROM" {
                stages.push(Vec::new());
            }
            stages
                .last_mut()
                .unwrap()
                .push((kw, rest.trim().to_string()));
        }
        Containerfile { stages }
    }

    fn all(&self, stage: usize, kw: &str) -> Vec<&str> {
        self.stages[stage]
            .iter()
            .filter(|(k, _)| k == kw)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn one(&self, stage: usize, kw: &str) -> &str {
        let v = self.all(stage, kw);
        assert_eq!(v.len(), 1, "one {kw} in stage {stage}: {v:?}");
        v[0]
    }

    fn last(&self) -> usize {
        self.stages.len() - 1
    }

    /// The final stage's ENV, `K=V` pairs (no quoting in this file).
    fn env(&self) -> BTreeMap<String, String> {
        self.all(self.last(), "ENV")
            .iter()
            .flat_map(|e| e.split_whitespace())
            .map(|kv| {
                let (k, v) = kv.split_once('=').expect("ENV K=V");
                (k.to_string(), v.to_string())
            })
            .collect()
    }

    /// A JSON-array instruction (`ENTRYPOINT ["medocr"]`).
    fn exec_form(&self, kw: &str) -> Vec<String> {
        serde_json::from_str(self.one(self.last(), kw)).unwrap()
    }

    /// COPY instructions of the final stage: (`--from` stage, sources, destination).
    fn copies(&self) -> Vec<(Option<String>, Vec<String>, String)> {
        self.all(self.last(), "COPY")
            .iter()
            .map(|c| {
                let mut from = None;
                let mut paths = Vec::new();
                for w in c.split_whitespace() {
                    if let Some(f) = w.strip_prefix("--from=") {
                        from = Some(f.to_string());
                    } else if !w.starts_with("--") {
                        paths.push(w.to_string());
                    }
                }
                let dest = paths.pop().unwrap();
                (from, paths, dest)
            })
            .collect()
    }
}

/// The Containerfile's final stage laid out under a temporary folder: its COPY
/// instructions done from the repository (the builder stage's binary linked to the one
/// under test), its WORKDIR, and its ENV with absolute paths moved under the folder. The
/// RUN of scripts/setup.sh is not replayed (it installs Debian packages): this machine has
/// them, and the libpdfium it would unpack is this machine's, linked where the ENV says.
struct Image {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
    workdir: PathBuf,
}

impl Image {
    fn lay_out() -> Self {
        let cf = Containerfile::load();
        let dir = tempfile::tempdir().unwrap();
        let inside = |p: &str| dir.path().join(p.trim_start_matches('/'));
        for (from, sources, dest) in cf.copies() {
            let dest = inside(&dest);
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            if from.is_some() {
                // The binary, at a place named `medocr` on the image's PATH.
                let dest = if sources[0].ends_with("/medocr") && !dest.ends_with("medocr") {
                    dest.join("medocr")
                } else {
                    dest
                };
                std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
                std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_medocr"), &dest).unwrap();
                continue;
            }
            for src in sources {
                copy_tree(&root().join(&src), &dest);
            }
        }
        for run in cf.all(cf.last(), "RUN") {
            // Folders the image makes (`mkdir /work/reports`).
            if let Some(rest) = run.strip_prefix("mkdir ") {
                for p in rest.split("&&").next().unwrap().split_whitespace() {
                    if p.starts_with('/') {
                        std::fs::create_dir_all(inside(p)).unwrap();
                    }
                }
            }
        }
        let mut env: Vec<(String, String)> = cf
            .env()
            .into_iter()
            .map(|(k, v)| {
                let v = if v.starts_with('/') {
                    inside(&v).display().to_string()
                } else {
                    v
                };
                (k, v)
            })
            .collect();
        let host_path = std::env::var("PATH").unwrap_or_default();
        env.push((
            "PATH".into(),
            format!("{}:{host_path}", inside("/usr/local/bin").display()),
        ));
        let (_, pdfium) = env
            .iter()
            .find(|(k, _)| k == "MEDOCR_PDFIUM")
            .expect("the image sets MEDOCR_PDFIUM");
        let pdfium = PathBuf::from(pdfium);
        std::fs::create_dir_all(pdfium.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(host_pdfium(), &pdfium).unwrap();
        let workdir = inside(cf.one(cf.last(), "WORKDIR"));
        Image { dir, env, workdir }
    }

    fn inside(&self, p: &str) -> PathBuf {
        self.dir.path().join(p.trim_start_matches('/'))
    }

    /// A command run in the container: the image's environment and working directory.
    fn command(&self, program: &str, extra_env: &[(&str, &str)]) -> Command {
        let mut c = clean(program, &self.workdir, extra_env);
        c.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        c
    }
}

/// This machine's libpdfium: `MEDOCR_PDFIUM`, else the checkout's (scripts/setup.sh).
fn host_pdfium() -> PathBuf {
    let p = std::env::var_os("MEDOCR_PDFIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".deps/pdfium/libpdfium.so"));
    let p = if p.is_dir() {
        p.join("libpdfium.so")
    } else {
        p
    };
    assert!(
        p.is_file(),
        "{}: no libpdfium; run scripts/setup.sh or set MEDOCR_PDFIUM",
        p.display()
    );
    p
}

fn copy_tree(src: &Path, dest: &Path) {
    if src.is_dir() {
        std::fs::create_dir_all(dest).unwrap();
        for e in std::fs::read_dir(src).unwrap() {
            let e = e.unwrap();
            copy_tree(&e.path(), &dest.join(e.file_name()));
        }
    } else {
        std::fs::copy(src, dest).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
    }
}

/// A YAML file of deploy/, its one document.
fn load_yaml(rel: &str) -> Yaml {
    use saphyr::LoadableYamlNode;
    let body = std::fs::read_to_string(root().join(rel)).unwrap();
    let mut docs = Yaml::load_from_str(&body).unwrap_or_else(|e| panic!("{rel}: {e}"));
    assert_eq!(docs.len(), 1, "{rel}: one document");
    docs.remove(0)
}

fn str_of<'a>(y: &'a Yaml, what: &str) -> &'a str {
    y.as_str().unwrap_or_else(|| panic!("{what}: not a string"))
}

/// The Job's one container, and the shell script it runs (`command: [/bin/sh, -c]`).
fn job_container(job: &Yaml) -> (&Yaml, String) {
    let containers = job["spec"]["template"]["spec"]["containers"]
        .as_sequence()
        .unwrap();
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    let command: Vec<&str> = c["command"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| str_of(v, "command"))
        .collect();
    assert_eq!(command, ["/bin/sh", "-c"]);
    let args = c["args"].as_sequence().unwrap();
    assert_eq!(args.len(), 1);
    (c, str_of(&args[0], "args[0]").to_string())
}

/// The container's `env` entries with literal values.
fn container_env(c: &Yaml) -> Vec<(String, String)> {
    c["env"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|e| {
            (
                str_of(&e["name"], "env name").to_string(),
                str_of(&e["value"], "env value").to_string(),
            )
        })
        .collect()
}

/// The script with each of the container's volume mount paths replaced by `mount(path)`
/// (longest first, so nested mounts map correctly), asserting each is used.
fn mounted(script: &str, c: &Yaml, mount: impl Fn(&str) -> PathBuf) -> String {
    let mut paths: Vec<&str> = c["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|m| str_of(&m["mountPath"], "mountPath"))
        .collect();
    paths.sort_by_key(|p| std::cmp::Reverse(p.len()));
    let mut out = script.to_string();
    for p in paths {
        assert!(out.contains(p), "the script does not use the volume at {p}");
        let target = mount(p);
        std::fs::create_dir_all(&target).unwrap();
        out = out.replace(p, &target.display().to_string());
    }
    out
}

/// The number after `--shards` in a script.
fn shards_flag(script: &str) -> usize {
    let (_, rest) = script.split_once("--shards ").expect("--shards N");
    rest.split_whitespace().next().unwrap().parse().unwrap()
}

fn scrubbed_groups(summary: &Value) -> Value {
    scrub(&summary["groups"])
}

#[test]
fn kubernetes_indexed_job_and_merge_job_equal_an_unsharded_run() {
    let job = load_yaml("deploy/kubernetes/medocr-indexed-job.yaml");
    let merge = load_yaml("deploy/kubernetes/medocr-merge-job.yaml");
    for j in [&job, &merge] {
        assert_eq!(j["apiVersion"].as_str(), Some("batch/v1"));
        assert_eq!(j["kind"].as_str(), Some("Job"));
    }
    assert_eq!(job["spec"]["completionMode"].as_str(), Some("Indexed"));
    let completions = job["spec"]["completions"].as_integer().unwrap() as usize;
    let parallelism = job["spec"]["parallelism"].as_integer().unwrap() as usize;
    assert!((1..=completions).contains(&parallelism));
    let (c, script) = job_container(&job);
    assert_eq!(
        shards_flag(&script),
        completions,
        "--shards must repeat spec.completions"
    );
    assert!(script.contains("--shard auto"), "{script}");
    let (mc, merge_script) = job_container(&merge);
    assert!(merge_script.contains("medocr merge"), "{merge_script}");
    // Both Jobs run the image as its non-root user, with the same RUN_ID and reports claim.
    let cf = Containerfile::load();
    let user = cf
        .one(cf.last(), "USER")
        .split(':')
        .next()
        .unwrap()
        .to_string();
    for j in [&job, &merge] {
        let sc = &j["spec"]["template"]["spec"]["securityContext"];
        assert_eq!(sc["runAsUser"].as_integer().unwrap().to_string(), user);
        assert_eq!(sc["runAsNonRoot"].as_bool(), Some(true));
    }
    assert_eq!(container_env(c), container_env(mc));
    let claim = |j: &Yaml| -> Vec<String> {
        j["spec"]["template"]["spec"]["volumes"]
            .as_sequence()
            .unwrap()
            .iter()
            .filter(|v| v["name"].as_str() == Some("reports"))
            .map(|v| str_of(&v["persistentVolumeClaim"]["claimName"], "claim").to_string())
            .collect()
    };
    assert_eq!(claim(&job), claim(&merge));
    assert_eq!(claim(&job).len(), 1);

    // The pods, in the image, with the volumes: a generated dataset of one document per
    // type, so each of the three shards reads one page with the built-in model.
    let image = Image::lay_out();
    generate(&image.inside("/data"), 1);
    let volume = |p: &str| image.inside(p);
    let script = mounted(&script, c, volume);
    let merge_script = mounted(&merge_script, mc, volume);
    let env = container_env(c);
    let run_id = &env.iter().find(|(k, _)| k == "RUN_ID").unwrap().1;
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let pod = |script: &str, index: &str| {
        let mut e = env.clone();
        e.push((K8S, index));
        image
            .command("/bin/sh", &e)
            .args(["-c", script])
            .output()
            .unwrap()
    };
    let reports = image.inside("/work/reports");
    let shard_dir = |i: usize| reports.join(format!("{run_id}-shard-{i}"));
    for i in 0..completions {
        let o = pod(&script, &i.to_string());
        assert_eq!(o.status.code(), Some(0), "pod {i}: {}", text(&o));
        let s = read_json(&shard_dir(i).join("summary.json"));
        assert_eq!(s["config"]["shard"]["index"], i + 1);
        assert_eq!(s["config"]["shard"]["count"], completions);
        assert_eq!(s["config"]["engine"]["name"], "builtin");
    }
    // A pod replaced after it finished does nothing; one replaced midway resumes.
    let before = std::fs::read(shard_dir(0).join("summary.json")).unwrap();
    let o = pod(&script, "0");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("is finished"), "{}", text(&o));
    assert_eq!(
        std::fs::read(shard_dir(0).join("summary.json")).unwrap(),
        before
    );
    let finished = read_json(&shard_dir(1).join("summary.json"));
    interrupt_after(&shard_dir(1), 0);
    let o = pod(&script, "1");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("resuming"), "{}", text(&o));
    assert_eq!(
        scrubbed_groups(&read_json(&shard_dir(1).join("summary.json"))),
        scrubbed_groups(&finished)
    );

    // The merge Job, then the same command unsharded (the script without
    // `--shard auto --shards N`) into another reports volume.
    let o = image
        .command("/bin/sh", &env)
        .args(["-c", &merge_script])
        .output()
        .unwrap();
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("merged {completions} shards")),
        "{}",
        text(&o)
    );
    let flags = format!("--shard auto --shards {completions}");
    assert_eq!(script.matches(&flags).count(), 1, "{script}");
    std::fs::create_dir(image.inside("/full")).unwrap();
    let unsharded = script.replace(&flags, "").replace(
        &reports.display().to_string(),
        &image.inside("/full").display().to_string(),
    );
    let o = pod(&unsharded, "all");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let full = read_json(&image.inside(&format!("/full/{run_id}-shard-all/summary.json")));
    let merged = read_json(&reports.join(run_id).join("summary.json"));
    assert!(full["config"].get("shard").is_none());
    assert_eq!(merged["merged_from"].as_array().unwrap().len(), completions);
    assert_eq!(full["totals"]["documents"], 3);
    assert_eq!(merged["totals"]["documents"], 3);
    assert_eq!(
        serde_json::to_string_pretty(&scrubbed_groups(&merged)).unwrap(),
        serde_json::to_string_pretty(&scrubbed_groups(&full)).unwrap()
    );
}

/// `#SBATCH` directives are read only before the script's first command.
fn assert_directives_first(rel: &str, body: &str) {
    let lines: Vec<&str> = body.lines().collect();
    let first_command = lines
        .iter()
        .position(|l| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#')
        })
        .unwrap();
    let last_directive = lines
        .iter()
        .rposition(|l| l.starts_with("#SBATCH"))
        .unwrap();
    assert!(
        last_directive < first_command,
        "{rel}: an #SBATCH line after the first command is ignored by sbatch"
    );
}

/// The task ids of `#SBATCH --array=MIN-MAX[:STEP][%LIMIT]`, and (min, max, step).
fn array_ids(body: &str) -> (Vec<usize>, usize, usize, usize) {
    let spec = body
        .lines()
        .find_map(|l| l.strip_prefix("#SBATCH --array="))
        .expect("#SBATCH --array=");
    let spec = spec.split('%').next().unwrap();
    let (range, step) = spec.split_once(':').unwrap_or((spec, "1"));
    let (min, max) = range.split_once('-').expect("an --array range MIN-MAX");
    let (min, max, step): (usize, usize, usize) = (
        min.parse().unwrap(),
        max.parse().unwrap(),
        step.parse().unwrap(),
    );
    ((min..=max).step_by(step).collect(), min, max, step)
}

#[test]
fn slurm_array_and_dependent_merge_equal_an_unsharded_run() {
    let array_rel = "deploy/slurm/medocr-array.sbatch";
    let merge_rel = "deploy/slurm/medocr-merge.sbatch";
    for rel in [array_rel, merge_rel] {
        let o = Command::new("bash")
            .args(["-n", &root().join(rel).display().to_string()])
            .output()
            .unwrap();
        assert!(o.status.success(), "bash -n {rel}: {}", text(&o));
        assert_directives_first(rel, &std::fs::read_to_string(root().join(rel)).unwrap());
    }
    let body = std::fs::read_to_string(root().join(array_rel)).unwrap();
    let (ids, min, max, step) = array_ids(&body);
    assert!(ids.len() >= 2, "{ids:?}");

    let fx = Fixture::new(2);
    let (data, reports) = (fx.s("data"), fx.s("reports"));
    let base = [
        ("MEDOCR", env!("CARGO_BIN_EXE_medocr")),
        ("MEDOCR_RUN_ID", "eval-2"),
        ("MEDOCR_DATASET", data.as_str()),
        ("MEDOCR_OUT", reports.as_str()),
    ];
    // `sbatch medocr-array.sbatch <medocr run flags>`: the flags reach every task.
    let (preds, profiles) = (fx.s("preds.jsonl"), fx.s("profiles"));
    let flags = [
        "--engine",
        "replay",
        "--predictions",
        preds.as_str(),
        "--profiles",
        profiles.as_str(),
    ];
    let task = |id: usize| {
        let mut env: Vec<(&str, &str)> = base.to_vec();
        let slurm = slurm_env(id, min, max, step);
        env.extend(pairs(&slurm));
        clean("bash", fx.tmp.path(), &env)
            .arg(root().join(array_rel))
            .args(flags)
            .output()
            .unwrap()
    };
    let task_dir = |id: usize| fx.path(&format!("reports/eval-2-shard-{id}"));
    for (k, &id) in ids.iter().enumerate() {
        let o = task(id);
        assert_eq!(o.status.code(), Some(0), "task {id}: {}", text(&o));
        let s = read_json(&task_dir(id).join("summary.json"));
        assert_eq!(s["config"]["shard"]["index"], k + 1);
        assert_eq!(s["config"]["shard"]["count"], ids.len());
    }
    // A requeued task that had finished exits at once; one preempted midway resumes.
    let o = task(ids[0]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("is finished"), "{}", text(&o));
    let finished = read_json(&task_dir(ids[1]).join("summary.json"));
    interrupt_after(&task_dir(ids[1]), 1);
    let o = task(ids[1]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("resuming"), "{}", text(&o));
    assert_eq!(
        scrub(&read_json(&task_dir(ids[1]).join("summary.json"))),
        scrub(&finished)
    );

    // `sbatch --dependency=afterok:<array> medocr-merge.sbatch`, a job of its own.
    let merge = |env: &[(&str, &str)]| {
        let mut env = env.to_vec();
        env.push(("SLURM_JOB_ID", "4300"));
        clean("bash", fx.tmp.path(), &env)
            .arg(root().join(merge_rel))
            .output()
            .unwrap()
    };
    let o = merge(
        &base
            .iter()
            .filter(|(k, _)| *k != "MEDOCR_RUN_ID")
            .copied()
            .collect::<Vec<_>>(),
    );
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("set MEDOCR_RUN_ID"), "{}", text(&o));
    let o = merge(&base);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("merged {} shards", ids.len())),
        "{}",
        text(&o)
    );
    let o = fx.run("run", "full", &[], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // Replay is untimed: the whole summary equals the unsharded one's.
    assert_eq!(scrub(&fx.summary("eval-2")), scrub(&fx.summary("full")));
}

#[test]
fn containerfile_installs_what_setup_sh_installs_and_runs_medocr_run() {
    let cf = Containerfile::load();
    assert_eq!(cf.stages.len(), 3, "a build stage and a runtime stage");
    // Global ARGs only before the first FROM.
    assert!(cf.stages[0].iter().all(|(k, _)| k == "ARG"));
    let from = cf.one(1, "FROM");
    assert!(
        from.contains("/rust:") && from.contains("-bookworm") && from.ends_with(" AS build"),
        "{from}"
    );
    assert!(
        cf.all(1, "RUN")
            .iter()
            .any(|r| r.contains("cargo build --release --locked")),
        "the builder runs cargo build --release --locked"
    );
    let build_dir = cf.one(1, "WORKDIR");
    let runtime = cf.last();
    assert!(cf.one(runtime, "FROM").ends_with("/debian:bookworm-slim"));

    // One package list: the image runs scripts/setup.sh and installs nothing itself.
    let copies = cf.copies();
    let setup_dest = copies
        .iter()
        .find(|(_, src, _)| src == &["scripts/setup.sh"])
        .map(|(_, _, d)| d.clone())
        .expect("COPY scripts/setup.sh");
    let runs = cf.all(runtime, "RUN");
    let setup_run = runs
        .iter()
        .find(|r| r.contains(&format!("bash {setup_dest}")))
        .expect("RUN bash <setup.sh>");
    for r in &runs {
        for word in ["apt-get", "apt ", "dpkg", "pip"] {
            assert!(
                !r.contains(word),
                "RUN {r}: install packages in scripts/setup.sh, which the image runs"
            );
        }
    }
    let setup = std::fs::read_to_string(root().join("scripts/setup.sh")).unwrap();
    assert!(setup.contains("pkgs=(") && setup.contains("apt-get install"));
    // libpdfium goes where the image's MEDOCR_PDFIUM points.
    let pdfium_dir = setup_run
        .split_whitespace()
        .find_map(|w| w.strip_prefix("MEDOCR_PDFIUM_DIR="))
        .expect("MEDOCR_PDFIUM_DIR=… bash setup.sh");
    assert!(setup.contains("pdfium_dir=\"${MEDOCR_PDFIUM_DIR:-"));
    assert!(setup.contains("lib=\"$pdfium_dir/libpdfium.so\""));
    let env = cf.env();
    assert_eq!(env["MEDOCR_PDFIUM"], format!("{pdfium_dir}/libpdfium.so"));

    // The model where the ENV says, the binary from the builder, on PATH.
    let model_dest = copies
        .iter()
        .find(|(_, src, _)| src == &["models/builtin"])
        .map(|(_, _, d)| d.clone())
        .expect("COPY models/builtin");
    assert_eq!(env["MEDOCR_MODEL"], model_dest);
    let (_, bin_src, bin_dest) = copies
        .iter()
        .find(|(from, _, _)| from.as_deref() == Some("build"))
        .expect("COPY --from=build");
    assert_eq!(bin_src, &[format!("{build_dir}/target/release/medocr")]);
    assert!(bin_dest.starts_with("/usr/local/bin"), "{bin_dest}");
    assert_eq!(cf.exec_form("ENTRYPOINT"), ["medocr"]);
    assert_eq!(cf.exec_form("CMD"), ["run"]);
    let user = cf.one(runtime, "USER");
    assert!(
        !user.starts_with('0') && !user.starts_with("root"),
        "{user}"
    );
    let volumes: Vec<String> = serde_json::from_str(cf.one(runtime, "VOLUME")).unwrap();
    let workdir = cf.one(runtime, "WORKDIR");
    assert_eq!(volumes, [format!("{workdir}/reports")]);
    // Nothing COPY takes is left out of the build context.
    let ignore = std::fs::read_to_string(root().join(".dockerignore")).unwrap();
    for (_, sources, _) in copies.iter().filter(|(from, _, _)| from.is_none()) {
        for src in sources {
            assert!(root().join(src).exists(), "{src}");
            for pat in ignore
                .lines()
                .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            {
                let pat = pat.trim_end_matches('/');
                assert!(
                    !(src == pat || src.starts_with(&format!("{pat}/"))),
                    ".dockerignore {pat} leaves {src} out of the build context"
                );
            }
        }
    }

    // `podman run -v …:/work/reports medocr run --limit 1`: the default command, one
    // document, in the image's layout.
    let image = Image::lay_out();
    let mut argv = cf.exec_form("ENTRYPOINT");
    argv.extend(cf.exec_form("CMD"));
    argv.extend(["--limit", "1", "--quiet", "--run-id", "image"].map(String::from));
    let o = image
        .command(&argv[0], &[])
        .args(&argv[1..])
        .output()
        .unwrap();
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", text(&o));
    let s = read_json(&image.inside(&format!("{workdir}/reports/image/summary.json")));
    assert_eq!(s["config"]["engine"]["name"], "builtin");
    assert_eq!(s["totals"]["documents"], 1);
    assert!(s["errors"].as_array().unwrap().is_empty(), "{s}");
}
