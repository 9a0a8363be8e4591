//! The component catalogue: one folder per component under `frameworks/`, each with a
//! `component.toml` and its step scripts. `RawComponent` is the TOML as written; the
//! `Catalogue` holds checked components with their scripts read in, so a bad folder is
//! found at start-up, not at a user's deploy.
//!
//! `raw` is `component.toml` as serde reads it, `component` a checked component and the
//! vocabulary it is described in. Here the folders are read, each component checked (its
//! parameters' defaults, its ports, checks and scripts), and then what spans components.

mod component;
mod outputs;
mod raw;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub use self::component::{
    Check, Component, DEFAULT_MAX_LENGTH, GroupScope, HealthCheck, HttpCheck, LocalVariant,
    NodeGroup, ParamRefusal, ParamType, Parameter, Pattern, Phase, Port, Script, WebUi,
};
pub use self::outputs::{Accepts, LONGEST_VALUE, Output, OutputSource, fill, placeholders};

use self::raw::{RawComponent, RawHealth, toml_scalar};
use crate::domain::{ComponentName, ProviderKind};

#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    components: BTreeMap<String, Component>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("reading the component catalogue {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Syntax {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("component {component}: {problem}")]
    Invalid { component: String, problem: String },
}

impl Catalogue {
    /// Reads every `<dir>/<name>/component.toml`; folders without one are skipped.
    pub fn load(dir: &Path) -> Result<Catalogue, CatalogueError> {
        let read_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| CatalogueError::Read { path, source }
        };
        let mut folders: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(read_err(dir))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.join("component.toml").is_file())
            .collect();
        folders.sort();
        let mut components = Vec::with_capacity(folders.len());
        for folder in folders {
            let file = folder.join("component.toml");
            let text = std::fs::read_to_string(&file).map_err(read_err(&file))?;
            let raw: RawComponent =
                toml::from_str(&text).map_err(|source| CatalogueError::Syntax {
                    path: file.clone(),
                    source: Box::new(source),
                })?;
            let folder_name = folder
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            components.push(check_component(raw, &folder, &folder_name)?);
        }
        Catalogue::from_components(components)
    }

    /// A catalogue of already checked components; checks what spans components.
    pub fn from_components(list: Vec<Component>) -> Result<Catalogue, CatalogueError> {
        let components: BTreeMap<String, Component> =
            list.into_iter().map(|c| (c.name.clone(), c)).collect();
        for component in components.values() {
            for dependency in component.depends_on.iter().chain(&component.after) {
                if !components.contains_key(dependency) {
                    return Err(CatalogueError::Invalid {
                        component: component.name.clone(),
                        problem: format!("names {dependency:?}, which is not in the catalogue"),
                    });
                }
            }
            for (dependency, accepts) in &component.uses {
                let invalid = |problem: String| CatalogueError::Invalid {
                    component: component.name.clone(),
                    problem: format!("[uses.{dependency}]: {problem}"),
                };
                let Some(served) = components.get(dependency) else {
                    return Err(invalid("not a component of the catalogue".to_string()));
                };
                if let Some(missing) = accepts
                    .outputs
                    .iter()
                    .find(|o| !served.outputs.iter().any(|out| &out.name == *o))
                {
                    return Err(invalid(format!(
                        "{dependency} declares no output {missing:?}"
                    )));
                }
            }
        }
        Ok(Catalogue { components })
    }

    pub fn get(&self, name: &str) -> Option<&Component> {
        self.components.get(name)
    }

    pub fn names(&self) -> Vec<&str> {
        self.components.keys().map(String::as_str).collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Component> {
        self.components.values()
    }
}

