//! `prefix`: requests that share a prefix, each group against requests that share nothing,
//! measured by the prefix-cache hit rate, TTFT and throughput (docs/bench.md, "Prefix
//! sharing").
//!
//! Four measurements per engine, `--iterations` requests each, one request at a time:
//! - `no_sharing`: distinct pages; on an engine that sends text, each request starts with
//!   its own salt, so not even the text before the page is shared;
//! - `instruction`: distinct pages, the same instruction (the instruction follows the page,
//!   so a token-prefix cache shares only what precedes the page);
//! - `same_page`: one page sent again and again (the first request fills the cache);
//! - `template`: the first pages of documents of one type (one form, different patients).
//!
//! No page is sent in two measurements (nor in the warm-up, which reads mirrored pages), so
//! one group's requests cannot hit what another group left in the cache. The sharing groups
//! carry one salt of this run, so a server that kept an earlier run's cache does not count
//! it as this run's sharing. Hit rates come from each answer's
//! `usage.prompt_tokens_details.cached_tokens` / `usage.prompt_tokens` and, for a server,
//! from its `/metrics` counters scraped around each measurement ([`super::server_cache`]).

use super::measure::{measure, timed_request, MeasureInput};
use super::server_cache::{ServerCache, Snapshot};
use super::warmup::{timed, warm_up};
use super::{
    BatchMode, BenchError, Control, Measurement, Params, PreparedDoc, Repeats, ResourceMonitor,
    Sample, Scenario,
};
use crate::dataset::DocType;
use crate::engine::Engine;
use crate::render::Page;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// What the requests of a measurement share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrefixGroup {
    NoSharing,
    Instruction,
    SamePage,
    Template,
}

impl PrefixGroup {
    pub fn name(self) -> &'static str {
        match self {
            PrefixGroup::NoSharing => "no sharing",
            PrefixGroup::Instruction => "same instruction",
            PrefixGroup::SamePage => "same page",
            PrefixGroup::Template => "same template",
        }
    }
}

/// The prefix-cache figures of one measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrefixStats {
    pub group: PrefixGroup,
    /// What the requests share and what differs, in words.
    pub shared: String,
    /// Σ cached / Σ prompt tokens over the requests that reported both; absent when none
    /// did (a server without `prompt_tokens_details`, the built-in model without a cache).
    pub hit_rate: Option<f64>,
    pub prompt_tokens: usize,
    pub cached_tokens: usize,
    /// Requests whose answer said how many of its input tokens were cached.
    pub reported: usize,
    pub requests: Vec<RequestCache>,
    /// The server's own counters around the measurement; absent for in-process engines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerCache>,
    /// Against the `no_sharing` measurement of the same engine; absent for that one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vs_no_sharing: Option<VersusNoSharing>,
}

/// One request's cache figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestCache {
    /// The sample's index in the measurement.
    pub index: usize,
    pub doc_id: String,
    pub prompt_tokens: Option<usize>,
    pub cached_tokens: Option<usize>,
    pub hit_rate: Option<f64>,
}

/// A sharing group's figures divided by the no-sharing group's (below 1: faster).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersusNoSharing {
    pub ttft_p50_ratio: Option<f64>,
    pub ttft_p95_ratio: Option<f64>,
    pub requests_per_s_ratio: Option<f64>,
    pub tokens_per_s_ratio: Option<f64>,
}

/// The pages of each group, picked so that no page is in two groups.
#[derive(Debug)]
struct Picks {
    no_sharing: Vec<PreparedDoc>,
    instruction: Vec<PreparedDoc>,
    same_page: PreparedDoc,
    template: (DocType, Vec<PreparedDoc>),
}

/// Picks `n` pages per group from `pool` (documents with their types, in dataset order):
/// the template group takes the first page of the first `n` documents of the type with the
/// most documents; the other pages, in order, give the repeated page, then alternately the
/// instruction and no-sharing groups (so both get a like mix of types).
fn pick(pool: &[(DocType, PreparedDoc)], n: usize) -> Result<Picks, BenchError> {
    let count = |t: DocType| pool.iter().filter(|(d, _)| *d == t).count();
    let template_type = pool
        .iter()
        .map(|(t, _)| *t)
        .max_by_key(|&t| (count(t), std::cmp::Reverse(first_of(pool, t))))
        .ok_or_else(|| BenchError::NoPages("the selection has no document".into()))?;
    let template_docs: Vec<usize> = (0..pool.len())
        .filter(|&i| pool[i].0 == template_type && !pool[i].1.pages.is_empty())
        .take(n)
        .collect();
    let rest: Vec<PreparedDoc> = pool
        .iter()
        .enumerate()
        .flat_map(|(i, (_, d))| {
            let skip_first = template_docs.contains(&i);
            (usize::from(skip_first)..d.pages.len()).map(move |p| d.page(p))
        })
        .collect();
    if template_docs.len() < n || rest.len() < 2 * n + 1 {
        return Err(BenchError::Flag(format!(
            "--scenario prefix with --iterations {n} needs {n} documents of one type (the \
             template group) and {} further pages; the selection has {} documents of type {} \
             and {} further pages: lower --iterations, or select more documents (--types, \
             --limit, or a dataset made with `medocr gen --count N`)",
            2 * n + 1,
            template_docs.len(),
            template_type,
            rest.len()
        )));
    }
    let mut rest = rest.into_iter();
    let same_page = rest.next().expect("checked above");
    let (mut instruction, mut no_sharing) = (Vec::new(), Vec::new());
    for (i, page) in rest.take(2 * n).enumerate() {
        if i % 2 == 0 {
            instruction.push(page);
        } else {
            no_sharing.push(page);
        }
    }
    let template = template_docs.iter().map(|&i| pool[i].1.page(0)).collect();
    Ok(Picks {
        no_sharing,
        instruction,
        same_page,
        template: (template_type, template),
    })
}

