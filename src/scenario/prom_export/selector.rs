//! Series selectors as PromQL writes them — `name{label="v", other=~"re.*", x!="y"}` — to pick,
//! in an export, the series that play one role. The regular expressions are anchored at both
//! ends, as Prometheus anchors them.

use regex::Regex;

use super::Series;

/// One label matcher.
#[derive(Clone, Debug)]
enum Matcher {
    Equal(String),
    NotEqual(String),
    Matches(Regex),
    NotMatches(Regex),
}

/// A parsed selector.
#[derive(Clone, Debug)]
pub struct Selector {
    text: String,
    /// (label, matcher); the metric name is the `__name__` label.
    matchers: Vec<(String, Matcher)>,
}

impl Selector {
    /// Parses `name`, `{label="v",…}` or `name{…}`.
    pub fn parse(text: &str) -> Result<Selector, String> {
        let trimmed = text.trim();
        let (name, rest) = match trimmed.find('{') {
            Some(i) => (trimmed[..i].trim(), Some(&trimmed[i + 1..])),
            None => (trimmed, None),
        };
        let mut matchers = Vec::new();
        if !name.is_empty() {
            if !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_:".contains(c))
            {
                return Err(format!("{name:?} is not a metric name"));
            }
            matchers.push(("__name__".to_string(), Matcher::Equal(name.to_string())));
        }
        if let Some(rest) = rest {
            let body = rest
                .trim_end()
                .strip_suffix('}')
                .ok_or("the label matchers must end with `}`")?;
            for part in split_matchers(body)? {
                matchers.push(parse_matcher(part)?);
            }
        }
        if matchers.is_empty() {
            return Err("an empty selector: name a metric or a label".into());
        }
        Ok(Selector {
            text: trimmed.to_string(),
            matchers,
        })
    }

    /// Whether `series` is selected (a label it lacks is the empty string, as in PromQL).
    pub fn matches(&self, series: &Series) -> bool {
        self.matchers.iter().all(|(label, m)| {
            let value = series.labels.get(label).map_or("", String::as_str);
            match m {
                Matcher::Equal(v) => value == v,
                Matcher::NotEqual(v) => value != v,
                Matcher::Matches(re) => re.is_match(value),
                Matcher::NotMatches(re) => !re.is_match(value),
            }
        })
    }

    /// The selector as written.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// Splits `a="x", b=~"y,z"` at the commas outside quotes.
fn split_matchers(body: &str) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in body.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if quoted {
        return Err("a label value's quotes are not closed".into());
    }
    parts.push(&body[start..]);
    Ok(parts.into_iter().filter(|p| !p.trim().is_empty()).collect())
}

fn parse_matcher(part: &str) -> Result<(String, Matcher), String> {
    let part = part.trim();
    let op_at = part
        .find(['=', '!'])
        .ok_or_else(|| format!("{part:?}: expected label=\"value\" (or !=, =~, !~)"))?;
    let label = part[..op_at].trim();
    let rest = &part[op_at..];
    let (op, value) = ["=~", "!~", "!=", "="]
        .iter()
        .find_map(|op| rest.strip_prefix(op).map(|v| (*op, v.trim())))
        .ok_or_else(|| format!("{part:?}: expected =, !=, =~ or !~"))?;
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .ok_or_else(|| format!("{part:?}: the value must be in double quotes"))?
        .replace("\\\"", "\"")
        .replace("\\\\", "\\");
    if label.is_empty() || !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("{label:?} is not a label name"));
    }
    let regex =
        |v: &str| Regex::new(&format!("^(?:{v})$")).map_err(|e| format!("{label}{op}\"{v}\": {e}"));
    let matcher = match op {
        "=" => Matcher::Equal(value),
        "!=" => Matcher::NotEqual(value),
        "=~" => Matcher::Matches(regex(&value)?),
        _ => Matcher::NotMatches(regex(&value)?),
    };
    Ok((label.to_string(), matcher))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn series(pairs: &[(&str, &str)]) -> Series {
        Series {
            labels: (pairs.iter())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            points: Vec::new(),
        }
    }

    #[test]
    fn matchers_as_promql_reads_them() {
        let s = series(&[("__name__", "cpu_total"), ("pod", "web-1"), ("c", "a,b")]);
        let yes = [
            "cpu_total",
            "cpu_total{pod=~\"web-.*\"}",
            "{c=\"a,b\", pod!=\"x\"}",
            "cpu_total{missing=\"\"}",
            "{pod!~\"db.*\"}",
        ];
        for text in yes {
            assert!(Selector::parse(text).unwrap().matches(&s), "{text}");
        }
        // `web` alone does not match `web-1`: the regular expression is anchored.
        let no = [
            "mem",
            "cpu_total{pod=~\"web\"}",
            "{pod=\"web-2\"}",
            "{missing!=\"\"}",
        ];
        for text in no {
            assert!(!Selector::parse(text).unwrap().matches(&s), "{text}");
        }
    }

    #[test]
    fn bad_selectors_say_what_is_wrong() {
        let cases = [
            ("{}", "an empty selector"),
            ("x{pod=web}", "must be in double quotes"),
            ("x{pod=\"web\"", "must end with `}`"),
            ("x{pod=~\"(\"}", "pod=~\"(\""),
            ("x y", "is not a metric name"),
            ("x{pod~\"a\"}", "expected"),
        ];
        for (text, want) in cases {
            let err = Selector::parse(text).unwrap_err();
            assert!(err.contains(want), "{text}: {err}");
        }
    }
}
