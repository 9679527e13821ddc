//! Reading one file for the rules: line by line, each line with the key its value belongs to
//! (a YAML key path by indentation, `KEY=value`, `key: value`, `"key": value`, `--flag=value`),
//! so that an address is judged by where it stands.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::rules::Rule;

/// What kind of file, by name: decides how keys are found and which rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Yaml,
    GoMod,
    /// Anything else: `key = value`, `key: value`, `KEY=value`, `"key": value` on a line.
    Text,
}

impl Kind {
    pub fn of(name: &str) -> Kind {
        let lower = name.to_ascii_lowercase();
        if lower == "go.mod" {
            Kind::GoMod
        } else if lower.ends_with(".yaml") || lower.ends_with(".yml") {
            Kind::Yaml
        } else {
            Kind::Text
        }
    }
}

/// One finding of a rule on a line (1-based line and column, the column in characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub line: usize,
    pub column: usize,
    pub rule: Rule,
    /// The offending text.
    pub text: String,
}

/// Ports whose number alone says "this is host:port" after an IPv6 address.
const WELL_KNOWN_PORTS: &[u16] = &[
    22, 53, 80, 443, 2181, 2379, 2380, 3000, 3306, 5432, 5601, 5672, 6379, 6443, 7000, 7001, 8080, 8443, 8500, 8531, 8533, 9000, 9042, 9090, 9092, 9093, 9200, 9300, 10250, 11211,
    15672, 16379, 26379, 27017,
];

/// Key words that say a value is an endpoint (`host:port`), not a bare address.
const ENDPOINT_KEYS: &[&str] = &[
    "endpoint", "address", "addr", "url", "uri", "seed", "server", "nodes", "peer", "broker", "listen", "bind", "dsn", "master", "sentinel", "cluster", "upstream", "target", "connect", "hosts",
];

/// Every hit in `text`, a file of `kind`; lines that are only a comment are not judged.
pub fn scan(kind: Kind, text: &str) -> Vec<Hit> {
    let mut hits = Vec::new();
    let mut keys = KeyPath::default();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let trimmed = line.trim_start();
        if trimmed.is_empty() || ["#", "//", ";", "<!--"].iter().any(|c| trimmed.starts_with(c)) {
            continue;
        }
        let (key, value_at) = keys.line(kind, line);
        if kind == Kind::GoMod {
            go_mod(line, number, &mut hits);
            continue;
        }
        judge_line(line, number, &key, value_at, &mut hits);
    }
    hits
}

/// The key a line's value belongs to.
#[derive(Default)]
struct KeyPath {
    /// YAML: (indent, key) of the enclosing mappings.
    stack: Vec<(usize, String)>,
    /// Other files: the last key seen (a line without one continues it).
    last: String,
}

impl KeyPath {
    /// (the key path, lower case, `.`-joined; where the value starts in the line, in bytes).
    fn line(&mut self, kind: Kind, line: &str) -> (String, usize) {
        let indent = line.len() - line.trim_start().len();
        let body = &line[indent..];
        if kind == Kind::Yaml {
            let (item_indent, body) = match body.strip_prefix("- ") {
                Some(rest) => (indent + 2, rest),
                None => (indent, body),
            };
            let at = line.len() - body.len();
            if let Some((key, rest)) = yaml_key(body) {
                while self.stack.last().is_some_and(|(i, _)| *i >= item_indent) {
                    self.stack.pop();
                }
                self.stack.push((item_indent, key.to_ascii_lowercase()));
                let value_at = at + body.len() - rest.len();
                return (self.joined(), value_at);
            }
            while self.stack.last().is_some_and(|(i, _)| *i >= item_indent) {
                self.stack.pop();
            }
            return (self.joined(), at);
        }
        if let Some((key, value_at)) = text_key(line) {
            self.last = key;
            return (self.last.clone(), value_at);
        }
        (self.last.clone(), indent)
    }

    fn joined(&self) -> String {
        self.stack.iter().map(|(_, k)| k.as_str()).collect::<Vec<_>>().join(".")
    }
}

/// `key: rest` of a YAML mapping line (the key plain or quoted).
fn yaml_key(body: &str) -> Option<(&str, &str)> {
    let (key, rest) = if let Some(quoted) = body.strip_prefix('"').or_else(|| body.strip_prefix('\'')) {
        let end = quoted.find(['"', '\''])?;
        (&quoted[..end], quoted[end + 1..].strip_prefix(':')?)
    } else {
        let colon = body.find(": ").or_else(|| body.strip_suffix(':').map(|b| b.len()))?;
        (&body[..colon], &body[colon + 1..])
    };
    let plain = key.chars().all(|c| c.is_alphanumeric() || "_-./".contains(c)) && !key.is_empty();
    plain.then_some((key, rest))
}

