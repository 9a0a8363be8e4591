//! The dashboard in a real headless Chromium (Debian's chromium and chromium-driver,
//! over WebDriver): create a local JupyterLab cluster through the form, from the
//! keyboard, watch it become ready without a reload, open its JupyterLab link, download
//! its key, delete it. Screenshots of every page, at 1280 and 390 px wide, go to
//! target/e2e-screenshots.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use disco::domain::ProviderKind;
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};

use crate::helpers::spawn_app_with;

/// chromedriver and the browsers it started: one process group, killed whatever
/// happens to the test.
struct Driver {
    child: std::process::Child,
    port: u16,
    scratch: tempfile::TempDir,
}

impl Driver {
    fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (tests/run.sh installs chromium-driver)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Driver {
            child,
            port,
            scratch: tempfile::tempdir().expect("scratch"),
        }
    }

    /// A browser session with a viewport of exactly `width` x `height`.
    async fn session(&self, width: u32, height: u32) -> (Client, PathBuf) {
        let profile = self.scratch.path().join(format!("profile-{width}"));
        let downloads = self.scratch.path().join(format!("downloads-{width}"));
        std::fs::create_dir_all(&downloads).expect("downloads");
        let capabilities = serde_json::json!({ "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                format!("--user-data-dir={}", profile.display()),
                format!("--window-size={width},{height}")],
            "mobileEmulation": { "deviceMetrics": {
                "width": width, "height": height, "pixelRatio": 1,
                "mobile": width < 800, "touch": width < 800 } },
            "prefs": { "download.default_directory": downloads,
                "download.prompt_for_download": false } } });
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities.as_object().cloned().unwrap_or_default())
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a browser session");
        (client, downloads)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = self.child.wait();
    }
}

fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/e2e-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

async fn shot(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("screenshot");
    std::fs::write(screenshots().join(format!("{name}.png")), png).expect("write");
}

