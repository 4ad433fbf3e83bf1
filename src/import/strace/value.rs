//! Values as strace prints them: numbers and flag expressions (`PROT_READ|PROT_EXEC`, `0x5 /* PROT_READ|PROT_EXEC
//! */` under `-X verbose`), ioctl requests (`TCGETS`, `_IOC(_IOC_READ|_IOC_WRITE, 0x46, 0x2a, 0x20)`), fds with
//! their `-y` decoration (`3</dev/nvidiactl<char 195:255>>`), quoted strings, struct fields and results
//! (`= -1 ENOENT (No such file or directory)`).
//!
//! Everything here works on text strace wrote; nothing may panic on text it did not write.

use crate::decode::flags;
use crate::decode::ioctl;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("argument {0} is missing")]
    Missing(usize),
    #[error("unknown name {0} (strace -X verbose prints numbers)")]
    UnknownName(String),
    #[error("cannot read {0:?} as a value")]
    Malformed(String),
}

/// Names strace uses inside values that no decoder table holds.
const EXTRA_NAMES: &[(&str, u64)] = &[
    // The direction field of `_IOC(dir, type, nr, size)` (asm-generic/ioctl.h).
    ("_IOC_NONE", 0),
    ("_IOC_WRITE", 1),
    ("_IOC_READ", 2),
    // mmap's huge page size rides in the flags as `21<<MAP_HUGE_SHIFT` (asm-generic/mman-common.h).
    ("MAP_HUGE_SHIFT", 26),
    ("NULL", 0),
    ("AT_FDCWD", -100i64 as u64),
];

/// How a call ended: a value (with the `-y` decoration of a returned fd), an error, or unknown (`= ?`, a call
/// that never returns).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome<'a> {
    Value { value: i64, fd: Option<&'a str> },
    Error(i32),
    Unknown,
}

