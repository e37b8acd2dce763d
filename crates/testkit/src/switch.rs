//! A TCP relay in front of a real server that a test switches off and on: the server's outage as
//! its clients see it, without stopping the server that every other test shares.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// The relay; it stops when dropped.
#[derive(Debug)]
pub struct Switch {
    port: u16,
    up: Arc<AtomicBool>,
    cut: Arc<Mutex<CancellationToken>>,
    stop: CancellationToken,
}

impl Switch {
    /// A relay on a free loopback port to `target` (`host:port`), switched on.
    pub async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let port = listener.local_addr().expect("a bound address").port();
        let switch = Self {
            port,
            up: Arc::new(AtomicBool::new(true)),
            cut: Arc::new(Mutex::new(CancellationToken::new())),
            stop: CancellationToken::new(),
        };
        tokio::spawn(relay(
            listener,
            target,
            Arc::clone(&switch.up),
            Arc::clone(&switch.cut),
            switch.stop.clone(),
        ));
        switch
    }

    /// The port clients connect to instead of the server's.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Drops every relayed connection and closes new ones at once.
    pub fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        let mut cut = self.cut.lock().unwrap_or_else(PoisonError::into_inner);
        cut.cancel();
        *cut = CancellationToken::new();
    }

    /// Relays new connections again.
    pub fn up(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        self.stop.cancel();
        self.down();
    }
}

async fn relay(
    listener: TcpListener,
    target: String,
    up: Arc<AtomicBool>,
    cut: Arc<Mutex<CancellationToken>>,
    stop: CancellationToken,
) {
    loop {
        let mut inbound = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((inbound, _)) => inbound,
                Err(_) => return,
            },
        };
        if !up.load(Ordering::SeqCst) {
            continue;
        }
        let cancel = cut.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let target = target.clone();
        tokio::spawn(async move {
            let Ok(mut outbound) = TcpStream::connect(target).await else {
                return;
            };
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                () = cancel.cancelled() => {}
            }
        });
    }
}