async fn wait_until(what: &str, within: Duration, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn text_of(client: &Client, css: &str) -> String {
    match client.find(Locator::Css(css)).await {
        Ok(element) => element.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Whether the page fits its viewport's width (no sideways scrolling).
async fn fits(client: &Client) -> bool {
    let widths = client
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth]",
            vec![],
        )
        .await
        .expect("script");
    widths[0].as_u64() <= widths[1].as_u64()
}

/// The field a label (whose text starts with `label`) is for.
async fn labelled(browser: &Client, label: &str) -> fantoccini::elements::Element {
    let found = browser
        .find(Locator::XPath(&format!(
            "//label[starts-with(normalize-space(.), '{label}')]"
        )))
        .await
        .unwrap_or_else(|_| panic!("a label {label}"));
    let id = found.attr("for").await.expect("attr").expect("for");
    browser.find(Locator::Id(&id)).await.expect("its field")
}

async fn wait_for_path(browser: &Client, path: &str) {
    wait_until(path, Duration::from_secs(20), async || {
        browser
            .current_url()
            .await
            .is_ok_and(|url| url.path() == path)
    })
    .await;
}

async fn wait_for_cluster_page(browser: &Client) {
    wait_until("the cluster page", Duration::from_secs(20), async || {
        browser
            .current_url()
            .await
            .is_ok_and(|url| url.path().starts_with("/dashboard/clusters/"))
    })
    .await;
}

/// Leaves a mark in the page that a reload would wipe.
async fn mark_the_page(browser: &Client) {
    browser
        .execute("window.stillTheSamePage = true; return true", vec![])
        .await
        .expect("mark");
}

async fn still_the_marked_page(browser: &Client) -> bool {
    browser
        .execute("return window.stillTheSamePage === true", vec![])
        .await
        .expect("script")
        == serde_json::json!(true)
}

const ENTER: fn() -> String = || String::from(char::from(Key::Enter));

/// With Keystone: sign in, and the create form's image and flavor fields are the
/// cloud's lists (Glance and Nova, with the user's token), chosen from the keyboard; a
/// staged OpenStack cluster carries the choice. At 1280 px it is then deployed from its
/// page and followed to ready live; each is deleted, leaving no stack. At 1280 and 390 px.
#[tokio::test]
async fn signed_in_with_keystone_the_form_offers_the_clouds_images_and_flavors() {
    let _heat = crate::openstack::HEAT_GATE.read().await;
    let app = spawn_app_with(|s| {
        crate::openstack::on_the_test_bed(s, "fake-env.yaml");
        s.jobs.poll_interval_secs = 1;
    })
    .await;
    let cloud = crate::heat::cloud().await;
    let driver = Driver::start();
    for (width, height) in [(1280, 900), (390, 844)] {
        let (browser, _) = driver.session(width, height).await;
        browser.goto(&app.url("/dashboard")).await.expect("open");
        wait_for_path(&browser, "/dashboard/login").await;
        assert!(fits(&browser).await, "the sign-in page fits {width} px");
        shot(&browser, &format!("login-{width}")).await;
        labelled(&browser, "User")
            .await
            .send_keys("demo")
            .await
            .expect("type");
        labelled(&browser, "Password")
            .await
            .send_keys("demopass")
            .await
            .expect("type");
        let project = labelled(&browser, "Project").await;
        project.send_keys("demo").await.expect("type");
        project.send_keys(&ENTER()).await.expect("enter signs in");
        wait_for_path(&browser, "/dashboard").await;

        browser
            .goto(&app.url("/dashboard/new"))
            .await
            .expect("open");
        let flavor = labelled(&browser, "Master flavor").await;
        assert_eq!(flavor.tag_name().await.expect("tag"), "select");
        let offered = text_of(&browser, "#masterflavor").await;
        for name in ["m1.tiny", "m1.small", "m1.medium", "m1.large", "m1.xlarge"] {
            assert!(
                offered.contains(name),
                "{name} among the flavors: {offered}"
            );
        }
        assert!(
            offered.contains("m1.large — 4 vCPUs, 8 GiB RAM"),
            "{offered}"
        );
        let images = text_of(&browser, "#slaveimage").await;
        assert!(images.contains("debian-12"), "{images}");
        assert!(fits(&browser).await, "the create form fits {width} px");
        shot(&browser, &format!("create-openstack-{width}")).await;
        browser
            .execute(
                "document.getElementById('masterimage').scrollIntoView(); return true",
                vec![],
            )
            .await
            .expect("scroll");
        shot(&browser, &format!("create-openstack-{width}-nodes")).await;

        // From the keyboard: typing a name in a focused select chooses it.
        let name = format!("staged-{width}");
        labelled(&browser, "Name")
            .await
            .send_keys(&name)
            .await
            .expect("type");
        labelled(&browser, "dask ")
            .await
            .send_keys(" ")
            .await
            .expect("check");
        flavor.send_keys("m1.l").await.expect("type");
        labelled(&browser, "Slave image")
            .await
            .send_keys("debian")
            .await
            .expect("type");
        let stage = labelled(&browser, "Stage only").await;
        stage.send_keys(" ").await.expect("check");
        stage.send_keys(&ENTER()).await.expect("enter submits");
        wait_for_cluster_page(&browser).await;
        let id = browser
            .current_url()
            .await
            .expect("url")
            .path()
            .rsplit('/')
            .next()
            .expect("id")
            .to_string();
        let token = crate::openstack::token_for("demo", "demopass", "demo").await;
        let template = app
            .client
            .get(app.url(&format!("/disco/{id}/template")))
            .header("X-Auth-Token", &token)
            .send()
            .await
            .expect("sent")
            .text()
            .await
            .expect("text");
        for (parameter, chosen) in [("master_flavor", "m1.large"), ("slave_image", "debian-12")] {
            let default = template
                .split(&format!("  {parameter}:"))
                .nth(1)
                .and_then(|rest| rest.split("default: ").nth(1))
                .and_then(|rest| rest.lines().next())
                .unwrap_or_default();
            assert_eq!(
                default,
                format!("\"{chosen}\""),
                "{parameter} in the staged template"
            );
        }
        shot(&browser, &format!("cluster-openstack-staged-{width}")).await;

        if width == 1280 {
            // Deploy from the page: the stack is made, and the page follows it to ready
            // without a reload once the nodes signal.
            browser
                .find(Locator::XPath("//button[normalize-space(.)='Deploy']"))
                .await
                .expect("the deploy button")
                .click()
                .await
                .expect("click");
            wait_until(
                "installing on the page",
                Duration::from_secs(120),
                async || text_of(&browser, "#state").await == "installing",
            )
            .await;
            mark_the_page(&browser).await;
            let url = app.url(&format!("/disco/{id}"));
            let stack = crate::openstack::stack_name(&url);
            cloud
                .play_nodes(&stack, &crate::openstack::nodes(2), "SUCCESS", "installed")
                .await;
            wait_until("ready on the page", Duration::from_secs(120), async || {
                text_of(&browser, "#state").await == "ready"
            })
            .await;
            assert!(
                still_the_marked_page(&browser).await,
                "the page was reloaded"
            );
            wait_until(
                "the address on the page",
                Duration::from_secs(10),
                async || {
                    text_of(&browser, "#external-ip")
                        .await
                        .parse::<std::net::Ipv4Addr>()
                        .is_ok()
                },
            )
            .await;
            shot(&browser, "cluster-openstack-ready-1280").await;
        }

        browser
            .find(Locator::Css("button.danger"))
            .await
            .expect("the delete button")
            .click()
            .await
            .expect("click");
        browser.accept_alert().await.expect("confirm");
        wait_for_path(&browser, "/dashboard").await;
        let url = app.url(&format!("/disco/{id}"));
        crate::openstack::wait_until_gone(&app.client, &url, &token, "never deleted").await;
        assert!(
            cloud
                .stacks_named(&crate::openstack::stack_name(&url))
                .await
                .is_empty(),
            "no stack left"
        );
        browser.close().await.expect("close");
    }
}

#[tokio::test]
async fn a_local_jupyter_cluster_from_the_dashboard_form_to_its_deletion() {
    let app = spawn_app_with(|settings| {
        settings.provider.default = ProviderKind::Local;
        settings.provider.local.stop_grace_secs = 5;
    })
    .await;
    let driver = Driver::start();
    let (browser, downloads) = driver.session(1280, 900).await;

    browser.goto(&app.url("/dashboard")).await.expect("open");
    shot(&browser, "clusters-1280-empty").await;
    browser
        .find(Locator::LinkText("Create a cluster"))
        .await
        .expect("the create link")
        .click()
        .await
        .expect("click");
    shot(&browser, "create-1280").await;

    // The form, from the keyboard: fields found by their labels.
    let field = async |label: &str| labelled(&browser, label).await;
    field("Name")
        .await
        .send_keys("notebook")
        .await
        .expect("type");
    field("jupyter")
        .await
        .send_keys(" ")
        .await
        .expect("space checks it");
    field("jupyter.token")
        .await
        .send_keys("e2e-token-1")
        .await
        .expect("type");
    let slaves = field("Slaves").await;
    slaves.clear().await.expect("clear");
    slaves.send_keys("0").await.expect("type");
    field("Name")
        .await
        .send_keys(&ENTER())
        .await
        .expect("enter submits");

    wait_for_cluster_page(&browser).await;
    let page_url = browser.current_url().await.expect("url").to_string();
    mark_the_page(&browser).await;
    wait_until("ready on the page", Duration::from_secs(900), async || {
        text_of(&browser, "#state").await == "ready"
    })
    .await;
    assert!(
        still_the_marked_page(&browser).await,
        "the page was reloaded"
    );
    wait_until("the task tree", Duration::from_secs(10), async || {
        text_of(&browser, "#tasks tbody")
            .await
            .contains("jupyter smoke")
    })
    .await;
    wait_until("the JupyterLab link", Duration::from_secs(10), async || {
        browser.find(Locator::Css("#web-uis a")).await.is_ok()
    })
    .await;
    assert!(
        browser.find(Locator::Css("#web-uis .dot-up")).await.is_ok(),
        "the server reached JupyterLab"
    );
    shot(&browser, "cluster-1280-ready").await;

    // The same page at phone width.
    let (phone, _) = driver.session(390, 844).await;
    phone.goto(&page_url).await.expect("open");
    wait_until("the tree at 390 px", Duration::from_secs(10), async || {
        text_of(&phone, "#tasks tbody")
            .await
            .contains("jupyter smoke")
    })
    .await;
    assert!(fits(&phone).await, "the cluster page fits 390 px");
    shot(&phone, "cluster-390").await;
    phone.goto(&app.url("/dashboard/new")).await.expect("open");
    assert!(fits(&phone).await, "the create form fits 390 px");
    shot(&phone, "create-390").await;
    phone.goto(&app.url("/dashboard")).await.expect("open");
    assert!(fits(&phone).await, "the listing fits 390 px");
    shot(&phone, "clusters-390").await;
    phone.close().await.expect("close");

    // The key, downloaded.
    browser
        .find(Locator::LinkText("Download the SSH private key"))
        .await
        .expect("the key link")
        .click()
        .await
        .expect("click");
    wait_until("the key file", Duration::from_secs(20), async || {
        std::fs::read_dir(&downloads)
            .map(|entries| {
                entries
                    .flatten()
                    .any(|e| e.file_name().to_string_lossy() == "notebook.key")
            })
            .unwrap_or(false)
    })
    .await;
    let key = std::fs::read_to_string(downloads.join("notebook.key")).expect("key");
    assert!(key.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));

    // JupyterLab, from its link: it answers, and wants the token.
    let jupyter = browser
        .find(Locator::Css("#web-uis a"))
        .await
        .expect("link")
        .attr("href")
        .await
        .expect("attr")
        .expect("href");
    browser.goto(&jupyter).await.expect("open JupyterLab");
    wait_until("JupyterLab's page", Duration::from_secs(20), async || {
        browser
            .title()
            .await
            .is_ok_and(|title| title.contains("Jupyter"))
    })
    .await;
    shot(&browser, "jupyterlab-1280").await;

    // Scale from the slave-count field: one slave more, and the page says two nodes.
    browser.goto(&page_url).await.expect("back");
    let field = labelled(&browser, "Slaves").await;
    field.clear().await.expect("clear");
    field.send_keys("1").await.expect("type");
    browser
        .find(Locator::XPath("//button[normalize-space(.)='Scale']"))
        .await
        .expect("the scale button")
        .click()
        .await
        .expect("click");
    wait_until("scaled on the page", Duration::from_secs(120), async || {
        browser.refresh().await.is_ok()
            && text_of(&browser, "#state").await == "ready"
            && text_of(&browser, "#nodes").await == "2"
    })
    .await;
    shot(&browser, "cluster-scaled-1280").await;

    // Stop, confirmed: nothing runs; then start, and JupyterLab answers again.
    browser.goto(&page_url).await.expect("back");
    for (button, question, state) in [
        ("Stop this cluster", "Stop notebook?", "stopped"),
        ("Start this cluster", "Start notebook again?", "ready"),
    ] {
        browser
            .find(Locator::XPath(&format!(
                "//button[normalize-space(.)='{button}']"
            )))
            .await
            .unwrap_or_else(|_| panic!("the {button} button"))
            .click()
            .await
            .expect("click");
        let asked = browser.get_alert_text().await.expect("a confirmation");
        assert!(asked.starts_with(question), "{asked}");
        browser.accept_alert().await.expect("confirm");
        wait_until(
            &format!("{state} on the page"),
            Duration::from_secs(120),
            async || text_of(&browser, "#state").await == state,
        )
        .await;
        shot(&browser, &format!("cluster-{state}-1280")).await;
        // The page offers what the state takes, once reloaded.
        browser.refresh().await.expect("reload");
    }
    let answers = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
        .get(format!(
            "{}/api/status",
            jupyter.trim_end_matches("/lab").trim_end_matches('/')
        ))
        .send()
        .await
        .map(|r| r.status().as_u16());
    assert_eq!(
        answers.ok(),
        Some(403),
        "JupyterLab answers again (and wants its token)"
    );

    // Delete, confirmed.
    browser.goto(&page_url).await.expect("back");
    browser
        .find(Locator::Css("button.danger"))
        .await
        .expect("the delete button")
        .click()
        .await
        .expect("click");
    let question = browser.get_alert_text().await.expect("a confirmation");
    assert!(question.contains("Delete notebook"), "{question}");
    browser.accept_alert().await.expect("confirm");
    wait_for_path(&browser, "/dashboard").await;
    let location = app.url(&format!(
        "/disco/{}",
        page_url.rsplit('/').next().expect("id")
    ));
    app.wait_for(&location, None).await;
    browser.refresh().await.expect("reload");
    assert!(
        text_of(&browser, "#clusters")
            .await
            .contains("No clusters yet.")
    );
    shot(&browser, "clusters-1280-after").await;
    browser.close().await.expect("close");
}

