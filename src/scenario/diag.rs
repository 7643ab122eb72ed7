//! Diagnostics about inputs: what is wrong, in which file, at which line and column, under which
//! field path. Every input problem becomes one of these; they are collected (never thrown one by
//! one) so a user sees all of them at once.

use std::fmt;

use super::yaml::Position;

/// How serious a diagnostic is. Ordered error first, so sorted output lists errors before
/// warnings at the same place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The input is refused: nothing is loaded or run.
    Error,
    /// Accepted, but likely not what was meant (e.g. pods that fit no node).
    Warning,
    /// Informational: something was skipped on purpose (an unmodelled kind).
    Note,
}

/// One problem (or warning) about an input file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error, warning or note.
    pub severity: Severity,
    /// The file's path as shown to the user (files a scenario names are joined to its folder;
    /// `<stdin>`: standard input); for a problem with a flag's value, the flag as typed
    /// (`--set duration=abc`).
    pub file: String,
    /// The 1-based line and column in `file` (`None`: unknown, or about the whole file or a flag).
    pub position: Option<Position>,
    /// Field path such as `spec.template.spec.containers[0].resources.requests.cpu` (may be empty).
    pub path: String,
    /// What is wrong, in words.
    pub message: String,
}

impl Diagnostic {
    pub(crate) fn error(
        file: &str,
        position: Option<Position>,
        path: &str,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Error,
            file: file.to_string(),
            position,
            path: path.to_string(),
            message: message.into(),
        }
    }

    pub(crate) fn warning(
        file: &str,
        position: Option<Position>,
        path: &str,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(file, position, path, message)
        }
    }

    /// Whether it is an error (not a warning or a note).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    /// `file:line:col: path: message`, with `warning: ` before the path for warnings.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(p) = self.position {
            write!(f, ":{}:{}", p.line, p.column)?;
        }
        f.write_str(": ")?;
        match self.severity {
            Severity::Error => {}
            Severity::Warning => f.write_str("warning: ")?,
            Severity::Note => f.write_str("note: ")?,
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// Sorts diagnostics by file, then position, errors before warnings, so output is stable.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| {
        (&a.file, a.position, a.severity, &a.path, &a.message)
            .cmp(&(&b.file, b.position, b.severity, &b.path, &b.message))
    });
}

/// The closest candidate to `word` by edit distance, if it is close enough to be a likely typo.
/// `" (did you mean \"x\"?)"` when a candidate is close to `word`, else an empty string.
pub fn did_you_mean_hint<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    did_you_mean(word, candidates)
        .map(|s| format!(" (did you mean {s:?}?)"))
        .unwrap_or_default()
}

pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (word.len() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (edit_distance(&word.to_lowercase(), &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, *c))
        .map(|(_, c)| c)
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev_diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let next = (row[j] + 1).min(row[j + 1] + 1).min(prev_diag + cost);
            prev_diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_find_typos_only() {
        let fields = ["replicas", "selector", "template", "strategy"];
        assert_eq!(did_you_mean("replcas", fields), Some("replicas"));
        assert_eq!(did_you_mean("Selector", fields), Some("selector"));
        assert_eq!(did_you_mean("bananas", fields), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn display_is_file_line_col_path_message() {
        let d = Diagnostic::error(
            "app.yaml",
            Some(Position {
                line: 14,
                column: 7,
            }),
            "spec.replicas",
            "must be >= 0",
        );
        assert_eq!(d.to_string(), "app.yaml:14:7: spec.replicas: must be >= 0");
        let w = Diagnostic::warning("s.yaml", None, "", "unused");
        assert_eq!(w.to_string(), "s.yaml: warning: unused");
    }
}
