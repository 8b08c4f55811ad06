//! The `condition` language (Sigma specification 2.x, "Condition"): search identifiers,
//! `and`, `or`, `not`, parentheses, `1 of`/`all of` a pattern or `them`. Precedence, least to
//! most binding: `or`, `and`, `not`, `x of`, parentheses.

/// A condition with every identifier and pattern resolved to search indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    /// The search identifier at this index of the rule's searches.
    Search(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Open,
    Close,
    And,
    Or,
    Not,
    /// `1 of` / `any of` (`false`) or `all of` (`true`).
    Of(bool),
    Word(String),
}

/// Parses `condition` against the rule's search identifier names. Errors name the token and
/// its byte position.
pub fn parse(condition: &str, names: &[String]) -> Result<Expr, String> {
    let tokens = tokenize(condition)?;
    let mut parser = Parser {
        tokens,
        at: 0,
        names,
        text: condition,
    };
    let expr = parser.or()?;
    match parser.tokens.get(parser.at) {
        None => Ok(expr),
        Some((_, position)) => Err(format!(
            "unexpected `{}` at byte {position} of the condition",
            token_text(condition, *position)
        )),
    }
}

fn token_text(text: &str, position: usize) -> &str {
    let rest = &text[position..];
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .map_or(rest.len(), |e| e.max(1));
    &rest[..end]
}

fn tokenize(text: &str) -> Result<Vec<(Token, usize)>, String> {
    let mut tokens: Vec<(Token, usize)> = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(at, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if c == '(' || c == ')' {
            chars.next();
            tokens.push((if c == '(' { Token::Open } else { Token::Close }, at));
            continue;
        }
        let mut word = String::new();
        while let Some(&(_, c)) = chars.peek() {
            if c.is_whitespace() || c == '(' || c == ')' {
                break;
            }
            word.push(c);
            chars.next();
        }
        let token = match word.to_ascii_lowercase().as_str() {
            "and" => Token::And,
            "or" => Token::Or,
            "not" => Token::Not,
            "of" => {
                let quantifier = match tokens.pop() {
                    Some((Token::Word(q), _)) => q,
                    _ => return Err(format!("`of` at byte {at} without `1` or `all` before it")),
                };
                match quantifier.to_ascii_lowercase().as_str() {
                    "1" | "any" => Token::Of(false),
                    "all" => Token::Of(true),
                    other => {
                        return Err(format!(
                            "`{other} of` at byte {at}: only `1 of` and `all of` are defined"
                        ))
                    }
                }
            }
            _ => Token::Word(word),
        };
        tokens.push((token, at));
    }
    Ok(tokens)
}

struct Parser<'a> {
    tokens: Vec<(Token, usize)>,
    at: usize,
    names: &'a [String],
    text: &'a str,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at).map(|(t, _)| t)
    }

    fn position(&self) -> usize {
        self.tokens
            .get(self.at)
            .map_or(self.text.len(), |(_, p)| *p)
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut items = vec![self.and()?];
        while self.peek() == Some(&Token::Or) {
            self.at += 1;
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::Or(items)
        })
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut items = vec![self.not()?];
        while self.peek() == Some(&Token::And) {
            self.at += 1;
            items.push(self.not()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::And(items)
        })
    }

    fn not(&mut self) -> Result<Expr, String> {
        if self.peek() == Some(&Token::Not) {
            self.at += 1;
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, String> {
        let position = self.position();
        let token = self.tokens.get(self.at).map(|(t, _)| t.clone());
        self.at += 1;
        match token {
            Some(Token::Open) => {
                let inner = self.or()?;
                if self.peek() != Some(&Token::Close) {
                    return Err(format!(
                        "missing `)` for the `(` at byte {position} of the condition"
                    ));
                }
                self.at += 1;
                Ok(inner)
            }
            Some(Token::Of(all)) => {
                let pattern_at = self.position();
                let Some(Token::Word(pattern)) = self.peek().cloned() else {
                    return Err(format!(
                        "`of` at byte {position} needs a search identifier pattern or `them`"
                    ));
                };
                self.at += 1;
                let matched = self.matching(&pattern, pattern_at)?;
                Ok(if all {
                    Expr::And(matched)
                } else {
                    Expr::Or(matched)
                })
            }
            Some(Token::Word(name)) => match self.names.iter().position(|n| *n == name) {
                Some(index) => Ok(Expr::Search(index)),
                None => Err(format!(
                    "unknown search identifier `{name}` at byte {position} of the condition"
                )),
            },
            Some(other) => Err(format!(
                "unexpected `{}` at byte {position} of the condition ({other:?})",
                token_text(self.text, position)
            )),
            None => Err("the condition ends where an identifier is expected".into()),
        }
    }

    /// The searches a `1 of`/`all of` pattern names: `them` is every identifier not starting
    /// with `_`; otherwise `*` matches any run of characters.
    fn matching(&self, pattern: &str, position: usize) -> Result<Vec<Expr>, String> {
        let found: Vec<Expr> = self
            .names
            .iter()
            .enumerate()
            .filter(|(_, name)| {
                if pattern == "them" {
                    !name.starts_with('_')
                } else {
                    wildcard_match(pattern, name)
                }
            })
            .map(|(i, _)| Expr::Search(i))
            .collect();
        if found.is_empty() {
            return Err(format!(
                "`{pattern}` at byte {position} of the condition matches no search identifier"
            ));
        }
        Ok(found)
    }
}

/// `*` matches any run of characters; everything else itself.
fn wildcard_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if parts.len() == 1 {
        return pattern == name;
    }
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    /// Precedence from the specification: or < and < not < x of < ( ).
    #[test]
    fn precedence_and_quantifiers() {
        let n = names(&["selection_a", "selection_b", "filter", "_hidden"]);
        let e = parse("selection_a or selection_b and not filter", &n).unwrap();
        assert_eq!(
            e,
            Expr::Or(vec![
                Expr::Search(0),
                Expr::And(vec![Expr::Search(1), Expr::Not(Box::new(Expr::Search(2)))])
            ])
        );
        let e = parse("all of selection_* and not 1 of filter*", &n).unwrap();
        assert_eq!(
            e,
            Expr::And(vec![
                Expr::And(vec![Expr::Search(0), Expr::Search(1)]),
                Expr::Not(Box::new(Expr::Or(vec![Expr::Search(2)])))
            ])
        );
        let e = parse("1 of them", &n).unwrap();
        assert_eq!(
            e,
            Expr::Or(vec![Expr::Search(0), Expr::Search(1), Expr::Search(2)])
        );
        let e = parse("(selection_a or filter) and selection_b", &n).unwrap();
        assert!(matches!(e, Expr::And(_)));
    }

    #[test]
    fn errors_name_the_token() {
        let n = names(&["sel"]);
        assert!(parse("sel and missing", &n)
            .unwrap_err()
            .contains("`missing`"));
        assert!(parse("(sel", &n).unwrap_err().contains("missing `)`"));
        assert!(parse("2 of sel*", &n).unwrap_err().contains("`2 of`"));
        assert!(parse("1 of nothing*", &n)
            .unwrap_err()
            .contains("matches no"));
        assert!(parse("sel sel", &n).unwrap_err().contains("unexpected"));
        assert!(parse("sel and", &n).is_err());
    }
}
