//! Sigma string values: wildcards and escapes (specification 2.x, "String Wildcard" and
//! "Escaping"), placeholders (`expand`), and the value-transforming modifiers of the
//! modifiers appendix (`windash`, `wide`/`utf16*`, `base64`, `base64offset`, `contains`,
//! `startswith`, `endswith`).
//!
//! A value becomes one or more *alternatives* (OR-ed), each a list of [`GlobPart`]s: literal
//! bytes, `*`, `?` and one-character classes. Values are never expanded into variants where a
//! class can say it (`windash` is one class at each dash), only where an encoding has to see
//! concrete bytes (`base64` of a class).

use std::collections::HashMap;

use crate::rules::glob::GlobPart;

/// The dashes `windash` makes interchangeable: `-`, `/`, en dash, em dash, horizontal bar
/// (modifiers appendix, "windash").
pub const WINDASH: [&str; 5] = ["-", "/", "\u{2013}", "\u{2014}", "\u{2015}"];

/// One value: alternatives of which any may match.
pub type Alternatives = Vec<Vec<GlobPart>>;

/// Most alternatives one value may expand to (placeholders × classes under base64).
const MAX_ALTERNATIVES: usize = 4096;

/// Parses a Sigma string: `*` any run, `?` one character, `\` escapes `*`, `?` and `\`
/// (a backslash before anything else is a plain backslash). With `placeholders`, `%name%` is
/// replaced by each configured value (parsed the same way) and `\%` is a plain `%`.
pub fn parse(
    text: &str,
    placeholders: Option<&HashMap<String, Vec<String>>>,
) -> Result<Alternatives, String> {
    let mut alternatives: Alternatives = vec![Vec::new()];
    let mut literal = String::new();
    let mut chars = text.chars().peekable();
    let flush = |literal: &mut String, alternatives: &mut Alternatives| {
        if !literal.is_empty() {
            let bytes = std::mem::take(literal).into_bytes();
            for alt in alternatives.iter_mut() {
                push_literal(alt, &bytes);
            }
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(&next @ ('*' | '?' | '\\')) => {
                    literal.push(next);
                    chars.next();
                }
                Some('%') if placeholders.is_some() => {
                    literal.push('%');
                    chars.next();
                }
                _ => literal.push('\\'),
            },
            '*' | '?' => {
                flush(&mut literal, &mut alternatives);
                let part = if c == '*' {
                    GlobPart::Star
                } else {
                    GlobPart::AnyChar
                };
                alternatives.iter_mut().for_each(|a| a.push(part.clone()));
            }
            '%' if placeholders.is_some() => {
                let rest: String = chars.clone().collect();
                let name_len = rest.find('%').filter(|&n| {
                    n > 0
                        && rest[..n]
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_')
                });
                let Some(n) = name_len else {
                    literal.push('%');
                    continue;
                };
                let name = &rest[..n];
                (0..=n).for_each(|_| {
                    chars.next();
                });
                flush(&mut literal, &mut alternatives);
                let expanded = expand_placeholder(name, placeholders, &alternatives)?;
                check_count(expanded.len())?;
                alternatives = expanded;
            }
            other => literal.push(other),
        }
    }
    flush(&mut literal, &mut alternatives);
    Ok(alternatives)
}

/// Every alternative so far followed by every (parsed) value configured for placeholder
/// `%name%`: a placeholder with no configured values is an error, never an empty match.
fn expand_placeholder(
    name: &str,
    placeholders: Option<&HashMap<String, Vec<String>>>,
    alternatives: &Alternatives,
) -> Result<Alternatives, String> {
    let values = placeholders.and_then(|p| p.get(name)).ok_or_else(|| {
        format!("placeholder `%{name}%` has no configured values (sigma_settings: placeholders: {name}: [...])")
    })?;
    let mut expanded = Vec::new();
    for value in values {
        for tail in parse(value, None)? {
            for head in alternatives {
                let mut alt = head.clone();
                for part in &tail {
                    match part {
                        GlobPart::Lit(bytes) => push_literal(&mut alt, bytes),
                        other => alt.push(other.clone()),
                    }
                }
                expanded.push(alt);
            }
        }
    }
    if expanded.is_empty() {
        return Err(format!(
            "placeholder `%{name}%` is configured with no values"
        ));
    }
    Ok(expanded)
}

fn check_count(n: usize) -> Result<(), String> {
    if n > MAX_ALTERNATIVES {
        Err(format!(
            "the value expands to more than {MAX_ALTERNATIVES} alternatives"
        ))
    } else {
        Ok(())
    }
}

fn push_literal(parts: &mut Vec<GlobPart>, bytes: &[u8]) {
    match parts.last_mut() {
        Some(GlobPart::Lit(prev)) => prev.extend_from_slice(bytes),
        _ => parts.push(GlobPart::Lit(bytes.to_vec())),
    }
}

