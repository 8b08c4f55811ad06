//! Parsing the XML splunkd writes on the input's stdin: `<items>` for `--validate-arguments`
//! and `<input>` in run mode. Both carry the server context and exactly one stanza (the input
//! runs one process per stanza: `use_single_instance = false`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use quick_xml::events::Event;
use quick_xml::Reader;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration XML is not well-formed at byte {position}: {message}")]
    Xml { position: u64, message: String },
    #[error("configuration XML: expected root element <{expected}>, found <{found}>")]
    WrongRoot {
        expected: &'static str,
        found: String,
    },
    #[error("configuration XML: expected exactly one <{element}>, found {count}")]
    StanzaCount { element: &'static str, count: usize },
    #[error("configuration XML: <{element}> has no name attribute")]
    MissingName { element: String },
    #[error("configuration XML: missing <checkpoint_dir>")]
    MissingCheckpointDir,
    #[error("configuration XML is neither UTF-8 nor UTF-16 with a byte order mark")]
    Encoding,
}

/// splunkd's session key. It grants REST access as the input's owner, so it is never printed:
/// `Debug` and `Display` show a placeholder.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SessionKey(String);

impl SessionKey {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey(<redacted>)")
    }
}

impl fmt::Display for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// One `<stanza>` (run mode) or `<item>` (validation): its name and its parameters. A
/// `<param_list>` keeps every value; a `<param>` has one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stanza {
    pub name: String,
    pub params: BTreeMap<String, Vec<String>>,
}

impl Stanza {
    /// The first value of a parameter, if present.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .get(name)
            .and_then(|values| values.first())
            .map(String::as_str)
    }
}

/// Everything splunkd tells the input about where it runs, plus its one stanza.
#[derive(Debug, Clone, Default)]
pub struct InputDefinition {
    pub server_host: String,
    pub server_uri: String,
    pub session_key: SessionKey,
    pub checkpoint_dir: Option<PathBuf>,
    pub stanza: Stanza,
}

/// Parses the `--validate-arguments` document (`<items>` with one `<item>`).
pub fn parse_validation(bytes: &[u8]) -> Result<InputDefinition, ConfigError> {
    parse(bytes, "items", "item")
}

/// Parses the run-mode document (`<input>` with one `<stanza>` under `<configuration>`).
/// A checkpoint directory is required in run mode: without it progress could not be kept.
pub fn parse_input(bytes: &[u8]) -> Result<InputDefinition, ConfigError> {
    let definition = parse(bytes, "input", "stanza")?;
    if definition.checkpoint_dir.is_none() {
        return Err(ConfigError::MissingCheckpointDir);
    }
    Ok(definition)
}

/// splunkd writes UTF-8, but the SDK's own fixtures are UTF-16 with a BOM; accept both.
fn decode(bytes: &[u8]) -> Result<String, ConfigError> {
    let utf16 = |bytes: &[u8], from: fn([u8; 2]) -> u16| -> Result<String, ConfigError> {
        if !bytes.len().is_multiple_of(2) {
            return Err(ConfigError::Encoding);
        }
        let units: Vec<u16> = bytes.chunks_exact(2).map(|c| from([c[0], c[1]])).collect();
        String::from_utf16(&units).map_err(|_| ConfigError::Encoding)
    };
    let text = match bytes {
        [0xFF, 0xFE, rest @ ..] => utf16(rest, u16::from_le_bytes)?,
        [0xFE, 0xFF, rest @ ..] => utf16(rest, u16::from_be_bytes)?,
        [0xEF, 0xBB, 0xBF, rest @ ..] => {
            String::from_utf8(rest.to_vec()).map_err(|_| ConfigError::Encoding)?
        }
        _ => String::from_utf8(bytes.to_vec()).map_err(|_| ConfigError::Encoding)?,
    };
    Ok(text)
}

fn parse(
    bytes: &[u8],
    root: &'static str,
    stanza_element: &'static str,
) -> Result<InputDefinition, ConfigError> {
    let text = decode(bytes)?;
    parse_text(&text, root, stanza_element).map_err(|e| redact(e, raw_session_key(&text)))
}

/// The text of the first `<session_key>` element as it stands in the document (up to its end
/// tag or the next `<`), found without parsing, so it is known even when parsing fails first.
fn raw_session_key(text: &str) -> Option<&str> {
    let start = text.find("<session_key>")? + "<session_key>".len();
    let rest = &text[start..];
    let key = rest[..rest.find('<').unwrap_or(rest.len())].trim();
    (!key.is_empty()).then_some(key)
}

