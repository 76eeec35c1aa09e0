//! Plain server-rendered HTML pages a person can browse: lists with links and property tables. No script and
//! nothing loaded from elsewhere.

use std::fmt::Write;

use serde_json::Value;

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,'Noto Sans CJK SC','PingFang SC',sans-serif;margin:0;color:#1d2733}\
header{background:#24476b;color:#fff;padding:.6em 1.2em}header a{color:#fff}main{padding:1em 1.2em;max-width:72em}\
nav.crumbs{font-size:.9em;margin-bottom:1em}table{border-collapse:collapse;margin:.5em 0}\
td,th{border:1px solid #ccd;padding:.25em .5em;vertical-align:top;text-align:left}th{background:#eef2f6}\
code{background:#f3f3f3;padding:0 .2em}.muted{color:#667}footer{font-size:.8em;color:#667;padding:1em 1.2em}";

/// A whole page: title, breadcrumbs (label, href) and body HTML (already escaped).
pub fn page(title: &str, crumbs: &[(&str, String)], body: &str, footer: &str) -> String {
    let mut nav = String::new();
    for (i, (label, href)) in crumbs.iter().enumerate() {
        if i > 0 {
            nav.push_str(" › ");
        }
        let _ = write!(nav, "<a href=\"{}\">{}</a>", escape(href), escape(label));
    }
    format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width,initial-scale=1\"><title>{t} · planatlas</title><style>{STYLE}</style></head>\
         <body><header><strong><a href=\"{root}\">planatlas</a></strong> · 辽宁“一圈一带两区” · {t}</header><main>\
         <nav class=\"crumbs\">{nav}</nav><h1>{t}</h1>{body}</main><footer>{footer}</footer></body></html>",
        t = escape(title),
        root = escape(crumbs.first().map_or("/", |c| c.1.as_str())),
        footer = escape(footer),
    )
}

/// A value as HTML: strings escaped (links made clickable), arrays as lists, objects as nested tables.
pub fn value(v: &Value) -> String {
    match v {
        Value::Null => "<span class=\"muted\">—</span>".to_owned(),
        Value::String(s) if s.starts_with("http://") || s.starts_with("https://") => {
            format!("<a href=\"{0}\">{0}</a>", escape(s))
        }
        Value::String(s) => escape(s),
        Value::Bool(_) | Value::Number(_) => escape(&v.to_string()),
        Value::Array(items) if items.is_empty() => "<span class=\"muted\">(none)</span>".to_owned(),
        Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
            items.iter().map(value).collect::<Vec<_>>().join(", ")
        }
        Value::Array(items) => {
            let mut s = String::from("<ol>");
            for i in items {
                let _ = write!(s, "<li>{}</li>", value(i));
            }
            s.push_str("</ol>");
            s
        }
        Value::Object(map) => {
            let mut s = String::from("<table>");
            for (k, v) in map {
                let _ = write!(s, "<tr><th>{}</th><td>{}</td></tr>", escape(k), value(v));
            }
            s.push_str("</table>");
            s
        }
    }
}

/// A list of links from JSON link objects.
pub fn links(links: &[Value]) -> String {
    let mut s = String::from("<ul>");
    for l in links {
        let href = l.get("href").and_then(Value::as_str).unwrap_or("");
        let title = l.get("title").and_then(Value::as_str).unwrap_or(href);
        let rel = l.get("rel").and_then(Value::as_str).unwrap_or("");
        let ty = l.get("type").and_then(Value::as_str).unwrap_or("");
        let _ = write!(
            s,
            "<li><a href=\"{}\">{}</a> <span class=\"muted\">({}; {})</span></li>",
            escape(href),
            escape(title),
            escape(rel),
            escape(ty)
        );
    }
    s.push_str("</ul>");
    s
}
