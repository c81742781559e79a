//! How long each function of a Rust file is, in lines from `fn` to its closing brace: what the
//! repository rule on function length measures. Braces inside comments, strings and character
//! literals do not count.

/// One function: its name, first line (1-based) and length in lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measured {
    pub name: String,
    pub line: usize,
    pub lines: usize,
}

/// Every function with a body in `source` (declarations without one are skipped).
pub fn functions(source: &str) -> Vec<Measured> {
    let code: Vec<char> = code_only(source).chars().collect();
    let line_of = |at: usize| code[..at].iter().filter(|c| **c == '\n').count() + 1;
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(at) = find_fn(&code, i) {
        i = at + 2;
        let Some((name, after)) = name_after(&code, at + 2) else {
            continue;
        };
        let Some(open) = body_start(&code, after) else {
            continue;
        };
        let Some(close) = matching_brace(&code, open) else {
            continue;
        };
        let line = line_of(at);
        out.push(Measured {
            name,
            line,
            lines: line_of(close) - line + 1,
        });
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The next `fn` keyword from `from`: a whole word followed by whitespace.
fn find_fn(code: &[char], from: usize) -> Option<usize> {
    (from..code.len().saturating_sub(2)).find(|&i| {
        code[i] == 'f'
            && code[i + 1] == 'n'
            && code[i + 2].is_whitespace()
            && (i == 0 || !is_ident(code[i - 1]))
    })
}

fn name_after(code: &[char], from: usize) -> Option<(String, usize)> {
    let start = (from..code.len()).find(|&i| !code[i].is_whitespace())?;
    let end = (start..code.len())
        .find(|&i| !is_ident(code[i]))
        .unwrap_or(code.len());
    (end > start).then(|| (code[start..end].iter().collect(), end))
}

/// The `{` that opens the body, unless a `;` ends the signature first.
fn body_start(code: &[char], from: usize) -> Option<usize> {
    let mut depth = 0i32;
    for (i, c) in code.iter().enumerate().skip(from) {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            '{' if depth == 0 => return Some(i),
            ';' if depth == 0 => return None,
            _ => {}
        }
    }
    None
}

fn matching_brace(code: &[char], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in code.iter().enumerate().skip(open) {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// `source` with comments, strings and character literals blanked (newlines kept).
fn code_only(source: &str) -> String {
    let s: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    while i < s.len() {
        let end = literal_or_comment_end(&s, i);
        if end > i {
            out.extend(
                s[i..end]
                    .iter()
                    .map(|c| if *c == '\n' { '\n' } else { ' ' }),
            );
            i = end;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    out
}

/// Where the comment or literal starting at `i` ends; `i` when none starts there.
fn literal_or_comment_end(s: &[char], i: usize) -> usize {
    let at = |k: usize| s.get(k).copied();
    let after_ident = i > 0 && is_ident(s[i - 1]);
    match (s[i], at(i + 1)) {
        ('/', Some('/')) => (i..s.len()).find(|&k| s[k] == '\n').unwrap_or(s.len()),
        ('/', Some('*')) => block_comment_end(s, i),
        ('r', Some('"' | '#')) if !after_ident => raw_string_end(s, i + 1).unwrap_or(i),
        ('b', Some('r')) if !after_ident => raw_string_end(s, i + 2).unwrap_or(i),
        ('b', Some('"')) if !after_ident => string_end(s, i + 1),
        ('"', _) => string_end(s, i),
        ('\'', Some('\\')) => (i + 2..s.len())
            .find(|&k| s[k] == '\'')
            .map_or(i, |k| k + 1),
        // A character literal, not a lifetime (`'a`).
        ('\'', Some(_)) if at(i + 2) == Some('\'') => i + 3,
        _ => i,
    }
}

fn block_comment_end(s: &[char], i: usize) -> usize {
    let mut depth = 0;
    let mut k = i;
    while k + 1 < s.len() {
        if s[k] == '/' && s[k + 1] == '*' {
            depth += 1;
            k += 2;
        } else if s[k] == '*' && s[k + 1] == '/' {
            depth -= 1;
            k += 2;
            if depth == 0 {
                return k;
            }
        } else {
            k += 1;
        }
    }
    s.len()
}

/// `open` is the opening quote; returns the index after the closing one.
fn string_end(s: &[char], open: usize) -> usize {
    let mut k = open + 1;
    while k < s.len() {
        match s[k] {
            '\\' => k += 2,
            '"' => return k + 1,
            _ => k += 1,
        }
    }
    s.len()
}

/// `from` is just after the `r`: `#`s, a quote, and the text up to a quote and as many `#`s.
fn raw_string_end(s: &[char], from: usize) -> Option<usize> {
    let hashes = s[from..].iter().take_while(|c| **c == '#').count();
    if s.get(from + hashes) != Some(&'"') {
        return None;
    }
    let mut k = from + hashes + 1;
    while k < s.len() {
        if s[k] == '"'
            && s[k + 1..]
                .iter()
                .take(hashes)
                .filter(|c| **c == '#')
                .count()
                == hashes
        {
            return Some(k + 1 + hashes);
        }
        k += 1;
    }
    Some(s.len())
}

#[test]
fn the_measure_counts_from_fn_to_its_brace_and_ignores_braces_in_comments_and_literals() {
    let source = r###"
fn short() { let s = "}"; let c = '}'; let l: &'static str = s; }
// fn commented() {
fn long<'a>(
    a: &'a u8,
) -> u8 {
    /* } nested /* } */ */
    let r = r#"}"#;
    let b = b'{';
    *a
}
trait T {
    fn declared(&self);
}
"###;
    let measured = functions(source);
    let summary: Vec<(&str, usize, usize)> = measured
        .iter()
        .map(|m| (m.name.as_str(), m.line, m.lines))
        .collect();
    assert_eq!(summary, [("short", 2, 1), ("long", 4, 8)]);
}
