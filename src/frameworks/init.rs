//! The user's own steps (`icclab.disco.init`): initialization actions, as Dataproc and
//! EMR call them, run on the nodes of a group after the components start and before
//! their smoke tests. Each is a script given inline or a URL with the SHA-256 of what
//! it serves, with a name (its stage in the task tree is `init <name>`) and a timeout.
//! The attribute's JSON is parsed here once into `InitAction`s; the plan keeps them.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::catalogue::{GroupScope, NodeGroup};
use crate::domain::Span;
use crate::domain::attributes::INIT;
use crate::domain::text::quoted_excerpt;

/// The most actions a cluster takes.
pub const MAX_ACTIONS: usize = 20;
/// The longest script given inline, in bytes: longer ones are given as URLs.
pub const MAX_INLINE_BYTES: usize = 16 * 1024;
/// The longest name.
const MAX_NAME: usize = 32;
/// The longest URL.
const MAX_URL: usize = 2048;
/// How long an action may run where it does not say.
pub const DEFAULT_TIMEOUT_SECS: u64 = 600;
/// The longest timeout an action may have: six hours.
const MOST_TIMEOUT_SECS: u64 = 6 * 3_600;
/// The stage an action's step reports: `init <name>`.
pub const STAGE_PREFIX: &str = "init";

/// An action's name: a short slug (lowercase letters, digits and `-`, starting with a
/// letter or digit), unique in its cluster; it names the action's stage and log.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InitName(String);