fn check_component(
    raw: RawComponent,
    folder: &Path,
    folder_name: &str,
) -> Result<Component, CatalogueError> {
    let invalid = |problem: String| CatalogueError::Invalid {
        component: raw.name.clone(),
        problem,
    };
    if raw.name != folder_name {
        return Err(invalid(format!("its folder is named {folder_name:?}")));
    }
    if ComponentName::parse(&raw.name).is_err() {
        return Err(invalid(format!("name must be {}", ComponentName::EXPECTED)));
    }
    // Its stages would be the user's init actions' (`init <name>`).
    if raw.name == super::init::STAGE_PREFIX {
        return Err(invalid(format!(
            "the name {:?} is the stages of the user's init actions'",
            super::init::STAGE_PREFIX
        )));
    }
    let mut parameters = BTreeMap::new();
    for (name, param) in raw.parameters.clone() {
        let name_ok = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !name_ok {
            return Err(invalid(format!(
                "parameter {name:?}: name must be [a-z][a-z0-9_]*"
            )));
        }
        let default = toml_scalar(&param.default)
            .ok_or_else(|| invalid(format!("parameter {name}: default must be a scalar")))?;
        let is_string = param.kind == ParamType::String;
        if !is_string && (param.pattern.is_some() || param.max_length.is_some()) {
            return Err(invalid(format!(
                "parameter {name}: pattern and max_length are for string parameters"
            )));
        }
        let pattern = match &param.pattern {
            None => None,
            Some(source) => Some(
                Pattern::parse(source)
                    .map_err(|e| invalid(format!("parameter {name}: pattern {source:?}: {e}")))?,
            ),
        };
        let mut checked = Parameter {
            kind: param.kind,
            default: default.clone(),
            description: param.description,
            min: param.min,
            max: param.max,
            values: param.values,
            secret: param.secret,
            pattern,
            max_length: param.max_length.unwrap_or(DEFAULT_MAX_LENGTH),
        };
        checked.default = checked.coerce(&default).map_err(|_| {
            invalid(format!(
                "parameter {name}: default is not {}",
                checked.expectation()
            ))
        })?;
        parameters.insert(name, checked);
    }
    let declared: BTreeSet<u16> = raw.ports.iter().map(|p| p.port).collect();
    check_web_uis(&raw.web_uis, &declared).map_err(invalid)?;
    let health = check_health(&raw.health, &declared).map_err(invalid)?;
    let steps = read_steps(&raw.steps, folder).map_err(invalid)?;
    let local = match &raw.local {
        None => None,
        Some(local) => {
            if let Some(uis) = &local.web_uis {
                check_web_uis(uis, &declared).map_err(|p| invalid(format!("[local] {p}")))?;
            }
            Some(LocalVariant {
                steps: read_steps(&local.steps, folder)
                    .map_err(|p| invalid(format!("[local] {p}")))?,
                health: match &local.health {
                    Some(checks) => Some(
                        check_health(checks, &declared)
                            .map_err(|p| invalid(format!("[local] {p}")))?,
                    ),
                    None => None,
                },
                web_uis: local.web_uis.clone(),
            })
        }
    };
    let runs_locally = raw.providers.contains(&ProviderKind::Local);
    if runs_locally != local.is_some() {
        return Err(invalid(
            "a component runs on provider local exactly when it has [local.steps]: the local \
             provider cannot run a VM's steps"
                .to_string(),
        ));
    }
    if let Some(listed) = raw.unsupported.keys().find(|p| raw.providers.contains(p)) {
        return Err(invalid(format!(
            "[unsupported] names {listed}, which is in its providers"
        )));
    }
    let outputs =
        outputs::check_outputs(&raw.outputs, &parameters, &raw.providers).map_err(invalid)?;
    let uses = outputs::check_uses(&raw.uses);
    Ok(Component {
        outputs,
        uses,
        name: raw.name,
        version: raw.version,
        description: raw.description,
        depends_on: raw.depends_on,
        after: raw.after,
        providers: raw.providers,
        parameters,
        ports: raw.ports,
        web_uis: raw.web_uis,
        health,
        steps,
        timeouts: raw.timeouts,
        local,
        unsupported: raw.unsupported,
    })
}

fn check_web_uis(uis: &[WebUi], declared: &BTreeSet<u16>) -> Result<(), String> {
    match uis.iter().find(|ui| !declared.contains(&ui.port)) {
        Some(ui) => Err(format!(
            "web UI {:?} uses port {}, not in [[ports]]",
            ui.name, ui.port
        )),
        None => Ok(()),
    }
}

