//! `medocr doctor`: prints what [`medocr::doctor`] found and how to install what is missing.

use super::out::outln;
use clap::Args;
use medocr::doctor::{self, Need};
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct DoctorArgs {}

pub fn doctor(_args: DoctorArgs) -> anyhow::Result<ExitCode> {
    let checks = doctor::run();
    let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for c in &checks {
        match &c.result {
            Ok(found) => outln!("ok       {:width$}  {found}", c.name),
            Err(why) => {
                let tag = match c.need {
                    Need::Required => "MISSING",
                    Need::Optional => "missing",
                };
                outln!("{tag}  {:width$}  {why}", c.name);
                outln!("         {:width$}  needed for: {}", "", c.used_by);
                outln!("         {:width$}  install: {}", "", c.fix);
            }
        }
    }
    let required = checks
        .iter()
        .filter(|c| c.need == Need::Required && !c.ok())
        .count();
    if required > 0 {
        outln!("\n{required} required item(s) missing: `medocr run` with the built-in model cannot work until they are installed");
        Ok(ExitCode::from(1))
    } else {
        outln!("\neverything `medocr run` needs is here");
        Ok(ExitCode::SUCCESS)
    }
}
