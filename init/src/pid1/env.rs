//! The environment PID 1 gives its services: a sane PATH and the few variables a booted system
//! expects, on top of what the kernel or the container runtime passed.

/// PATH when none is set (the kernel starts init without one).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The base environment of every service, from PID 1's own environment `inherited`.
pub fn base_env(inherited: impl IntoIterator<Item = (String, String)>) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = inherited.into_iter().collect();
    for (key, value) in [
        ("PATH", DEFAULT_PATH),
        ("HOME", "/root"),
        ("LANG", "C.UTF-8"),
    ] {
        if !env.iter().any(|(k, _)| k == key) {
            env.push((key.to_string(), value.to_string()));
        }
    }
    env.sort();
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_in_what_is_missing_and_keeps_what_is_set() {
        let env = base_env([
            ("PATH".to_string(), "/bin".to_string()),
            ("TERM".to_string(), "linux".to_string()),
        ]);
        assert!(env.contains(&("PATH".into(), "/bin".into())));
        assert!(env.contains(&("HOME".into(), "/root".into())));
        assert!(env.contains(&("TERM".into(), "linux".into())));
        let empty = base_env([]);
        assert!(empty.contains(&("PATH".into(), DEFAULT_PATH.into())));
    }
}
