//! Plain server-rendered HTML pages a person can browse: lists with links, property tables, filter forms and a
//! map of the features shown (MapLibre and a small script served from `/assets`). Nothing loads from
//! elsewhere, and every page reads without script.
//!
//! Handlers describe a page as data ([`Page`] with [`Block`]s of [`Span`]s); the templates in
//! `routes/templates/` turn it into HTML through `minijinja`, which escapes every value by default. No handler
//! writes markup.

use std::sync::LazyLock;

use minijinja::Environment;
use serde::Serialize;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};

const STYLE: &str = "body{font-family:system-ui,'Noto Sans CJK SC','PingFang SC',sans-serif;margin:0;color:#1d2733}\
header{background:#24476b;color:#fff;padding:.6em 1.2em}header a{color:#fff}main{padding:1em 1.2em;max-width:72em}\
nav.crumbs{font-size:.9em;margin-bottom:1em}table{border-collapse:collapse;margin:.5em 0}\
td,th{border:1px solid #ccd;padding:.25em .5em;vertical-align:top;text-align:left}th{background:#eef2f6}\
code{background:#f3f3f3;padding:0 .2em}.muted{color:#667}footer{font-size:.8em;color:#667;padding:1em 1.2em}\
#items-map{height:26em;border:1px solid #ccd;margin:.5em 0}form.filters{display:flex;flex-wrap:wrap;gap:.4em 1em;\
align-items:end;background:#f6f8fa;padding:.6em;border:1px solid #dde}form.filters label{display:flex;\
flex-direction:column;font-size:.85em}form.filters select,form.filters input{font-size:1em;padding:.15em}\
.swatch{display:inline-block;width:.8em;height:.8em;border-radius:50%;margin-right:.3em;vertical-align:-.05em}";

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    // Escapes as minijinja does (`&`, `<`, `>`, `"`, `'`), but leaves `/` alone so links read as written, and
    // writes booleans as JSON does.
    env.set_formatter(|out, state, value| {
        if state.auto_escape() == minijinja::AutoEscape::None || value.is_safe() {
            return minijinja::escape_formatter(out, state, value);
        }
        if value.is_undefined() || value.is_none() {
            return Ok(());
        }
        let text = match value.as_str() {
            Some(s) => s.to_owned(),
            None if value.kind() == minijinja::value::ValueKind::Bool => value.is_true().to_string(),
            None => value.to_string(),
        };
        out.write_str(&crate::export::style::xml(&text)).map_err(minijinja::Error::from)
    });
    // `.html` names turn on HTML escaping of every `{{ }}` (minijinja's default auto-escape callback).
    for (name, source) in [
        ("page.html", include_str!("templates/page.html")),
        ("map.html", include_str!("templates/map.html")),
        ("report.html", include_str!("templates/report.html")),
    ] {
        if let Err(e) = env.add_template(name, source) {
            tracing::error!(template = name, error = %e, "a built-in template does not compile");
        }
    }
    env
});

/// Renders a built-in template with `context`.
pub fn render(template: &str, context: &impl Serialize) -> ApiResult<String> {
    TEMPLATES
        .get_template(template)
        .and_then(|t| t.render(context))
        .map_err(|e| ApiError::Internal(format!("HTML template {template}: {e}")))
}

/// How a piece of text is shown.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Style {
    /// Plain text.
    #[default]
    Plain,
    /// `<code>`.
    Code,
    /// `<strong>`.
    Strong,
    /// Greyed out.
    Muted,
    /// Plain, followed by a line break.
    Break,
}

/// A piece of text, optionally a link.
#[derive(Debug, Clone, Serialize)]
pub struct Span {
    text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    href: Option<String>,
    style: Style,
}

impl Span {
    /// Plain text.
    pub fn text(text: impl Into<String>) -> Self {
        Self { text: text.into(), href: None, style: Style::Plain }
    }

    /// A link.
    pub fn link(text: impl Into<String>, href: impl Into<String>) -> Self {
        Self { text: text.into(), href: Some(href.into()), style: Style::Plain }
    }