/// `windash`: every `-`, `/`, en dash, em dash and horizontal bar in the literal text
/// becomes a class of all five (the specification converts "the aforementioned characters
/// interchangeably"; one class, not one variant per combination).
pub fn windash(parts: &[GlobPart]) -> Vec<GlobPart> {
    let mut out = Vec::new();
    for part in parts {
        let GlobPart::Lit(bytes) = part else {
            out.push(part.clone());
            continue;
        };
        let text = String::from_utf8_lossy(bytes);
        let mut run = String::new();
        for c in text.chars() {
            if WINDASH.iter().any(|d| d.starts_with(c)) {
                if !run.is_empty() {
                    push_literal(&mut out, std::mem::take(&mut run).as_bytes());
                }
                out.push(GlobPart::Class(
                    WINDASH.iter().map(|d| d.as_bytes().to_vec()).collect(),
                ));
            } else {
                run.push(c);
            }
        }
        if !run.is_empty() {
            push_literal(&mut out, run.as_bytes());
        }
    }
    out
}

/// A UTF-16 encoding modifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Utf16 {
    /// `utf16le` / `wide`.
    Le,
    /// `utf16be`.
    Be,
    /// `utf16`: a byte-order mark (`FF FE`) then little-endian, as the appendix's example shows.
    WithBom,
}

/// Encodes the literal text (and class alternatives) as UTF-16; wildcards stay wildcards.
pub fn utf16(parts: &[GlobPart], encoding: Utf16) -> Vec<GlobPart> {
    let encode = |bytes: &[u8]| -> Vec<u8> {
        String::from_utf8_lossy(bytes)
            .encode_utf16()
            .flat_map(|unit| match encoding {
                Utf16::Be => unit.to_be_bytes(),
                Utf16::Le | Utf16::WithBom => unit.to_le_bytes(),
            })
            .collect()
    };
    let mut out = Vec::new();
    if encoding == Utf16::WithBom {
        out.push(GlobPart::Lit(vec![0xFF, 0xFE]));
    }
    for part in parts {
        match part {
            GlobPart::Lit(bytes) => push_literal(&mut out, &encode(bytes)),
            GlobPart::Class(alts) => {
                out.push(GlobPart::Class(alts.iter().map(|a| encode(a)).collect()))
            }
            other => out.push(other.clone()),
        }
    }
    out
}

/// The concrete byte strings a wildcard-free pattern stands for (one per combination of its
/// classes' alternatives).
fn concrete(parts: &[GlobPart]) -> Result<Vec<Vec<u8>>, String> {
    let mut out: Vec<Vec<u8>> = vec![Vec::new()];
    for part in parts {
        match part {
            GlobPart::Lit(bytes) => out.iter_mut().for_each(|o| o.extend_from_slice(bytes)),
            GlobPart::Class(alts) => {
                out = out
                    .iter()
                    .flat_map(|o| alts.iter().map(move |a| [o.as_slice(), a].concat()))
                    .collect();
                check_count(out.len())?;
            }
            GlobPart::Star | GlobPart::AnyChar => {
                return Err(
                    "wildcards cannot be base64-encoded (the encoded text would not be known)"
                        .into(),
                )
            }
        }
    }
    Ok(out)
}

/// `base64`: the value's bytes, base64-encoded (standard alphabet, padded).
pub fn base64(parts: &[GlobPart]) -> Result<Alternatives, String> {
    Ok(concrete(parts)?
        .iter()
        .map(|bytes| vec![GlobPart::Lit(encode_base64(bytes).into_bytes())])
        .collect())
}

/// `base64offset`: the three encodings the value can have inside a longer base64 text,
/// depending on its offset modulo 3, with the characters that depend on the neighbouring
/// bytes cut off (the appendix's definition; the cut points are pySigma's, the reference
/// implementation: prefix 0–2 spaces, drop 0/2/3 leading and 0/3/2 trailing characters).
pub fn base64offset(parts: &[GlobPart]) -> Result<Alternatives, String> {
    const START: [usize; 3] = [0, 2, 3];
    const END_CUT: [usize; 3] = [0, 3, 2];
    let mut out = Vec::new();
    for bytes in concrete(parts)? {
        for shift in 0..3 {
            let mut padded = vec![b' '; shift];
            padded.extend_from_slice(&bytes);
            let encoded = encode_base64(&padded);
            let cut = END_CUT[(bytes.len() + shift) % 3];
            let end = encoded.len().saturating_sub(cut);
            let start = START[shift].min(end);
            out.push(vec![GlobPart::Lit(encoded.as_bytes()[start..end].to_vec())]);
        }
    }
    Ok(out)
}

