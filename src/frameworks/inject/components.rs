//! What an inject literal asks for: the components, each with its
//! parameters, checked as names and scalars and pointing at the offending
//! key or value when they are not.

use std::collections::BTreeMap;
use std::fmt;

use super::InjectError;
use super::literal::{Node, PyValue, Spanned};

/// A parameter value for one component.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

/// One component to install and its parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentRequest {
    pub name: String,
    pub params: BTreeMap<String, ParamValue>,
}

impl ParamValue {
    pub(crate) fn to_py(&self) -> PyValue {
        match self {
            ParamValue::Str(s) => PyValue::Str(s.clone()),
            ParamValue::Int(n) => PyValue::Int(*n),
            ParamValue::Float(x) => PyValue::Float(*x),
            ParamValue::Bool(b) => PyValue::Bool(*b),
        }
    }
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_py())
    }
}

/// The component requests `root`, the parsed `input`, spells: a dict of
/// component name to `''`, `None`, a version string or a dict of
/// parameters; or a set, list or tuple of component names.
pub(crate) fn requests(input: &str, root: &Spanned) -> Result<Vec<ComponentRequest>, InjectError> {
    let error =
        |node: &Spanned, message: String| InjectError::new(input, node.offset(input), message);
    let mut components: Vec<ComponentRequest> = Vec::new();
    let mut add = |key: &Spanned, params| {
        let name = component_name(key).map_err(|message| error(key, message))?;
        if components.iter().any(|c| c.name == name) {
            return Err(error(key, format!("duplicate component '{name}'")));
        }
        components.push(ComponentRequest {
            name: name.to_owned(),
            params,
        });
        Ok(())
    };
    match &root.node {
        Node::Dict(pairs) => {
            for (key, value) in pairs {
                // Name the component in parameter errors only once it is
                // known to be a valid name.
                let name = component_name(key).map_err(|message| error(key, message))?;
                let params =
                    component_params(name, value).map_err(|(at, message)| error(at, message))?;
                add(key, params)?;
            }
        }
        Node::Set(items) | Node::List(items) | Node::Tuple(items) => {
            for item in items {
                add(item, BTreeMap::new())?;
            }
        }
        Node::Leaf(_) => {
            return Err(error(
                root,
                format!(
                    "expected a dict, set, list or tuple of component names, found {}",
                    root.describe()
                ),
            ));
        }
    }
    Ok(components)
}

fn is_component_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && s.len() <= 63
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

fn is_param_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A string as a Python literal, shortened so an error message stays short.
fn shown(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX {
        PyValue::Str(s.to_owned()).to_string()
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{}...", PyValue::Str(head))
    }
}

fn component_name(key: &Spanned) -> Result<&str, String> {
    match &key.node {
        Node::Leaf(PyValue::Str(name)) if is_component_name(name) => Ok(name),
        Node::Leaf(PyValue::Str(name)) => Err(format!(
            "expected a component name (a lowercase letter, then up to 62 lowercase letters, digits, '_' or '-'), found {}",
            shown(name)
        )),
        _ => Err(format!(
            "expected a component name string, found {}",
            key.describe()
        )),
    }
}

