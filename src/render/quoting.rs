//! Quoting for the syntaxes templates write into, behind the `yaml`, `json`, `ifcfg` and
//! `systemd` filters: whatever the string, the result is one value of the target syntax (one
//! YAML scalar, one JSON string, one ifcfg/shell word, one systemd command-line word) and can
//! neither end the line nor start another key, option or command. The inventory's typed
//! strings never need more than plain quotes; these functions are the second wall.

use std::fmt::Write as _;

use thiserror::Error;

/// A string no quoting can carry into the target syntax.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum QuoteError {
    /// ifcfg files are read line by line (initscripts, NetworkManager): no quoting carries a
    /// line break or another control character through every reader.
    #[error("{value:?} has a control character, which no ifcfg quoting carries")]
    IfcfgControl { value: String },
    /// systemd cannot pass a NUL byte in an argument.
    #[error("{value:?} has a NUL byte, which a systemd command line cannot carry")]
    SystemdNul { value: String },
}

/// A double-quoted scalar valid in YAML (1.1 and 1.2) and in TOML basic strings: `"` and `\`
/// escaped, every character outside printable ASCII written as `\uXXXX` (`\UXXXXXXXX` above
/// the BMP), so no line break (`\n`, NEL, U+2028) or BOM can reach the file.
pub fn yaml(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            c if (c as u32) <= 0xffff => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

/// A JSON string: like [`yaml`], with characters above the BMP as UTF-16 surrogate pairs.
pub fn json(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
    out
}

/// An ifcfg value (the files CentOS's initscripts source with bash): bare when it only has
/// `[A-Za-z0-9_@%+=:,./-]`, else in single quotes (`'` as `'\''`); a control character is
/// refused.
pub fn ifcfg(value: &str) -> Result<String, QuoteError> {
    if value.chars().any(char::is_control) {
        return Err(QuoteError::IfcfgControl { value: value.to_string() });
    }
    Ok(crate::shell::quote(value).into_owned())
}

/// One word of a systemd command line (`ExecStart=`), whole: bare when it only has
/// `[A-Za-z0-9_@+=:,./-]`, else in double quotes with `\"`, `\\` and C escapes for control
/// characters. `%` is written `%%` and `$` `$$` either way (systemd's specifiers and
/// variable expansion). Quote the whole argument (`--flag=value`): systemd before 233
/// recognizes quotes only at the start of a word.
pub fn systemd(value: &str) -> Result<String, QuoteError> {
    if value.contains('\0') {
        return Err(QuoteError::SystemdNul { value: value.to_string() });
    }
    let bare = !value.is_empty() && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"_@+=:,./-%$".contains(&b));
    let mut out = String::with_capacity(value.len() + 2);
    if !bare {
        out.push('"');
    }
    for c in value.chars() {
        match c {
            '%' => out.push_str("%%"),
            '$' => out.push_str("$$"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let mut bytes = [0u8; 4];
                for b in c.encode_utf8(&mut bytes).bytes() {
                    let _ = write!(out, "\\x{b:02x}");
                }
            }
            c => out.push(c),
        }
    }
    if !bare {
        out.push('"');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_values_only_gain_quotes() {
        assert_eq!(yaml("registry.k8s.io/pause:3.9"), "\"registry.k8s.io/pause:3.9\"");
        assert_eq!(json("cluster.local"), "\"cluster.local\"");
        assert_eq!(ifcfg("ens160").unwrap(), "ens160");
        assert_eq!(systemd("--cluster-name=demo").unwrap(), "--cluster-name=demo");
    }

    #[test]
    fn hostile_values_stay_one_value() {
        assert_eq!(yaml("a\"\nb: c\\"), r#""a\"\u000ab: c\\""#);
        assert_eq!(yaml("\u{2028}\u{85}😀"), r#""\u2028\u0085\U0001f600""#);
        assert_eq!(json("😀\n"), r#""\ud83d\ude00\u000a""#);
        assert_eq!(ifcfg("a b;$(id)'").unwrap(), r"'a b;$(id)'\'''");
        assert!(ifcfg("eth0\nIPADDR=x").is_err());
        assert_eq!(systemd("a b %n $HOME \"q\"\n").unwrap(), r#""a b %%n $$HOME \"q\"\n""#);
        assert_eq!(systemd("100%").unwrap(), "100%%");
        assert!(systemd("a\0b").is_err());
    }
}
