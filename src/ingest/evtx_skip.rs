//! Which EVTX records are certainly not process creations, read from their BinXML before
//! the `evtx` crate renders them: rendering a record to XML and parsing it back is most of
//! the cost of reading one, and most records in a log are other events.
//!
//! A record is passed over only when its event id is certain and not 1 or 4688 (the ids a
//! process creation has; whether one is depends on its provider and channel, so those
//! records are always rendered). Certain means the record is the shape the crate and
//! Windows write: one template instance whose template, in the chunk's template table,
//! starts `<Event><System>` and holds one `<EventID>` whose content is one substitution, and
//! whose substitution values the crate reads exactly as this module locates them. Any other
//! shape (a record that is a plain token stream, a template with entity references, an
//! array or a nested instance where it matters, names the XML parser might trip on) is
//! rendered as before, so it yields what it yielded before. The XML reader yields the same
//! [`SkippedRecord`](super::SkippedRecord) for such a record: it reads no further than
//! `</System>` once the id says the event is no process creation.
//!
//! The token and value layouts are MS-EVEN6's (BinXML), as `evtx` 0.15 reads them
//! (`binxml::tokens::walk_tokens`, `read_template_values_cursor`). The crate has parsed the
//! record when it hands it out, but keeps that private; this reads the few bytes it needs from
//! the chunk (the template once a chunk, the record's value table, one value).
//!
//! What it cannot rule out are the crate's limits on rendering, met only by crafted files: a
//! record whose rendering would exceed them (16 MiB of output, a nesting depth, a count of
//! tree nodes) in a part after `</System>` is skipped, not reported bad; and the budget of a
//! pass over a chunk (64 MiB of output; real chunks render at most a few hundred KB) is
//! charged only for records rendered, so a record refused today for the chunk's spent
//! budget could be rendered instead.

use std::path::Path;
use std::sync::Arc;

use evtx::{EvtxParser, EvtxRecord};

use super::evtx::{settings, Record};
use super::reader::{evtx_item, Item};
use super::IngestError;

/// Token bytes (MS-EVEN6 2.2.3.1), the "has more" flag (0x40) folded in where it applies.
const EOF: u8 = 0x00;
const OPEN_START: u8 = 0x01;
const CLOSE_START: u8 = 0x02;
const CLOSE_EMPTY: u8 = 0x03;
const END_ELEMENT: u8 = 0x04;
const VALUE: u8 = 0x05;
const ATTRIBUTE: u8 = 0x06;
const TEMPLATE_INSTANCE: u8 = 0x0c;
const SUBSTITUTION: u8 = 0x0d;
const OPTIONAL_SUBSTITUTION: u8 = 0x0e;
const FRAGMENT_HEADER: u8 = 0x0f;
const HAS_MORE: u8 = 0x40;

/// Value types (MS-EVEN6 2.2.3.3) that this module handles.
const STRING: u8 = 0x01;
const UINT16: u8 = 0x06;
const UINT32: u8 = 0x08;
const SID: u8 = 0x13;
const BINXML: u8 = 0x21;

/// A template definition's header: next-template offset, GUID, data size.
const TEMPLATE_HEADER_SIZE: usize = 24;
/// A dependency id that names no value.
const NO_DEPENDENCY: u16 = 0xffff;

/// What the decision needs of one template definition.
#[derive(Debug, Clone, PartialEq)]
struct TemplateFacts {
    /// The substitution that is `<EventID>`'s whole content.
    event_id_slot: u16,
    /// The substitutions in `<Event>`'s start tag and in `<System>`: what the XML reader
    /// reads before it decides, and so what must render as plain text.
    system_slots: Vec<u16>,
    /// The values `<System>` and `<EventID>` depend on: the crate leaves an element out
    /// when its value is NULL (MS-EVEN6 2.2.12).
    dependencies: Vec<u16>,
}

/// The decisions for the records of one chunk; template definitions are read once a chunk.
#[derive(Default)]
pub(crate) struct SkipCheck {
    /// Template definitions seen so far, by offset in the chunk: their facts, or `None`
    /// for a shape this module does not read.
    templates: Vec<(u32, Option<TemplateFacts>)>,
}

impl SkipCheck {
    /// The event id a record is skipped under, when it is certainly not a process
    /// creation and the XML reader would skip it under that id; `None` to render it.
    pub(crate) fn skip_label(&mut self, record: &EvtxRecord<'_>) -> Option<String> {
        let start = usize::try_from(record.binxml_offset).ok()?;
        let end = start.checked_add(record.binxml_size as usize)?;
        self.label_of(record.chunk.data, start, end)
    }

