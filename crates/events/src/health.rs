//! The broker's state as operators see it: a watch asks the cluster for metadata every few
//! seconds, sets `events_broker_up`, logs once per change and shows the last answer in `/readyz`
//! as a reported check, which never makes a process unready (the outbox keeps the events).

use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use platform::config::KafkaConfig;
use platform::http::Probe;

use crate::kafka::{KafkaError, KafkaProbe};

/// How often the watch asks the broker; also how stale `/readyz`'s broker state can be.
const CHECK_EVERY: Duration = Duration::from_secs(2);

/// Watches one cluster; cheap to clone. Put it in the readiness with
/// `Readiness::with_reported`: its check answers from the last observation, at once.
#[derive(Clone)]
pub struct BrokerWatch {
    inner: Arc<Inner>,
}

struct Inner {
    probe: KafkaProbe,
    state: Mutex<BrokerState>,
}

impl std::fmt::Debug for BrokerWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerWatch")
            .field("state", &*self.inner.lock())
            .finish()
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, BrokerState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl BrokerWatch {
    /// Starts watching the cluster of `config`. Call it inside a Tokio runtime. The watch runs as
    /// long as a clone of it is held (the process's readiness), so services wire nothing else and
    /// a dropped readiness ends it.
    pub fn start(config: &KafkaConfig) -> Result<Self, KafkaError> {
        let inner = Arc::new(Inner {
            probe: KafkaProbe::new(config)?,
            state: Mutex::default(),
        });
        tokio::spawn(watch(Arc::downgrade(&inner)));
        Ok(Self { inner })
    }

    /// Asks the broker now and records the answer.
    pub async fn refresh(&self) -> Result<(), String> {
        let result = self.inner.probe.check().await;
        let up = if result.is_ok() { 1.0 } else { 0.0 };
        metrics::gauge!("events_broker_up").set(up);
        let change = self.inner.lock().observe(result.clone(), Instant::now());
        log(change, &result);
        result
    }

    /// The last observation, without asking the broker; `None` before the first answer.
    pub fn last(&self) -> Option<Result<(), String>> {
        self.inner.lock().shown(Instant::now())
    }
}

async fn watch(inner: Weak<Inner>) {
    loop {
        let Some(inner) = inner.upgrade() else {
            return;
        };
        // The answer is recorded (gauge, state, log); nobody waits for it here.
        let _ = BrokerWatch { inner }.refresh().await;
        tokio::time::sleep(CHECK_EVERY).await;
    }
}

fn log(change: Option<Change>, result: &Result<(), String>) {
    match (change, result) {
        (Some(Change::Up), _) => tracing::info!("Kafka broker reachable; events flow"),
        (Some(Change::Down), Err(error)) => tracing::warn!(
            %error,
            "Kafka broker unreachable; events wait in the outbox, requests are still served"
        ),
        _ => {}
    }
}

#[async_trait::async_trait]
impl Probe for BrokerWatch {
    fn name(&self) -> &'static str {
        "kafka"
    }

    async fn check(&self) -> Result<(), String> {
        if let Some(result) = self.last() {
            return result;
        }
        // Before the watch's first answer (just started): ask once, shown like any later answer.
        let _ = self.refresh().await;
        self.last()
            .unwrap_or_else(|| Err("broker not checked yet".into()))
    }
}

/// A change worth one log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Up,
    Down,
}

/// What the watch saw last, and since when the broker has been in that state.
#[derive(Debug, Default)]
struct BrokerState {
    last: Option<(Result<(), String>, Instant)>,
}

impl BrokerState {
    /// Records `result`; returns the change it makes, if any (the first answer counts as one).
    fn observe(&mut self, result: Result<(), String>, now: Instant) -> Option<Change> {
        let was_up = self.last.as_ref().map(|(r, _)| r.is_ok());
        let is_up = result.is_ok();
        let since = match &self.last {
            Some((_, since)) if was_up == Some(is_up) => *since,
            _ => now,
        };
        self.last = Some((result, since));
        match (was_up, is_up) {
            (Some(a), b) if a == b => None,
            (_, true) => Some(Change::Up),
            (_, false) => Some(Change::Down),
        }
    }

    /// The last result, a failure saying for how long the broker has been unreachable.
    fn shown(&self, now: Instant) -> Option<Result<(), String>> {
        let (result, since) = self.last.as_ref()?;
        Some(result.clone().map_err(|error| {
            let down = now.saturating_duration_since(*since).as_secs();
            format!("broker unreachable for {down} s: {error}")
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_change_of_the_brokers_state_is_worth_a_log_line() {
        let mut state = BrokerState::default();
        let t = Instant::now();
        let down = || Err("connection refused".to_owned());
        assert_eq!(state.observe(Ok(()), t), Some(Change::Up));
        assert_eq!(state.observe(Ok(()), t), None);
        assert_eq!(state.observe(down(), t), Some(Change::Down));
        assert_eq!(state.observe(down(), t), None);
        assert_eq!(state.observe(down(), t), None);
        assert_eq!(state.observe(Ok(()), t), Some(Change::Up));
    }

    #[test]
    fn a_first_failure_is_a_change_too() {
        let mut state = BrokerState::default();
        let failed = state.observe(Err("refused".into()), Instant::now());
        assert_eq!(failed, Some(Change::Down));
    }

    #[test]
    fn an_unreachable_broker_is_shown_with_how_long_it_has_been_down() {
        let mut state = BrokerState::default();
        let start = Instant::now();
        assert_eq!(state.shown(start), None);
        state.observe(Ok(()), start);
        assert_eq!(state.shown(start), Some(Ok(())));
        state.observe(Err("refused".into()), start);
        state.observe(Err("timed out".into()), start + Duration::from_secs(3));
        let shown = state.shown(start + Duration::from_secs(7));
        assert_eq!(
            shown,
            Some(Err("broker unreachable for 7 s: timed out".into()))
        );
    }
}