/// Calls `visit(offset, byte, depth)` for each byte of `text` that is outside quoted strings, `/* comments */`
/// and fd decorations, with the bracket depth before it, and returns the first offset where `visit` says stop.
///
/// Strings can hold any character and decorations hold paths, so brackets and commas only mean something
/// outside them.
pub fn walk(text: &str, mut visit: impl FnMut(usize, u8, usize) -> bool) -> Option<usize> {
    let b = text.as_bytes();
    let mut i = 0;
    let mut depth = 0usize;
    while i < b.len() {
        let c = b[i];
        match c {
            b'"' => {
                i = skip_string(b, i);
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = find(b, i + 2, b"*/").map_or(b.len(), |end| end + 2);
                continue;
            }
            // A shift (`21<<MAP_HUGE_SHIFT`), not a decoration.
            b'<' if b.get(i + 1) == Some(&b'<') => {
                i += 2;
                continue;
            }
            b'<' if decorates(b, i) => {
                i = skip_decoration(b, i);
                continue;
            }
            _ => {}
        }
        if visit(i, c, depth) {
            return Some(i);
        }
        match c {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

/// The offset of the `)` that closes an argument list whose `(` came just before `text`.
pub fn close_paren(text: &str) -> Option<usize> {
    walk(text, |_, c, depth| c == b')' && depth == 0)
}

/// The top-level pieces of `text` between `sep` bytes, trimmed; none for blank text.
pub fn split(text: &str, sep: u8) -> Vec<&str> {
    if text.trim().is_empty() {
        return Vec::new();
    }
    let mut parts = Vec::new();
    let mut start = 0;
    walk(text, |i, c, depth| {
        if c == sep && depth == 0 {
            parts.push(text[start..i].trim());
            start = i + 1;
        }
        false
    });
    parts.push(text[start..].trim());
    parts
}

/// The arguments of a call, as written between its parentheses.
pub fn split_args(text: &str) -> Vec<&str> {
    split(text, b',')
}

/// A number or a flag expression (`A|B|0x40`, `21<<MAP_HUGE_SHIFT`, `_IOC(...)`, `SIGCHLD`), with any
/// `-X verbose` comment and fd decoration dropped. An ambiguous ioctl name (`A or B`) is read from whichever
/// alternative is known.
pub fn word(text: &str) -> Result<u64, ValueError> {
    let text = strip_comments(strip_decoration(text));
    let text = text.trim();
    if text.contains(" or ") {
        let mut last = Err(ValueError::Malformed(text.to_string()));
        for alternative in text.split(" or ") {
            last = expression(alternative.trim());
            if last.is_ok() {
                break;
            }
        }
        return last;
    }
    expression(text)
}

fn expression(text: &str) -> Result<u64, ValueError> {
    if text.is_empty() {
        return Err(ValueError::Malformed(text.to_string()));
    }
    split(text, b'|').into_iter().try_fold(0u64, |value, term| Ok(value | term_value(term)?))
}

fn term_value(term: &str) -> Result<u64, ValueError> {
    if let Some(inner) = term.strip_prefix("_IOC(").and_then(|rest| rest.strip_suffix(')')) {
        return ioc(inner);
    }
    if let Some((value, shift)) = term.split_once("<<") {
        let (value, shift) = (term_value(value.trim())?, term_value(shift.trim())?);
        return u32::try_from(shift)
            .ok()
            .and_then(|shift| value.checked_shl(shift))
            .ok_or_else(|| ValueError::Malformed(term.to_string()));
    }
    if let Some(value) = number(term) {
        return Ok(value);
    }
    if !term.bytes().all(is_word) || term.is_empty() {
        return Err(ValueError::Malformed(term.to_string()));
    }
    lookup(term).ok_or_else(|| ValueError::UnknownName(term.to_string()))
}

/// `_IOC(dir, type, nr, size)` in strace's argument order: 0x30000001 is `_IOC(0, 0, 0x1, 0x3000)`.
fn ioc(inner: &str) -> Result<u64, ValueError> {
    let malformed = || ValueError::Malformed(format!("_IOC({inner})"));
    let parts = split_args(inner);
    let [dir, kind, nr, size] = parts.as_slice() else {
        return Err(malformed());
    };
    let (dir, kind, nr, size) = (expression(dir)?, expression(kind)?, expression(nr)?, expression(size)?);
    if dir > 3 || kind > 0xff || nr > 0xff || size > 0x3fff {
        return Err(malformed());
    }
    Ok(dir << 30 | size << 16 | kind << 8 | nr)
}

/// A decimal, `0x` hex or `0`-led octal number, possibly negative (two's complement).
pub fn number(text: &str) -> Option<u64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    if !digits.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
        return None;
    }
    let value = if let Some(hex) = digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()?
    } else if digits.len() > 1 && digits.starts_with('0') {
        u64::from_str_radix(&digits[1..], 8).ok()?
    } else {
        digits.parse::<u64>().ok()?
    };
    Some(if negative { value.wrapping_neg() } else { value })
}

fn lookup(name: &str) -> Option<u64> {
    flags::value_of(name)
        .or_else(|| flags::signal_number(name).map(|s| s as u64))
        .or_else(|| ioctl::generic_value(name).map(u64::from))
        .or_else(|| super::ioctl_names::request(name))
        .or_else(|| EXTRA_NAMES.iter().find(|(n, _)| *n == name).map(|(_, v)| *v))
}

/// An fd argument: its number (`AT_FDCWD` is -100) and the text of its `-y` decoration, without the outer
/// angle brackets (`/dev/nvidiactl<char 195:255>` of `3</dev/nvidiactl<char 195:255>>`).
pub fn fd(text: &str) -> Result<(i32, Option<&str>), ValueError> {
    let text = text.trim();
    let (number, decoration) = match decoration_start(text) {
        Some(start) => (&text[..start], decoration_text(&text[start..])),
        None => (text, None),
    };
    let value = word(number)? as i64;
    // fds are C ints: `-1` printed for an anonymous mmap is 0xffffffffffffffff after `word`.
    let fd = i32::try_from(value).map_err(|_| ValueError::Malformed(text.to_string()))?;
    Ok((fd, decoration))
}

