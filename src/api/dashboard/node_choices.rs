//! The create form's images and flavors: lists from the cloud, fetched with the signed-in
//! user's own token, where OpenStack is a provider here; free text where they cannot be
//! listed, with the reason.

use super::form::field;
use super::views::{NodeField, NodeFields, NodeOption};
use crate::api::AppState;
use crate::auth::Identity;
use crate::domain::ProviderKind;
use crate::openstack::nodes::{Flavor, Image, ListError, NodeChoices};

/// What the form's four node fields are chosen from: `None` where OpenStack is not a
/// provider here or the user has no Keystone token (auth none).
pub(super) async fn listed(state: &AppState, identity: &Identity) -> Option<NodeChoices> {
    if !state
        .providers
        .kinds()
        .contains(&ProviderKind::Openstack.as_str())
    {
        return None;
    }
    let token = identity.token.as_ref()?;
    Some(crate::openstack::nodes::choices(token, &state.settings.openstack).await)
}

/// One option of a select: the value sent, the text shown.
struct Choice {
    value: String,
    text: String,
}

/// The four fields (master/slave image, master/slave flavor) as the template draws them:
/// a select when the cloud listed something, else a text input; and what could not be
/// listed, and why.
pub(super) fn fields(form: &[(String, String)], choices: Option<&NodeChoices>) -> NodeFields {
    let images = choices.map(|c| c.images.as_ref().map(|i| image_choices(i)));
    let flavors = choices.map(|c| c.flavors.as_ref().map(|f| flavor_choices(f)));
    let field_of = |id: &'static str,
                    label: &'static str,
                    default: &str,
                    listed: Option<&Result<Vec<Choice>, &ListError>>| {
        let given = field(form, id);
        let value = if given.is_empty() {
            default.to_string()
        } else {
            given.clone()
        };
        let options = match listed {
            Some(Ok(options)) if !options.is_empty() => Some(select(options, &given, default)),
            _ => None,
        };
        NodeField {
            id,
            label,
            value,
            options,
        }
    };
    let problem = |what: &str, listed: &Option<Result<Vec<Choice>, &ListError>>| match listed {
        Some(Err(e)) => Some(format!(
            "{what} could not be listed: {e}. Type a name or id."
        )),
        Some(Ok(options)) if options.is_empty() => Some(format!(
            "The cloud lists no {}; type a name or id.",
            what.to_lowercase()
        )),
        _ => None,
    };
    let problems: Vec<String> = [problem("Images", &images), problem("Flavors", &flavors)]
        .into_iter()
        .flatten()
        .collect();
    NodeFields {
        listed: images.as_ref().is_some_and(Result::is_ok)
            || flavors.as_ref().is_some_and(Result::is_ok),
        problems,
        fields: vec![
            field_of(
                "masterimage",
                "Master image",
                "ubuntu-22.04",
                images.as_ref(),
            ),
            field_of("slaveimage", "Slave image", "ubuntu-22.04", images.as_ref()),
            field_of(
                "masterflavor",
                "Master flavor",
                "m1.medium",
                flavors.as_ref(),
            ),
            field_of("slaveflavor", "Slave flavor", "m1.small", flavors.as_ref()),
        ],
    }
}

/// Images by name; by id where two share a name, which Heat could not tell apart.
fn image_choices(images: &[Image]) -> Vec<Choice> {
    let mut named: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for image in images {
        *named.entry(image.name.as_str()).or_default() += 1;
    }
    images
        .iter()
        .map(|image| {
            let shared = named[image.name.as_str()] > 1;
            let mut text = image.name.clone();
            if shared {
                text.push_str(&format!(" ({})", image.id));
            }
            let needs: Vec<String> = [
                (image.min_disk_gb > 0).then(|| format!("{} GB disk", image.min_disk_gb)),
                (image.min_ram_mb > 0).then(|| format!("{} RAM", memory(image.min_ram_mb))),
            ]
            .into_iter()
            .flatten()
            .collect();
            if !needs.is_empty() {
                text.push_str(&format!(" — needs {}", needs.join(", ")));
            }
            Choice {
                value: if shared {
                    image.id.clone()
                } else {
                    image.name.clone()
                },
                text,
            }
        })
        .collect()
}