/// Errors quote pieces of the document (tag names, entities, quick-xml's messages); whatever
/// they quote, the session key is replaced by `<redacted>` before the error leaves this
/// module, because errors are logged to splunkd.log.
fn redact(error: ConfigError, key: Option<&str>) -> ConfigError {
    let Some(key) = key else {
        return error;
    };
    let clean = |s: String| s.replace(key, "<redacted>");
    match error {
        ConfigError::Xml { position, message } => ConfigError::Xml {
            position,
            message: clean(message),
        },
        ConfigError::WrongRoot { expected, found } => ConfigError::WrongRoot {
            expected,
            found: clean(found),
        },
        ConfigError::MissingName { element } => ConfigError::MissingName {
            element: clean(element),
        },
        other => other,
    }
}

/// quick-xml's message for `error`, without the text of a mismatched end tag: quick-xml
/// quotes everything up to the next `>`, which can span elements (the session key's among
/// them) when the document is broken.
fn describe_xml_error(error: &quick_xml::Error) -> String {
    use quick_xml::errors::IllFormedError;
    match error {
        quick_xml::Error::IllFormed(IllFormedError::MismatchedEndTag { expected, .. }) => {
            format!("ill-formed document: expected `</{expected}>`, found a different end tag")
        }
        quick_xml::Error::IllFormed(IllFormedError::UnmatchedEndTag(_)) => {
            "ill-formed document: an end tag without a matching start tag".to_string()
        }
        other => other.to_string(),
    }
}

fn parse_text(
    text: &str,
    root: &'static str,
    stanza_element: &'static str,
) -> Result<InputDefinition, ConfigError> {
    let mut reader = Reader::from_str(text);
    let mut document = Document::new(root, stanza_element);
    loop {
        let position = reader.buffer_position();
        let event = reader.read_event().map_err(|e| ConfigError::Xml {
            position,
            message: describe_xml_error(&e),
        })?;
        let xml_err = |message: String| ConfigError::Xml { position, message };
        match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                let is_empty = matches!(event, Event::Empty(_));
                document.open(start, is_empty, xml_err)?;
            }
            Event::Text(t) => {
                let decoded = t.xml10_content().map_err(|e| xml_err(e.to_string()))?;
                document.text.push_str(&decoded);
            }
            Event::CData(c) => {
                let decoded = c.decode().map_err(|e| xml_err(e.to_string()))?;
                document.text.push_str(&decoded);
            }
            Event::GeneralRef(r) => document.text.push_str(&resolve_reference(&r, xml_err)?),
            Event::End(_) => document.close(xml_err)?,
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
    }
    document.finish(reader.buffer_position())
}

/// A character or predefined entity reference, resolved.
fn resolve_reference(
    reference: &quick_xml::events::BytesRef<'_>,
    xml_err: impl Fn(String) -> ConfigError,
) -> Result<String, ConfigError> {
    if let Some(c) = reference
        .resolve_char_ref()
        .map_err(|e| xml_err(e.to_string()))?
    {
        return Ok(c.to_string());
    }
    let entity = reference.decode().map_err(|e| xml_err(e.to_string()))?;
    quick_xml::escape::resolve_xml_entity(&entity)
        .map(str::to_string)
        .ok_or_else(|| xml_err(format!("unknown entity &{entity};")))
}

/// What has been read of the document so far.
struct Document {
    root: &'static str,
    stanza_element: &'static str,
    definition: InputDefinition,
    stanzas: Vec<Stanza>,
    /// Element names from the root down to the current element.
    path: Vec<String>,
    /// Text of the current element.
    text: String,
    /// The param (name, is_list) currently open, if any.
    param: Option<(String, bool)>,
}

impl Document {
    fn new(root: &'static str, stanza_element: &'static str) -> Document {
        Document {
            root,
            stanza_element,
            definition: InputDefinition::default(),
            stanzas: Vec::new(),
            path: Vec::new(),
            text: String::new(),
            param: None,
        }
    }

    /// A start tag (or an empty element): the root is checked, stanzas and params begin.
    fn open(
        &mut self,
        start: &quick_xml::events::BytesStart<'_>,
        is_empty: bool,
        xml_err: impl Fn(String) -> ConfigError,
    ) -> Result<(), ConfigError> {
        let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
        if self.path.is_empty() && name != self.root {
            return Err(ConfigError::WrongRoot {
                expected: self.root,
                found: name,
            });
        }
        let name_attr = start
            .try_get_attribute("name")
            .map_err(|e| xml_err(e.to_string()))?
            .map(|a| a.unescape_value().map(|v| v.into_owned()))
            .transpose()
            .map_err(|e| xml_err(e.to_string()))?;
        let is_param = name == "param" || name == "param_list";
        let named = |attr: Option<String>| {
            attr.ok_or_else(|| ConfigError::MissingName {
                element: name.clone(),
            })
        };
        if name == self.stanza_element {
            self.stanzas.push(Stanza {
                name: named(name_attr)?,
                params: BTreeMap::new(),
            });
        } else if is_param {
            let param_name = named(name_attr)?;
            if let Some(stanza) = self.stanzas.last_mut() {
                let values = stanza.params.entry(param_name.clone()).or_default();
                if is_empty && name == "param" {
                    values.push(String::new());
                }
            }
            self.param = Some((param_name, name == "param_list"));
        }
        self.text.clear();
        if !is_empty {
            self.path.push(name);
        } else if is_param {
            self.param = None;
        }
        Ok(())
    }

