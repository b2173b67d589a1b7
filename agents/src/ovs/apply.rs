//! The effects of `plinth-agent ovs apply`: read the switch in one transaction of `select`s, plan
//! against the wanted one, and commit the plan as one transaction (none when nothing differs).
//! Also the database file itself (`ovsdb-tool create`, and `convert` when the image's schema is
//! newer), made before `ovsdb-server` starts.

use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, bail};

use super::client::{Client, ClientError};
use super::model::Switch;
use super::plan::{Plan, plan};
use super::rows::{selects, switch};

/// The database name of the vswitch schema.
pub const DB: &str = "Open_vSwitch";

/// Reads the switch as the database holds it.
pub fn read(client: &mut Client) -> Result<Switch, ClientError> {
    let results = client.transact(DB, &selects())?;
    Ok(switch(&results))
}

/// Reads, plans and (unless `dry_run`) commits; returns the plan.
pub fn apply(client: &mut Client, want: &Switch, dry_run: bool) -> Result<Plan, ClientError> {
    let have = read(client)?;
    let plan = plan(want, &have);
    if !dry_run && !plan.ops.is_empty() {
        client.transact(DB, &plan.ops)?;
    }
    Ok(plan)
}

/// What [`ensure_db`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DbAction {
    /// A new, empty database was made.
    Created,
    /// The database was converted to the image's schema.
    Converted,
    /// The database was there with the image's schema.
    Kept,
}

/// Makes the database at `db` from `schema` when it is missing, converts it when the schema
/// changed; with `ovsdb-tool` (`tool`).
pub fn ensure_db(tool: &Path, db: &Path, schema: &Path) -> anyhow::Result<DbAction> {
    if let Some(dir) = db.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot make {}", dir.display()))?;
    }
    if !db.exists() {
        run(tool, &["create", &path(db), &path(schema)])?;
        return Ok(DbAction::Created);
    }
    let needs = run(tool, &["needs-conversion", &path(db), &path(schema)])?;
    if needs.trim() == "yes" {
        run(tool, &["convert", &path(db), &path(schema)])?;
        return Ok(DbAction::Converted);
    }
    Ok(DbAction::Kept)
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

fn run(tool: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(tool)
        .args(args)
        .output()
        .with_context(|| format!("cannot run {}", tool.display()))?;
    if !out.status.success() {
        bail!(
            "{} {} failed ({}): {}",
            tool.display(),
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
