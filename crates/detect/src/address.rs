//! Pulling mail addresses out of rule and forwarding values, and judging them against
//! the tenant's accepted domains.

/// Every address in a value such as `"Eve" [SMTP:eve@evil.example];bob@x.com` or
/// `smtp:bla@bla.com`, lower-cased. Recipients named without an address (aliases,
/// `EX:` legacy DNs) are internal objects and yield nothing.
pub fn addresses(value: &str) -> Vec<String> {
    let local_char = |c: char| c.is_alphanumeric() || "._%+-!#$&'*/=?^`{|}~".contains(c);
    let domain_char = |c: char| c.is_alphanumeric() || c == '.' || c == '-';
    let chars: Vec<char> = value.chars().collect();
    let mut found = Vec::new();
    for (at, _) in chars.iter().enumerate().filter(|(_, c)| **c == '@') {
        let mut start = at;
        while start > 0 && local_char(chars[start - 1]) {
            start -= 1;
        }
        let mut end = at + 1;
        while end < chars.len() && domain_char(chars[end]) {
            end += 1;
        }
        let local: String = chars[start..at].iter().collect();
        let domain: String = chars[at + 1..end].iter().collect();
        let domain = domain.trim_matches('.').to_lowercase();
        if !local.is_empty() && domain.contains('.') {
            let addr = format!("{}@{}", local.to_lowercase(), domain);
            if !found.contains(&addr) {
                found.push(addr);
            }
        }
    }
    found
}

/// Whether `value` is exactly one mail address and nothing else: no display name, no
/// second address, no path, space or control character around it.
pub fn is_one_address(value: &str) -> bool {
    matches!(addresses(value).as_slice(), [one] if one.eq_ignore_ascii_case(value))
}

/// The domain of an address, lower-cased.
pub fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
}

/// Outside the tenant: the domain is none of its accepted domains.
pub fn is_external(address: &str, accepted_domains: &[String]) -> bool {
    let domain = domain_of(address);
    !accepted_domains
        .iter()
        .any(|d| d.eq_ignore_ascii_case(domain))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_address_in_every_format() {
        assert_eq!(addresses("smtp:bla@bla.com"), vec!["bla@bla.com"]);
        assert_eq!(
            addresses(
                r#""Vance, Adele" [SMTP:adele@contoso.com];eve@Evil.example, "x" [SMTP:x@y.org]"#
            ),
            vec!["adele@contoso.com", "eve@evil.example", "x@y.org"]
        );
        assert!(addresses("Adele Vance").is_empty());
        assert!(
            addresses("EX:/o=ExchangeLabs/ou=Exchange Administrative Group/cn=Recipients/cn=abc")
                .is_empty()
        );
    }

    #[test]
    fn one_address_is_nothing_but_an_address() {
        assert!(is_one_address("Adele.Vance@Contoso.com"));
        for not_one in [
            "Invoices/ceo@contoso.com\\x",
            "ceo@contoso.com;eve@evil.example",
            "\"CEO\" [SMTP:ceo@contoso.com]",
            " ceo@contoso.com",
            "ceo@contoso.com\u{1b}[2K",
            "the whole organisation",
            "311b45d6-1a3e-46ac-8434-721367961e19",
            "ceo@localhost",
        ] {
            assert!(!is_one_address(not_one), "{not_one:?}");
        }
    }

    #[test]
    fn external_is_not_an_accepted_domain() {
        let accepted = vec![
            "contoso.com".to_string(),
            "contoso.onmicrosoft.com".to_string(),
        ];
        assert!(!is_external("a@CONTOSO.com", &accepted));
        assert!(is_external("a@contoso.com.evil.example", &accepted));
        assert!(is_external("a@sub.contoso.com", &accepted));
    }
}
