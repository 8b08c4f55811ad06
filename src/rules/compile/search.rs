//! Search-language syntax trees (`tstats where`, `| search`) to row conditions.

use super::super::error::SplError;
use super::super::expr::{parse_num, Cond, Src};
use super::super::glob::Glob;
use super::super::search_lang::{CmpOp, SearchAst};

/// Compiles `ast`; `resolve` maps a field name (and its position) to where its value comes from.
pub(super) fn search_to_cond(
    ast: &SearchAst,
    resolve: &mut dyn FnMut(&str, usize) -> Result<Src, SplError>,
) -> Result<Cond, SplError> {
    Ok(match ast {
        SearchAst::MatchAll => Cond::True,
        SearchAst::And(items) => Cond::And(
            items
                .iter()
                .map(|a| search_to_cond(a, resolve))
                .collect::<Result<_, _>>()?,
        ),
        SearchAst::Or(items) => Cond::Or(
            items
                .iter()
                .map(|a| search_to_cond(a, resolve))
                .collect::<Result<_, _>>()?,
        ),
        SearchAst::Not(inner) => Cond::Not(Box::new(search_to_cond(inner, resolve)?)),
        SearchAst::Cmp {
            field,
            op,
            value,
            position,
        } => {
            let src = resolve(field, *position)?;
            match op {
                CmpOp::Eq => Cond::Glob {
                    src,
                    pat: Glob::new(value),
                },
                CmpOp::Ne => Cond::NotGlob {
                    src,
                    pat: Glob::new(value),
                },
                _ => Cond::Order {
                    src,
                    op: *op,
                    value: value.as_bytes().to_vec(),
                    num: parse_num(value.as_bytes()),
                },
            }
        }
        SearchAst::In {
            field,
            values,
            position,
        } => {
            let src = resolve(field, *position)?;
            Cond::Or(
                values
                    .iter()
                    .map(|v| Cond::Glob {
                        src: src.clone(),
                        pat: Glob::new(v),
                    })
                    .collect(),
            )
        }
    })
}