    /// As [`SkipCheck::skip_label`], for the record stream `data[start..end]` of the chunk
    /// `data`.
    fn label_of(&mut self, data: &[u8], start: usize, end: usize) -> Option<String> {
        let instance = Instance::read(data, start, end)?;
        let facts = self.template(data, instance.definition)?;
        let event_id = instance.event_id(data, &facts)?;
        (event_id != 1 && event_id != 4688).then(|| event_id.to_string())
    }

    fn template(&mut self, data: &[u8], offset: u32) -> Option<TemplateFacts> {
        if let Some((_, facts)) = self.templates.iter().find(|(at, _)| *at == offset) {
            return facts.clone();
        }
        let facts = read_template(data, offset);
        self.templates.push((offset, facts.clone()));
        facts
    }
}

/// A record's one template instance: where its template is and its substitution table.
struct Instance {
    definition: u32,
    /// Where the value descriptors (size, type) start.
    descriptors: usize,
    /// How many values there are.
    count: usize,
}

impl Instance {
    /// The record stream `data[start..end]` as `[fragment header] TemplateInstance`,
    /// followed by nothing or EOF; `None` for any other shape.
    fn read(data: &[u8], start: usize, end: usize) -> Option<Instance> {
        let record = data.get(start..end)?;
        let token = match record {
            [FRAGMENT_HEADER, _, _, _, TEMPLATE_INSTANCE, _, ..] => start + 4,
            [TEMPLATE_INSTANCE, ..] => start,
            _ => return None,
        };
        // Token, one unknown byte, template id, definition offset.
        let after_header = token + 10;
        let definition = u32_at(data, token + 6)?;
        let mut table = after_header;
        if usize::try_from(definition).ok()? == after_header {
            // The definition is stored here, in the record, the first time it is used.
            let size = u32_at(data, after_header + 20)? as usize;
            table = after_header + TEMPLATE_HEADER_SIZE + size;
        }
        let count = u32_at(data, table)? as usize;
        let instance = Instance {
            definition,
            descriptors: table + 4,
            count,
        };
        let values_end = instance.values_end(data)?;
        let rest = data.get(values_end..end)?;
        matches!(rest, [] | [EOF, ..]).then_some(instance)
    }

    /// The (size, type) of value `index`.
    fn descriptor(&self, data: &[u8], index: usize) -> Option<(usize, u8)> {
        let at = self.descriptors + 4 * index;
        Some((u16_at(data, at)? as usize, *data.get(at + 2)?))
    }

    fn values_start(&self) -> usize {
        self.descriptors + 4 * self.count
    }

    /// Where the values end: each takes the size its descriptor gives, provided the crate
    /// reads exactly that much of it (`None` when it might read more and shift the rest).
    fn values_end(&self, data: &[u8]) -> Option<usize> {
        let mut at = self.values_start();
        for index in 0..self.count {
            let (size, value_type) = self.descriptor(data, index)?;
            if !reads_its_size(data, at, size, value_type) {
                return None;
            }
            at += size;
        }
        Some(at)
    }

    /// The event id, when the template's `<EventID>` holds an unsigned integer value and
    /// everything the XML reader reads before deciding renders as plain text.
    fn event_id(&self, data: &[u8], facts: &TemplateFacts) -> Option<u32> {
        // A dependency past the values leaves nothing out.
        let present = |slot: &u16| match self.descriptor(data, usize::from(*slot)) {
            _ if usize::from(*slot) >= self.count => true,
            Some((size, value_type)) => value_type != 0x00 && !(value_type == BINXML && size == 0),
            None => false,
        };
        let plain = |slot: &u16| {
            let slot = usize::from(*slot);
            slot < self.count
                && self
                    .descriptor(data, slot)
                    .is_some_and(|(_, t)| is_scalar(t))
        };
        if !facts.system_slots.iter().all(plain) || !facts.dependencies.iter().all(present) {
            return None;
        }
        let slot = usize::from(facts.event_id_slot);
        let (size, value_type) = self.descriptor(data, slot)?;
        let mut at = self.values_start();
        for index in 0..slot {
            at += self.descriptor(data, index)?.0;
        }
        match (value_type, size) {
            (UINT16, 2) => u16_at(data, at).map(u32::from),
            (UINT32, 4) => u32_at(data, at),
            _ => None,
        }
    }
}

