//! The Kubernetes version the image pins: the `k8s.io/kubernetes` requirement of the Go module in
//! `image/kubernetes/go.mod`, read by the xtask that builds it and by the tests that check what the
//! built components report, so the version is written in one place.

use std::io;

/// The `k8s.io/kubernetes` version a go.mod requires (single `require` line or a block).
pub fn pinned_version_in(go_mod: &str) -> Option<String> {
    go_mod.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        let first = words.next()?;
        let module = if first == "require" {
            words.next()?
        } else {
            first
        };
        (module == "k8s.io/kubernetes")
            .then(|| words.next().map(str::to_string))
            .flatten()
    })
}

/// The version `image/kubernetes/go.mod` pins, e.g. `v1.35.4`.
pub fn pinned_version() -> io::Result<String> {
    let path = crate::paths::workspace_root().join("image/kubernetes/go.mod");
    let text = std::fs::read_to_string(&path)?;
    pinned_version_in(&text).ok_or_else(|| {
        io::Error::other(format!(
            "{} requires no k8s.io/kubernetes version",
            path.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pin_is_read_from_a_single_or_block_require() {
        let single = "module m\n\ngo 1.25.0\n\nrequire k8s.io/kubernetes v1.35.4\n";
        assert_eq!(pinned_version_in(single).as_deref(), Some("v1.35.4"));
        let block = "module m\nrequire (\n\tgithub.com/x/y v1.0.0\n\tk8s.io/kubernetes v1.36.1 // indirect\n)\n";
        assert_eq!(pinned_version_in(block).as_deref(), Some("v1.36.1"));
        let replace_only = "replace k8s.io/api => k8s.io/api v0.35.4\n";
        assert_eq!(pinned_version_in(replace_only), None);
    }

    #[test]
    fn the_image_pins_the_1_35_line() {
        let version = pinned_version().unwrap();
        assert!(version.starts_with("v1.35."), "{version}");
    }
}