fn encode_base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `contains`, `startswith`, `endswith`: a `*` before and/or after the value (none is added
/// where one already is).
pub fn anchor(parts: &mut Vec<GlobPart>, star_before: bool, star_after: bool) {
    if star_before && parts.first() != Some(&GlobPart::Star) {
        parts.insert(0, GlobPart::Star);
    }
    if star_after && parts.last() != Some(&GlobPart::Star) {
        parts.push(GlobPart::Star);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> GlobPart {
        GlobPart::Lit(s.as_bytes().to_vec())
    }

    /// The escaping rules of the specification's "Escaping" section, one per bullet.
    #[test]
    fn specification_escaping_examples() {
        let one = |t: &str| {
            let mut a = parse(t, None).unwrap();
            assert_eq!(a.len(), 1);
            a.remove(0)
        };
        // Plain backslash not followed by a wildcard: single or double.
        assert_eq!(one(r"C:\Windows\x"), vec![lit(r"C:\Windows\x")]);
        assert_eq!(one(r"C:\\Windows"), vec![lit(r"C:\Windows")]);
        // An escaped wildcard is a plain character.
        assert_eq!(one(r"a\*b\?"), vec![lit("a*b?")]);
        // `\\*`: a backslash followed by a wildcard.
        assert_eq!(one(r"a\\*"), vec![lit(r"a\"), GlobPart::Star]);
        // `\\\*`: a backslash and a plain star.
        assert_eq!(one(r"a\\\*"), vec![lit(r"a\*")]);
        // Three or four backslashes are a double backslash.
        assert_eq!(one(r"\\\\x"), vec![lit(r"\\x")]);
        assert_eq!(one(r"\\\x"), vec![lit(r"\\x")]);
        assert_eq!(
            one("prog?.exe"),
            vec![lit("prog"), GlobPart::AnyChar, lit(".exe")]
        );
        assert_eq!(one(r"trailing\"), vec![lit(r"trailing\")]);
    }

    /// Placeholders (specification, "Placeholders"): only with `expand`; `\%` is a plain `%`.
    #[test]
    fn placeholders_expand_to_configured_values() {
        let mut config = HashMap::new();
        config.insert("name".to_string(), vec!["a*".to_string(), "b".to_string()]);
        assert_eq!(parse("%name%", None).unwrap(), vec![vec![lit("%name%")]]);
        let alts = parse(r"\%plain%name%", Some(&config)).unwrap();
        assert_eq!(
            alts,
            vec![vec![lit("%plaina"), GlobPart::Star], vec![lit("%plainb")]]
        );
        let err = parse("%other%", Some(&config)).unwrap_err();
        assert!(err.contains("%other%"), "{err}");
    }

    /// The appendix's UTF-16 examples: `cmd` > `63 00 6d 00 64 00` (LE), `00 63 00 6d 00 64`
    /// (BE), `FF FE 63 00 6d 00 64 00` (with byte-order mark).
    #[test]
    fn utf16_examples_of_the_appendix() {
        let cmd = vec![lit("cmd")];
        assert_eq!(
            utf16(&cmd, Utf16::Le),
            vec![GlobPart::Lit(b"c\0m\0d\0".to_vec())]
        );
        assert_eq!(
            utf16(&cmd, Utf16::Be),
            vec![GlobPart::Lit(b"\0c\0m\0d".to_vec())]
        );
        assert_eq!(
            utf16(&cmd, Utf16::WithBom),
            vec![GlobPart::Lit(b"\xFF\xFEc\0m\0d\0".to_vec())]
        );
    }

    #[test]
    fn base64_and_offsets() {
        assert_eq!(encode_base64(b"sigma rules!"), "c2lnbWEgcnVsZXMh");
        assert_eq!(encode_base64(b"ab"), "YWI=");
        assert_eq!(base64(&[lit("ab")]).unwrap(), vec![vec![lit("YWI=")]]);
        // Each variant occurs in the encoding of the value at that offset.
        let variants: Vec<String> = base64offset(&[lit("/c ping")])
            .unwrap()
            .into_iter()
            .map(|a| match &a[0] {
                GlobPart::Lit(b) => String::from_utf8(b.clone()).unwrap(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(variants.len(), 3);
        for prefix in ["", "x", "xy", "xyz", "wxyz"] {
            let text = encode_base64(format!("{prefix}/c ping and more").as_bytes());
            assert!(
                variants.iter().any(|v| text.contains(v.as_str())),
                "{prefix}: {text} {variants:?}"
            );
        }
        assert!(base64(&[lit("a"), GlobPart::Star]).is_err());
    }

    #[test]
    fn windash_is_one_class_per_dash() {
        let parts = windash(&[lit(" -f /x")]);
        assert_eq!(parts.len(), 5);
        assert!(matches!(&parts[1], GlobPart::Class(alts) if alts.len() == 5));
        assert_eq!(parts[2], lit("f "));
        assert_eq!(parts[3], parts[1]);
        assert_eq!(parts[4], lit("x"));
    }
}
