//! The XML of a camt file read into a small tree of elements, each knowing its path
//! (`Document/BkToCstmrStmt/Stmt[1]/Ntry[3]/Amt`), so that every refusal can say where.
//!
//! The file must be well-formed UTF-8 XML. Elements are known by their local names; every
//! element must be in the document's namespace, except inside a supplementary data envelope
//! (`Envlp`), which holds whatever its issuer defines. There is no DTD: a `DOCTYPE` is
//! refused, and of entity references only XML's five predefined ones (`&amp;` `&lt;` `&gt;`
//! `&apos;` `&quot;`) and character references are read.

use quick_xml::encoding::Decoder;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use crate::bank_files::FileError;

/// Elements that may repeat under their parent: their paths carry their 1-based position
/// among their same-named siblings (`Ntry[3]`), even when there is one.
const REPEATED: &[&str] = &[
    "Stmt",
    "Ntfctn",
    "Bal",
    "Ntry",
    "NtryDtls",
    "TxDtls",
    "Ustrd",
    "Strd",
    "RfrdDocInf",
];

/// How deep elements may nest; a camt message needs about fifteen levels.
const MAX_DEPTH: usize = 64;

/// The element that holds issuer-defined content in any namespace.
const ENVELOPE: &str = "Envlp";

/// Where a refusal points when no element is open (before or after the root).
pub const DOCUMENT_LEVEL: &str = "/";

#[derive(Debug)]
pub struct Element {
    /// The local name, without a namespace prefix.
    pub name: String,
    pub path: String,
    /// Attributes by local name, namespace declarations left out.
    attributes: Vec<(String, String)>,
    /// The text content, without leading and trailing white space.
    text: String,
    pub children: Vec<Element>,
}

pub fn refuse<T>(location: &str, reason: impl Into<String>) -> Result<T, FileError> {
    Err(FileError {
        location: location.to_string(),
        reason: reason.into(),
    })
}

impl Element {
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The child of that name, refusing a second one.
    pub fn one(&self, name: &str) -> Result<Option<&Element>, FileError> {
        let mut found = self.children.iter().filter(|c| c.name == name);
        let first = found.next();
        if let Some(second) = found.next() {
            return refuse(
                &second.path,
                format!(
                    "{name} is given twice in {}, where it may be given once",
                    self.name
                ),
            );
        }
        Ok(first)
    }

    /// The element at a relative path (`Fmly/SubFmlyCd`), each step given at most once.
    pub fn at(&self, path: &str) -> Result<Option<&Element>, FileError> {
        let mut here = self;
        for step in path.split('/') {
            match here.one(step)? {
                Some(next) => here = next,
                None => return Ok(None),
            }
        }
        Ok(Some(here))
    }

    /// Where an element of this relative path is, or would be.
    pub fn path_of(&self, relative: &str) -> String {
        format!("{}/{relative}", self.path)
    }

    /// The element's text; `None` when it is empty. An element with children has no text to
    /// give and is refused.
    pub fn text(&self) -> Result<Option<&str>, FileError> {
        if let Some(child) = self.children.first() {
            return refuse(
                &child.path,
                format!(
                    "{} holds text, not elements such as {}",
                    self.name, child.name
                ),
            );
        }
        Ok(Some(self.text.as_str()).filter(|t| !t.is_empty()))
    }

    /// The text at a relative path, when the element is there and not empty.
    pub fn text_at(&self, path: &str) -> Result<Option<&str>, FileError> {
        match self.at(path)? {
            Some(e) => e.text(),
            None => Ok(None),
        }
    }

    /// The text at a relative path, refusing its absence: `what` says what it is.
    pub fn required(&self, path: &str, what: &str) -> Result<&str, FileError> {
        match self.text_at(path)? {
            Some(text) => Ok(text),
            None => refuse(
                &self.path_of(path),
                format!("{what} ({path}) is missing or empty"),
            ),
        }
    }

