//! Against the real Keystone and Heat of the test bed (tests/testbed/openstack.sh, started
//! by tests/run.sh, which exports OS_AUTH_URL and the demo user's credentials).

use serde_json::{Value, json};

use crate::catalogue::{catalogue, component_sets, compose};

pub struct Cloud {
    pub client: reqwest::Client,
    pub token: String,
    /// Heat's endpoint for the demo project: http://127.0.0.1:8004/v1/<project id>
    pub heat: String,
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the suite with tests/run.sh, which starts the Keystone + Heat test bed")
    })
}

/// A token for the test bed's demo user, and Heat's endpoint from its catalog.
pub async fn cloud() -> Cloud {
    let client = reqwest::Client::new();
    let body = json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": env("OS_USERNAME"),
            "domain": {"name": std::env::var("OS_USER_DOMAIN_NAME").unwrap_or_else(|_| "Default".into())},
            "password": env("OS_PASSWORD")}}},
        "scope": {"project": {
            "name": env("OS_PROJECT_NAME"),
            "domain": {"name": std::env::var("OS_PROJECT_DOMAIN_NAME").unwrap_or_else(|_| "Default".into())}}}
    }});
    let response = client
        .post(format!(
            "{}/auth/tokens",
            env("OS_AUTH_URL").trim_end_matches('/')
        ))
        .json(&body)
        .send()
        .await
        .expect("Keystone answers");
    assert_eq!(response.status(), 201, "Keystone accepts the demo user");
    let token = response.headers()["x-subject-token"]
        .to_str()
        .expect("token")
        .to_string();
    let body: Value = response.json().await.expect("json");
    let heat = body["token"]["catalog"]
        .as_array()
        .expect("catalog")
        .iter()
        .find(|service| service["type"] == "orchestration")
        .and_then(|service| {
            service["endpoints"]
                .as_array()?
                .iter()
                .find(|e| e["interface"] == "public")?["url"]
                .as_str()
                .map(str::to_string)
        })
        .expect("Heat is in the catalog");
    Cloud {
        client,
        token,
        heat,
    }
}

#[tokio::test]
async fn real_heat_validates_every_template_the_catalogue_can_produce() {
    let _heat = crate::openstack::HEAT_GATE.read().await;
    let cloud = cloud().await;
    let catalogue = catalogue();
    let mut validated = 0;
    for components in component_sets(&catalogue) {
        for slaves in [1, 20] {
            let composition = compose(&catalogue, &components, slaves);
            let template: Value = serde_saphyr::from_str(&composition.template).expect("YAML");
            let response = cloud
                .client
                .post(format!("{}/validate", cloud.heat))
                .header("X-Auth-Token", &cloud.token)
                .json(&json!({"template": template, "files": composition.files}))
                .send()
                .await
                .expect("Heat answers");
            let status = response.status();
            let body = response.text().await.expect("body");
            assert_eq!(status, 200, "{components:?} with {slaves} slaves: {body}");
            let answer: Value = serde_json::from_str(&body).expect("json");
            assert_eq!(
                answer["Parameters"]["slave_count"]["Default"], slaves,
                "{body}"
            );
            validated += 1;
        }
    }
    assert_eq!(validated, 2 * (catalogue.names().len() + 1));
    // The slaves' member template, on its own too: Heat checks a nested template only
    // when it makes it.
    let composition = compose(&catalogue, &["spark".to_string()], 1);
    let slave: Value =
        serde_saphyr::from_str(&composition.files["disco-slave.yaml"]).expect("YAML");
    let response = cloud
        .client
        .post(format!("{}/validate", cloud.heat))
        .header("X-Auth-Token", &cloud.token)
        .json(&json!({"template": slave}))
        .send()
        .await
        .expect("Heat answers");
    let status = response.status();
    let body = response.text().await.expect("body");
    assert_eq!(status, 200, "the slave template: {body}");
    let answer: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        answer["Parameters"]["user_data"]["NoEcho"], "true",
        "{body}"
    );
}

#[tokio::test]
async fn real_heat_refuses_a_broken_template_so_the_check_above_means_something() {
    let _heat = crate::openstack::HEAT_GATE.read().await;
    let cloud = cloud().await;
    let response = cloud
        .client
        .post(format!("{}/validate", cloud.heat))
        .header("X-Auth-Token", &cloud.token)
        .json(&json!({"template": {
            "heat_template_version": "2018-08-31",
            "resources": {"x": {"type": "OS::Disco::NoSuchType"}}
        }}))
        .send()
        .await
        .expect("Heat answers");
    assert_eq!(response.status(), 400);
    let body = response.text().await.expect("body");
    assert!(body.contains("OS::Disco::NoSuchType"), "{body}");
}