fn flavor_choices(flavors: &[Flavor]) -> Vec<Choice> {
    flavors
        .iter()
        .map(|f| Choice {
            value: f.name.clone(),
            text: format!(
                "{} — {} vCPU{}, {} RAM, {} GB disk",
                f.name,
                f.vcpus,
                if f.vcpus == 1 { "" } else { "s" },
                memory(f.ram_mb),
                f.disk_gb
            ),
        })
        .collect()
}

fn memory(mb: u64) -> String {
    if mb >= 1024 && mb.is_multiple_of(1024) {
        format!("{} GiB", mb / 1024)
    } else {
        format!("{mb} MiB")
    }
}

/// The options with one selected: what the form sent, else the default, else the first.
/// A value sent that the cloud does not list is kept, marked, rather than silently changed.
fn select(options: &[Choice], given: &str, default: &str) -> Vec<NodeOption> {
    let wanted = if !given.is_empty() {
        given
    } else if options.iter().any(|o| o.value == default) {
        default
    } else {
        options[0].value.as_str()
    };
    let mut drawn: Vec<NodeOption> = Vec::with_capacity(options.len() + 1);
    if !options.iter().any(|o| o.value == wanted) {
        drawn.push(NodeOption {
            value: wanted.to_string(),
            text: format!("{wanted} (not listed by the cloud)"),
            selected: true,
        });
    }
    drawn.extend(options.iter().map(|o| NodeOption {
        value: o.value.clone(),
        text: o.text.clone(),
        selected: o.value == wanted,
    }));
    drawn
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choices() -> NodeChoices {
        NodeChoices {
            images: Ok(vec![
                Image {
                    id: "1".into(),
                    name: "debian-12".into(),
                    min_disk_gb: 10,
                    min_ram_mb: 0,
                },
                Image {
                    id: "2".into(),
                    name: "twin".into(),
                    min_disk_gb: 0,
                    min_ram_mb: 0,
                },
                Image {
                    id: "3".into(),
                    name: "twin".into(),
                    min_disk_gb: 0,
                    min_ram_mb: 512,
                },
            ]),
            flavors: Err(ListError::Refused {
                service: "Nova (flavors)",
                status: 403,
                message: "Policy doesn't allow it".into(),
            }),
        }
    }

    #[test]
    fn listed_images_become_a_select_and_unlisted_flavors_stay_free_text_with_the_reason() {
        let form = vec![("slaveimage".to_string(), "3".to_string())];
        let drawn = fields(&form, Some(&choices()));
        // Nothing given and the default not listed: the first is chosen.
        let options = drawn.fields[0].options.as_ref().expect("a select");
        assert_eq!(options.len(), 3);
        assert_eq!(options[0].text, "debian-12 — needs 10 GB disk");
        assert!(options[0].selected);
        // Two images share a name: each is offered by id.
        assert_eq!(options[1].value, "2");
        assert_eq!(options[2].text, "twin (3) — needs 512 MiB RAM");
        let slave = drawn.fields[1].options.as_ref().expect("a select");
        assert!(slave[2].selected, "what the form sent stays chosen");
        // Flavors failed: text inputs with their defaults, and the reason.
        assert!(drawn.fields[2].options.is_none());
        assert_eq!(drawn.fields[2].value, "m1.medium");
        assert_eq!(
            drawn.problems,
            [
                "Flavors could not be listed: Nova (flavors) refused the listing (403): Policy doesn't allow it. Type a name or id."
            ]
        );
        assert!(drawn.listed);
    }

    #[test]
    fn a_value_the_cloud_does_not_list_is_kept_and_marked() {
        let form = vec![("masterimage".to_string(), "my-own".to_string())];
        let drawn = fields(&form, Some(&choices()));
        let options = drawn.fields[0].options.as_ref().expect("a select");
        assert_eq!(options[0].value, "my-own");
        assert_eq!(options[0].text, "my-own (not listed by the cloud)");
        assert!(options[0].selected);
        assert_eq!(options.iter().filter(|o| o.selected).count(), 1);
    }

    #[test]
    fn without_openstack_every_field_is_free_text() {
        let drawn = fields(&[], None);
        assert!(!drawn.listed);
        assert!(drawn.problems.is_empty());
        for f in &drawn.fields {
            assert!(f.options.is_none());
        }
        assert_eq!(drawn.fields[3].value, "m1.small");
    }
}