    /// The element at a relative path, refusing its absence.
    pub fn required_element(&self, path: &str, what: &str) -> Result<&Element, FileError> {
        match self.at(path)? {
            Some(e) => Ok(e),
            None => refuse(&self.path_of(path), format!("{what} ({path}) is missing")),
        }
    }
}

/// An element being read: its namespace is checked when it opens.
struct Open {
    element: Element,
    /// Inside a supplementary data envelope, where any namespace goes.
    in_envelope: bool,
}

struct Builder {
    open: Vec<Open>,
    root: Option<Element>,
    namespace: Option<String>,
}

impl Builder {
    fn location(&self) -> String {
        self.open
            .last()
            .map_or(DOCUMENT_LEVEL.to_string(), |o| o.element.path.clone())
    }

    fn start(
        &mut self,
        start: &BytesStart,
        namespace: Result<Option<String>, String>,
        decoder: Decoder,
    ) -> Result<(), FileError> {
        let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
        let path = match self.open.last() {
            None if self.root.is_some() => {
                return refuse(
                    DOCUMENT_LEVEL,
                    format!("a second root element ({name}) after the first"),
                )
            }
            None => name.clone(),
            Some(parent) => {
                let parent = &parent.element;
                if REPEATED.contains(&name.as_str()) {
                    let n = parent.all(&name).count() + 1;
                    format!("{}/{name}[{n}]", parent.path)
                } else {
                    format!("{}/{name}", parent.path)
                }
            }
        };
        if self.open.len() >= MAX_DEPTH {
            return refuse(
                &path,
                format!("elements nest deeper than {MAX_DEPTH} levels"),
            );
        }
        let namespace = match namespace {
            Ok(ns) => ns,
            Err(prefix) => {
                return refuse(&path, format!("the prefix {prefix:?} is not declared"));
            }
        };
        let parent_in_envelope = self.open.last().map(|o| o.in_envelope);
        match parent_in_envelope {
            None => self.namespace = namespace,
            Some(true) => {}
            Some(false) if namespace != self.namespace => {
                return refuse(
                    &path,
                    format!(
                        "{name} is in namespace {:?}, not the document's {:?}",
                        namespace.unwrap_or_default(),
                        self.namespace.clone().unwrap_or_default()
                    ),
                );
            }
            Some(false) => {}
        }
        let mut attributes = Vec::new();
        for attribute in start.attributes() {
            let attribute = attribute.map_err(|e| FileError {
                location: path.clone(),
                reason: format!("an attribute is not well-formed: {e}"),
            })?;
            let key = attribute.key;
            if key.as_namespace_binding().is_some() {
                continue;
            }
            let value = attribute
                .decode_and_unescape_value(decoder)
                .map_err(|e| FileError {
                    location: path.clone(),
                    reason: format!("an attribute's value cannot be read: {e}"),
                })?;
            let key = String::from_utf8_lossy(key.local_name().as_ref()).into_owned();
            attributes.push((key, value.into_owned()));
        }
        let in_envelope = parent_in_envelope.unwrap_or(false) || name == ENVELOPE;
        self.open.push(Open {
            element: Element {
                name,
                path,
                attributes,
                text: String::new(),
                children: Vec::new(),
            },
            in_envelope,
        });
        Ok(())
    }

    fn end(&mut self) -> Result<(), FileError> {
        let Some(Open { mut element, .. }) = self.open.pop() else {
            return refuse(DOCUMENT_LEVEL, "an end tag with no element open");
        };
        let text = element.text.trim();
        if let (false, Some(child)) = (text.is_empty(), element.children.first()) {
            return refuse(
                &child.path,
                format!("{} holds both text and elements", element.name),
            );
        }
        element.text = text.to_string();
        match self.open.last_mut() {
            Some(parent) => parent.element.children.push(element),
            None => self.root = Some(element),
        }
        Ok(())
    }

    fn text(&mut self, text: &str) -> Result<(), FileError> {
        match self.open.last_mut() {
            Some(open) => open.element.text.push_str(text),
            None if text.trim().is_empty() => {}
            None => return refuse(DOCUMENT_LEVEL, "text outside the root element"),
        }
        Ok(())
    }
}

