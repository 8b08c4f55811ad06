//! `macros.conf`: the YAML macros (sorted by file path, as contentctl loads them), then the
//! `<detection>_filter` macros contentctl generates (`search *`), then our own two macros.
//! `drop_dm_object_name` is deliberately absent: it belongs to Splunk_SA_CIM (contentctl's
//! `MACROS_TO_IGNORE`), on which the app depends.

use crate::conf::escape_newlines;
use crate::model::{Content, Macro};
use crate::savedsearches::{
    filter_macro_name, COMBINED_FILTER_MACRO, RISK_OBJECT_FIELDS_MACRO, RISK_OBJECT_TYPES,
};

const FILTER_DESCRIPTION: &str =
    "Update this macro to limit the output results to filter out false positives.";

fn write_macro(out: &mut String, m: &Macro) {
    if m.arguments.is_empty() {
        out.push_str(&format!("[{}]\n", m.name));
    } else {
        out.push_str(&format!("[{}({})]\n", m.name, m.arguments.len()));
        out.push_str(&format!("args = {}\n", m.arguments.join(", ")));
    }
    out.push_str(&format!(
        "definition = {}\n",
        escape_newlines(&m.definition)
    ));
    out.push_str(&format!(
        "description = {}\n\n",
        escape_newlines(&m.description)
    ));
}

fn filter_macro(name: String) -> Macro {
    Macro {
        name,
        definition: "search *".into(),
        description: FILTER_DESCRIPTION.into(),
        arguments: Vec::new(),
    }
}

/// Our macro that routes the row's single risk object to a per-type field for ES's risk action.
pub fn risk_object_fields_macro() -> Macro {
    let evals: Vec<String> = RISK_OBJECT_TYPES
        .iter()
        .map(|t| format!("risk_object_{t}=if(risk_object_type==\"{t}\", risk_object, null())"))
        .collect();
    Macro {
        name: RISK_OBJECT_FIELDS_MACRO.into(),
        definition: format!("eval {}", evals.join(", ")),
        description: "Copies the row's risk_object (from | netdiscover mode=risk) into risk_object_<type>, so the risk action's per-type risk objects pick it up.".into(),
        arguments: Vec::new(),
    }
}

/// The whole `default/macros.conf`.
pub fn render(content: &Content, header: &str) -> String {
    let mut out = String::from(header);
    out.push('\n');
    for m in &content.macros {
        write_macro(&mut out, &m.item);
    }
    for d in &content.detections {
        write_macro(
            &mut out,
            &filter_macro(filter_macro_name(&d.item.meta.name)),
        );
    }
    write_macro(&mut out, &filter_macro(COMBINED_FILTER_MACRO.to_string()));
    write_macro(&mut out, &risk_object_fields_macro());
    out
}
