//! "Did you mean" for unknown keys and words.

/// The closest candidate within a small edit distance, if any.
pub fn closest(word: &str, candidates: &[&'static str]) -> Option<&'static str> {
    let limit = (word.len() / 3).max(2);
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over bytes (keys are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.iter().enumerate() {
        let mut current = vec![i + 1];
        for (j, &cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != cb);
            current.push(substitute.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_words_only() {
        let keys = ["address", "roles", "interface", "prefix_length", "gateway", "name"];
        assert_eq!(closest("adress", &keys), Some("address"));
        assert_eq!(closest("role", &keys), Some("roles"));
        assert_eq!(closest("prefixlen", &keys), None);
        assert_eq!(closest("prefix-length", &keys), Some("prefix_length"));
        assert_eq!(closest("zzzzzz", &keys), None);
        assert_eq!(closest("controlplane", &["control-plane", "etcd", "worker"]), Some("control-plane"));
    }
}
