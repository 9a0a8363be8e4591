//! OpenStack API clients: Keystone v3, Heat v1, and Glance and Nova listings. The
//! operator's cloud settings are `config::OpenstackSettings` (with `config::clouds`).

pub mod events;
pub mod heat;
pub mod keystone;
pub mod nodes;
pub mod quota;
#[cfg(test)]
pub(crate) mod stand_in;

/// The reason in an OpenStack service's error body: `{"error": {"message": ...}}` (Heat),
/// `{"itemNotFound": {"message": ...}}` (Nova), `explanation` or `title` (webob), or
/// else the start of the text itself.
pub(crate) fn error_message(text: &str) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_str(text).ok();
    let from_json = parsed.as_ref().and_then(|v| {
        v["error"]["message"]
            .as_str()
            .or_else(|| v["explanation"].as_str())
            .or_else(|| v["title"].as_str())
            .or_else(|| {
                let fields = v.as_object()?;
                let (_, only) = fields.iter().next().filter(|_| fields.len() == 1)?;
                only["message"].as_str()
            })
    });
    from_json
        .map(str::to_string)
        .unwrap_or_else(|| text.chars().take(300).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reason_is_taken_from_heats_novas_or_a_plain_error_body() {
        let heat = r#"{"explanation": "The server could not comply", "code": 400,
            "error": {"message": "Property error: resources.master.properties.flavor: Error validating value 'm9'", "type": "StackValidationFailed"}}"#;
        assert_eq!(
            error_message(heat),
            "Property error: resources.master.properties.flavor: Error validating value 'm9'"
        );
        let nova = r#"{"forbidden": {"code": 403, "message": "Policy doesn't allow os_compute_api:flavors to be performed."}}"#;
        assert_eq!(
            error_message(nova),
            "Policy doesn't allow os_compute_api:flavors to be performed."
        );
        assert_eq!(
            error_message("<html>bad gateway</html>"),
            "<html>bad gateway</html>"
        );
    }
}
