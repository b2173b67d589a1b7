//! The scripts a user-data carries besides its cloud-config: `#!` scripts and `text/x-shellscript`
//! parts (cloud-init's `scripts-user`: once per instance, after `runcmd`) and `#cloud-boothook` /
//! `text/cloud-boothook` parts (every boot, early). They are not cloud-config keys: they come from
//! the user-data's other parts (`crate::user_data`), and a persisted config carries them back as
//! MIME parts ([`crate::user_data::render`]).

/// When a script runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Frequency {
    /// Once per instance (`text/x-shellscript`, `#!`, `text/x-shellscript-per-instance`).
    #[default]
    Instance,
    /// Every boot (`text/x-shellscript-per-boot`).
    Boot,
}

/// One script part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    /// Its file name: the part's Content-Disposition filename, else `part-NNN` as cloud-init names it.
    pub name: String,
    /// When it runs.
    pub frequency: Frequency,
    /// The script, as the part gave it (a `#cloud-boothook` first line already removed).
    pub body: String,
}

/// The scripts of a user-data, in the order of its parts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserScripts {
    /// `#!` scripts and `text/x-shellscript*` parts, run after `runcmd`.
    pub scripts: Vec<Script>,
    /// `#cloud-boothook` parts, run early in every boot.
    pub boothooks: Vec<Script>,
}

impl UserScripts {
    /// Whether there is nothing to run.
    pub fn is_empty(&self) -> bool {
        self.scripts.is_empty() && self.boothooks.is_empty()
    }

    /// These scripts, then `later`'s (vendor-data's scripts run before user-data's, as cloud-init's
    /// `scripts-vendor` runs before `scripts-user`).
    pub fn then(mut self, later: UserScripts) -> UserScripts {
        self.scripts.extend(later.scripts);
        self.boothooks.extend(later.boothooks);
        self
    }
}
