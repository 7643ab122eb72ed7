//! The node-group name patterns of the Cluster Autoscaler's priority expander.
//!
//! Upstream they are Go regular expressions matched anywhere in the name (`MatchString`). The
//! subset accepted here covers what priority ConfigMaps use in practice: literal characters,
//! `.` (any character), `*` (zero or more of the previous atom), the anchors `^` and `$`, and
//! `\` escaping the next character. Anything else is rejected at load time, so a pattern never
//! silently means something different from what it would mean to the real autoscaler.

/// A compiled pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    /// The pattern as written.
    pub source: String,
    anchored_start: bool,
    anchored_end: bool,
    atoms: Vec<(Atom, bool)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Atom {
    Any,
    Char(char),
}

impl Atom {
    fn matches(self, c: char) -> bool {
        match self {
            Atom::Any => true,
            Atom::Char(x) => x == c,
        }
    }
}

impl Pattern {
    /// Compiles `source`, or says which construct is outside the supported subset.
    pub fn parse(source: &str) -> Result<Pattern, String> {
        let mut chars = source.chars().peekable();
        let anchored_start = chars.next_if_eq(&'^').is_some();
        let mut atoms: Vec<(Atom, bool)> = Vec::new();
        let mut anchored_end = false;
        while let Some(c) = chars.next() {
            let atom = match c {
                '.' => Atom::Any,
                '\\' => match chars.next() {
                    Some(e) if !e.is_ascii_alphanumeric() => Atom::Char(e),
                    Some(e) => return Err(format!("escape \\{e} is not supported")),
                    None => return Err("trailing backslash".into()),
                },
                '*' => match atoms.last_mut() {
                    Some((_, star @ false)) => {
                        *star = true;
                        continue;
                    }
                    _ => return Err("'*' must follow a character or '.'".into()),
                },
                '$' if chars.peek().is_none() => {
                    anchored_end = true;
                    continue;
                }
                '[' | ']' | '(' | ')' | '+' | '?' | '|' | '{' | '}' | '^' | '$' => {
                    return Err(format!(
                        "{c:?} is not supported: use literal characters, '.', '*', '^' and '$'"
                    ));
                }
                other => Atom::Char(other),
            };
            atoms.push((atom, false));
        }
        Ok(Pattern {
            source: source.to_string(),
            anchored_start,
            anchored_end,
            atoms,
        })
    }

    /// Whether the pattern matches somewhere in `name` (Go's `MatchString`).
    pub fn is_match(&self, name: &str) -> bool {
        let text: Vec<char> = name.chars().collect();
        let starts = if self.anchored_start {
            0..=0
        } else {
            0..=text.len()
        };
        starts
            .into_iter()
            .any(|i| self.match_here(&self.atoms, &text[i..]))
    }

    fn match_here(&self, atoms: &[(Atom, bool)], text: &[char]) -> bool {
        let Some(&(atom, star)) = atoms.first() else {
            return !self.anchored_end || text.is_empty();
        };
        if star {
            // Try every run length of `atom`, shortest first.
            let mut i = 0;
            loop {
                if self.match_here(&atoms[1..], &text[i..]) {
                    return true;
                }
                if i < text.len() && atom.matches(text[i]) {
                    i += 1;
                } else {
                    return false;
                }
            }
        }
        !text.is_empty() && atom.matches(text[0]) && self.match_here(&atoms[1..], &text[1..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_like_go_match_string() {
        let cases = [
            // (pattern, name, matches)
            (".*", "gpu-a100", true),
            ("gpu", "pool-gpu-a100", true), // unanchored: found inside
            ("^gpu", "pool-gpu-a100", false),
            ("^gpu-.*", "gpu-a100", true),
            ("a100$", "gpu-a100", true),
            ("a100$", "gpu-a100-spot", false),
            ("^spot-.*-large$", "spot-m5-large", true),
            ("^spot-.*-large$", "spot-m5-xlarge2", false),
            ("x*", "", true),
            ("ab*c", "ac", true),
            ("ab*c", "abbbc", true),
            ("a\\.b", "a.b", true),
            ("a\\.b", "axb", false),
        ];
        for (pattern, name, want) in cases {
            let p = Pattern::parse(pattern).unwrap();
            assert_eq!(p.is_match(name), want, "{pattern} on {name}");
        }
    }

    #[test]
    fn rejects_what_it_does_not_implement() {
        for bad in ["gpu-(a|b)", "[ab]", "a+", "*a", "a\\d", "a$b"] {
            assert!(Pattern::parse(bad).is_err(), "{bad}");
        }
    }
}