fn first_of(pool: &[(DocType, PreparedDoc)], t: DocType) -> usize {
    pool.iter().position(|(d, _)| *d == t).unwrap_or(usize::MAX)
}

/// One group to measure: its pages in order and whether each request gets its own salt.
struct Group {
    kind: PrefixGroup,
    docs: Vec<PreparedDoc>,
    label: String,
    shared: String,
    salt_each: bool,
}

fn groups(picks: Picks, n: usize, salted: bool) -> Vec<Group> {
    let (template_type, template) = picks.template;
    let form = format!("the form of {template_type} (first pages of {n} documents)");
    let shared = |what: String| {
        if salted {
            format!("{what} and the instruction")
        } else {
            what
        }
    };
    vec![
        Group {
            kind: PrefixGroup::NoSharing,
            docs: picks.no_sharing,
            label: format!("no sharing ×{n}"),
            shared: if salted {
                "nothing: distinct pages, each request led by its own salt".into()
            } else {
                "nothing: distinct pages".into()
            },
            salt_each: true,
        },
        Group {
            kind: PrefixGroup::Instruction,
            docs: picks.instruction,
            label: format!("same instruction ×{n}"),
            shared: if salted {
                "the instruction; distinct pages".into()
            } else {
                "nothing: distinct pages (the engine sends no instruction)".into()
            },
            salt_each: false,
        },
        Group {
            kind: PrefixGroup::SamePage,
            docs: vec![picks.same_page; n],
            label: format!("same page ×{n}"),
            shared: shared("the page".into()),
            salt_each: false,
        },
        Group {
            kind: PrefixGroup::Template,
            docs: template,
            label: format!("same template ({template_type}) ×{n}"),
            shared: shared(form),
            salt_each: false,
        },
    ]
}

/// A tag unique to this run (the clock), for its salts.
pub fn run_tag() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("medocr bench prefix {nanos:x}")
}

/// Runs the four groups on `engine` over `pool`'s pages at `dpi`, `repeats.iterations`
/// requests each, after one warm-up on mirrored pages. `run_tag` makes this run's salts.
pub fn run_prefix(
    engine: &mut dyn Engine,
    pool: &[(DocType, PreparedDoc)],
    dpi: f32,
    repeats: Repeats,
    run_tag: &str,
    control: Control<'_>,
) -> Result<Vec<Measurement>, BenchError> {
    let n = repeats.iterations;
    let picks = pick(pool, n)?;
    let salt = format!("[{run_tag}]");
    let salted = engine.set_prompt_salt(Some(&salt));
    let info = engine.info();
    let gpu = super::resources::gpu_index(&info);
    let mirrored: Vec<PreparedDoc> = pool.iter().map(|(_, d)| mirror(&d.page(0))).collect();
    let mut k = 0;
    let warmup = warm_up(repeats.warmup_rule(), control, Some(gpu), || {
        let doc = &mirrored[k % mirrored.len()];
        k += 1;
        let t = Instant::now();
        timed(|| drop(timed_request(engine, info.streaming, doc, t, t)))
    });
    let mut out = Vec::new();
    for (i, group) in groups(picks, n, salted).into_iter().enumerate() {
        if control.stopped() {
            break;
        }
        let (mut m, server) = run_group(engine, &group, dpi, repeats, (run_tag, &salt), control);
        m.prefix = Some(stats(&group, &m.samples, server));
        if i == 0 {
            m.warmup = warmup.clone();
        }
        out.push(m);
    }
    engine.set_prompt_salt(None);
    compare_with_no_sharing(&mut out);
    Ok(out)
}

