//! "Did you mean ...?": the closest known key to a misspelt one, by edit distance, and what replaced
//! a key Plinth no longer reads.

/// Keys Plinth once read, by the path of the mapping that held them: refused with what to write
/// instead, never silently ignored.
const RETIRED: &[(&str, &str, &str)] = &[(
    "plinth.cluster",
    "k3s",
    "`k3s` is gone: Plinth runs upstream Kubernetes; use `plinth.cluster.kubernetes`",
)];

/// Why `key` in the mapping at `parent` (a dotted path such as `plinth.cluster`) is no longer read,
/// and what replaced it, if it is a retired key.
pub fn retired(parent: &str, key: &str) -> Option<&'static str> {
    RETIRED
        .iter()
        .find(|(p, k, _)| *p == parent && *k == key)
        .map(|(_, _, message)| *message)
}

/// Edit distance (insertions, deletions, substitutions, and swaps of neighbours) between two short
/// strings.
pub fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = d;
        }
    }
    rows[a.len()][b.len()]
}

/// The known key closest to `key`, if it is close enough to be a likely typo (at most 2 edits, and
/// fewer than half the key's length).
pub fn closest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    if key.chars().count() > 64 {
        return None;
    }
    known
        .iter()
        .map(|k| (distance(key, k), *k))
        .filter(|(d, k)| *d > 0 && *d <= 2 && *d * 2 < key.len().max(k.len()))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos() {
        assert_eq!(distance("plinth", "plinht"), 1);
        assert_eq!(closest("plinht", &["plinth", "network"]), Some("plinth"));
        assert_eq!(closest("hostnme", &["hostname", "fqdn"]), Some("hostname"));
        assert_eq!(closest("packages", &["plinth", "network"]), None);
        assert_eq!(closest("rol", &["role", "name"]), Some("role"));
        assert_eq!(closest("ab", &["cd"]), None);
    }

    #[test]
    fn retired_keys() {
        assert!(
            retired("plinth.cluster", "k3s")
                .unwrap()
                .contains("plinth.cluster.kubernetes")
        );
        assert_eq!(retired("plinth", "k3s"), None);
        assert_eq!(retired("plinth.cluster", "kubernetes"), None);
    }
}
