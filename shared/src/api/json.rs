//! JSON as the API reads it: an object that names one member twice is refused, since the
//! readers in front of the function (a proxy, a WAF) may take the first value where serde takes
//! the last. serde_json keeps only one of the two, so the body is scanned for them on its own.
//!
//! The scan walks the bytes once with an explicit stack (no recursion, so no depth can
//! overflow it), indexes only through bounds-checked reads, and never panics: it is run on
//! every `POST /orders` body and fuzzed with it (`fuzz/`, `parse_place_order`).

use std::collections::HashSet;

/// Every member name given more than once in one object of `body`, as JSON paths
/// (`email`, `items[0].quantity`), each once, in the order they appear. Names are compared
/// unescaped (`"\u0061"` is `"a"`). Meant for a body serde_json has accepted as JSON; for
/// anything else the answer is only as good as the scan can make it, never a panic.
pub fn duplicate_members(body: &[u8]) -> Vec<String> {
    let mut scan = Scan::default();
    let mut at = 0;
    while let Some(&byte) = body.get(at) {
        match byte {
            b'{' => scan.open(Frame::object),
            b'[' => scan.open(Frame::array),
            b'}' | b']' => scan.close(),
            b',' => scan.next_member(),
            b'"' => {
                let end = string_end(body, at);
                scan.string(body.get(at..end).unwrap_or_default());
                at = end;
                continue;
            }
            // Numbers, literals, whitespace, `:` change nothing the scan tracks.
            _ => {}
        }
        at += 1;
    }
    scan.duplicates
}

/// What is open at a point of the scan, and which paths were found twice.
#[derive(Default)]
struct Scan {
    stack: Vec<Frame>,
    duplicates: Vec<String>,
}

/// An object or array being read: its path, and what it has read so far.
struct Frame {
    path: String,
    kind: Kind,
}

enum Kind {
    /// `expect_name`: the next string is a member name (after `{` or `,`), not a value.
    Object {
        names: HashSet<String>,
        member: Option<String>,
        expect_name: bool,
    },
    Array {
        index: usize,
    },
}

impl Frame {
    fn object(path: String) -> Frame {
        Frame {
            path,
            kind: Kind::Object {
                names: HashSet::new(),
                member: None,
                expect_name: true,
            },
        }
    }

    fn array(path: String) -> Frame {
        Frame {
            path,
            kind: Kind::Array { index: 0 },
        }
    }

    /// The path of the value read next inside this frame.
    fn child_path(&self) -> String {
        match &self.kind {
            Kind::Object { member, .. } => join(&self.path, member.as_deref().unwrap_or("")),
            Kind::Array { index } => format!("{}[{index}]", self.path),
        }
    }
}

impl Scan {
    fn open(&mut self, frame: fn(String) -> Frame) {
        let path = self.stack.last().map(Frame::child_path).unwrap_or_default();
        self.stack.push(frame(path));
    }

    fn close(&mut self) {
        self.stack.pop();
    }

    fn next_member(&mut self) {
        match self.stack.last_mut().map(|f| &mut f.kind) {
            Some(Kind::Object {
                member,
                expect_name,
                ..
            }) => {
                *member = None;
                *expect_name = true;
            }
            Some(Kind::Array { index }) => *index = index.saturating_add(1),
            None => {}
        }
    }

    /// A string token (quotes included): a member name when one is expected, else a value.
    fn string(&mut self, token: &[u8]) {
        let Some(frame) = self.stack.last_mut() else {
            return;
        };
        let Kind::Object {
            names,
            member,
            expect_name,
        } = &mut frame.kind
        else {
            return;
        };
        if !*expect_name {
            return;
        }
        // serde_json undoes the escapes, so names compare as JSON reads them.
        let name = serde_json::from_slice::<String>(token)
            .unwrap_or_else(|_| String::from_utf8_lossy(token).into_owned());
        let path = join(&frame.path, &name);
        if !names.insert(name.clone()) && !self.duplicates.contains(&path) {
            self.duplicates.push(path);
        }
        *member = Some(name);
        *expect_name = false;
    }
}

/// The index just past the string starting at `start` (its opening quote): past the closing
/// quote, or the end of the input when there is none.
fn string_end(body: &[u8], start: usize) -> usize {
    let mut at = start.saturating_add(1);
    while let Some(&byte) = body.get(at) {
        match byte {
            b'\\' => at = at.saturating_add(2),
            b'"' => return at + 1,
            _ => at += 1,
        }
    }
    body.len()
}

/// `path.name`, or just `name` at the top.
fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dups(body: &str) -> Vec<String> {
        duplicate_members(body.as_bytes())
    }

    #[test]
    fn a_body_without_repeated_names_has_no_duplicates() {
        assert!(dups(r#"{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}"#).is_empty());
        assert!(dups(r#"["a","a",{"x":"a"}]"#).is_empty());
        assert!(dups(r#""just a string""#).is_empty());
    }

    #[test]
    fn each_repeated_name_is_named_once_by_its_path_at_any_depth() {
        assert_eq!(dups(r#"{"a":1,"a":2,"a":3}"#), ["a"]);
        assert_eq!(
            dups(r#"{"items":[{"sku":"X"},{"sku":"Y","sku":"Z"}],"email":1,"email":2}"#),
            ["items[1].sku", "email"]
        );
        assert_eq!(dups(r#"[[{"k":[],"k":{}}]]"#), ["[0][0].k"]);
    }

    #[test]
    fn names_are_compared_as_json_reads_them() {
        assert_eq!(dups(r#"{"a":1,"\u0061":2}"#), ["a"]);
        assert!(dups(r#"{"a\"b":1,"a\\b":2}"#).is_empty());
        assert_eq!(dups(r#"{ "x" : "\"y\"" , "x" : 0 }"#), ["x"]);
    }

    #[test]
    fn string_values_that_look_like_names_are_not_names() {
        assert!(dups(r#"{"a":"b","b":"a","c":["a","a"]}"#).is_empty());
    }

    proptest! {
        #[test]
        fn any_input_is_scanned_without_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = duplicate_members(&bytes);
        }

        #[test]
        fn an_object_built_with_a_repeated_name_is_caught(names in proptest::collection::vec("[a-c]{1,2}", 1..8)) {
            let members: Vec<String> = names.iter().map(|n| format!("\"{n}\":0")).collect();
            let body = format!("{{{}}}", members.join(","));
            let unique: HashSet<&String> = names.iter().collect();
            prop_assert_eq!(duplicate_members(body.as_bytes()).is_empty(), unique.len() == names.len());
        }
    }
}