/// The group's requests one after another, and what the server's counters say of them
/// (scraped before and after).
fn run_group(
    engine: &mut dyn Engine,
    group: &Group,
    dpi: f32,
    repeats: Repeats,
    (run_tag, salt): (&str, &str),
    control: Control<'_>,
) -> (Measurement, Option<ServerCache>) {
    let info = engine.info();
    let gpu = super::resources::gpu_index(&info);
    let before = scrape(engine);
    let monitor = ResourceMonitor::start(gpu);
    let origin = Instant::now();
    let mut samples = Vec::with_capacity(group.docs.len());
    for (i, doc) in group.docs.iter().enumerate() {
        if control.stopped() {
            break;
        }
        if group.salt_each {
            engine.set_prompt_salt(Some(&format!("[{i} {run_tag}]")));
        }
        let mut s = timed_request(engine, info.streaming, doc, Instant::now(), origin);
        s.iteration = i;
        control.finished(&s);
        samples.push(s);
    }
    let wall_s = origin.elapsed().as_secs_f64();
    let resources = monitor.stop();
    engine.set_prompt_salt(Some(salt));
    let server = before.map(|b| {
        let after = scrape(engine).unwrap_or_else(|| Err("no /metrics after the group".into()));
        ServerCache::between(&b, &after)
    });
    let partial = samples.len() < group.docs.len();
    let mut m = measure(
        MeasureInput {
            engine: info.name,
            scenario: Scenario::Prefix,
            label: group.label.clone(),
            params: Params {
                dpi,
                pages_per_request: 1,
                ..Params::default()
            },
            batch_mode: BatchMode::Unbatched,
            repeats,
            wall_s,
            resources,
            load: None,
        },
        samples,
    );
    m.partial = partial;
    (m, server)
}

/// The server's prefix-cache figures now: `None` for an engine without a server.
fn scrape(engine: &dyn Engine) -> Option<Result<Snapshot, String>> {
    engine
        .server_metrics()
        .map(|r| r.map(|text| Snapshot::parse(&text)))
}

/// The group's hit rates from its samples, with the server's figures.
fn stats(group: &Group, samples: &[Sample], server: Option<ServerCache>) -> PrefixStats {
    let requests: Vec<RequestCache> = samples
        .iter()
        .filter(|s| s.error.is_none())
        .map(|s| {
            let prompt = s.timing.input_tokens;
            let cached = s.timing.cached_tokens;
            RequestCache {
                index: s.index,
                doc_id: s.doc_id.clone(),
                prompt_tokens: prompt,
                cached_tokens: cached,
                hit_rate: rate(cached, prompt),
            }
        })
        .collect();
    let both: Vec<(usize, usize)> = requests
        .iter()
        .filter_map(|r| Some((r.cached_tokens?, r.prompt_tokens?)))
        .collect();
    let cached: usize = both.iter().map(|b| b.0).sum();
    let prompt: usize = both.iter().map(|b| b.1).sum();
    PrefixStats {
        group: group.kind,
        shared: group.shared.clone(),
        hit_rate: (!both.is_empty() && prompt > 0).then(|| cached as f64 / prompt as f64),
        prompt_tokens: prompt,
        cached_tokens: cached,
        reported: both.len(),
        requests,
        server,
        vs_no_sharing: None,
    }
}

fn rate(cached: Option<usize>, prompt: Option<usize>) -> Option<f64> {
    match (cached, prompt) {
        (Some(c), Some(p)) if p > 0 => Some(c as f64 / p as f64),
        _ => None,
    }
}

/// Fills each sharing group's ratios against the `no_sharing` measurement.
fn compare_with_no_sharing(ms: &mut [Measurement]) {
    let base = ms
        .iter()
        .find(|m| m.prefix.as_ref().map(|p| p.group) == Some(PrefixGroup::NoSharing))
        .cloned();
    let Some(base) = base else { return };
    let ttft = |m: &Measurement, p95: bool| {
        let s = &m.latency.ttft_ms.as_ref()?.summary;
        Some(if p95 { s.p95 } else { s.p50 })
    };
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    };
    for m in ms.iter_mut() {
        let versus = VersusNoSharing {
            ttft_p50_ratio: ratio(ttft(m, false), ttft(&base, false)),
            ttft_p95_ratio: ratio(ttft(m, true), ttft(&base, true)),
            requests_per_s_ratio: ratio(
                Some(m.throughput.requests_per_s),
                Some(base.throughput.requests_per_s),
            ),
            tokens_per_s_ratio: ratio(
                Some(m.throughput.tokens_per_s),
                Some(base.throughput.tokens_per_s),
            ),
        };
        if let Some(p) = m.prefix.as_mut() {
            if p.group != PrefixGroup::NoSharing {
                p.vs_no_sharing = Some(versus);
            }
        }
    }
}