/// Whether every element `css` finds is shown whole within the viewport's width.
async fn each_within_width(client: &Client, css: &str) -> bool {
    let answer = client
        .execute(
            "const found = [...document.querySelectorAll(arguments[0])]; \
             return found.length > 0 && found.every(e => { const r = e.getBoundingClientRect(); \
             return r.width > 0 && r.left >= 0 && r.right <= window.innerWidth; })",
            vec![serde_json::json!(css)],
        )
        .await
        .expect("script");
    answer == serde_json::json!(true)
}

/// At phone width the listing is a card a cluster, each with its health and its Delete
/// button in view (a table row ran past the screen's edge, the button with it); a
/// cluster's page follows its health live. The file provider's clusters, their health
/// set as the watcher sets it.
#[tokio::test]
async fn at_390_px_the_listing_shows_each_health_and_delete_button_and_a_page_follows_its_health() {
    use disco::domain::{Health, HealthStatus};
    // One watcher round, at start-up with no cluster: the test sets the health.
    let app = spawn_app_with(|settings| settings.jobs.watch_interval_secs = 3600).await;
    let ready = app
        .create_ok(
            "icclab.disco.name=\"analytics-of-the-week-2\",\
             icclab.disco.dependencies.inject=\"['spark','zeppelin','jupyter']\",\
             icclab.disco.components.heat.slavecount=12",
        )
        .await;
    app.create_ok(
        "icclab.disco.name=\"notebooks-of-the-team\",\
         icclab.disco.dependencies.inject=\"['jupyter','dask']\",icclab.disco.stage=true",
    )
    .await;
    app.wait_for(&ready, Some("ready")).await;
    let id_text = ready.rsplit('/').next().expect("id").to_string();
    let id: disco::domain::ClusterId = id_text.parse().expect("id");
    let health = |status, reason: &str| Health {
        status,
        reason: reason.to_string(),
        checked: chrono::Utc::now(),
        checks: Vec::new(),
        failing_rounds: 0,
        last_heard: None,
    };
    let degraded = "spark on slaves:7: process spark-worker failing since 10:00:00 (stopped)";
    assert!(
        app.store
            .set_health(id, health(HealthStatus::Degraded, degraded))
            .await
            .expect("stored")
    );

    let driver = Driver::start();
    let (phone, _) = driver.session(390, 844).await;
    phone.goto(&app.url("/dashboard")).await.expect("open");
    assert!(fits(&phone).await, "the listing fits 390 px");
    assert!(
        each_within_width(&phone, "#clusters button.danger").await,
        "every Delete button in view at 390 px"
    );
    assert!(
        each_within_width(&phone, "#clusters [data-health]").await,
        "every health in view at 390 px"
    );
    let row = format!("tr[data-id=\"{id_text}\"] [data-health]");
    assert_eq!(text_of(&phone, &row).await, "degraded");
    shot(&phone, "clusters-390-health").await;

    // Its page: the health row, then healthy again without a reload.
    phone
        .goto(&app.url(&format!("/dashboard/clusters/{id_text}")))
        .await
        .expect("open");
    assert!(fits(&phone).await, "the cluster page fits 390 px");
    assert!(
        text_of(&phone, "#health")
            .await
            .starts_with(&format!("degraded {degraded} checked ")),
        "{}",
        text_of(&phone, "#health").await
    );
    shot(&phone, "cluster-390-degraded").await;
    mark_the_page(&phone).await;
    app.store
        .set_health(
            id,
            health(HealthStatus::Healthy, "0 checks pass on every node"),
        )
        .await
        .expect("stored");
    wait_until("healthy on the page", Duration::from_secs(10), async || {
        text_of(&phone, "#health")
            .await
            .starts_with("healthy 0 checks pass on every node")
    })
    .await;
    assert!(still_the_marked_page(&phone).await, "the page was reloaded");
    // The listing follows it too.
    phone.goto(&app.url("/dashboard")).await.expect("open");
    app.store
        .set_health(
            id,
            health(HealthStatus::Unhealthy, "spark on master: tcp 7077 failing"),
        )
        .await
        .expect("stored");
    wait_until(
        "unhealthy in the listing",
        Duration::from_secs(10),
        async || text_of(&phone, &row).await == "unhealthy",
    )
    .await;
    phone.close().await.expect("close");
}