    /// The same text in another style.
    #[must_use]
    pub fn styled(mut self, style: Style) -> Self {
        self.style = style;
        self
    }
}

/// A table cell: text pieces, or a JSON value shown as nested lists and tables.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    spans: Vec<Span>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<Value>,
}

impl Cell {
    /// A cell of text pieces.
    pub fn spans(spans: Vec<Span>) -> Self {
        Self { spans, value: None }
    }

    /// A cell of plain text.
    pub fn text(text: impl Into<String>) -> Self {
        Self::spans(vec![Span::text(text)])
    }

    /// A cell showing a JSON value.
    pub fn value(value: Value) -> Self {
        Self { spans: Vec::new(), value: Some(value) }
    }
}

impl From<Span> for Cell {
    fn from(s: Span) -> Self {
        Self::spans(vec![s])
    }
}

/// A row of a key–value table.
#[derive(Debug, Clone, Serialize)]
pub struct KeyValue {
    key: String,
    #[serde(flatten)]
    cell: Cell,
}

/// A part of a page.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Block {
    /// A paragraph.
    Paragraph {
        /// Its text.
        spans: Vec<Span>,
    },
    /// A second-level heading.
    Heading {
        /// Its text.
        text: String,
    },
    /// A bulleted list.
    List {
        /// The items.
        items: Vec<Vec<Span>>,
    },
    /// A table with a header row.
    Table {
        /// Column headings.
        head: Vec<String>,
        /// Rows of cells.
        rows: Vec<Vec<Cell>>,
    },
    /// A two-column table of names and values.
    KeyValues {
        /// The rows.
        rows: Vec<KeyValue>,
    },
    /// A list of JSON link objects (`href`, `rel`, `type`, `title`).
    Links {
        /// The links.
        links: Vec<Value>,
    },
    /// A JSON value as nested lists and tables (links made clickable).
    Value {
        /// The value.
        value: Value,
    },
    /// A map of the features this page shows, drawn by `assets/items.js` from the page's own GeoJSON over the
    /// plan's city and county borders.
    Map {
        /// What the script needs: category colours and names.
        config: Value,
    },
    /// A GET form that reloads the page with filters.
    Form {
        /// Where it submits.
        action: String,
        /// Its fields.
        fields: Vec<Field>,
        /// Parameters carried along unchanged (`f=html`, `limit`).
        hidden: Vec<(String, String)>,
    },
}

/// A form field.
#[derive(Debug, Clone, Serialize)]
pub struct Field {
    /// The query parameter.
    pub name: String,
    /// Its label (Chinese, then English).
    pub label: String,
    /// The current value.
    pub value: String,
    /// The choices (value, label) of a select; empty for a text box.
    pub options: Vec<(String, String)>,
}

/// A whole page.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    title: String,
    root: String,
    crumbs: Vec<Crumb>,
    blocks: Vec<Block>,
    footer: String,
    style: &'static str,
    /// The relative path from this page to the service's root (`../../../`), so assets load from the host
    /// and path the page came from.
    up: String,
    /// The page holds a map and needs MapLibre.
    map: bool,
}

#[derive(Debug, Clone, Serialize)]
struct Crumb {
    label: String,
    href: String,
}

impl Page {
    /// A page titled `title` with breadcrumbs (label, href) and a footer line.
    pub fn new(title: impl Into<String>, crumbs: &[(&str, String)], footer: &str) -> Self {
        Self {
            title: title.into(),
            root: crumbs.first().map_or_else(|| "/".to_owned(), |c| c.1.clone()),
            crumbs: crumbs.iter().map(|(l, h)| Crumb { label: (*l).to_owned(), href: h.clone() }).collect(),
            blocks: Vec::new(),
            footer: footer.to_owned(),
            style: STYLE,
            up: String::new(),
            map: false,
        }
    }

    /// Says how deep the page's path is below the service's root (`/collections/x/items` is 3), so its
    /// assets load by relative URL: a path of n segments resolves relative URLs against its n − 1 directories,
    /// so n − 1 `../` lead back to the root. (One more went above it: harmless at a host's root, where browsers
    /// stop, but behind a proxy's path prefix the assets were asked for outside it.)
    #[must_use]
    pub fn depth(mut self, segments: usize) -> Self {
        self.up = "../".repeat(segments.saturating_sub(1));
        self
    }

