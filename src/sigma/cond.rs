//! A Sigma `condition`: `and`, `or`, `not`, parentheses, `1 of PATTERN`, `all of PATTERN`,
//! `1 of them`, `all of them` (identifiers starting with `_` are not part of `them`), over
//! the rule's search identifiers. Precedence: `not` binds tightest, then `and`, then `or`.

/// A parsed condition over selection indices.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    Sel(usize),
    Not(Box<Cond>),
    And(Vec<Cond>),
    Or(Vec<Cond>),
}

impl Cond {
    pub fn eval(&self, sel: &mut dyn FnMut(usize) -> bool) -> bool {
        match self {
            Cond::Sel(i) => sel(*i),
            Cond::Not(c) => !c.eval(sel),
            Cond::And(cs) => cs.iter().all(|c| c.eval(sel)),
            Cond::Or(cs) => cs.iter().any(|c| c.eval(sel)),
        }
    }
}

impl Cond {
    /// The values a field must have to satisfy the condition, from what each selection pins
    /// ([`super::detection::Selection::pinned`]); `None` when it cannot be told.
    pub fn pinned(&self, sel: &dyn Fn(usize) -> Option<Vec<String>>) -> Option<Vec<String>> {
        match self {
            Cond::Sel(i) => sel(*i),
            Cond::Not(_) => None,
            // Any pinned part pins the whole: take the narrowest.
            Cond::And(cs) => cs.iter().filter_map(|c| c.pinned(sel)).min_by_key(Vec::len),
            Cond::Or(cs) => {
                let mut all = Vec::new();
                for c in cs {
                    all.extend(c.pinned(sel)?);
                }
                Some(all)
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Open,
    Close,
    And,
    Or,
    Not,
    Of,
    Word(String),
}

fn tokens(text: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut Vec<Tok>| {
        if word.is_empty() {
            return;
        }
        out.push(match word.to_ascii_lowercase().as_str() {
            "and" => Tok::And,
            "or" => Tok::Or,
            "not" => Tok::Not,
            "of" => Tok::Of,
            _ => Tok::Word(word.clone()),
        });
        word.clear();
    };
    for c in text.chars() {
        match c {
            '(' | ')' => {
                flush(&mut word, &mut out);
                out.push(if c == '(' { Tok::Open } else { Tok::Close });
            }
            c if c.is_whitespace() => flush(&mut word, &mut out),
            c => word.push(c),
        }
    }
    flush(&mut word, &mut out);
    out
}

/// A `*`-glob over identifier names (`selection_*`).
fn glob(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, rest)) => {
            name.starts_with(head)
                && (0..=name.len() - head.len())
                    .filter(|&i| name.is_char_boundary(head.len() + i))
                    .any(|i| glob(rest, &name[head.len() + i..]))
        }
    }
}

struct P<'a> {
    toks: Vec<Tok>,
    at: usize,
    names: &'a [String],
}

impl P<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }

    fn or(&mut self) -> Result<Cond, String> {
        let mut items = vec![self.and()?];
        while self.peek() == Some(&Tok::Or) {
            self.at += 1;
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Cond::Or(vec![]))
        } else {
            Cond::Or(items)
        })
    }

    fn and(&mut self) -> Result<Cond, String> {
        let mut items = vec![self.not()?];
        while self.peek() == Some(&Tok::And) {
            self.at += 1;
            items.push(self.not()?);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Cond::And(vec![]))
        } else {
            Cond::And(items)
        })
    }

    fn not(&mut self) -> Result<Cond, String> {
        if self.peek() == Some(&Tok::Not) {
            self.at += 1;
            return Ok(Cond::Not(Box::new(self.not()?)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Cond, String> {
        let tok = self.toks.get(self.at).cloned();
        self.at += 1;
        match tok {
            Some(Tok::Open) => {
                let c = self.or()?;
                if self.peek() != Some(&Tok::Close) {
                    return Err("a `(` is not closed".into());
                }
                self.at += 1;
                Ok(c)
            }
            Some(Tok::Word(w)) if self.peek() == Some(&Tok::Of) => {
                self.at += 1;
                let all = match w.to_ascii_lowercase().as_str() {
                    "1" | "any" => false,
                    "all" => true,
                    _ => return Err(format!("`{w} of`: only `1 of` and `all of` exist")),
                };
                let Some(Tok::Word(pattern)) = self.toks.get(self.at).cloned() else {
                    return Err(format!("`{w} of` needs a pattern or `them`"));
                };
                self.at += 1;
                let them = pattern.eq_ignore_ascii_case("them");
                let picked: Vec<Cond> = (0..self.names.len())
                    .filter(|&i| {
                        let n = &self.names[i];
                        if them {
                            !n.starts_with('_')
                        } else {
                            glob(&pattern, n)
                        }
                    })
                    .map(Cond::Sel)
                    .collect();
                if picked.is_empty() {
                    return Err(format!("`{w} of {pattern}`: no search identifier matches"));
                }
                Ok(if all {
                    Cond::And(picked)
                } else {
                    Cond::Or(picked)
                })
            }
            Some(Tok::Word(w)) => match self.names.iter().position(|n| *n == w) {
                Some(i) => Ok(Cond::Sel(i)),
                None => Err(format!("`{w}` is not a search identifier of this rule")),
            },
            Some(t) => Err(format!("unexpected {t:?}")),
            None => Err("the condition ends too early".into()),
        }
    }
}

/// Parse `text` over the search identifiers `names`.
pub fn parse(text: &str, names: &[String]) -> Result<Cond, String> {
    let mut p = P {
        toks: tokens(text),
        at: 0,
        names,
    };
    if p.toks.is_empty() {
        return Err("empty condition".into());
    }
    let c = p.or()?;
    if p.at < p.toks.len() {
        return Err(format!("unexpected {:?} after the condition", p.toks[p.at]));
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_condition_form() {
        let names: Vec<String> = ["sel_a", "sel_b", "filter", "_aux"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        // (condition, truth of sel_a, sel_b, filter, _aux, expected)
        let cases: &[(&str, [bool; 4], bool)] = &[
            ("sel_a", [true, false, false, false], true),
            ("sel_a and not filter", [true, false, true, false], false),
            (
                "sel_a or sel_b and filter",
                [false, true, false, false],
                false,
            ),
            (
                "sel_a or sel_b and filter",
                [true, false, false, false],
                true,
            ),
            (
                "(sel_a or sel_b) and filter",
                [true, false, false, false],
                false,
            ),
            ("1 of sel_*", [false, true, false, false], true),
            ("all of sel_*", [true, false, false, false], false),
            ("all of them", [true, true, true, false], true),
            ("1 of them", [false, false, false, true], false),
            (
                "not 1 of sel_* and filter",
                [false, false, true, false],
                true,
            ),
            ("NOT sel_a AND filter", [false, false, true, false], true),
        ];
        for (text, truth, want) in cases {
            let c = parse(text, &names).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(c.eval(&mut |i| truth[i]), *want, "{text}");
        }
        for bad in [
            "",
            "sel_a and",
            "(sel_a",
            "nope",
            "2 of sel_*",
            "1 of x*",
            "sel_a )",
        ] {
            assert!(parse(bad, &names).is_err(), "{bad:?}");
        }
    }
}