/// How many elements `css` finds.
async fn count(client: &Client, css: &str) -> usize {
    client
        .find_all(Locator::Css(css))
        .await
        .map(|found| found.len())
        .unwrap_or(0)
}

/// A cluster page's timeline at 390 and 1280 px: a finished deploy's bars, a staged
/// second cluster's steps at the lengths the first took (hatched), each in view; then,
/// at 390 px, the second deployed from its page and its bars redrawn live as it runs,
/// without a reload. Two local Dask clusters of one slave.
#[tokio::test]
async fn a_deploy_s_timeline_fits_390_px_and_follows_the_next_deploy_live() {
    let app = spawn_app_with(|settings| {
        settings.provider.default = ProviderKind::Local;
        settings.provider.local.stop_grace_secs = 5;
    })
    .await;
    let mut guard = crate::local::KillOnDrop(Vec::new());
    let dask = "icclab.disco.dependencies.inject=\"{'dask': {'worker_threads': 1}}\",\
                icclab.disco.components.heat.slavecount=1";
    let first = app
        .create_ok(&format!("{dask},icclab.disco.name=\"first\""))
        .await;
    guard.watch(&first);
    crate::local::wait_ready(&app.client, &first).await;
    let second = app
        .create_ok(&format!(
            "{dask},icclab.disco.name=\"second\",icclab.disco.stage=true"
        ))
        .await;
    guard.watch(&second);
    let page = |location: &str| {
        app.url(&format!(
            "/dashboard/clusters/{}",
            location.rsplit('/').next().expect("id")
        ))
    };

    let driver = Driver::start();
    for (width, height) in [(1280, 900), (390, 844)] {
        let (browser, _) = driver.session(width, height).await;
        browser.goto(&page(&first)).await.expect("open");
        assert_eq!(count(&browser, "#timeline .tl-row[data-status]").await, 7);
        assert_eq!(count(&browser, "#timeline .tl-bar.tl-succeeded").await, 7);
        assert!(
            fits(&browser).await,
            "the finished timeline fits {width} px"
        );
        assert!(
            each_within_width(&browser, "#timeline .tl-bar").await
                && each_within_width(&browser, "#timeline .tl-rows .tl-label").await,
            "every bar and label in view at {width} px"
        );
        browser
            .execute(
                "document.getElementById('timeline').scrollIntoView(); return true",
                vec![],
            )
            .await
            .expect("scroll");
        shot(&browser, &format!("timeline-{width}")).await;

        browser.goto(&page(&second)).await.expect("open");
        assert_eq!(
            count(&browser, "#timeline .tl-bar.tl-pending").await,
            7,
            "each step at the length the first took"
        );
        assert!(
            text_of(&browser, "#timeline .tl-summary")
                .await
                .starts_with("cluster_converge pending: expected to take ~"),
            "{}",
            text_of(&browser, "#timeline .tl-summary").await
        );
        assert!(
            fits(&browser).await,
            "the expected timeline fits {width} px"
        );
        assert!(each_within_width(&browser, "#timeline .tl-bar").await);
        browser
            .execute(
                "document.getElementById('timeline').scrollIntoView(); return true",
                vec![],
            )
            .await
            .expect("scroll");
        shot(&browser, &format!("timeline-staged-{width}")).await;

        if width == 390 {
            // The form posts, and the server sends the browser back to a new page.
            mark_the_page(&browser).await;
            browser
                .find(Locator::XPath("//button[normalize-space(.)='Deploy']"))
                .await
                .expect("the deploy button")
                .click()
                .await
                .expect("click");
            wait_until(
                "the page after the deploy",
                Duration::from_secs(20),
                async || {
                    !still_the_marked_page(&browser).await
                        && browser.find(Locator::Css("#timeline")).await.is_ok()
                },
            )
            .await;
            mark_the_page(&browser).await;
            // A picture of it running, if the browser catches it (a warm deploy takes
            // seconds).
            let running_until = Instant::now() + Duration::from_secs(10);
            while Instant::now() < running_until {
                if count(&browser, "#timeline .tl-bar.tl-executing").await > 0 {
                    browser
                        .execute(
                            "document.getElementById('timeline').scrollIntoView(); return true",
                            vec![],
                        )
                        .await
                        .expect("scroll");
                    shot(&browser, "timeline-running-390").await;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            wait_until(
                "the deploy's bars redrawn, all done",
                Duration::from_secs(300),
                async || {
                    count(&browser, "#timeline .tl-bar.tl-succeeded").await == 7
                        && text_of(&browser, "#timeline .tl-summary")
                            .await
                            .starts_with("cluster_converge succeeded in ")
                },
            )
            .await;
            assert!(
                still_the_marked_page(&browser).await,
                "the page was reloaded"
            );
            assert!(fits(&browser).await, "the redrawn timeline fits 390 px");
            browser
                .execute(
                    "document.getElementById('timeline').scrollIntoView(); return true",
                    vec![],
                )
                .await
                .expect("scroll");
            shot(&browser, "timeline-deployed-390").await;
        }
        browser.close().await.expect("close");
    }
    for location in [&first, &second] {
        let response = app
            .client
            .delete(location.as_str())
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 200);
    }
    for location in [&first, &second] {
        app.wait_for(location, None).await;
    }
}
