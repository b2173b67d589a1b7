//! The kernel command line: its words as /proc/cmdline has them (double quotes group a value with
//! spaces), which configured arguments are missing from it, and whether it turns an IOMMU on. Pure.

/// The words of a kernel command line, split as the config crate splits it for its own keys
/// ([`plinth_config::sources::cmdline::split`]). An unterminated quote runs to the end of the line,
/// as the kernel reads it, rather than being an error.
pub fn parse(text: &str) -> Vec<String> {
    use plinth_config::sources::cmdline::split;
    split(text)
        .or_else(|_| split(&format!("{text}\"")))
        .unwrap_or_default()
}

/// The arguments of `wanted` that are not words of `line` (quotes aside, as the kernel drops them).
pub fn missing(wanted: &[String], line: &[String]) -> Vec<String> {
    wanted
        .iter()
        .filter(|w| {
            let w = w.replace('"', "");
            !line.contains(&w)
        })
        .cloned()
        .collect()
}

/// The argument that turns an IOMMU on (`intel_iommu=on`, `amd_iommu=on`, also within a comma list
/// such as `intel_iommu=on,sm_on`), the last word of each kind winning as in the kernel.
pub fn iommu_on(line: &[String]) -> Option<String> {
    ["intel_iommu", "amd_iommu"].iter().find_map(|key| {
        let last = line
            .iter()
            .rev()
            .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))?;
        last.split(',')
            .any(|v| v == "on")
            .then(|| format!("{key}={last}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        parse(s)
    }

    #[test]
    fn words_split_on_blanks_and_quotes_group_them() {
        assert_eq!(
            words("console=ttyS0,115200  plinth.slot=a dyndbg=\"file x.c +p\" quiet\n"),
            [
                "console=ttyS0,115200",
                "plinth.slot=a",
                "dyndbg=file x.c +p",
                "quiet"
            ]
        );
        assert!(words(" \n").is_empty());
        assert_eq!(words("a=\"\""), ["a="]);
    }

    #[test]
    fn configured_arguments_missing_from_the_line_are_named() {
        let line = words("console=tty0 intel_iommu=on hugepagesz=1G hugepages=4");
        let wanted: Vec<String> = ["intel_iommu=on", "iommu=pt", "hugepages=4", "hugepages=8"]
            .map(String::from)
            .to_vec();
        assert_eq!(missing(&wanted, &line), ["iommu=pt", "hugepages=8"]);
        assert!(missing(&[], &line).is_empty());
    }

    #[test]
    fn an_iommu_is_on_only_when_the_last_word_says_so() {
        assert_eq!(
            iommu_on(&words("intel_iommu=on iommu=pt")),
            Some("intel_iommu=on".into())
        );
        assert_eq!(
            iommu_on(&words("amd_iommu=on,fullflush")),
            Some("amd_iommu=on,fullflush".into())
        );
        assert_eq!(iommu_on(&words("intel_iommu=on intel_iommu=off")), None);
        assert_eq!(iommu_on(&words("iommu=pt quiet")), None);
        assert_eq!(iommu_on(&words("intel_iommu_foo=on")), None);
    }
}