/// The page flipped left to right: as costly to read, but no crop of it is any crop of the
/// page, so warming up on it leaves nothing in a cache that a measured request could hit.
fn mirror(doc: &PreparedDoc) -> PreparedDoc {
    let pages = doc
        .pages
        .iter()
        .map(|p| Page {
            image: image::imageops::flip_horizontal(&p.image),
            ..p.clone()
        })
        .collect();
    PreparedDoc {
        id: format!("{}-mirrored", doc.id),
        pages,
        render_ms: doc.render_ms,
    }
}

/// What a reader of a prefix report must know about an engine's figures.
pub fn notes(measurements: &[Measurement]) -> Vec<String> {
    let mut notes = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for m in measurements {
        let Some(p) = &m.prefix else { continue };
        if p.reported == 0 && seen.insert((m.engine.clone(), "usage")) {
            notes.push(format!(
                "{}: no request said how many input tokens were cached (a server without \
                 usage.prompt_tokens_details, e.g. vLLM without --enable-prompt-tokens-details; \
                 the built-in model with --prefix-cache-mib 0), so its hit rates are n/a",
                m.engine
            ));
        }
        if let Some(note) = p.server.as_ref().and_then(|s| s.note.as_ref()) {
            if seen.insert((m.engine.clone(), "server")) {
                notes.push(format!("{}: server prefix-cache counters {note}", m.engine));
            }
        }
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(id: &str, pages: usize) -> PreparedDoc {
        let page = |i: usize| Page {
            image: image::GrayImage::from_pixel(3, 2, image::Luma([i as u8])),
            dpi: 72.0,
            index: i,
        };
        PreparedDoc {
            id: id.into(),
            pages: (0..pages).map(page).collect(),
            render_ms: 1.0,
        }
    }

    #[test]
    fn groups_never_share_a_page_and_templates_are_one_type() {
        use DocType::*;
        let pool = vec![
            (LabResult, doc("lab-0", 2)),
            (Prescription, doc("rx-0", 1)),
            (Prescription, doc("rx-1", 1)),
            (Diagnosis, doc("dx-0", 1)),
            (Prescription, doc("rx-2", 1)),
            (Diagnosis, doc("dx-1", 1)),
        ];
        let p = pick(&pool, 2).unwrap();
        assert_eq!(p.template.0, Prescription);
        let ids = |v: &[PreparedDoc]| v.iter().map(|d| d.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&p.template.1), ["rx-0#p1", "rx-1#p1"]);
        assert_eq!(p.same_page.id, "lab-0#p1");
        assert_eq!(ids(&p.instruction), ["lab-0#p2", "rx-2#p1"]);
        assert_eq!(ids(&p.no_sharing), ["dx-0#p1", "dx-1#p1"]);
        let err = pick(&pool, 3).unwrap_err().to_string();
        assert!(
            err.contains("--iterations 3") && err.contains("medocr gen"),
            "{err}"
        );
    }

    fn sample(index: usize, prompt: Option<usize>, cached: Option<usize>) -> Sample {
        let timing = crate::report::Timing {
            input_tokens: prompt,
            cached_tokens: cached,
            ..Default::default()
        };
        Sample {
            doc_id: format!("d{index}"),
            ..Sample::for_tests(index, index, timing)
        }
    }

    fn group(kind: PrefixGroup) -> Group {
        Group {
            kind,
            docs: Vec::new(),
            label: String::new(),
            shared: "x".into(),
            salt_each: false,
        }
    }

    #[test]
    fn hit_rate_is_over_the_requests_that_report_it() {
        let samples = [
            sample(0, Some(100), Some(0)),
            sample(1, Some(100), Some(100)),
            sample(2, Some(200), Some(100)),
            sample(3, Some(50), None),
        ];
        let s = stats(&group(PrefixGroup::SamePage), &samples, None);
        assert_eq!(
            (s.cached_tokens, s.prompt_tokens, s.reported),
            (200, 400, 3)
        );
        assert_eq!(s.hit_rate, Some(0.5));
        assert_eq!(s.requests[2].hit_rate, Some(0.5));
        assert_eq!(s.requests[3].hit_rate, None);
        // A request that did not report is unknown, not 0.
        let s = stats(&group(PrefixGroup::NoSharing), &samples[3..], None);
        assert_eq!((s.hit_rate, s.reported), (None, 0));
        assert_eq!(notes(&[]).len(), 0);
    }

    #[test]
    fn mirrored_pages_differ_but_keep_their_size() {
        let mut d = doc("a", 1);
        d.pages[0].image.put_pixel(0, 0, image::Luma([9]));
        let m = mirror(&d);
        assert_eq!(m.pages[0].image.dimensions(), (3, 2));
        assert_eq!(m.pages[0].image.get_pixel(2, 0).0[0], 9);
        assert_eq!(m.id, "a-mirrored");
    }
}