/// `KEY=value`, `key = value`, `key: value` or `"key": value` on one line.
fn text_key(line: &str) -> Option<(String, usize)> {
    let body = line.trim_start();
    let offset = line.len() - body.len();
    let body_unquoted = body.strip_prefix('"');
    let (key, sep) = match body_unquoted {
        Some(rest) => {
            let end = rest.find('"')?;
            let after = rest[end + 1..].trim_start();
            after.starts_with(':').then_some((&rest[..end], offset + 1 + end + 1 + (rest[end + 1..].len() - after.len()) + 1))?
        }
        None => {
            let body = body.strip_prefix("export ").unwrap_or(body);
            let end = body.find(['=', ':'])?;
            let key = body[..end].trim_end();
            (key, line.len() - body.len() + end + 1)
        }
    };
    let plain = !key.is_empty() && key.chars().all(|c| c.is_alphanumeric() || "_-./".contains(c));
    plain.then(|| (key.to_ascii_lowercase(), sep))
}

/// Every rule but go.mod's, on one line whose value starts at `value_at`.
fn judge_line(line: &str, number: usize, key: &str, value_at: usize, hits: &mut Vec<Hit>) {
    let mut taken: Vec<(usize, usize)> = Vec::new();
    let hit = |hits: &mut Vec<Hit>, start: usize, end: usize, rule: Rule| {
        hits.push(Hit { line: number, column: line[..start].chars().count() + 1, rule, text: line[start..end].to_string() });
    };
    // URLs and DSNs first: their spans are not judged again as host:port.
    for (start, end) in urls(line) {
        taken.push((start, end));
        hit(hits, start, end, Rule::UnbracketedUrl);
    }
    for (start, end) in dsns(line) {
        taken.push((start, end));
        hit(hits, start, end, Rule::UnbracketedDsn);
    }
    let free = |start: usize, taken: &[(usize, usize)]| !taken.iter().any(|(s, e)| start >= *s && start < *e);
    for (start, end) in runs(line, |c| c.is_ascii_hexdigit() || c == ':' || c == '.') {
        if !free(start, &taken) || line[..start].ends_with('[') {
            continue;
        }
        let token = &line[start..end];
        let flag = flag_key(line, start);
        let key = flag.as_deref().unwrap_or(if start >= value_at { key } else { "" });
        if token.matches(':').count() >= 2 && unbracketed_host_port(token, key) {
            hit(hits, start, end, Rule::UnbracketedHostPort);
        }
    }
    for (start, end) in runs(line, |c| c.is_ascii_digit() || c == '.') {
        if let Some(rule) = ipv4(line, start, end).filter(|_| free(start, &taken)) {
            hit(hits, start, end, rule);
        }
    }
    for (start, end) in words(line, "localhost") {
        let rest = &line[end..];
        let port = rest.strip_prefix(':').is_some_and(|p| p.starts_with(|c: char| c.is_ascii_digit()));
        if free(start, &taken) && (port || line[..start].ends_with("://") || line[..start].ends_with('@')) {
            hit(hits, start, end, Rule::Ipv4Loopback);
        }
    }
    let lower = line.to_ascii_lowercase();
    if let Some(at) = lower.find("-djava.net.preferipv4stack=true") {
        hit(hits, at, at + "-Djava.net.preferIPv4Stack=true".len(), Rule::JavaPreferIpv4);
    }
    let value = line[value_at.min(line.len())..].trim().trim_matches(['"', '\'']);
    if elasticsearch_host_key(key) && value.starts_with('_') && !value.contains(":ipv6") {
        let start = line.find(value).unwrap_or(value_at);
        hit(hits, start, start + value.len(), Rule::ElasticsearchHost);
    }
    if (key.ends_with("ipfamilies") || key.ends_with("ipfamily")) && value.contains("IPv4") {
        let start = line[value_at.min(line.len())..].find("IPv4").map_or(value_at, |i| value_at + i);
        hit(hits, start, start + 4, Rule::KubernetesIpv4Family);
    }
}

/// Whether `token` (an address-like run with two colons or more) is an IPv6 address and a
/// port joined by ':': it must split at its last colon into an address and a port, and either
/// not be an address itself, or be judged by its place (an endpoint key, a well-known port).
fn unbracketed_host_port(token: &str, key: &str) -> bool {
    let Some((left, right)) = token.rsplit_once(':') else { return false };
    let Ok(port) = right.parse::<u16>() else { return false };
    if port == 0 || !right.bytes().all(|b| b.is_ascii_digit()) || left.parse::<Ipv6Addr>().is_err() {
        return false;
    }
    if token.parse::<Ipv6Addr>().is_err() {
        return true;
    }
    let endpoint = ENDPOINT_KEYS.iter().any(|k| key.contains(k));
    WELL_KNOWN_PORTS.contains(&port) || endpoint
}