    /// An end tag: the element's text goes where the element says.
    fn close(&mut self, xml_err: impl Fn(String) -> ConfigError) -> Result<(), ConfigError> {
        let Some(name) = self.path.pop() else {
            return Err(xml_err("unbalanced end tag".into()));
        };
        let value = std::mem::take(&mut self.text);
        let definition = &mut self.definition;
        match (name.as_str(), self.path.len()) {
            ("server_host", 1) => definition.server_host = value.trim().to_string(),
            ("server_uri", 1) => definition.server_uri = value.trim().to_string(),
            ("session_key", 1) => definition.session_key = SessionKey(value),
            ("checkpoint_dir", 1) => {
                let dir = value.trim();
                if !dir.is_empty() {
                    definition.checkpoint_dir = Some(PathBuf::from(dir));
                }
            }
            ("param", _) => {
                if let (Some((param_name, false)), Some(stanza)) =
                    (self.param.take(), self.stanzas.last_mut())
                {
                    stanza.params.entry(param_name).or_default().push(value);
                }
            }
            ("value", _) => {
                if let (Some((param_name, true)), Some(stanza)) =
                    (self.param.as_ref(), self.stanzas.last_mut())
                {
                    stanza
                        .params
                        .entry(param_name.clone())
                        .or_default()
                        .push(value);
                }
            }
            ("param_list", _) => self.param = None,
            _ => {}
        }
        Ok(())
    }

    /// The end of the document: every element closed, exactly one stanza.
    fn finish(mut self, position: u64) -> Result<InputDefinition, ConfigError> {
        if !self.path.is_empty() {
            return Err(ConfigError::Xml {
                position,
                message: format!("document ends inside <{}>", self.path.join("><")),
            });
        }
        if self.stanzas.len() != 1 {
            return Err(ConfigError::StanzaCount {
                element: self.stanza_element,
                count: self.stanzas.len(),
            });
        }
        self.definition.stanza = self.stanzas.remove(0);
        Ok(self.definition)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUN: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<input><server_host>tiny</server_host><server_uri>https://127.0.0.1:8089</server_uri>
 <session_key>s3cr3t&amp;key</session_key><checkpoint_dir>/opt/splunk/var/lib/splunk/modinputs/netdiscover_input</checkpoint_dir>
 <configuration>
  <stanza name="netdiscover_input://sysmon" app="netdiscover">
   <param name="path">/exports/a&amp;b</param><param name="index">main</param><param name="exclude"/>
   <param_list name="multi"><value>v1</value><value>v2</value></param_list>
  </stanza></configuration></input>"#;

    #[test]
    fn run_mode_document_is_parsed() {
        let def = parse_input(RUN.as_bytes()).unwrap();
        assert_eq!(def.server_host, "tiny");
        assert_eq!(def.stanza.name, "netdiscover_input://sysmon");
        assert_eq!(def.stanza.param("path"), Some("/exports/a&b"));
        assert_eq!(def.stanza.param("index"), Some("main"));
        assert_eq!(def.stanza.param("exclude"), Some(""));
        assert_eq!(def.stanza.params["multi"], vec!["v1", "v2"]);
        assert_eq!(
            def.checkpoint_dir.as_deref(),
            Some(std::path::Path::new(
                "/opt/splunk/var/lib/splunk/modinputs/netdiscover_input"
            ))
        );
        let shown = format!("{def:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }

    #[test]
    fn utf16_with_bom_is_accepted() {
        let mut bytes = vec![0xFF, 0xFE];
        for unit in RUN.replace("UTF-8", "UTF-16").encode_utf16() {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
        let def = parse_input(&bytes).unwrap();
        assert_eq!(def.stanza.param("path"), Some("/exports/a&b"));
    }

    #[test]
    fn two_stanzas_or_none_are_errors() {
        let two = RUN.replace(
            "</configuration>",
            "<stanza name=\"netdiscover_input://b\"/></configuration>",
        );
        assert!(matches!(
            parse_input(two.as_bytes()),
            Err(ConfigError::StanzaCount { count: 2, .. })
        ));
        assert!(matches!(
            parse_input(b"<items><item name='x'/></items>"),
            Err(ConfigError::WrongRoot { .. })
        ));
        assert!(matches!(
            parse_validation(b"<items><item name='x'><param name='path'>a</param>"),
            Err(ConfigError::Xml { .. })
        ));
    }
}
