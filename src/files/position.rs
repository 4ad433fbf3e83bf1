//! Where a value sits in JSON text: the line a finding's location (`syscalls[3].args[0].value`) points at, for
//! reports that place findings on lines (SARIF, GitHub annotations). A `serde_json::Value` keeps no positions;
//! this walks the text itself, skipping what is not on the path.

/// One step of a location: an object key or an array index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// A finding location as lint writes it: `a.b[2].c`, `a["odd key"]`.
pub fn steps(location: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut rest = location;
    while !rest.is_empty() {
        if let Some(inner) = rest.strip_prefix('[') {
            let end = if inner.starts_with('"') { closing_quote(inner).map(|q| q + 1) } else { inner.find(']') };
            let Some(end) = end else { break };
            let inside = &inner[..end];
            match serde_json::from_str::<String>(inside) {
                Ok(key) => steps.push(Step::Key(key)),
                Err(_) => match inside.parse() {
                    Ok(index) => steps.push(Step::Index(index)),
                    Err(_) => break,
                },
            }
            rest = inner[end..].strip_prefix(']').unwrap_or_default();
        } else {
            let rest_of = rest.strip_prefix('.').unwrap_or(rest);
            let end = rest_of.find(['.', '[']).unwrap_or(rest_of.len());
            steps.push(Step::Key(rest_of[..end].to_string()));
            rest = &rest_of[end..];
        }
    }
    steps
}

fn closing_quote(text: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in text.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(i),
            _ => {}
        }
    }
    None
}

/// The 1-based line where the value at `path` starts in the JSON `text`; where the path leaves the text (a
/// missing key is itself a finding), the line of the deepest value on the way.
pub fn line_of(text: &str, path: &[Step]) -> usize {
    let mut scanner = Scanner { bytes: text.as_bytes(), at: 0, line: 1 };
    scanner.find(path)
}

struct Scanner<'t> {
    bytes: &'t [u8],
    at: usize,
    line: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.at += 1;
        self.line += usize::from(b == b'\n');
        Some(b)
    }

    fn blank(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.bump();
        }
    }

    /// The line of the value at `path`, from the value that starts here.
    fn find(&mut self, path: &[Step]) -> usize {
        self.blank();
        let here = self.line;
        let Some(step) = path.first() else { return here };
        match (self.peek(), step) {
            (Some(b'{'), Step::Key(want)) => {
                self.bump();
                loop {
                    self.blank();
                    if self.peek() != Some(b'"') {
                        return here;
                    }
                    let key = self.string();
                    self.blank();
                    self.bump(); // ':'
                    if key.as_deref() == Some(want.as_str()) {
                        return self.find(&path[1..]);
                    }
                    self.skip();
                    self.blank();
                    if self.bump() != Some(b',') {
                        return here;
                    }
                }
            }
            (Some(b'['), Step::Index(want)) => {
                self.bump();
                for index in 0.. {
                    self.blank();
                    if self.peek() == Some(b']') {
                        return here;
                    }
                    if index == *want {
                        return self.find(&path[1..]);
                    }
                    self.skip();
                    self.blank();
                    if self.bump() != Some(b',') {
                        return here;
                    }
                }
                here
            }
            _ => here,
        }
    }

    /// A string token, decoded.
    fn string(&mut self) -> Option<String> {
        let start = self.at;
        self.bump();
        let mut escaped = false;
        while let Some(b) = self.bump() {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => return serde_json::from_slice(&self.bytes[start..self.at]).ok(),
                _ => {}
            }
        }
        None
    }

    /// Past one value, whatever it is.
    fn skip(&mut self) {
        self.blank();
        match self.peek() {
            Some(b'"') => {
                self.string();
            }
            Some(open @ (b'{' | b'[')) => {
                let close = if open == b'{' { b'}' } else { b']' };
                self.bump();
                loop {
                    self.blank();
                    match self.peek() {
                        None => return,
                        Some(b) if b == close => {
                            self.bump();
                            return;
                        }
                        Some(b',' | b':') => {
                            self.bump();
                        }
                        Some(_) => self.skip(),
                    }
                }
            }
            _ => {
                while self.peek().is_some_and(|b| !b",]} \t\r\n".contains(&b)) {
                    self.bump();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_read_as_steps() {
        assert_eq!(
            steps(r#"items[1].spec.syscalls[3]["odd.key"].x"#),
            [
                Step::Key("items".into()),
                Step::Index(1),
                Step::Key("spec".into()),
                Step::Key("syscalls".into()),
                Step::Index(3),
                Step::Key("odd.key".into()),
                Step::Key("x".into()),
            ]
        );
    }

    #[test]
    fn the_line_of_a_nested_value() {
        let text = "{\n  \"defaultAction\": \"SCMP_ACT_ERRNO\",\n  \"syscalls\": [\n    {\"names\": [\"read\"]},\n    \
                    {\n      \"names\": [\"write\", \"a]b{\"],\n      \"action\": \"X\"\n    }\n  ]\n}\n";
        assert_eq!(line_of(text, &steps("defaultAction")), 2);
        assert_eq!(line_of(text, &steps("syscalls[1].action")), 7);
        assert_eq!(line_of(text, &steps("syscalls[1].names[1]")), 6);
        assert_eq!(line_of(text, &steps("syscalls[1].missing")), 5, "a missing key: its object's line");
        assert_eq!(line_of(text, &steps("syscalls[9]")), 3, "past the end: the array's line");
    }
}