/// An IPv4 literal spanning exactly `start..end` (not part of a longer dotted or word run).
fn ipv4(line: &str, start: usize, end: usize) -> Option<Rule> {
    let token = &line[start..end];
    let address: Ipv4Addr = token.parse().ok()?;
    let before = line[..start].chars().next_back();
    if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-') {
        return None;
    }
    let after = line[end..].chars().next();
    if after.is_some_and(|c| c.is_alphanumeric() || c == '_') {
        return None;
    }
    Some(if address.is_unspecified() {
        Rule::Ipv4Wildcard
    } else if address.is_loopback() {
        Rule::Ipv4Loopback
    } else {
        Rule::Ipv4Literal
    })
}

/// The name of the `--flag=` or `-Dname=` a token stands in, lower case.
fn flag_key(line: &str, start: usize) -> Option<String> {
    let before = &line[..start];
    let word_start = before.rfind([' ', '\t', '"', '\'', ',', '[']).map_or(0, |i| i + 1);
    let word = &before[word_start..];
    let flag = word.strip_prefix("--").or_else(|| word.strip_prefix('-'))?;
    let name = flag.split('=').next()?;
    (flag.contains('=') && !name.is_empty()).then(|| name.to_ascii_lowercase())
}

fn elasticsearch_host_key(key: &str) -> bool {
    ["network.host", "network.publish_host", "network.bind_host", "transport.host", "transport.publish_host", "http.host", "http.publish_host"].iter().any(|k| key.ends_with(k))
}

/// `scheme://HOST...` whose host is an unbracketed IPv6 literal: the authority's span.
fn urls(line: &str) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = line[from..].find("://") {
        let start = from + at + 3;
        let end = line[start..].find(|c: char| c.is_whitespace() || "/?#\"'<>,;)]}".contains(c)).map_or(line.len(), |i| start + i);
        let authority = &line[start..end];
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        if !host.starts_with('[') && host.matches(':').count() >= 2 && host.split(':').all(|g| g.is_empty() || g.chars().all(|c| c.is_ascii_hexdigit() || c == '.')) {
            found.push((start, end));
        }
        from = end.max(start);
    }
    found
}

/// `tcp(ADDR:PORT)` with an unbracketed IPv6 address: the span inside the parentheses.
fn dsns(line: &str) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = line[from..].find("tcp(") {
        let start = from + at + 4;
        let Some(close) = line[start..].find(')') else { break };
        let inner = &line[start..start + close];
        if !inner.starts_with('[') && inner.matches(':').count() >= 2 {
            found.push((start, start + close));
        }
        from = start + close;
    }
    found
}

/// Maximal runs of characters where `keep` holds: (start, end) byte spans.
fn runs(line: &str, keep: impl Fn(char) -> bool) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices() {
        match (keep(c), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                spans.push(trim_dots(line, s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        spans.push(trim_dots(line, s, line.len()));
    }
    spans
}

/// A run without the dots and colons that end a sentence or a key (`at 10.0.0.1.`, `a:`).
fn trim_dots(line: &str, start: usize, mut end: usize) -> (usize, usize) {
    while end > start && line[..end].ends_with('.') {
        end -= 1;
    }
    (start, end)
}

/// Where `word` stands as a whole word (ASCII case ignored).
fn words(line: &str, word: &str) -> Vec<(usize, usize)> {
    let lower = line.to_ascii_lowercase();
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = lower[from..].find(word) {
        let start = from + at;
        let end = start + word.len();
        let before = lower[..start].chars().next_back();
        let after = lower[end..].chars().next();
        if !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '.') && !after.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-') {
            found.push((start, end));
        }
        from = end;
    }
    found
}

/// go.mod: go-redis modules with the MOVED/ASK address bug.
fn go_mod(line: &str, number: usize, hits: &mut Vec<Hit>) {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let (module, version) = match fields.as_slice() {
        ["require", module, version, ..] | [module, version, ..] => (*module, *version),
        _ => return,
    };
    let old = module == "github.com/go-redis/redis" || module.starts_with("github.com/go-redis/redis/");
    let before_fix = module == "github.com/redis/go-redis/v9" && semver(version).is_some_and(|v| v < (9, 5, 2));
    if old || before_fix {
        let start = line.find(module).unwrap_or(0);
        let end = line.find(version).map_or(line.len(), |i| i + version.len());
        hits.push(Hit { line: number, column: line[..start].chars().count() + 1, rule: Rule::GoRedis, text: line[start..end].to_string() });
    }
}

