//! Node names for IPv6 hosts.
//!
//! The kubelet rejects `2002.db8.0.1..101` (`::` becomes `..`), so the address is fully
//! expanded instead: 8 groups of 4 lower-case hex digits joined by `.`. The result is always
//! 39 characters, always a valid RFC 1123 subdomain, and reversible.

use std::fmt;
use std::net::Ipv6Addr;

use serde::Serialize;

use super::NetError;

/// The RFC 1123 subdomain regex the Kubernetes API server applies to node names.
pub const RFC1123_SUBDOMAIN: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

/// A node name the kubelet can register: either the encoded address or a validated override.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct NodeName(String);

impl NodeName {
    /// Encodes an address: `2002:db8:0:1::101` -> `2002.0db8.0000.0001.0000.0000.0000.0101`.
    pub fn encode(address: Ipv6Addr) -> NodeName {
        let groups: Vec<String> = address.segments().iter().map(|g| format!("{g:04x}")).collect();
        NodeName(groups.join("."))
    }

    /// Decodes an encoded name back to its address; refuses anything that `encode` cannot produce.
    pub fn decode(text: &str) -> Result<Ipv6Addr, NetError> {
        let refuse = || NetError::NotEncodedNodeName { text: text.to_string() };
        let groups: Vec<&str> = text.split('.').collect();
        if groups.len() != 8 {
            return Err(refuse());
        }
        let mut segments = [0u16; 8];
        for (segment, group) in segments.iter_mut().zip(&groups) {
            let well_formed = group.len() == 4
                && group.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            if !well_formed {
                return Err(refuse());
            }
            *segment = u16::from_str_radix(group, 16).map_err(|_| refuse())?;
        }
        Ok(Ipv6Addr::from(segments))
    }

    /// Accepts an operator-chosen name if it is a valid RFC 1123 subdomain (at most 253 chars).
    pub fn parse_override(text: &str) -> Result<NodeName, NetError> {
        if is_rfc1123_subdomain(text) {
            Ok(NodeName(text.to_string()))
        } else {
            Err(NetError::InvalidNodeName { text: text.to_string() })
        }
    }

    /// The name as the kubelet registers it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// Hand-written equivalent of [`RFC1123_SUBDOMAIN`] plus the 253-character limit and the
/// 63-character label limit (the regex is checked against this in the tests).
fn is_rfc1123_subdomain(text: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_digit() || b.is_ascii_lowercase();
    text.len() <= 253
        && text.split('.').all(|label| {
            let bytes = label.as_bytes();
            match (bytes.first(), bytes.last()) {
                (Some(&first), Some(&last)) => {
                    label.len() <= 63
                        && alnum(first)
                        && alnum(last)
                        && bytes.iter().all(|&b| alnum(b) || b == b'-')
                }
                _ => false,
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn encodes_the_field_report_address() {
        let address: Ipv6Addr = "2002:db8:0:1::101".parse().unwrap();
        assert_eq!(NodeName::encode(address).as_str(), "2002.0db8.0000.0001.0000.0000.0000.0101");
    }

    #[test]
    fn every_textual_form_gives_one_name() {
        let forms = ["2002:db8:0:1::101", "2002:0DB8:0000:0001:0000:0000:0000:0101", "2002:db8::1:0:0:0:101"];
        let names: Vec<NodeName> = forms.iter().map(|f| NodeName::encode(f.parse().unwrap())).collect();
        assert!(names.windows(2).all(|w| w[0] == w[1]), "{names:?}");
    }

    #[test]
    fn decode_refuses_what_encode_cannot_produce() {
        for bad in [
            "2002.db8.0.1..101",
            "2002.0DB8.0000.0001.0000.0000.0000.0101",
            "2002.0db8.0000.0001.0000.0000.0101",
            "2002.0db8.0000.0001.0000.0000.0000.0101.0000",
            "2002.0db8.0000.0001.0000.0000.0000.010g",
            "2002.0db8.0000.0001.0000.0000.0000.+101",
            "",
        ] {
            assert_eq!(
                NodeName::decode(bad),
                Err(NetError::NotEncodedNodeName { text: bad.to_string() }),
                "{bad}"
            );
        }
    }

    #[test]
    fn overrides_must_be_rfc1123() {
        assert!(NodeName::parse_override("master-1.example").is_ok());
        for bad in ["Master", "-a", "a-", "a..b", "", "a_b", "2002:db8::1"] {
            assert!(NodeName::parse_override(bad).is_err(), "{bad}");
        }
        assert!(NodeName::parse_override(&"a".repeat(64)).is_err());
        assert!(NodeName::parse_override(&["a"; 127].join(".")).is_ok());
        assert!(NodeName::parse_override(&["a"; 128].join(".")).is_err());
    }

    proptest! {
        #[test]
        fn every_address_round_trips_and_is_a_valid_name(bits: u128) {
            let address = Ipv6Addr::from(bits);
            let name = NodeName::encode(address);
            let rfc1123 = regex::Regex::new(RFC1123_SUBDOMAIN).unwrap();
            prop_assert_eq!(name.as_str().len(), 39);
            prop_assert!(rfc1123.is_match(name.as_str()), "{}", name);
            prop_assert!(NodeName::parse_override(name.as_str()).is_ok());
            prop_assert_eq!(NodeName::decode(name.as_str()), Ok(address));
        }

        #[test]
        fn override_check_agrees_with_the_regex(text in "[a-z0-9.-]{1,40}") {
            let rfc1123 = regex::Regex::new(RFC1123_SUBDOMAIN).unwrap();
            let label_ok = text.split('.').all(|l| l.len() <= 63);
            prop_assert_eq!(NodeName::parse_override(&text).is_ok(), rfc1123.is_match(&text) && label_ok);
        }
    }
}
