//! The one shell-glob matcher of Plinth (`*`, `?`, `[...]` and `[!...]` classes, as fnmatch(3)
//! without flags): netplan's `match` of interface names and drivers, and the kernel's
//! `modules.alias` patterns that decide which drivers a machine needs.

/// One element of a glob pattern.
enum Tok {
    /// `*`: any run of characters.
    Star,
    /// `?`: any one character.
    Any,
    /// `[...]` / `[!...]`: one character in (or not in) the ranges.
    Class {
        ranges: Vec<(char, char)>,
        negate: bool,
    },
    /// A literal character.
    Lit(char),
}

impl Tok {
    fn matches(&self, c: char) -> bool {
        match self {
            Tok::Star | Tok::Any => true,
            Tok::Class { ranges, negate } => {
                ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negate
            }
            Tok::Lit(l) => *l == c,
        }
    }
}

fn tokens(pattern: &str) -> Vec<Tok> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' => out.push(Tok::Star),
            '?' => out.push(Tok::Any),
            '[' => {
                if let Some(len) = chars[i + 1..].iter().position(|&c| c == ']') {
                    let mut class = &chars[i + 1..i + 1 + len];
                    let negate = matches!(class.first(), Some('!' | '^'));
                    if negate {
                        class = &class[1..];
                    }
                    let mut ranges = Vec::new();
                    let mut k = 0;
                    while k < class.len() {
                        if k + 2 < class.len() && class[k + 1] == '-' {
                            ranges.push((class[k], class[k + 2]));
                            k += 3;
                        } else {
                            ranges.push((class[k], class[k]));
                            k += 1;
                        }
                    }
                    out.push(Tok::Class { ranges, negate });
                    i += len + 2;
                    continue;
                }
                out.push(Tok::Lit('['));
            }
            c => out.push(Tok::Lit(c)),
        }
        i += 1;
    }
    out
}

/// Whether `name` matches the shell glob `pattern` (`*`, `?` and `[...]` classes), as fnmatch(3)
/// without flags: netplan's `match` and the kernel's `modules.alias` patterns. Linear-time matching (backtracking only to the last `*`), so no pattern can make it slow.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let pat = tokens(pattern);
    let name: Vec<char> = name.chars().collect();
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pat.get(p) {
            Some(Tok::Star) => {
                star = Some((p, n));
                p += 1;
            }
            Some(tok) if tok.matches(name[n]) => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    p = sp + 1;
                    n = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    pat[p..].iter().all(|t| matches!(t, Tok::Star))
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn pathological_patterns_are_fast() {
        let pattern = format!("{}b", "*a".repeat(40));
        let name = "a".repeat(10_000);
        let started = std::time::Instant::now();
        assert!(!glob_match(&pattern, &name));
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn globs_like_netplan() {
        assert!(glob_match("en*", "enp3s0"));
        assert!(glob_match("e*", "eth0"));
        assert!(!glob_match("en*", "eth0"));
        assert!(glob_match("enp1s16f[2-3]", "enp1s16f3"));
        assert!(!glob_match("enp1s16f[2-3]", "enp1s16f4"));
        assert!(glob_match("eth?", "eth1"));
        assert!(glob_match("*", "lo"));
        assert!(glob_match("", ""));
        assert!(!glob_match("", "a"));
        assert!(glob_match("e*0", "eth0"));
        assert!(!glob_match("e*0", "eth1"));
        assert!(glob_match("[!a-c]x", "dx"));
        assert!(!glob_match("[!a-c]x", "bx"));
        assert!(glob_match("a[", "a["));
        assert!(glob_match("*a*b*c", "xxaxxbxxc"));
        assert!(!glob_match("*a*b*c", "xxaxxcxxb"));
    }
}