/// `vMAJOR.MINOR.PATCH[-...]`.
fn semver(version: &str) -> Option<(u64, u64, u64)> {
    let core = version.strip_prefix('v')?.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    Some((parts.next()??, parts.next()??, parts.next()??))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(kind: Kind, text: &str) -> Vec<(usize, Rule, String)> {
        scan(kind, text).into_iter().map(|h| (h.line, h.rule, h.text)).collect()
    }

    #[test]
    fn host_port_is_judged_by_its_place() {
        // Not an address at all: 9 groups.
        assert_eq!(rules(Kind::Text, "x = 2001:db8:1:2:3:4:5:6:6379\n"), [(1, Rule::UnbracketedHostPort, "2001:db8:1:2:3:4:5:6:6379".into())]);
        // Valid as an address, but a well-known port, or an endpoint key.
        assert_eq!(rules(Kind::Text, "cache=2001:db8::5:6379\n").len(), 1);
        assert_eq!(rules(Kind::Yaml, "redis:\n  address: 2001:db8::5:7777\n").len(), 1);
        // A bare address under a host key, or bracketed: fine.
        assert!(rules(Kind::Yaml, "db:\n  host: 2001:db8::5:7777\n").is_empty());
        assert!(rules(Kind::Text, "server = [2001:db8::5]:6379\n").is_empty());
        assert!(rules(Kind::Text, "node = 2002:db8:0:1::101\n").is_empty());
        // A flag names its value.
        assert_eq!(rules(Kind::Text, "args: --etcd-servers=2001:db8::1:7777\n").len(), 1);
    }

    #[test]
    fn urls_dsns_and_ipv4() {
        assert_eq!(rules(Kind::Text, "url: redis://2001:db8::5:6379/0\n"), [(1, Rule::UnbracketedUrl, "2001:db8::5:6379".into())]);
        assert!(rules(Kind::Text, "url: redis://[2001:db8::5]:6379/0\n").is_empty());
        assert_eq!(rules(Kind::Text, "dsn = user:pw@tcp(2002:db8:0:1::101:3306)/app\n"), [(1, Rule::UnbracketedDsn, "2002:db8:0:1::101:3306".into())]);
        assert!(rules(Kind::Text, "dsn = user:pw@tcp([2002:db8:0:1::101]:3306)/app\n").is_empty());
        assert_eq!(rules(Kind::Text, "bind=0.0.0.0\nhealth: http://127.0.0.1:8080/\nhost=10.1.2.3\n").iter().map(|(_, r, _)| *r).collect::<Vec<_>>(), [Rule::Ipv4Wildcard, Rule::Ipv4Loopback, Rule::Ipv4Literal]);
        assert_eq!(rules(Kind::Text, "addr=localhost:6379\n")[0].1, Rule::Ipv4Loopback);
        assert!(rules(Kind::Text, "version = v1.2.3.4\nname = localhost-proxy\n").is_empty());
        assert!(rules(Kind::Text, "# bind 0.0.0.0 in the old days\n").is_empty(), "comments are not judged");
    }

    #[test]
    fn go_mod_java_elasticsearch_and_kubernetes() {
        let go = "module x\nrequire (\n\tgithub.com/go-redis/redis/v8 v8.11.5\n\tgithub.com/redis/go-redis/v9 v9.5.1\n)\nrequire github.com/redis/go-redis/v9 v9.5.2\n";
        assert_eq!(rules(Kind::GoMod, go).iter().map(|(l, _, _)| *l).collect::<Vec<_>>(), [3, 4]);
        assert_eq!(rules(Kind::Text, "JAVA_OPTS=\"-Xmx1g -Djava.net.preferIPv4Stack=true\"\n")[0].1, Rule::JavaPreferIpv4);
        assert_eq!(rules(Kind::Yaml, "network:\n  publish_host: _site_\n")[0].1, Rule::ElasticsearchHost);
        assert_eq!(rules(Kind::Yaml, "network.host: _global_\n")[0].1, Rule::ElasticsearchHost);
        assert!(rules(Kind::Yaml, "network:\n  publish_host: _eth0:ipv6_\n  host: \"::\"\n").is_empty());
        assert_eq!(rules(Kind::Yaml, "spec:\n  ipFamilies:\n    - IPv4\n")[0].1, Rule::KubernetesIpv4Family);
        assert_eq!(rules(Kind::Yaml, "spec:\n  ipFamilies: [IPv4]\n")[0].1, Rule::KubernetesIpv4Family);
        assert!(rules(Kind::Yaml, "spec:\n  ipFamilies: [IPv6]\n").is_empty());
    }
}
