//! Scanners for what must never appear in rendered files: IPv4 literals, and IPv6 addresses
//! followed by an unbracketed port.

use std::net::Ipv6Addr;

use regex::Regex;

/// Every dotted-quad IPv4 literal in `text` (`127.0.0.1`, `0.0.0.0`, `169.254.20.10`, `10.x`).
pub fn ipv4_literals(text: &str) -> Vec<String> {
    let dotted_quad = Regex::new(r"(?:^|[^0-9.])((?:[0-9]{1,3}\.){3}[0-9]{1,3})(?:[^0-9.]|$)").unwrap();
    dotted_quad.captures_iter(text).map(|c| c[1].to_string()).collect()
}

/// IPv6-looking tokens that are not a known address: `2002:db8:0:1::101:2379` parses as an
/// address too, so the only sound check is that every address written is one the inventory
/// gave (or `::`, `::1`), and that bracketed ones parse. `known` lists the allowed addresses.
pub fn unbracketed_ports(text: &str, known: &[Ipv6Addr]) -> Vec<String> {
    let token = Regex::new(r"[0-9A-Fa-f:]*:[0-9A-Fa-f:]*:[0-9A-Fa-f:]*").unwrap();
    let mut found = Vec::new();
    for m in token.find_iter(text) {
        let before = text[..m.start()].chars().next_back();
        let after = text[m.end()..].chars().next();
        let in_word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if in_word(before) || in_word(after) || before == Some('.') {
            continue; // part of a word such as `system:node:...` or `https://`
        }
        let line = text[..m.start()].lines().count().max(1);
        match m.as_str().parse::<Ipv6Addr>() {
            Ok(address) if known.contains(&address) => {}
            Ok(_) => found.push(format!("line {line}: {} is no known address (an unbracketed addr:port?)", m.as_str())),
            Err(_) => found.push(format!("line {line}: {} is not an address (an unbracketed addr:port?)", m.as_str())),
        }
    }
    found
}

#[test]
fn scanners_catch_what_they_are_for() {
    assert_eq!(ipv4_literals("a 127.0.0.1:80 b 0.0.0.0 c 169.254.20.10"), ["127.0.0.1", "0.0.0.0", "169.254.20.10"]);
    assert!(ipv4_literals("image: flannel:v0.25.5 2002.0db8.0000.0001.0000.0000.0000.0101 1.27.15").is_empty());
    let known: Vec<Ipv6Addr> = ["2002:db8:0:1::101", "::1", "::"].iter().map(|a| a.parse().unwrap()).collect();
    for bad in ["x 2002:db8:0:1::101:2379", "x=::1:6443", "\":::10256\"", "[2002:db8:0:1::101:2379]"] {
        assert_eq!(unbracketed_ports(bad, &known).len(), 1, "{bad}");
    }
    for good in ["https://[2002:db8:0:1::101]:2379", "address: \"::\"", "[::1]:6443", "user: system:node:2002.0db8", "IPV6ADDR=2002:db8:0:1::101/64"] {
        assert!(unbracketed_ports(good, &known).is_empty(), "{good}");
    }
}
