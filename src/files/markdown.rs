//! Markdown as GitHub renders it, for the reports people read in pull requests.

/// A table cell: GitHub ends a cell at `|` even inside a code span (`PROT_READ|PROT_WRITE`), so it is escaped,
/// and a line break would end the row.
pub fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipes_and_newlines_stay_inside_the_cell() {
        assert_eq!(cell("prot == 0x3 (PROT_READ|PROT_WRITE)\nnext"), "prot == 0x3 (PROT_READ\\|PROT_WRITE) next");
    }
}