/// Whether the crate reads a value of `value_type` stored in `size` bytes at `at` as
/// exactly `size` bytes (it moves on past a shorter read, but not back after a longer one),
/// for the types this module accepts at all.
fn reads_its_size(data: &[u8], at: usize, size: usize, value_type: u8) -> bool {
    match value_type {
        // Null (its bytes passed over), ANSI string, binary, BinXML.
        0x00 | 0x02 | 0x0e | BINXML => true,
        STRING => size.is_multiple_of(2),
        // Revision, sub-authority count, 6-byte authority, the sub-authorities.
        SID => data
            .get(at + 1)
            .is_some_and(|&n| 8 + 4 * usize::from(n) <= size),
        // SizeT is 4 or 8 bytes, as its size says.
        0x10 => size == 4 || size == 8,
        t => fixed_width(t).is_some_and(|width| width <= size),
    }
}

/// The width of a fixed-size value type.
fn fixed_width(value_type: u8) -> Option<usize> {
    match value_type {
        0x03 | 0x04 => Some(1),
        0x05 | UINT16 => Some(2),
        0x07 | UINT32 | 0x0b | 0x0d | 0x14 => Some(4),
        0x09 | 0x0a | 0x0c | 0x11 | 0x15 => Some(8),
        0x0f | 0x12 => Some(16),
        _ => None,
    }
}

/// A value type that renders as one piece of text: no array, handle or nested BinXML.
fn is_scalar(value_type: u8) -> bool {
    matches!(value_type, 0x00..=0x15)
}

/// Reads the template definition at `offset` up to the end of `<System>`.
fn read_template(data: &[u8], offset: u32) -> Option<TemplateFacts> {
    let start = usize::try_from(offset).ok()?;
    let size = u32_at(data, start + 20)? as usize;
    let body = start + TEMPLATE_HEADER_SIZE;
    let mut walk = TemplateWalk {
        data,
        at: body,
        end: body.checked_add(size)?.min(data.len()),
    };
    walk.read_system()
}

/// A cursor over a template definition's tokens, which may only be of the kinds
/// [`TemplateWalk::read_system`] handles.
struct TemplateWalk<'d> {
    data: &'d [u8],
    at: usize,
    end: usize,
}

/// One token of a template definition, as far as the decision needs it.
#[derive(Debug, PartialEq)]
enum Token {
    /// An element start, with whether its name is the one looked for and the value it
    /// depends on, if any.
    Open {
        named: bool,
        dependency: Option<u16>,
    },
    CloseStart,
    CloseEmpty,
    End,
    Attribute(String),
    /// Literal text.
    Text,
    Substitution(u16),
}