fn component_params<'s>(
    name: &str,
    value: &'s Spanned,
) -> Result<BTreeMap<String, ParamValue>, (&'s Spanned, String)> {
    let mut params = BTreeMap::new();
    match &value.node {
        Node::Leaf(PyValue::None) => {}
        Node::Leaf(PyValue::Str(version)) => {
            if !version.is_empty() {
                params.insert("version".to_owned(), ParamValue::Str(version.clone()));
            }
        }
        Node::Dict(pairs) => {
            for (key, param) in pairs {
                let key_name = match &key.node {
                    Node::Leaf(PyValue::Str(k)) if is_param_name(k) => k,
                    Node::Leaf(PyValue::Str(k)) => {
                        return Err((
                            key,
                            format!(
                                "component '{name}': expected a parameter name ([a-z][a-z0-9_]*), found {}",
                                shown(k)
                            ),
                        ));
                    }
                    _ => {
                        return Err((
                            key,
                            format!(
                                "component '{name}': expected a parameter name string, found {}",
                                key.describe()
                            ),
                        ));
                    }
                };
                let scalar = match &param.node {
                    Node::Leaf(PyValue::Str(s)) => ParamValue::Str(s.clone()),
                    Node::Leaf(PyValue::Int(n)) => ParamValue::Int(*n),
                    Node::Leaf(PyValue::Float(x)) => ParamValue::Float(*x),
                    Node::Leaf(PyValue::Bool(b)) => ParamValue::Bool(*b),
                    _ => {
                        return Err((
                            param,
                            format!(
                                "component '{name}', parameter '{key_name}': expected a string, number or bool, found {}",
                                param.describe()
                            ),
                        ));
                    }
                };
                if params.insert(key_name.clone(), scalar).is_some() {
                    return Err((
                        key,
                        format!("component '{name}': duplicate parameter '{key_name}'"),
                    ));
                }
            }
        }
        _ => {
            return Err((
                value,
                format!(
                    "component '{name}': expected '', a version string, None or a dict of parameters, found {}",
                    value.describe()
                ),
            ));
        }
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use crate::frameworks::inject::testing::{err_of, names};
    use crate::frameworks::inject::{ParamValue, parse_inject};

    #[test]
    fn inject_reads_nested_parameter_dicts_versions_and_none() {
        let inject = parse_inject(
            "{'spark': {'workers_memory': '2g', 'cores': 2, 'ratio': 0.5, 'ui': True}, \
             'jupyter': '', 'hadoop': '3.3.6', 'zeppelin': None}",
        )
        .unwrap();
        assert_eq!(names(&inject), ["spark", "jupyter", "hadoop", "zeppelin"]);
        let spark = &inject.components[0].params;
        assert_eq!(spark["workers_memory"], ParamValue::Str("2g".into()));
        assert_eq!(spark["cores"], ParamValue::Int(2));
        assert_eq!(spark["ratio"], ParamValue::Float(0.5));
        assert_eq!(spark["ui"], ParamValue::Bool(true));
        assert!(inject.components[1].params.is_empty());
        assert_eq!(
            inject.components[2].params["version"],
            ParamValue::Str("3.3.6".into())
        );
        assert!(inject.components[3].params.is_empty());
    }

    #[test]
    fn inject_rejects_a_duplicate_component_naming_it() {
        let e = err_of(parse_inject("{'spark': '', 'hadoop': '', 'spark': '2'}"));
        assert_eq!(e.position, 29);
        assert_eq!(e.message, "duplicate component 'spark'");
        let e = err_of(parse_inject("['spark', 'spark']"));
        assert_eq!(e.position, 11);
    }

    #[test]
    fn inject_rejects_bad_component_names() {
        let e = err_of(parse_inject("{'Hadoop': ''}"));
        assert_eq!(e.position, 2);
        assert!(e.message.ends_with("found 'Hadoop'"), "{}", e.message);
        assert!(parse_inject("['1spark']").is_err());
        assert!(parse_inject("['']").is_err());
        assert!(parse_inject("['a b']").is_err());
        let longest = format!("['{}']", "a".repeat(63));
        assert!(parse_inject(&longest).is_ok());
        let too_long = format!("['{}']", "a".repeat(64));
        assert!(parse_inject(&too_long).is_err());
        let e = err_of(parse_inject("{1: ''}"));
        assert_eq!(
            e.message,
            "expected a component name string, found an integer"
        );
    }

    #[test]
    fn inject_rejects_bad_parameters_naming_component_and_parameter() {
        let e = err_of(parse_inject("{'spark': {'cores': [2]}}"));
        assert_eq!(e.position, 21);
        assert_eq!(
            e.message,
            "component 'spark', parameter 'cores': expected a string, number or bool, found a list"
        );
        let e = err_of(parse_inject("{'spark': {'Cores': 2}}"));
        assert_eq!(e.position, 12);
        assert!(
            e.message
                .starts_with("component 'spark': expected a parameter name")
        );
        let e = err_of(parse_inject("{'spark': {'cores': 2, 'cores': 3}}"));
        assert_eq!(e.message, "component 'spark': duplicate parameter 'cores'");
        let e = err_of(parse_inject("{'spark': 2}"));
        assert_eq!(e.position, 11);
        assert!(e.message.starts_with("component 'spark': expected ''"));
        assert!(parse_inject("{'spark': {'cores': None}}").is_err());
    }

    #[test]
    fn inject_rejects_a_scalar_at_the_top_level_naming_it() {
        let e = err_of(parse_inject("  'hadoop'"));
        assert_eq!(e.position, 3);
        assert_eq!(
            e.message,
            "expected a dict, set, list or tuple of component names, found a string"
        );
    }
}