fn check_health(raw: &[RawHealth], declared: &BTreeSet<u16>) -> Result<Vec<HealthCheck>, String> {
    let mut health = Vec::with_capacity(raw.len());
    for check in raw {
        let check = match (check.tcp, &check.http) {
            (Some(port), None) => HealthCheck {
                node_group: check.node_group,
                check: Check::Tcp(port),
            },
            // The path goes into URLs and into the nodes' health reporter as a word.
            (None, Some(http))
                if !http.path.starts_with('/')
                    || http.path.len() > 200
                    || !http
                        .path
                        .bytes()
                        .all(|b| b.is_ascii_graphic() && !b"\"'\\`$".contains(&b)) =>
            {
                return Err(format!(
                    "a health check's http path must begin with / and hold only printable \
                     characters other than quotes, backslash, backquote and $, got {:?}",
                    http.path
                ));
            }
            (None, Some(http)) => HealthCheck {
                node_group: check.node_group,
                check: Check::Http(http.clone()),
            },
            _ => return Err("a [[health]] entry has exactly one of tcp, http".into()),
        };
        let port = match &check.check {
            Check::Tcp(port) => *port,
            Check::Http(http) => http.port,
        };
        if !declared.contains(&port) {
            return Err(format!("a health check uses port {port}, not in [[ports]]"));
        }
        health.push(check);
    }
    Ok(health)
}

/// Reads each step's script from the component's folder.
fn read_steps(
    raw: &BTreeMap<NodeGroup, BTreeMap<Phase, String>>,
    folder: &Path,
) -> Result<BTreeMap<NodeGroup, BTreeMap<Phase, Script>>, String> {
    let mut steps = BTreeMap::new();
    for (group, phases) in raw {
        let mut scripts = BTreeMap::new();
        for (phase, file) in phases {
            let plain = Path::new(file)
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)));
            if !plain {
                return Err(format!(
                    "step script {file:?} must be a file in its folder or a subfolder"
                ));
            }
            let text = std::fs::read_to_string(folder.join(file))
                .map_err(|e| format!("{group} {phase} script {file}: {e}"))?;
            scripts.insert(
                *phase,
                Script {
                    file: file.clone(),
                    text,
                },
            );
        }
        steps.insert(*group, scripts);
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A catalogue of one component `c` whose parameter `p` is written as `param`.
    fn load_with(param: &str) -> Result<Catalogue, CatalogueError> {
        let dir = tempfile::tempdir().expect("dir");
        let folder = dir.path().join("c");
        std::fs::create_dir(&folder).expect("folder");
        std::fs::write(folder.join("install.sh"), "true\n").expect("script");
        std::fs::write(
            folder.join("component.toml"),
            format!(
                "name = \"c\"\nversion = \"1\"\ndescription = \"d\"\nproviders = [\"file\"]\n\
                 [parameters.p]\n{param}\ndescription = \"d\"\n\
                 [steps.master]\ninstall = \"install.sh\"\n"
            ),
        )
        .expect("toml");
        Catalogue::load(dir.path())
    }

    #[test]
    fn a_component_cannot_be_named_as_the_init_actions_stages_are() {
        let dir = tempfile::tempdir().expect("dir");
        let folder = dir.path().join("init");
        std::fs::create_dir(&folder).expect("folder");
        std::fs::write(folder.join("install.sh"), "true\n").expect("script");
        std::fs::write(
            folder.join("component.toml"),
            "name = \"init\"\nversion = \"1\"\ndescription = \"d\"\nproviders = [\"file\"]\n\
             [steps.master]\ninstall = \"install.sh\"\n",
        )
        .expect("toml");
        let err = Catalogue::load(dir.path())
            .expect_err("refused")
            .to_string();
        assert!(err.contains("init actions"), "{err}");
    }

    #[test]
    fn a_parameter_pattern_and_length_are_read_and_checked_at_load() {
        let catalogue =
            load_with("type = \"string\"\ndefault = \"2g\"\npattern = '[0-9]+g'\nmax_length = 8")
                .expect("loads");
        let p = &catalogue.get("c").expect("c").parameters["p"];
        assert_eq!(p.pattern.as_ref().map(Pattern::as_str), Some("[0-9]+g"));
        assert_eq!(p.max_length, 8);
        let defaulted = load_with("type = \"string\"\ndefault = \"\"").expect("loads");
        assert_eq!(
            defaulted.get("c").expect("c").parameters["p"].max_length,
            DEFAULT_MAX_LENGTH
        );
        for (param, problem) in [
            (
                "type = \"string\"\ndefault = \"x\"\npattern = '[0-9]+g'",
                "default is not a string matching [0-9]+g",
            ),
            (
                "type = \"string\"\ndefault = \"\"\npattern = '(['",
                "pattern \"([\"",
            ),
            (
                "type = \"integer\"\ndefault = 1\nmax_length = 3",
                "pattern and max_length are for string parameters",
            ),
        ] {
            let err = load_with(param).expect_err(param).to_string();
            assert!(err.contains(problem), "{err}");
        }
    }
}
