//! Users' Sigma rules in a config: given inline (`[rules] sigma`, texts) or as files the host
//! read ([`Config::with_sigma`]), compiled together with the built-in ids taken.

use super::{catalog, state_fits, Config};
use crate::sigma::set::{FileProblem, RuleSet, Source};

/// `[rules] sigma`'s texts as sources named by their place in the config.
pub(super) fn inline_sources(texts: &[String]) -> Vec<Source> {
    texts
        .iter()
        .enumerate()
        .map(|(i, t)| Source {
            origin: format!("rules.sigma[{i}]"),
            text: t.clone(),
        })
        .collect()
}

/// Compile rule files; no rule may take a built-in rule's id.
pub(super) fn compile(sources: &[Source]) -> Result<RuleSet, Vec<FileProblem>> {
    let taken: Vec<&str> = catalog::all().map(|d| d.id).collect();
    crate::sigma::set::compile(sources, &taken)
}

impl Config {
    /// This config with Sigma rule files compiled in, after its inline rules (`[rules]
    /// sigma`), replacing any files loaded before. Every problem of every file at once, as
    /// `file:line:col: message`; a rule set whose correlations do not fit `[state]
    /// memory_mb` is refused with the numbers.
    pub fn with_sigma(mut self, sources: &[Source]) -> Result<Config, Vec<String>> {
        let mut all = inline_sources(&self.sigma_texts);
        all.extend_from_slice(sources);
        let set =
            compile(&all).map_err(|ps| ps.iter().map(ToString::to_string).collect::<Vec<_>>())?;
        self.sigma = std::sync::Arc::new(set);
        let mut p = Vec::new();
        state_fits(&self, &mut p);
        if p.is_empty() {
            Ok(self)
        } else {
            Err(p)
        }
    }
}
