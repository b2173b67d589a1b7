//! Diagnostics: the errors and warnings a config produces, printed like a compiler's
//! (`SOURCE:LINE:COL: severity: message (at key.path)`).

use std::fmt;

/// How serious a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The config is still used; something in it is ignored or unwise.
    Warning,
    /// The config cannot be used.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// A position in a source: 1-based line and column. `0:0` means "unknown".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    /// 1-based line, 0 when unknown.
    pub line: u32,
    /// 1-based column, 0 when unknown.
    pub col: u32,
    /// In a user-data of several parts (MIME multipart, `#cloud-config-archive`), which part the
    /// line and column are in (1-based); 0 in a document of one part.
    pub part: u32,
}

impl Pos {
    /// A known position.
    pub const fn new(line: u32, col: u32) -> Self {
        Pos { line, col, part: 0 }
    }

    /// This position, in part `part` of a user-data of several parts.
    pub const fn in_part(self, part: u32) -> Self {
        Pos { part, ..self }
    }

    /// Whether this position is known.
    pub const fn is_known(self) -> bool {
        self.line != 0
    }
}

/// One problem found in a config.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Diagnostic {
    /// Where the text came from (a path, `user-data`, `kernel command line`, ...).
    pub source: String,
    /// Where in the source; unknown positions print as line 1, column 1 of the source.
    pub pos: Pos,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong and what was expected.
    pub message: String,
    /// The key path, such as `plinth.storage.lvm[0].devices`; empty for the whole document.
    pub path: String,
}

impl Diagnostic {
    /// An error.
    pub fn error(
        source: &str,
        pos: Pos,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            source: source.to_owned(),
            pos,
            severity: Severity::Error,
            message: message.into(),
            path: path.into(),
        }
    }

    /// A warning.
    pub fn warning(
        source: &str,
        pos: Pos,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            source: source.to_owned(),
            pos,
            severity: Severity::Warning,
            message: message.into(),
            path: path.into(),
        }
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (line, col) = if self.pos.is_known() {
            (self.pos.line, self.pos.col)
        } else {
            (1, 1)
        };
        write!(
            f,
            "{}:{line}:{col}: {}: {}",
            self.source, self.severity, self.message
        )?;
        if !self.path.is_empty() {
            write!(f, " (at {})", self.path)?;
        }
        Ok(())
    }
}

/// Every diagnostic of a failed parse: at least one error, plus any warnings, in source order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// The errors only.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| d.is_error())
    }

    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }

    /// Sorts by source position and removes exact duplicates.
    pub fn normalize(&mut self) {
        self.0.sort_by(|a, b| {
            (&a.source, a.pos, &a.path, &a.message).cmp(&(&b.source, b.pos, &b.path, &b.message))
        });
        self.0.dedup();
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_like_a_compiler() {
        let d = Diagnostic::error(
            "a.yaml",
            Pos::new(3, 5),
            "plinth.cluster.role",
            "unknown role `boss`",
        );
        assert_eq!(
            d.to_string(),
            "a.yaml:3:5: error: unknown role `boss` (at plinth.cluster.role)"
        );
        let w = Diagnostic::warning("a.yaml", Pos::default(), "", "no header");
        assert_eq!(w.to_string(), "a.yaml:1:1: warning: no header");
    }
}
