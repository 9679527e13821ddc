//! The rules of `v6deploy lint`: each an application pitfall of the field report, with why it
//! breaks on an IPv6 single-stack site and what to write instead.

use serde::Serialize;

/// One rule (its name is what `--rule`, `--skip` and an inline `v6deploy-lint: allow NAME`
/// take).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// An IPv6 literal where `host:port` belongs, without brackets.
    UnbracketedHostPort,
    /// A URL whose host is an IPv6 literal without brackets.
    UnbracketedUrl,
    /// A Go MySQL DSN `tcp(ADDR:PORT)` with an unbracketed IPv6 address.
    UnbracketedDsn,
    /// `0.0.0.0`: binds IPv4 only.
    Ipv4Wildcard,
    /// `127.0.0.1` or `localhost` as an endpoint.
    Ipv4Loopback,
    /// Any other IPv4 literal.
    Ipv4Literal,
    /// go-redis versions that split MOVED/ASK addresses at the first colon.
    GoRedis,
    /// `-Djava.net.preferIPv4Stack=true`.
    JavaPreferIpv4,
    /// Elasticsearch `network.host` / `publish_host` / `bind_host` that is not IPv6.
    ElasticsearchHost,
    /// A Kubernetes Service asking for the IPv4 family.
    KubernetesIpv4Family,
}

impl Rule {
    pub const ALL: [Rule; 10] = [
        Rule::UnbracketedHostPort,
        Rule::UnbracketedUrl,
        Rule::UnbracketedDsn,
        Rule::Ipv4Wildcard,
        Rule::Ipv4Loopback,
        Rule::Ipv4Literal,
        Rule::GoRedis,
        Rule::JavaPreferIpv4,
        Rule::ElasticsearchHost,
        Rule::KubernetesIpv4Family,
    ];

    /// The kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            Rule::UnbracketedHostPort => "unbracketed-host-port",
            Rule::UnbracketedUrl => "unbracketed-url",
            Rule::UnbracketedDsn => "unbracketed-dsn",
            Rule::Ipv4Wildcard => "ipv4-wildcard",
            Rule::Ipv4Loopback => "ipv4-loopback",
            Rule::Ipv4Literal => "ipv4-literal",
            Rule::GoRedis => "go-redis",
            Rule::JavaPreferIpv4 => "java-prefer-ipv4",
            Rule::ElasticsearchHost => "elasticsearch-host",
            Rule::KubernetesIpv4Family => "kubernetes-ipv4-family",
        }
    }

    /// The rule named `name`.
    pub fn named(name: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.name() == name)
    }

    /// Why it breaks on an IPv6 single-stack site.
    pub fn why(self) -> &'static str {
        match self {
            Rule::UnbracketedHostPort => {
                "an IPv6 address and a port joined by ':' cannot be told apart (the port reads as the address's last group): clients split it wrongly or reject it (`too many colons in address`)"
            }
            Rule::UnbracketedUrl => "a URL's IPv6 host must be in brackets (RFC 3986): without them the parser takes a group of the address for the port",
            Rule::UnbracketedDsn => "the Go MySQL driver reads `tcp(ADDR:PORT)` with an unbracketed IPv6 address as one address and dials it with the default port",
            Rule::Ipv4Wildcard => "0.0.0.0 binds IPv4 only: on an IPv6-only host nothing can reach the service",
            Rule::Ipv4Loopback => "a single-stack pod or host has no IPv4 route; 127.0.0.1 reaches only what also listens on IPv4, and `localhost` may resolve to 127.0.0.1 first",
            Rule::Ipv4Literal => "an IPv6-only site has no IPv4 addresses or routes: this address cannot be reached",
            Rule::GoRedis => {
                "Redis cluster's MOVED/ASK replies carry unbracketed IPv6 addresses (`MOVED 14443 2002:db8:0:1::103:8533`); go-redis before v9.5.2 (and github.com/go-redis/redis, every version) splits them at the wrong colon and fails with `too many colons in address`"
            }
            Rule::JavaPreferIpv4 => "it makes the JVM use IPv4 sockets only: on an IPv6-only host every connection fails",
            Rule::ElasticsearchHost => {
                "Elasticsearch publishes the first address of what this names; in a pod that is 127.0.0.1 for the defaults and `_site_`/`_global_` found no usable IPv6, so the nodes could not form a cluster (`handshake failed. unexpected remote node`)"
            }
            Rule::KubernetesIpv4Family => "a single-stack IPv6 cluster has no IPv4 Service range: a Service asking for IPv4 is refused or gets no address",
        }
    }

    /// What to write instead.
    pub fn fix(self) -> &'static str {
        match self {
            Rule::UnbracketedHostPort => "bracket the address: [2001:db8::5]:6379",
            Rule::UnbracketedUrl => "bracket the host: http://[2001:db8::5]:8080/",
            Rule::UnbracketedDsn => "bracket the address: tcp([2001:db8::5]:3306)",
            Rule::Ipv4Wildcard => "bind [::] (or ::), which takes IPv6 (and IPv4 where the host has it)",
            Rule::Ipv4Loopback => "use [::1] (::1 without a port)",
            Rule::Ipv4Literal => "use the service's IPv6 address or its DNS name",
            Rule::GoRedis => "use github.com/redis/go-redis/v9 v9.5.2 or later",
            Rule::JavaPreferIpv4 => "remove it (or set -Djava.net.preferIPv6Addresses=true)",
            Rule::ElasticsearchHost => "publish the pod's IPv6 address: network.publish_host: _eth0:ipv6_ (and network.host: _eth0:ipv6_ or \"::\")",
            Rule::KubernetesIpv4Family => "ipFamilies: [IPv6] (ipFamilyPolicy: SingleStack)",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_every_rule_says_why_and_what_to_write() {
        for rule in Rule::ALL {
            assert_eq!(Rule::named(rule.name()), Some(rule));
            assert!(!rule.why().is_empty() && !rule.fix().is_empty());
        }
    }
}
