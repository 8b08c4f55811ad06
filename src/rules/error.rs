//! Errors of the rules module. Every error names what was wrong and where.

use std::path::PathBuf;

/// Why one piece of SPL could not be compiled. Positions are byte offsets into the
/// macro-expanded search text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SplError {
    /// SPL the compiler does not implement (or that has no row-level meaning we can prove).
    #[error("unsupported construct `{construct}` at byte {position} of the macro-expanded search: {detail}")]
    Unsupported {
        construct: String,
        position: usize,
        detail: String,
    },
    /// A stage that needs more than one row (stats, join, lookup, ...): the rule is reported
    /// as "not row-level" and never half-compiled.
    #[error(
        "not row-level: `{construct}` at byte {position} of the macro-expanded search ({detail})"
    )]
    NotRowLevel {
        construct: String,
        position: usize,
        detail: String,
    },
}

impl SplError {
    pub(crate) fn unsupported(
        construct: impl Into<String>,
        position: usize,
        detail: impl Into<String>,
    ) -> Self {
        SplError::Unsupported {
            construct: construct.into(),
            position,
            detail: detail.into(),
        }
    }
    pub(crate) fn not_row_level(
        construct: impl Into<String>,
        position: usize,
        detail: impl Into<String>,
    ) -> Self {
        SplError::NotRowLevel {
            construct: construct.into(),
            position,
            detail: detail.into(),
        }
    }
    /// The construct that stopped compilation.
    pub fn construct(&self) -> &str {
        match self {
            SplError::Unsupported { construct, .. } | SplError::NotRowLevel { construct, .. } => {
                construct
            }
        }
    }
    /// True if the rule is valid SPL but needs more than one row.
    pub fn is_not_row_level(&self) -> bool {
        matches!(self, SplError::NotRowLevel { .. })
    }
}

/// Why a Sigma rule was not compiled: the construct (a modifier, a value, a condition token,
/// a search identifier) and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("unsupported construct `{construct}`: {detail}")]
pub struct SigmaError {
    pub construct: String,
    pub detail: String,
}

impl SigmaError {
    pub fn new(construct: impl Into<String>, detail: impl Into<String>) -> Self {
        SigmaError {
            construct: construct.into(),
            detail: detail.into(),
        }
    }
}

/// Macro expansion failures.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MacroError {
    #[error("unknown macro `{name}` ({arity} argument(s)) at byte {position}")]
    Unknown {
        name: String,
        arity: usize,
        position: usize,
    },
    #[error("macro cycle: {}", cycle.join(" -> "))]
    Cycle { cycle: Vec<String> },
    #[error("unterminated macro call (backtick) at byte {position}")]
    Unterminated { position: usize },
    #[error("macro expansion deeper than {limit} levels at `{name}`")]
    TooDeep { name: String, limit: usize },
    #[error("macro expansion makes more than {limit} macro calls (at `{name}`)")]
    TooManyCalls { name: String, limit: usize },
    #[error("macro expansion longer than {limit} bytes (at `{name}`)")]
    TooLong { name: String, limit: usize },
}

/// Why one rule was not loaded: always names the rule (or file) and the cause.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RuleError {
    #[error("{path}: cannot read: {message}")]
    Io { path: PathBuf, message: String },
    #[error("{path}: invalid YAML: {message}")]
    Yaml { path: PathBuf, message: String },
    #[error("{path}: rule `{rule}`: {message}")]
    Invalid {
        path: PathBuf,
        rule: String,
        message: String,
    },
    #[error("{path}: rule `{rule}`: {source}")]
    Macro {
        path: PathBuf,
        rule: String,
        #[source]
        source: MacroError,
    },
    #[error("{path}: rule `{rule}`: {source}")]
    Spl {
        path: PathBuf,
        rule: String,
        #[source]
        source: SplError,
    },
    #[error("{path}: Sigma rule `{rule}`: {source}")]
    Sigma {
        path: PathBuf,
        rule: String,
        #[source]
        source: SigmaError,
    },
    /// Sigma rules whose `logsource` is not process creation, one warning per logsource.
    #[error("{count} Sigma rule(s) out of scope: logsource `{logsource}` (netdiscover runs `category: process_creation` rules), e.g. {example}")]
    OutOfScope {
        logsource: String,
        count: usize,
        example: PathBuf,
    },
    /// Not a reason to skip: a key or block of the rule file that the loader read past
    /// (unknown, or one the rule's schema or type cannot use); the rule loads without it.
    #[error("{path}: rule `{rule}`: `{key}`: {why}")]
    Ignored {
        path: PathBuf,
        rule: String,
        key: String,
        why: String,
    },
    #[error("{path}:{line}: macros.conf: {message}")]
    Conf {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

impl RuleError {
    /// The file the problem is in, when it is about one file.
    pub fn path(&self) -> Option<&std::path::Path> {
        match self {
            RuleError::Io { path, .. }
            | RuleError::Yaml { path, .. }
            | RuleError::Invalid { path, .. }
            | RuleError::Macro { path, .. }
            | RuleError::Spl { path, .. }
            | RuleError::Ignored { path, .. }
            | RuleError::Sigma { path, .. }
            | RuleError::Conf { path, .. } => Some(path),
            // A group of rules; its example is not the file at fault.
            RuleError::OutOfScope { .. } => None,
        }
    }
}

/// A problem found while loading: the item is skipped and the rest load, or (for
/// [`RuleError::Ignored`]) the rule loads without the key named.
#[derive(Debug, Clone, PartialEq)]
pub struct Warning {
    pub error: RuleError,
}

impl Warning {
    /// A key or block of `rule`'s file that was read past.
    pub(crate) fn ignored(rule: &super::Rule, ignored: super::model::Ignored) -> Warning {
        Warning {
            error: RuleError::Ignored {
                path: rule.path.clone(),
                rule: rule.meta.name.clone(),
                key: ignored.key,
                why: ignored.why,
            },
        }
    }

    /// Whether the rule or file named was not loaded (otherwise it loaded without a key).
    pub fn skips_rule(&self) -> bool {
        !matches!(self.error, RuleError::Ignored { .. })
    }
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = if self.skips_rule() {
            "skipped"
        } else {
            "ignored"
        };
        write!(f, "{what}: {}", self.error)
    }
}

/// Invalid rule selection (`rule=`, `type=`, `story=`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SelectionError {
    #[error("{key}={value} matches no loaded rule")]
    NoMatch { key: &'static str, value: String },
}