    /// Adds a map of the page's features.
    #[must_use]
    pub fn map(mut self, config: Value) -> Self {
        self.map = true;
        self.block(Block::Map { config })
    }

    /// Adds a block.
    #[must_use]
    pub fn block(mut self, b: Block) -> Self {
        self.blocks.push(b);
        self
    }

    /// Adds a paragraph of pieces.
    #[must_use]
    pub fn paragraph(self, spans: Vec<Span>) -> Self {
        self.block(Block::Paragraph { spans })
    }

    /// Adds a paragraph of plain text.
    #[must_use]
    pub fn text(self, text: impl Into<String>) -> Self {
        self.paragraph(vec![Span::text(text)])
    }

    /// Adds a heading.
    #[must_use]
    pub fn heading(self, text: impl Into<String>) -> Self {
        self.block(Block::Heading { text: text.into() })
    }

    /// Adds a table.
    #[must_use]
    pub fn table(self, head: &[&str], rows: Vec<Vec<Cell>>) -> Self {
        self.block(Block::Table { head: head.iter().map(|h| (*h).to_owned()).collect(), rows })
    }

    /// Adds a key–value table.
    #[must_use]
    pub fn key_values(self, rows: impl IntoIterator<Item = (String, Cell)>) -> Self {
        self.block(Block::KeyValues {
            rows: rows.into_iter().map(|(key, cell)| KeyValue { key, cell }).collect(),
        })
    }

    /// Adds a list of JSON link objects.
    #[must_use]
    pub fn links(self, links: &[Value]) -> Self {
        self.block(Block::Links { links: links.to_vec() })
    }

    /// Adds a JSON value.
    #[must_use]
    pub fn value(self, value: &Value) -> Self {
        self.block(Block::Value { value: value.clone() })
    }

    /// The page as HTML.
    pub fn render(&self) -> ApiResult<String> {
        render("page.html", self)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_value_is_escaped() {
        let evil = "<script>alert('x')</script>\"&";
        let html = Page::new(evil, &[(evil, format!("/?q={evil}"))], evil)
            .text(evil)
            .paragraph(vec![Span::link(evil, format!("https://e/{evil}")).styled(Style::Code)])
            .table(&[evil], vec![vec![Cell::text(evil), Cell::value(json!({ evil: [evil, {"k": evil}] }))]])
            .links(&[json!({"href": evil, "rel": evil, "type": evil, "title": evil})])
            .value(&json!([evil, null, "https://example.org/a?b=<c>"]))
            .render()
            .expect("renders");
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("alert('x')"), "quotes are escaped too: {html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(html.contains("<a href=\"https://example.org/a?b=&lt;c&gt;\">"), "{html}");
    }

    #[test]
    fn the_map_page_embeds_its_config_as_safe_json() {
        let html = render(
            "map.html",
            &json!({"config": {"name": "</script><script>x()</script>"}, "attribution": "a&b"}),
        )
        .expect("renders");
        assert!(!html.contains("</script><script>x()"), "{html}");
        assert!(html.contains("a&amp;b"), "{html}");
        assert!(html.contains("src=\"assets/map.js\""), "{html}");
    }

    #[test]
    fn values_render_as_lists_and_tables() {
        let html = Page::new("t", &[], "")
            .value(&json!({"a": ["x", "y"], "b": [], "c": [{"d": 1}], "e": null, "f": true}))
            .render()
            .expect("renders");
        assert!(html.contains("<tr><th>a</th><td>x, y</td></tr>"), "{html}");
        assert!(html.contains("<span class=\"muted\">(none)</span>"), "{html}");
        assert!(html.contains("<ol><li><table><tr><th>d</th><td>1</td></tr></table></li></ol>"), "{html}");
        assert!(html.contains("<span class=\"muted\">—</span>"), "{html}");
        assert!(html.contains("<td>true</td>"), "{html}");
    }
}