impl TemplateWalk<'_> {
    /// Reads `<Event>`'s start and `<System>`, which must be its first element.
    fn read_system(&mut self) -> Option<TemplateFacts> {
        if self.data.get(self.at) == Some(&FRAGMENT_HEADER) {
            self.at += 4;
        }
        let mut slots = Vec::new();
        // The root is rendered whatever it depends on.
        self.expect_open("Event")?;
        self.read_content_start(&mut slots)?;
        let mut dependencies: Vec<u16> = self.expect_open("System")?.into_iter().collect();
        self.read_content_start(&mut slots)?;
        let (event_id_slot, dependency) = self.read_system_children(&mut slots)?;
        dependencies.extend(dependency);
        Some(TemplateFacts {
            event_id_slot,
            system_slots: slots,
            dependencies,
        })
    }

    /// Reads up to the start of the next element, which must be `name`, and returns the
    /// value it depends on; literal text may come first.
    fn expect_open(&mut self, name: &str) -> Option<Option<u16>> {
        loop {
            match self.next_token(name)? {
                Token::Text => {}
                Token::Open {
                    named: true,
                    dependency,
                } => return Some(dependency),
                _ => return None,
            }
        }
    }

    /// Reads an element's attributes up to the end of its start tag, noting their
    /// substitutions; true when the element is closed there (empty). An attribute named
    /// twice is not read (the XML reader would stop at it).
    fn read_start_tag(&mut self, slots: &mut Vec<u16>) -> Option<bool> {
        let mut names = Vec::new();
        loop {
            match self.next_token("")? {
                Token::CloseStart => return Some(false),
                Token::CloseEmpty => return Some(true),
                Token::Attribute(name) if names.contains(&name) => return None,
                Token::Attribute(name) => names.push(name),
                Token::Text => {}
                Token::Substitution(slot) => slots.push(slot),
                Token::Open { .. } | Token::End => return None,
            }
        }
    }

    /// As [`TemplateWalk::read_start_tag`], for an element that must have content.
    fn read_content_start(&mut self, slots: &mut Vec<u16>) -> Option<()> {
        (!self.read_start_tag(slots)?).then_some(())
    }

    /// Reads `<System>`'s content up to its end: the slot of its one `<EventID>`, and the
    /// value that element depends on.
    fn read_system_children(&mut self, slots: &mut Vec<u16>) -> Option<(u16, Option<u16>)> {
        let mut event_id = None;
        let mut depth = 0usize;
        loop {
            match self.next_token("EventID")? {
                Token::Open { named, dependency } if depth == 0 && named => {
                    if event_id.is_some() {
                        return None;
                    }
                    event_id = Some((self.read_event_id(slots)?, dependency));
                }
                Token::Open { .. } => depth += usize::from(!self.read_start_tag(slots)?),
                Token::End if depth == 0 => return event_id,
                Token::End => depth -= 1,
                Token::Substitution(slot) => slots.push(slot),
                Token::Text => {}
                Token::CloseStart | Token::CloseEmpty | Token::Attribute(_) => return None,
            }
        }
    }

    /// Reads an `<EventID>` element after its name: its content must be one substitution.
    fn read_event_id(&mut self, slots: &mut Vec<u16>) -> Option<u16> {
        self.read_content_start(slots)?;
        let Token::Substitution(slot) = self.next_token("")? else {
            return None;
        };
        (self.next_token("")? == Token::End).then(|| {
            slots.push(slot);
            slot
        })
    }

    /// The next token; an element start's name is compared with `name`.
    fn next_token(&mut self, name: &str) -> Option<Token> {
        if self.at >= self.end {
            return None;
        }
        let token = *self.data.get(self.at)?;
        self.at += 1;
        match token & !HAS_MORE {
            OPEN_START => {
                let dependency = u16_at(self.data, self.at)?;
                // Dependency id, data size, name.
                self.at += 6;
                let named = self.name()? == name;
                if token & HAS_MORE != 0 {
                    self.at += 4; // attribute list size
                }
                Some(Token::Open {
                    named,
                    dependency: (dependency != NO_DEPENDENCY).then_some(dependency),
                })
            }
            CLOSE_START if token == CLOSE_START => Some(Token::CloseStart),
            CLOSE_EMPTY if token == CLOSE_EMPTY => Some(Token::CloseEmpty),
            END_ELEMENT if token == END_ELEMENT => Some(Token::End),
            VALUE => self.string_value().map(|()| Token::Text),
            ATTRIBUTE => self.name().map(Token::Attribute),
            SUBSTITUTION | OPTIONAL_SUBSTITUTION if token & HAS_MORE == 0 => {
                let slot = u16_at(self.data, self.at)?;
                self.at += 3;
                Some(Token::Substitution(slot))
            }
            _ => None,
        }
    }

    /// Passes over a literal string value (the only literal type handled).
    fn string_value(&mut self) -> Option<()> {
        if *self.data.get(self.at)? != STRING {
            return None;
        }
        let chars = u16_at(self.data, self.at + 1)? as usize;
        self.at += 3 + 2 * chars;
        Some(())
    }

    /// Reads a name reference (a string in the chunk's table, or stored right here) and
    /// returns the name, when it is plain ASCII an XML parser reads as written.
    fn name(&mut self) -> Option<String> {
        let offset = u32_at(self.data, self.at)? as usize;
        self.at += 4;
        let chars = u16_at(self.data, offset + 6)? as usize;
        if offset == self.at {
            // Link (6), length (2), characters, NUL (2).
            self.at += 10 + 2 * chars;
        }
        let units = self.data.get(offset + 8..offset + 8 + 2 * chars)?;
        units
            .chunks_exact(2)
            .map(|unit| match unit {
                [c, 0] if c.is_ascii_alphanumeric() || b"_-.".contains(c) => Some(char::from(*c)),
                _ => None,
            })
            .collect::<Option<String>>()
            .filter(|name| !name.is_empty())
    }
}

fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(data.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

/// Every record of the EVTX file at `path` with the event id [`SkipCheck`] would skip it
/// under unrendered, and the item it yields rendered: for the test that they agree.
#[doc(hidden)]
pub fn skip_audit(path: &Path) -> Result<Vec<(Option<String>, Item)>, IngestError> {
    let error = |e: &dyn std::fmt::Display| IngestError::Evtx {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let settings = settings();
    let mut parser = EvtxParser::from_path(path)
        .map_err(|e| error(&e))?
        .with_configuration(settings.as_ref().clone());
    let mut audit = Vec::new();
    for chunk in parser.chunks() {
        let mut data = chunk.map_err(|e| error(&e))?;
        let mut chunk = data.parse(Arc::clone(&settings)).map_err(|e| error(&e))?;
        let mut check = SkipCheck::default();
        for record in chunk.iter() {
            let record = record.map_err(|e| error(&e))?;
            let label = check.skip_label(&record);
            let rendered = match record.into_xml() {
                Ok(xml) => Record::Xml(xml.data),
                Err(e) => Record::Bad(e.to_string()),
            };
            audit.push((label, evtx_item(audit.len() as u64 + 1, rendered)));
        }
    }
    Ok(audit)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chunk's bytes, written as the tests go: template definitions and record streams.
    #[derive(Default)]
    struct Bytes(Vec<u8>);

    impl Bytes {
        fn put(&mut self, bytes: &[u8]) -> &mut Self {
            self.0.extend_from_slice(bytes);
            self
        }

        fn u16(&mut self, v: u16) -> &mut Self {
            self.put(&v.to_le_bytes())
        }

        fn u32(&mut self, v: u32) -> &mut Self {
            self.put(&v.to_le_bytes())
        }

        fn utf16(&mut self, s: &str) -> &mut Self {
            s.encode_utf16().for_each(|u| {
                self.u16(u);
            });
            self
        }

        /// A name stored in place (its offset is where it is).
        fn name(&mut self, name: &str) -> &mut Self {
            let here = self.0.len() as u32 + 4;
            self.u32(here).u32(0).u16(0).u16(name.len() as u16);
            self.utf16(name).u16(0)
        }

        fn open(&mut self, name: &str, dependency: u16, attributes: bool) -> &mut Self {
            let token = if attributes { 0x41 } else { OPEN_START };
            self.put(&[token]).u16(dependency).u32(0).name(name);
            if attributes {
                self.u32(0);
            }
            self
        }

        fn substitution(&mut self, slot: u16, value_type: u8) -> &mut Self {
            self.put(&[OPTIONAL_SUBSTITUTION])
                .u16(slot)
                .put(&[value_type])
        }

        fn text(&mut self, text: &str) -> &mut Self {
            self.put(&[VALUE, STRING])
                .u16(text.len() as u16)
                .utf16(text)
        }
    }

    /// Where the parts of a hand-made template go.
    struct Shape<'a> {
        system: &'a str,
        provider_attributes: &'a [&'a str],
        event_id_dependency: u16,
        event_id_literal: bool,
    }

    const USUAL: Shape<'static> = Shape {
        system: "System",
        provider_attributes: &["Name"],
        event_id_dependency: NO_DEPENDENCY,
        event_id_literal: false,
    };

    /// A template definition at offset 0: `<Event xmlns='x'><System><Provider Name=%0/>
    /// <EventID>%1</EventID></System>%2</Event>`, shaped by `shape`.
    fn template(shape: &Shape<'_>) -> Bytes {
        let mut b = Bytes::default();
        b.u32(0).put(&[0; 16]).u32(0);
        b.put(&[FRAGMENT_HEADER, 1, 1, 0]);
        b.open("Event", NO_DEPENDENCY, true)
            .put(&[ATTRIBUTE])
            .name("xmlns");
        b.text("x").put(&[CLOSE_START]);
        b.open(shape.system, NO_DEPENDENCY, false)
            .put(&[CLOSE_START]);
        b.open("Provider", NO_DEPENDENCY, true);
        for attribute in shape.provider_attributes {
            b.put(&[ATTRIBUTE]).name(attribute).substitution(0, STRING);
        }
        b.put(&[CLOSE_EMPTY]);
        b.open("EventID", shape.event_id_dependency, false)
            .put(&[CLOSE_START]);
        if shape.event_id_literal {
            b.text("5");
        } else {
            b.substitution(1, UINT16);
        }
        b.put(&[END_ELEMENT, END_ELEMENT]).substitution(2, BINXML);
        b.put(&[END_ELEMENT, EOF]);
        let size = (b.0.len() - TEMPLATE_HEADER_SIZE) as u32;
        b.0[20..24].copy_from_slice(&size.to_le_bytes());
        b
    }

    /// Appends a record stream instancing the template at 0 with `values` (type, bytes),
    /// then `tail`; returns where the stream starts.
    fn record(b: &mut Bytes, values: &[(u8, Vec<u8>)], tail: &[u8]) -> usize {
        let start = b.0.len();
        b.put(&[FRAGMENT_HEADER, 1, 1, 0, TEMPLATE_INSTANCE, 1])
            .u32(7)
            .u32(0);
        b.u32(values.len() as u32);
        for (value_type, bytes) in values {
            b.u16(bytes.len() as u16).put(&[*value_type, 0]);
        }
        values.iter().for_each(|(_, bytes)| {
            b.put(bytes);
        });
        b.put(tail);
        start
    }

    fn utf16(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    fn usual_values(event_id: u16) -> Vec<(u8, Vec<u8>)> {
        vec![
            (STRING, utf16("Microsoft-Windows-Sysmon")),
            (UINT16, event_id.to_le_bytes().to_vec()),
            (BINXML, vec![EOF]),
        ]
    }

    fn label(shape: &Shape<'_>, values: &[(u8, Vec<u8>)], tail: &[u8]) -> Option<String> {
        let mut b = template(shape);
        let start = record(&mut b, values, tail);
        SkipCheck::default().label_of(&b.0, start, b.0.len())
    }

    #[test]
    fn other_event_ids_are_passed_over_and_process_ids_rendered() {
        assert_eq!(label(&USUAL, &usual_values(5), &[EOF]), Some("5".into()));
        assert_eq!(label(&USUAL, &usual_values(5447), &[]), Some("5447".into()));
        assert_eq!(label(&USUAL, &usual_values(1), &[EOF]), None);
        assert_eq!(label(&USUAL, &usual_values(4688), &[EOF]), None);
    }

    #[test]
    fn an_event_id_that_is_no_substitution_is_rendered() {
        let literal = Shape {
            event_id_literal: true,
            ..USUAL
        };
        assert_eq!(label(&literal, &usual_values(5), &[EOF]), None);
    }

    #[test]
    fn an_event_id_left_out_for_a_null_value_is_rendered() {
        let dependent = Shape {
            event_id_dependency: 0,
            ..USUAL
        };
        assert_eq!(
            label(&dependent, &usual_values(5), &[EOF]),
            Some("5".into())
        );
        let mut values = usual_values(5);
        values[0] = (0x00, Vec::new());
        assert_eq!(label(&dependent, &values, &[EOF]), None);
    }

    #[test]
    fn names_with_a_prefix_are_rendered() {
        let prefixed = Shape {
            system: "e:System",
            ..USUAL
        };
        assert_eq!(label(&prefixed, &usual_values(5), &[EOF]), None);
        let attribute = Shape {
            provider_attributes: &["x:Name"],
            ..USUAL
        };
        assert_eq!(label(&attribute, &usual_values(5), &[EOF]), None);
    }

    #[test]
    fn an_attribute_named_twice_in_system_is_rendered() {
        let two = Shape {
            provider_attributes: &["Name", "Guid"],
            ..USUAL
        };
        assert_eq!(label(&two, &usual_values(5), &[EOF]), Some("5".into()));
        let twice = Shape {
            provider_attributes: &["Name", "Name"],
            ..USUAL
        };
        assert_eq!(label(&twice, &usual_values(5), &[EOF]), None);
    }

    #[test]
    fn a_stream_that_goes_on_after_the_instance_is_rendered() {
        assert_eq!(label(&USUAL, &usual_values(5), &[END_ELEMENT]), None);
    }

    #[test]
    fn values_the_crate_might_read_differently_are_rendered() {
        // A provider name that is an array, where the XML reader reads it.
        let mut values = usual_values(5);
        values[0].0 = 0x81;
        assert_eq!(label(&USUAL, &values, &[EOF]), None);
        // A SID before the event id that claims more bytes than its size: the crate would
        // read past it.
        let sid = |sub_authorities: u8, size: usize| {
            let mut bytes = vec![1, sub_authorities, 0, 0, 0, 0, 0, 5];
            bytes.resize(size, 0);
            (SID, bytes)
        };
        let mut values = usual_values(5);
        values[0] = sid(2, 16);
        assert_eq!(label(&USUAL, &values, &[EOF]), Some("5".into()));
        values[0] = sid(3, 16);
        assert_eq!(label(&USUAL, &values, &[EOF]), None);
        // An event id stored wider than its type.
        let mut values = usual_values(5);
        values[1] = (UINT16, vec![5, 0, 0, 0]);
        assert_eq!(label(&USUAL, &values, &[EOF]), None);
    }
}