impl InitName {
    pub fn parse(text: &str) -> Result<InitName, String> {
        let slug = !text.is_empty()
            && text.len() <= MAX_NAME
            && !text.starts_with('-')
            && text
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if slug {
            Ok(InitName(text.to_string()))
        } else {
            Err(format!(
                "a short name of lowercase letters, digits and '-' (at most {MAX_NAME}, not \
                 starting with '-'), got {}",
                quoted_excerpt(text)
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InitName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for InitName {
    type Error = String;
    fn try_from(text: String) -> Result<InitName, String> {
        InitName::parse(&text)
    }
}

impl From<InitName> for String {
    fn from(name: InitName) -> String {
        name.0
    }
}

/// Where a URL source's script comes from: `https://`, `http://` or `file://` (a file
/// on the node), one line of printable ASCII.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InitUrl(String);

impl InitUrl {
    pub fn parse(text: &str) -> Result<InitUrl, String> {
        let expected = || {
            format!(
                "an https://, http:// or file:// URL (at most {MAX_URL} characters), got {}",
                quoted_excerpt(text)
            )
        };
        if text.len() > MAX_URL || !text.chars().all(|c| c.is_ascii_graphic()) {
            return Err(expected());
        }
        let url = url::Url::parse(text).map_err(|_| expected())?;
        let fits = match url.scheme() {
            "https" | "http" => url.host_str().is_some_and(|h| !h.is_empty()),
            "file" => !url.path().is_empty() && url.path() != "/",
            _ => false,
        };
        if fits {
            Ok(InitUrl(text.to_string()))
        } else {
            Err(expected())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for InitUrl {
    type Error = String;
    fn try_from(text: String) -> Result<InitUrl, String> {
        InitUrl::parse(&text)
    }
}

impl From<InitUrl> for String {
    fn from(url: InitUrl) -> String {
        url.0
    }
}

/// A SHA-256 as 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sha256(String);

impl Sha256 {
    pub fn parse(text: &str) -> Result<Sha256, String> {
        if text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit()) {
            Ok(Sha256(text.to_ascii_lowercase()))
        } else {
            Err(format!(
                "a SHA-256 of 64 hex digits, got {}",
                quoted_excerpt(text)
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Sha256 {
    type Error = String;
    fn try_from(text: String) -> Result<Sha256, String> {
        Sha256::parse(&text)
    }
}

impl From<Sha256> for String {
    fn from(sha: Sha256) -> String {
        sha.0
    }
}

/// What an action runs: its script as given, or what a URL serves, checked on the node
/// against its SHA-256 before it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum InitSource {
    Inline { script: String },
    Url { url: InitUrl, sha256: Sha256 },
}

/// One of the user's initialization actions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitAction {
    pub name: InitName,
    pub group: GroupScope,
    pub timeout: Span,
    #[serde(flatten)]
    pub source: InitSource,
}

impl InitAction {
    /// Its stage in reports and the task tree.
    pub fn stage(&self) -> String {
        format!("{STAGE_PREFIX} {}", self.name)
    }

    pub fn runs_on(&self, group: NodeGroup) -> bool {
        self.group.includes(group)
    }

    /// What the task tree shows as its command.
    pub fn command(&self) -> String {
        match &self.source {
            InitSource::Inline { script } => {
                format!("init/{} (inline, {} bytes)", self.name, script.len())
            }
            InitSource::Url { url, .. } => url.as_str().to_string(),
        }
    }
}

/// Why `icclab.disco.init` was refused: where in it (`icclab.disco.init[1] (name).field`)
/// and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {expected}")]
pub struct InitError {
    pub at: String,
    pub expected: String,
}

/// The attribute's value as JSON reads it: an action, or a list of them.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawInit {
    Many(Vec<serde_json::Value>),
    One(serde_json::Map<String, serde_json::Value>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAction {
    name: Option<String>,
    group: Option<String>,
    script: Option<String>,
    url: Option<String>,
    sha256: Option<String>,
    timeout: Option<String>,
}

const SHAPE: &str = r#"{"name": "a-slug", "group": "master" | "slaves" | "all", "script": "…" or "url": "https://…" with "sha256": "<64 hex digits>", "timeout": "10m"}"#;

/// Parses the attribute's value: a JSON list of actions (or one action).
pub fn parse(text: &str) -> Result<Vec<InitAction>, InitError> {
    let refuse = |at: String, expected: String| InitError { at, expected };
    let raw: RawInit = serde_json::from_str(text).map_err(|e| {
        refuse(
            INIT.to_string(),
            format!("expected a JSON list of actions, each {SHAPE}; {e}"),
        )
    })?;
    let values = match raw {
        RawInit::Many(values) => values,
        RawInit::One(object) => vec![serde_json::Value::Object(object)],
    };
    if values.len() > MAX_ACTIONS {
        return Err(refuse(
            INIT.to_string(),
            format!(
                "at most {MAX_ACTIONS} actions, got {}; combine them, or give one that fetches the rest",
                values.len()
            ),
        ));
    }
    let mut names = BTreeSet::new();
    let mut actions = Vec::with_capacity(values.len());
    for (i, value) in values.into_iter().enumerate() {
        let here = format!("{INIT}[{i}]");
        let raw: RawAction = serde_json::from_value(value)
            .map_err(|e| refuse(here.clone(), format!("expected {SHAPE}; {e}")))?;
        let name = InitName::parse(raw.name.as_deref().unwrap_or_default())
            .map_err(|expected| refuse(format!("{here}.name"), expected))?;
        let here = format!("{here} ({name})");
        if !names.insert(name.clone()) {
            return Err(refuse(
                format!("{here}.name"),
                format!("a name no other action of the cluster has; {name} is given twice"),
            ));
        }
        let group = match raw.group.as_deref() {
            None | Some("all") => GroupScope::All,
            Some("master") => GroupScope::Master,
            Some("slaves") => GroupScope::Slaves,
            Some(other) => {
                return Err(refuse(
                    format!("{here}.group"),
                    format!(
                        "expected master, slaves or all, got {}",
                        quoted_excerpt(other)
                    ),
                ));
            }
        };
        let timeout = match raw.timeout.as_deref() {
            None => Span::from_secs(DEFAULT_TIMEOUT_SECS),
            Some(text) => {
                let span = Span::parse(text)
                    .map_err(|expected| refuse(format!("{here}.timeout"), expected))?;
                if span.secs() > MOST_TIMEOUT_SECS {
                    return Err(refuse(
                        format!("{here}.timeout"),
                        format!("at most {}, got {span}", Span::from_secs(MOST_TIMEOUT_SECS)),
                    ));
                }
                span
            }
        };
        let source = match (raw.script, raw.url, raw.sha256) {
            (Some(script), None, None) => {
                inline_script(&script)
                    .map_err(|expected| refuse(format!("{here}.script"), expected))?;
                InitSource::Inline { script }
            }
            (None, Some(url), Some(sha256)) => InitSource::Url {
                url: InitUrl::parse(&url)
                    .map_err(|expected| refuse(format!("{here}.url"), expected))?,
                sha256: Sha256::parse(&sha256)
                    .map_err(|expected| refuse(format!("{here}.sha256"), expected))?,
            },
            (None, Some(_), None) => {
                return Err(refuse(
                    format!("{here}.sha256"),
                    "a url needs the SHA-256 of what it serves (64 hex digits), which the \
                     node checks before it runs the script; none was given"
                        .to_string(),
                ));
            }
            (None, None, Some(_)) => {
                return Err(refuse(
                    format!("{here}.url"),
                    "the url whose content the sha256 is of; none was given".to_string(),
                ));
            }
            (None, None, None) => {
                return Err(refuse(
                    here,
                    "a script (inline) or a url with its sha256; neither was given".to_string(),
                ));
            }
            (Some(_), Some(_), _) | (Some(_), None, Some(_)) => {
                return Err(refuse(
                    here,
                    "either a script (inline) or a url with its sha256, not both".to_string(),
                ));
            }
        };
        actions.push(InitAction {
            name,
            group,
            timeout,
            source,
        });
    }
    Ok(actions)
}

/// Whether an inline script can be run as given: not empty, within the size limit, and
/// without NUL characters (no shell file holds them).
fn inline_script(script: &str) -> Result<(), String> {
    if script.trim().is_empty() {
        return Err("a script, got an empty one".to_string());
    }
    if script.len() > MAX_INLINE_BYTES {
        return Err(format!(
            "at most {MAX_INLINE_BYTES} bytes inline, got {} bytes; give a larger script as a \
             url with its sha256",
            script.len()
        ));
    }
    if script.contains('\0') {
        return Err("a script without NUL characters".to_string());
    }
    Ok(())
}

/// The actions as the cluster's attributes show them: names and groups, not scripts.
pub fn summary(actions: &[InitAction]) -> String {
    actions
        .iter()
        .map(|action| {
            let group = match action.group {
                GroupScope::Master => "master",
                GroupScope::Slaves => "slaves",
                GroupScope::All => "all",
            };
            let kind = match action.source {
                InitSource::Inline { .. } => "inline",
                InitSource::Url { .. } => "url",
            };
            format!("{} ({group}, {kind}, {})", action.name, action.timeout)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    fn refused(text: &str) -> String {
        parse(text).expect_err("refused").to_string()
    }

    #[test]
    fn inline_and_url_actions_parse_into_their_sources_with_defaults() {
        let actions = parse(&format!(
            r##"[{{"name":"warm-cache","group":"all","script":"#!/bin/bash\necho hi","timeout":"5m"}},
                {{"name":"fetch","group":"master","url":"https://example.org/a.sh","sha256":"{}"}},
                {{"name":"third","script":"echo 3"}}]"##,
            SHA.to_uppercase()
        ))
        .expect("parsed");
        assert_eq!(actions.len(), 3);
        assert_eq!(actions[0].name.as_str(), "warm-cache");
        assert_eq!(actions[0].timeout.secs(), 300);
        assert_eq!(
            actions[0].source,
            InitSource::Inline {
                script: "#!/bin/bash\necho hi".to_string()
            }
        );
        assert!(actions[0].runs_on(NodeGroup::Slaves) && actions[0].runs_on(NodeGroup::Master));
        let InitSource::Url { url, sha256 } = &actions[1].source else {
            panic!("a url source: {:?}", actions[1].source);
        };
        assert_eq!(url.as_str(), "https://example.org/a.sh");
        assert_eq!(sha256.as_str(), SHA, "kept in lowercase");
        assert!(!actions[1].runs_on(NodeGroup::Slaves));
        assert_eq!(actions[2].group, GroupScope::All, "all nodes by default");
        assert_eq!(actions[2].timeout.secs(), DEFAULT_TIMEOUT_SECS);
        assert_eq!(actions[2].stage(), "init third");
        // One action alone is a list of one.
        assert_eq!(
            parse(r#"{"name":"one","script":"true"}"#)
                .expect("one")
                .len(),
            1
        );
    }

    #[test]
    fn the_plan_keeps_actions_as_it_reads_them_back() {
        let actions = parse(&format!(
            r#"[{{"name":"a","script":"echo a","group":"slaves"}},{{"name":"b","url":"file:///tmp/b.sh","sha256":"{SHA}"}}]"#
        ))
        .expect("parsed");
        let json = serde_json::to_value(&actions).expect("json");
        assert_eq!(json[0]["script"], "echo a");
        assert_eq!(json[0]["group"], "slaves");
        assert_eq!(json[0]["timeout"], "10m");
        assert_eq!(json[1]["url"], "file:///tmp/b.sh");
        assert_eq!(json[1]["sha256"], SHA);
        let back: Vec<InitAction> = serde_json::from_value(json).expect("read back");
        assert_eq!(back, actions);
    }

    #[test]
    fn a_url_without_its_checksum_is_refused_naming_the_field() {
        let reason = refused(r#"[{"name":"get","url":"https://example.org/x.sh"}]"#);
        assert!(
            reason.starts_with("icclab.disco.init[0] (get).sha256: a url needs the SHA-256"),
            "{reason}"
        );
        let reason = refused(r#"[{"name":"get","url":"https://example.org/x.sh","sha256":"abc"}]"#);
        assert!(
            reason.starts_with("icclab.disco.init[0] (get).sha256: a SHA-256 of 64 hex digits"),
            "{reason}"
        );
        let reason = refused(&format!(
            r#"[{{"name":"get","url":"ftp://example.org/x.sh","sha256":"{SHA}"}}]"#
        ));
        assert!(
            reason.contains("(get).url: an https://, http:// or file:// URL"),
            "{reason}"
        );
    }

    #[test]
    fn unknown_groups_duplicate_names_and_bad_names_are_refused() {
        let reason = refused(r#"[{"name":"a","group":"workers","script":"true"}]"#);
        assert_eq!(
            reason,
            "icclab.disco.init[0] (a).group: expected master, slaves or all, got \"workers\""
        );
        let reason = refused(r#"[{"name":"a","script":"true"},{"name":"a","script":"false"}]"#);
        assert_eq!(
            reason,
            "icclab.disco.init[1] (a).name: a name no other action of the cluster has; a is given twice"
        );
        assert!(
            refused(r#"[{"name":"Has Space","script":"true"}]"#)
                .starts_with("icclab.disco.init[0].name: a short name")
        );
        assert!(refused(r#"[{"script":"true"}]"#).starts_with("icclab.disco.init[0].name:"));
        assert!(
            refused(r#"[{"name":"a","script":"true","user":"root"}]"#)
                .contains("unknown field `user`")
        );
        assert!(
            refused(r#"[{"name":"a","script":"true","url":"https://e.org/x"}]"#)
                .contains("not both")
        );
        assert!(refused("echo hi").starts_with("icclab.disco.init: expected a JSON list"));
        assert!(
            refused(r#"[{"name":"a","script":"true","timeout":"7h"}]"#)
                .contains("(a).timeout: at most 6h, got 7h")
        );
    }

    #[test]
    fn scripts_over_the_size_limit_and_lists_over_the_count_are_refused() {
        let big = "x".repeat(MAX_INLINE_BYTES + 1);
        let reason = refused(&format!(r#"[{{"name":"big","script":"{big}"}}]"#));
        assert_eq!(
            reason,
            format!(
                "icclab.disco.init[0] (big).script: at most 16384 bytes inline, got 16385 bytes; \
                 give a larger script as a url with its sha256"
            )
        );
        let many: Vec<String> = (0..=MAX_ACTIONS)
            .map(|i| format!(r#"{{"name":"a{i}","script":"true"}}"#))
            .collect();
        let reason = refused(&format!("[{}]", many.join(",")));
        assert!(
            reason.starts_with("icclab.disco.init: at most 20 actions, got 21"),
            "{reason}"
        );
    }

    #[test]
    fn the_summary_names_actions_without_their_scripts() {
        let actions =
            parse(r#"[{"name":"a","script":"echo secret-ish","group":"master"}]"#).expect("parsed");
        assert_eq!(summary(&actions), "a (master, inline, 10m)");
    }
}