/// How a call ended, from the text after its `= `.
pub fn outcome(text: &str) -> Result<Outcome<'_>, ValueError> {
    let text = text.trim();
    let malformed = || ValueError::Malformed(text.to_string());
    if let Some(rest) = text.strip_prefix('?') {
        // `= ? ERESTARTSYS (To be restarted if SA_RESTART is set)`: the call was interrupted and will restart.
        let name = rest.split_whitespace().next().unwrap_or_default();
        return Ok(flags::errno_number(name).map_or(Outcome::Unknown, Outcome::Error));
    }
    let token_end = text.find([' ', '<']).unwrap_or(text.len());
    let value = number(&text[..token_end]).ok_or_else(malformed)? as i64;
    let rest = &text[token_end..];
    if value == -1
        && let Some(after) = rest.strip_prefix(' ')
    {
        // `-1 ENOENT (No such file or directory)`, or `-1 (errno 1234)` for a number without a name.
        if let Some(n) = after.strip_prefix("(errno ").and_then(|n| n.split(')').next()) {
            return n.trim().parse().map(Outcome::Error).map_err(|_| malformed());
        }
        let name = after.split_whitespace().next().unwrap_or_default();
        if name.starts_with('E') {
            return flags::errno_number(name).map(Outcome::Error).ok_or_else(|| ValueError::UnknownName(name.into()));
        }
    }
    let fd = if rest.starts_with('<') { decoration_text(rest) } else { None };
    Ok(Outcome::Value { value, fd })
}

/// The bytes of a quoted string (`"/dev/nvidiactl"`), with C escapes undone; `None` when `text` is not one
/// (a pointer strace could not read).
pub fn string(text: &str) -> Option<Vec<u8>> {
    let inner = text.trim().strip_prefix('"')?;
    let b = inner.as_bytes();
    let mut i = 0;
    // A string cut by the end of the text keeps what there is of it.
    while i < b.len() && b[i] != b'"' {
        i += if b[i] == b'\\' { 2 } else { 1 };
    }
    Some(unescape(&inner[..i.min(b.len())]))
}

/// The first element of an array (`["sh", "-c", "ls"]`).
pub fn first_element(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix('[')?;
    let end = close_bracket(inner)?;
    split_args(&inner[..end]).into_iter().next()
}

/// The elements of an array (`[3<pipe:[55]>, 4<pipe:[55]>]`).
pub fn elements(text: &str) -> Option<Vec<&str>> {
    let inner = text.trim().strip_prefix('[')?;
    let end = close_bracket(inner)?;
    Some(split_args(&inner[..end]))
}

/// The value of `field` in a struct (`{flags=CLONE_VM|CLONE_FS, exit_signal=0, ...}`), before any `=> {...}`
/// part strace adds for what the call wrote back.
pub fn field<'t>(text: &'t str, field: &str) -> Option<&'t str> {
    let inner = text.trim().strip_prefix('{')?;
    let end = walk(inner, |_, c, depth| c == b'}' && depth == 0)?;
    split_args(&inner[..end]).into_iter().find_map(|item| item.strip_prefix(field)?.strip_prefix('='))
}

/// The value of a named argument (`flags=...` of clone).
pub fn named<'t>(args: &[&'t str], name: &str) -> Option<&'t str> {
    args.iter().find_map(|item| item.strip_prefix(name)?.strip_prefix('='))
}

fn close_bracket(inner: &str) -> Option<usize> {
    walk(inner, |_, c, depth| c == b']' && depth == 0)
}

/// Undoes strace's escapes: `\n`, `\t`, `\"`, `\\`, octal `\377` and hex `\xff`.
pub fn unescape(text: &str) -> Vec<u8> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' || i + 1 == b.len() {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let c = b[i + 1];
        i += 2;
        match c {
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'v' => out.push(0x0b),
            b'f' => out.push(0x0c),
            b'x' => {
                let digits = b[i..].iter().take(2).take_while(|d| d.is_ascii_hexdigit()).count();
                let value = std::str::from_utf8(&b[i..i + digits]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                match value {
                    Some(v) => out.push(v),
                    None => out.extend_from_slice(b"\\x"),
                }
                i += digits;
            }
            b'0'..=b'7' => {
                let start = i - 1;
                let digits = b[start..].iter().take(3).take_while(|d| (b'0'..=b'7').contains(d)).count();
                let value = b[start..start + digits].iter().fold(0u32, |v, d| v * 8 + u32::from(d - b'0'));
                out.push(value as u8);
                i = start + digits;
            }
            other => out.push(other),
        }
    }
    out
}

