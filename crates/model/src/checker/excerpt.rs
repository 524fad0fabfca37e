//! Excerpts: the shortest set of trace lines that proves a violation, as
//! line numbers while checking (no text kept: memory stays proportional to
//! messages), given their text afterwards by [`Report::fill_text`].
//!
//! [`Report::fill_text`]: super::report::Report::fill_text

use super::report::ExcerptLine;

/// Line numbers, sorted and without repeats.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Excerpt(Vec<usize>);

impl Excerpt {
    /// The lines `lines` (0 stands for "none" and is dropped).
    pub(crate) fn of(lines: impl IntoIterator<Item = usize>) -> Self {
        let mut v: Vec<usize> = lines.into_iter().filter(|&l| l > 0).collect();
        v.sort_unstable();
        v.dedup();
        Excerpt(v)
    }

    /// As report lines, text still empty.
    pub(crate) fn lines(&self) -> Vec<ExcerptLine> {
        self.0
            .iter()
            .map(|&line| ExcerptLine {
                line,
                text: String::new(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_unique_without_zero() {
        let e = Excerpt::of([9, 0, 3, 9, 1]);
        let lines: Vec<usize> = e.lines().iter().map(|l| l.line).collect();
        assert_eq!(lines, vec![1, 3, 9]);
    }
}
