//! Compose + render speed: a request resolved against the real catalogue and rendered to
//! its node scripts and Heat template. Target: at most 1 ms for 5 components x 100 slaves.
//! Run: cargo bench --bench compose

use std::path::Path;

use disco::cluster::spec::ClusterSpec;
use disco::compose::{Composer, Facts};
use disco::domain::{ClusterId, ProviderKind};
use disco::frameworks::catalogue::Catalogue;
use disco::frameworks::resolve::resolve;
use disco::manifest::Manifest;
use disco::occi::text::parse_attributes;

fn main() {
    divan::main();
}

struct Bed {
    catalogue: Catalogue,
    composer: Composer,
    spec: ClusterSpec,
    facts: Facts,
}

fn bed(components: &str, slaves: u16) -> Bed {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let catalogue = Catalogue::load(&root.join("frameworks")).expect("catalogue");
    let composer = Composer::load(&root.join("heat-templates")).expect("templates");
    let attributes = parse_attributes(&format!(
        "icclab.disco.dependencies.inject=\"{components}\",icclab.disco.components.heat.slavecount={slaves},\
         icclab.disco.provider=\"openstack\""
    ))
    .expect("attributes");
    let checked = Manifest::built_in()
        .expect("manifest")
        .check_request(&attributes)
        .expect("checked");
    let id = ClusterId::new();
    let spec = ClusterSpec::from_attributes(id, &checked, ProviderKind::Openstack).expect("spec");
    let facts = Facts {
        cluster_id: id.to_string(),
        cluster_name: spec.request.name.to_string(),
        key_name: format!("disco-{}", id.short()),
        public_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBenchKey bench".to_string(),
        report_url: Some("http://127.0.0.1:8888/disco/x/report".to_string()),
        report_token: Some("token".to_string()),
        used: Default::default(),
        used_clusters: Vec::new(),
    };
    Bed {
        catalogue,
        composer,
        spec,
        facts,
    }
}

const FIVE: &str = "['hadoop', 'spark', 'jupyter', 'zeppelin', 'dask']";

#[divan::bench(args = [1, 100])]
fn resolve_and_compose_five_components(bencher: divan::Bencher, slaves: u16) {
    let bed = bed(FIVE, slaves);
    bencher.bench_local(|| {
        let plan = resolve(&bed.spec.request, &bed.catalogue).expect("plan");
        bed.composer
            .compose(&plan, &bed.catalogue, &bed.facts)
            .expect("composed")
    });
}

#[divan::bench]
fn compose_only_five_components_100_slaves(bencher: divan::Bencher) {
    let bed = bed(FIVE, 100);
    let plan = resolve(&bed.spec.request, &bed.catalogue).expect("plan");
    bencher.bench_local(|| {
        bed.composer
            .compose(&plan, &bed.catalogue, &bed.facts)
            .expect("composed")
    });
}