/// A reference's text: a character reference, or one of XML's predefined entities.
fn reference(r: &BytesRef, location: &str) -> Result<char, FileError> {
    match r.resolve_char_ref() {
        Ok(Some(c)) => return Ok(c),
        Ok(None) => {}
        Err(e) => return refuse(location, format!("a character reference is wrong: {e}")),
    }
    let name = String::from_utf8_lossy(r);
    match name.as_ref() {
        "amp" => Ok('&'),
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "apos" => Ok('\''),
        "quot" => Ok('"'),
        _ => refuse(
            location,
            format!(
                "the entity &{name}; is not one of XML's predefined entities, and no other \
                 is read"
            ),
        ),
    }
}

/// Reads a whole file into its root element and the root's namespace, or refuses it naming
/// the path reached and what is wrong.
pub fn parse(xml: &[u8]) -> Result<(Element, Option<String>), FileError> {
    let text = match std::str::from_utf8(xml) {
        Ok(text) => text,
        Err(e) => {
            return refuse(
                DOCUMENT_LEVEL,
                format!("the file is not UTF-8 text (byte {})", e.valid_up_to()),
            )
        }
    };
    let mut reader = NsReader::from_str(text);
    reader.config_mut().expand_empty_elements = true;
    let mut b = Builder {
        open: Vec::new(),
        root: None,
        namespace: None,
    };
    loop {
        let (resolved, event) = match reader.read_resolved_event() {
            Ok((resolved, event)) => (owned(resolved), event),
            Err(e) => {
                return refuse(
                    &b.location(),
                    format!(
                        "the XML is not well-formed at byte {}: {e}",
                        reader.error_position()
                    ),
                )
            }
        };
        match event {
            Event::Start(start) => b.start(&start, resolved, reader.decoder())?,
            Event::Empty(start) => {
                b.start(&start, resolved, reader.decoder())?;
                b.end()?;
            }
            Event::End(_) => b.end()?,
            Event::Text(t) => {
                let t = t.xml10_content().map_err(|e| FileError {
                    location: b.location(),
                    reason: format!("text cannot be read: {e}"),
                })?;
                b.text(&t)?;
            }
            Event::CData(t) => {
                let t = t.xml10_content().map_err(|e| FileError {
                    location: b.location(),
                    reason: format!("a CDATA section cannot be read: {e}"),
                })?;
                b.text(&t)?;
            }
            Event::GeneralRef(r) => {
                let c = reference(&r, &b.location())?;
                b.text(c.encode_utf8(&mut [0; 4]))?;
            }
            Event::Decl(decl) => {
                if let Some(Ok(encoding)) = decl.encoding() {
                    if !encoding.eq_ignore_ascii_case(b"UTF-8") {
                        return refuse(
                            DOCUMENT_LEVEL,
                            format!(
                                "the declared encoding is {:?}; camt files are UTF-8",
                                String::from_utf8_lossy(&encoding)
                            ),
                        );
                    }
                }
            }
            Event::DocType(_) => {
                return refuse(
                    DOCUMENT_LEVEL,
                    "a DOCTYPE declaration: a camt file has none, and no DTD is read",
                )
            }
            Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = b.open.last() {
        return refuse(
            &open.element.path,
            format!("the file ends before {} is closed", open.element.name),
        );
    }
    match b.root {
        Some(root) => Ok((root, b.namespace)),
        None => refuse(DOCUMENT_LEVEL, "the file holds no XML element"),
    }
}

/// The namespace an element is in: `Err` names an undeclared prefix.
fn owned(resolved: ResolveResult) -> Result<Option<String>, String> {
    match resolved {
        ResolveResult::Bound(ns) => Ok(Some(String::from_utf8_lossy(ns.as_ref()).into_owned())),
        ResolveResult::Unbound => Ok(None),
        ResolveResult::Unknown(prefix) => Err(String::from_utf8_lossy(&prefix).into_owned()),
    }
}
