//! JSON as trapline writes and reports it: pretty with a trailing newline, and parse errors that put the
//! position first (`file:line:column: what`).

/// Serializes `value` as pretty JSON with a trailing newline, the form committed to repositories.
pub fn to_json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("trace types always serialize");
    bytes.push(b'\n');
    bytes
}

/// serde_json appends " at line L column C"; the message puts the position up front instead.
pub fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}
