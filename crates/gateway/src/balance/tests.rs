//! The choice of endpoint, the refresh of addresses through a stand-in resolver, and the retry
//! rule.

use std::collections::HashMap;
use std::sync::Mutex;

use super::*;

/// Answers lookups from a table that a test changes; a missing name fails.
#[derive(Debug, Default)]
struct Table(Mutex<HashMap<String, Vec<SocketAddr>>>);

impl Table {
    fn set(&self, host: &str, ports: &[u16]) {
        let addrs = ports
            .iter()
            .map(|p| SocketAddr::from(([127, 0, 0, 1], *p)))
            .collect();
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(host.to_owned(), addrs);
    }

    fn forget(&self, host: &str) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(host);
    }
}

#[async_trait::async_trait]
impl Resolve for Table {
    async fn lookup(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
        let table = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let addrs = table.get(host).ok_or(std::io::ErrorKind::NotFound)?;
        Ok(addrs
            .iter()
            .map(|a| SocketAddr::new(a.ip(), a.port() + port))
            .collect())
    }
}

fn host_port(text: &str) -> HostPort {
    text.parse().unwrap_or(HostPort {
        host: "invalid".into(),
        port: 0,
    })
}

fn balancer(list: &[&str], table: &Arc<Table>) -> Balancer {
    let list: Vec<HostPort> = list.iter().map(|t| host_port(t)).collect();
    let resolver: Arc<dyn Resolve> = Arc::clone(table) as Arc<dyn Resolve>;
    Balancer::new(Service::Post, &list, resolver).unwrap_or_else(|e| panic!("{e}"))
}

fn ports(balancer: &Balancer) -> Vec<u16> {
    let mut ports: Vec<u16> = balancer
        .snapshot()
        .endpoints
        .iter()
        .map(|e| e.addr().port())
        .collect();
    ports.sort_unstable();
    ports
}

/// Which port each of `count` leases went to, with every lease held (so outstanding grows).
async fn spread(balancer: &Balancer, count: usize) -> HashMap<u16, usize> {
    let mut view = View::default();
    let mut held = Vec::new();
    let mut seen = HashMap::new();
    for _ in 0..count {
        let Some(lease) = balancer.lease(&mut view).await else {
            break;
        };
        *seen.entry(lease.addr().port()).or_default() += 1;
        held.push(lease);
    }
    seen
}

#[tokio::test]
async fn a_name_resolving_to_several_addresses_gives_one_endpoint_each() {
    let table = Arc::new(Table::default());
    table.set("replicas", &[0, 1, 2]);
    let balancer = balancer(&["replicas:9000", "127.0.0.1:8000"], &table);
    assert_eq!(
        ports(&balancer),
        [8000],
        "only the literal before any lookup"
    );
    balancer.refresh().await;
    assert_eq!(ports(&balancer), [8000, 9000, 9001, 9002]);
}

#[tokio::test]
async fn the_first_request_resolves_when_no_address_is_known_yet() {
    let table = Arc::new(Table::default());
    table.set("replicas", &[0, 1]);
    let balancer = balancer(&["replicas:9000"], &table);
    let lease = balancer.lease(&mut View::default()).await;
    assert!(lease.is_some_and(|l| [9000, 9001].contains(&l.addr().port())));
}

#[tokio::test]
async fn a_failed_or_empty_lookup_keeps_the_last_good_addresses() {
    let table = Arc::new(Table::default());
    table.set("replicas", &[0, 1]);
    let balancer = balancer(&["replicas:9000"], &table);
    balancer.refresh().await;
    table.forget("replicas");
    balancer.refresh().await;
    assert_eq!(ports(&balancer), [9000, 9001]);
    table.set("replicas", &[]);
    balancer.refresh().await;
    assert_eq!(ports(&balancer), [9000, 9001]);
    table.set("replicas", &[1]);
    balancer.refresh().await;
    assert_eq!(ports(&balancer), [9001], "a replica that left is dropped");
}

#[tokio::test]
async fn an_endpoint_that_stays_keeps_its_state_and_readers_see_a_change_at_once() {
    let table = Arc::new(Table::default());
    table.set("replicas", &[0, 1]);
    let balancer = balancer(&["replicas:9000"], &table);
    balancer.refresh().await;
    let mut view = View::default();
    let held = balancer.lease(&mut view).await;
    let port = held.as_ref().map(|l| l.addr().port()).unwrap_or_default();
    table.set("replicas", &[0, 1, 2]);
    balancer.refresh().await;
    let current = balancer.current(&mut view);
    assert_eq!(current.endpoints.len(), 3, "the view follows the change");
    let kept = current.endpoints.iter().find(|e| e.addr().port() == port);
    assert_eq!(kept.map(|e| e.outstanding()), Some(1));
}

#[tokio::test]
async fn requests_spread_over_endpoints_by_outstanding_count() {
    let table = Arc::new(Table::default());
    table.set("replicas", &[0, 1, 2, 3]);
    let balancer = balancer(&["replicas:9000"], &table);
    balancer.refresh().await;
    // With every lease held, two random choices keep the counts within one or two of each other.
    let seen = spread(&balancer, 400).await;
    assert_eq!(seen.len(), 4);
    for count in seen.values() {
        assert!((95..=105).contains(count), "{seen:?}");
    }
}

#[tokio::test]
async fn an_ejected_endpoint_gets_nothing_unless_every_endpoint_is_ejected() {
    let table = Arc::new(Table::default());
    table.set("replicas", &[0, 1, 2]);
    let balancer = balancer(&["replicas:9000"], &table);
    balancer.refresh().await;
    let endpoints = balancer.snapshot().endpoints.clone();
    endpoints[0].failed(Fault::Down);
    let seen = spread(&balancer, 60).await;
    assert_eq!(seen.get(&endpoints[0].addr().port()), None, "{seen:?}");
    endpoints[1].failed(Fault::Down);
    endpoints[2].failed(Fault::Down);
    assert_eq!(spread(&balancer, 30).await.values().sum::<usize>(), 30);
}

#[tokio::test]
async fn a_retry_goes_to_another_endpoint_and_never_with_a_single_one() {
    let table = Arc::new(Table::default());
    table.set("replicas", &[0, 1]);
    let two = balancer(&["replicas:9000"], &table);
    two.refresh().await;
    let mut view = View::default();
    for _ in 0..20 {
        let first = two.lease(&mut view).await;
        let second = first.as_ref().and_then(|f| two.retry(&mut view, f));
        let ports = [first, second].map(|l| l.map(|l| l.addr().port()));
        assert!(ports[0].is_some() && ports[1].is_some() && ports[0] != ports[1]);
    }
    let one = balancer(&["127.0.0.1:8000"], &table);
    let first = one.lease(&mut view).await;
    assert!(first.is_some_and(|f| one.retry(&mut view, &f).is_none()));
}

#[test]
fn only_safe_requests_that_reached_an_upstream_are_sent_again() {
    assert!(may_retry(&Method::POST, Reach::NotSent, false));
    assert!(may_retry(&Method::GET, Reach::Unanswered, true));
    assert!(may_retry(&Method::HEAD, Reach::Unanswered, true));
    assert!(!may_retry(&Method::GET, Reach::Unanswered, false));
    assert!(!may_retry(&Method::POST, Reach::Unanswered, true));
    assert!(!may_retry(&Method::DELETE, Reach::Unanswered, true));
    assert!(!may_retry(&Method::GET, Reach::Answered, true));
}
