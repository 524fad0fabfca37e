//! Topic templates: `sensors/{group}/{id}/temp`. Placeholders are `{group}`
//! (the group's name), `{id}` (the client's index in its group) and `{n}`
//! (the client's index in the whole profile).

/// The values a template is filled with.
#[derive(Debug, Clone, Copy)]
pub struct Fill<'a> {
    /// The group's name.
    pub group: &'a str,
    /// Index in the group.
    pub id: u32,
    /// Index in the profile.
    pub n: u32,
}

/// Checks that every `{...}` is a known placeholder and braces balance.
pub fn check(template: &str) -> Result<(), String> {
    expand(
        template,
        Fill {
            group: "g",
            id: 0,
            n: 0,
        },
    )
    .map(|_| ())
}

/// Fills a template.
pub fn expand(template: &str, fill: Fill<'_>) -> Result<String, String> {
    if template.is_empty() {
        return Err("empty".into());
    }
    let mut out = String::with_capacity(template.len() + 8);
    let mut rest = template;
    while let Some(open) = rest.find(['{', '}']) {
        out.push_str(&rest[..open]);
        if rest.as_bytes()[open] == b'}' {
            return Err(format!("`{template}`: `}}` without `{{`"));
        }
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err(format!("`{template}`: `{{` without `}}`"));
        };
        match &after[..close] {
            "group" => out.push_str(fill.group),
            "id" => out.push_str(&fill.id.to_string()),
            "n" => out.push_str(&fill.n.to_string()),
            other => {
                return Err(format!(
                "`{template}`: unknown placeholder `{{{other}}}` (use {{group}}, {{id}} or {{n}})"
            ))
            }
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fills_placeholders() {
        let f = Fill {
            group: "sensors",
            id: 7,
            n: 12,
        };
        assert_eq!(expand("s/{group}/{id}/t{n}", f).unwrap(), "s/sensors/7/t12");
        assert!(expand("a/{x}", f).is_err());
        assert!(expand("a/{id", f).is_err());
        assert!(expand("a/id}", f).is_err());
        assert!(check("").is_err());
    }

    proptest! {
        /// Text without braces comes out unchanged, and a filled template
        /// never keeps a brace.
        #[test]
        fn plain_text_is_kept(s in "[a-z/+#]{1,30}", id in 0u32..1000) {
            let f = Fill { group: "g", id, n: id };
            prop_assert_eq!(expand(&s, f).unwrap(), s.clone());
            let t = format!("{s}/{{id}}");
            let out = expand(&t, f).unwrap();
            let clean = !out.contains('{') && out.ends_with(&id.to_string());
            prop_assert!(clean, "{}", out);
        }
    }
}
