//! Secrets (passwords, tokens, private keys) never reach the log, and reach a response only
//! where it asked for them: the cluster's own rendering shows its private key to its owner.

use crate::helpers::{CATEGORY, ServerProcess};

const PASSWORD: &str = "Pw-9f8e7d6c5b4a";
const TOKEN: &str = "gAAAAABtoken0123456789";

#[tokio::test]
async fn secrets_never_appear_in_the_log_or_in_listings() {
    let dir = tempfile::tempdir().expect("dir");
    let mut server = ServerProcess::start(dir.path(), &[("RUST_LOG", "trace")]);
    let client = reqwest::Client::new();
    let secret_headers = |request: reqwest::RequestBuilder| {
        request
            .header("X-Password", PASSWORD)
            .header("X-Auth-Token", TOKEN)
            .header("X-User-Name", "alice")
    };
    let response = secret_headers(client.post(server.url("/disco/")))
        .header("Category", CATEGORY)
        .header(
            "X-OCCI-Attribute",
            format!(
                "icclab.disco.dependencies.inject=\"['spark']\",icclab.disco.deployer.password=\"{PASSWORD}\""
            ),
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 201);
    let location = crate::helpers::location(response.headers());
    let created = response.text().await.expect("body");

    // A refused request with a secret of the wrong type must not echo it either.
    let refused = secret_headers(client.post(server.url("/disco/")))
        .header("Category", CATEGORY)
        .header(
            "X-OCCI-Attribute",
            "icclab.disco.dependencies.inject=\"[]\",icclab.disco.deployer.password=987654321987",
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(refused.status(), 400);
    let refused = refused.text().await.expect("body");
    assert!(!refused.contains("987654321987"), "{refused}");

    let mut private_key = String::new();
    for accept in ["text/plain", "text/occi", "application/occi+json"] {
        let shown = secret_headers(client.get(&location))
            .header("Accept", accept)
            .send()
            .await
            .expect("sent");
        let headers = format!("{:?}", shown.headers());
        let body = shown.text().await.expect("body");
        let all = format!("{headers}{body}");
        assert!(
            !all.contains(PASSWORD),
            "{accept} rendering shows the password"
        );
        assert!(
            all.contains("OPENSSH PRIVATE KEY"),
            "{accept}: the owner sees the key"
        );
        if accept == "text/plain" {
            let attributes = crate::helpers::plain_attributes(&body);
            private_key = attributes
                .into_iter()
                .find(|(n, _)| n == "ssh_private_key")
                .map(|(_, v)| v)
                .expect("private key attribute");
        }
        for accept_list in [
            "text/plain",
            "text/occi",
            "application/occi+json",
            "text/uri-list",
        ] {
            let listing = secret_headers(client.get(server.url("/disco/")))
                .header("Accept", accept_list)
                .send()
                .await
                .expect("sent");
            let headers = format!("{:?}", listing.headers());
            let text = headers + &listing.text().await.expect("body");
            assert!(
                !text.contains(PASSWORD) && !text.contains("PRIVATE KEY"),
                "{accept_list} listing"
            );
        }
    }
    assert!(!created.contains(PASSWORD) && !created.contains("PRIVATE KEY"));

    let deleted = secret_headers(client.delete(&location))
        .send()
        .await
        .expect("sent");
    assert_eq!(deleted.status(), 200);
    let deleted = deleted.text().await.expect("body");
    assert!(
        !deleted.contains("PRIVATE KEY"),
        "the delete answer hides the key"
    );

    server.kill();
    let log = server.log_text();
    assert!(
        log.contains("cluster created"),
        "the log was captured at trace level"
    );
    assert!(!log.contains(PASSWORD), "the password is in the log");
    assert!(!log.contains(TOKEN), "the token is in the log");
    assert!(
        !log.contains("987654321987"),
        "a refused secret is in the log"
    );
    let key_body: Vec<&str> = private_key
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    assert!(!key_body.is_empty());
    for line in key_body {
        assert!(!log.contains(line), "a private key line is in the log");
    }
}

#[tokio::test]
async fn the_database_and_data_directory_are_private_to_the_service_user() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("data dir");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let mut server = ServerProcess::start(&data, &[]);
    server.kill();
    let mode = std::fs::metadata(&data)
        .expect("data dir")
        .permissions()
        .mode();
    // As root, local clusters run as users of their own and pass through the data
    // directory to theirs: they may not list it.
    let expected = if nix::unistd::geteuid().is_root() {
        0o711
    } else {
        0o700
    };
    assert_eq!(mode & 0o777, expected, "data dir mode {mode:o}");
    let db = std::fs::metadata(data.join("disco.db")).expect("database");
    assert!(db.is_file());
    assert_eq!(
        db.permissions().mode() & 0o777,
        0o600,
        "the database's mode"
    );
}