/// `text` without its `/* ... */` comments: `-X verbose` writes each term of a flag word with one
/// (`0x1200000 /* CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID */|17 /* SIGCHLD */`).
fn strip_comments(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains("/*") {
        return text.into();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("/*") {
        out.push_str(rest[..start].trim_end());
        rest = rest[start + 2..].split_once("*/").map_or("", |(_, after)| after);
    }
    out.push_str(rest);
    out.into()
}

/// `text` up to its fd decoration, if it has one.
fn strip_decoration(text: &str) -> &str {
    match decoration_start(text) {
        Some(start) => &text[..start],
        None => text,
    }
}

fn decoration_start(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    (1..b.len()).find(|&i| b[i] == b'<' && decorates(b, i))
}

/// Whether the `<` at `i` opens an fd decoration: right after the fd (`3</dev/null>`, `AT_FDCWD</work>`, or
/// `-100 /* AT_FDCWD */</work>` under `-X verbose`), and not a shift (`<<`).
fn decorates(b: &[u8], i: usize) -> bool {
    i > 0 && (is_word(b[i - 1]) || b[..i].ends_with(b"*/")) && b.get(i + 1) != Some(&b'<')
}

/// The text inside the outer angle brackets of a decoration that starts `text`.
fn decoration_text(text: &str) -> Option<&str> {
    let end = skip_decoration(text.as_bytes(), 0);
    text.get(1..end.checked_sub(1)?).filter(|_| text.as_bytes().get(end - 1) == Some(&b'>'))
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The offset just past the string that starts at `start` (a `"`), or the end of the text when it is cut.
fn skip_string(b: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

/// The offset just past the decoration that starts at `start` (a `<`). Inside, `<` and `>` of paths are escaped
/// (`\74`, `\76`); a nested `<char 1:3>` nests; `[...]` after a `:` (`socket:[5]`, `TCP:[1.2.3.4:5->6.7.8.9:10]`)
/// may hold `->`.
fn skip_decoration(b: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'[' if i > 0 && b[i - 1] == b':' => i = skip_brackets(b, i),
            b'<' => {
                depth += 1;
                i += 1;
            }
            b'>' => {
                depth = depth.saturating_sub(1);
                i += 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => i += 1,
        }
    }
    b.len()
}

fn skip_brackets(b: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => i = skip_string(b, i),
            b'[' => {
                depth += 1;
                i += 1;
            }
            b']' => {
                depth = depth.saturating_sub(1);
                i += 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => i += 1,
        }
    }
    b.len()
}

fn find(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    b.get(from..)?.windows(needle.len()).position(|w| w == needle).map(|p| from + p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_expressions_and_numbers() {
        assert_eq!(word("PROT_READ|PROT_EXEC"), Ok(5));
        assert_eq!(word("0x5 /* PROT_READ|PROT_EXEC */"), Ok(5));
        assert_eq!(word("0x1200000 /* CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID */|17 /* SIGCHLD */"), Ok(0x1200011));
        assert_eq!(word("0x1 /* SOCK_STREAM */|0x80000 /* SOCK_CLOEXEC */"), Ok(0x80001));
        assert_eq!(word("0x1 /* unterminated"), Ok(1));
        assert_eq!(word("MAP_SHARED|MAP_FIXED"), Ok(0x11));
        assert_eq!(word("MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB|21<<MAP_HUGE_SHIFT"), Ok(0x22 | 0x40000 | 21 << 26));
        assert_eq!(word("CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD"), Ok(0x1200011));
        assert_eq!(word("0644"), Ok(0o644));
        assert_eq!(word("-1"), Ok(u64::MAX));
        assert_eq!(word("PROT_READ|0x1000"), Ok(0x1001));
        assert_eq!(word("O_RDONLY"), Err(ValueError::UnknownName("O_RDONLY".into())));
        assert!(word("").is_err());
        assert!(word("1<<99").is_err());
    }

    #[test]
    fn ioctl_requests_in_every_rendering() {
        assert_eq!(word("TCGETS"), Ok(0x5401));
        assert_eq!(word("SNDCTL_TMR_TIMEBASE or TCGETS"), Ok(0x5401));
        assert_eq!(word("_IOC(_IOC_READ|_IOC_WRITE, 0x46, 0x2a, 0x20)"), Ok(0xc020462a));
        // strace's argument order is (dir, type, nr, size): UVM_INITIALIZE is a bare command number.
        assert_eq!(word("_IOC(0, 0, 0x1, 0x3000)"), Ok(0x30000001));
        assert_eq!(word("_IOC(_IOC_NONE, 0x54, 0x1, 0)"), Ok(0x5401));
        assert_eq!(word("0xc020462a"), Ok(0xc020462a));
        assert_eq!(word("0xc0104629 /* _IOC(_IOC_READ|_IOC_WRITE, 0x46, 0x29, 0x10) */"), Ok(0xc0104629));
        assert!(word("_IOC(4, 0, 0, 0)").is_err());
        assert!(word("_IOC(0, 0)").is_err());
    }

    #[test]
    fn arguments_split_outside_strings_structs_and_decorations() {
        let args = r#"3</tmp/a\76b,c\"d(e>, "x, y)", {a=1, b=[2, 3]} => {c=4}, 4<TCP:[1.2.3.4:5->6.7.8.9:10]>, 5"#;
        assert_eq!(
            split_args(args),
            vec![
                r#"3</tmp/a\76b,c\"d(e>"#,
                r#""x, y)""#,
                "{a=1, b=[2, 3]} => {c=4}",
                "4<TCP:[1.2.3.4:5->6.7.8.9:10]>",
                "5"
            ]
        );
        assert_eq!(close_paren("a, (b), \")\")) = 0"), Some(11));
        assert!(split_args("  ").is_empty());
    }

    #[test]
    fn fds_and_their_decorations() {
        assert_eq!(fd("3</dev/nvidiactl>"), Ok((3, Some("/dev/nvidiactl"))));
        assert_eq!(fd("3</dev/nvidiactl<char 195:255>>"), Ok((3, Some("/dev/nvidiactl<char 195:255>"))));
        assert_eq!(fd("AT_FDCWD</work>"), Ok((-100, Some("/work"))));
        assert_eq!(fd("-1"), Ok((-1, None)));
        assert_eq!(fd("4 /* comment */"), Ok((4, None)));
        assert_eq!(fd("-100 /* AT_FDCWD */</tmp/a,b>"), Ok((-100, Some("/tmp/a,b"))));
        assert_eq!(split_args("-100 /* AT_FDCWD */</tmp/a,b>, 0"), vec!["-100 /* AT_FDCWD */</tmp/a,b>", "0"]);
        assert!(fd("0x1ffffffff").is_err());
    }

    #[test]
    fn results() {
        assert_eq!(outcome("0"), Ok(Outcome::Value { value: 0, fd: None }));
        assert_eq!(outcome("3</dev/nvidiactl>"), Ok(Outcome::Value { value: 3, fd: Some("/dev/nvidiactl") }));
        assert_eq!(outcome("-1 ENOENT (No such file or directory)"), Ok(Outcome::Error(2)));
        assert_eq!(outcome("-1 (errno 1234)"), Ok(Outcome::Error(1234)));
        assert_eq!(outcome("? ERESTARTSYS (To be restarted if SA_RESTART is set)"), Ok(Outcome::Error(512)));
        assert_eq!(outcome("?"), Ok(Outcome::Unknown));
        assert_eq!(outcome("0x7f842a85e000"), Ok(Outcome::Value { value: 0x7f842a85e000, fd: None }));
        assert_eq!(outcome("0x40000 (PER_LINUX|ADDR_NO_RANDOMIZE)"), Ok(Outcome::Value { value: 0x40000, fd: None }));
        assert!(outcome("soon").is_err());
    }

    #[test]
    fn strings_arrays_and_structs() {
        assert_eq!(string(r#""/tmp/wd/x\377y<z\n""#), Some(b"/tmp/wd/x\xffy<z\n".to_vec()));
        assert_eq!(string(r#""a\"b"..."#), Some(b"a\"b".to_vec()));
        assert_eq!(string("0x7ffc"), None);
        assert_eq!(string("\""), Some(Vec::new()));
        assert_eq!(first_element(r#"["sh", "-c", "ls / | wc -l"]"#), Some(r#""sh""#));
        assert_eq!(elements("[3<pipe:[55]>, 4<pipe:[55]>]"), Some(vec!["3<pipe:[55]>", "4<pipe:[55]>"]));
        let clone3 = "{flags=CLONE_VM|CLONE_FS, child_tid=0x7f, exit_signal=0} => {parent_tid=[15960]}";
        assert_eq!(field(clone3, "flags"), Some("CLONE_VM|CLONE_FS"));
        assert_eq!(field(clone3, "parent_tid"), None);
        assert_eq!(unescape(r"\x41\101\\\q"), b"AA\\q".to_vec());
    }
}
