//! A TCP proxy inside the test, between the servers and the database, that
//! delays every chunk of bytes in either direction by 50 ms ± 20 while
//! switched on (the kernel here has no qdiscs for netem). Order within a
//! connection is kept: a chunk never overtakes the one before it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

/// The added delay: mean and maximal deviation.
pub(crate) const DELAY: Duration = Duration::from_millis(50);
/// ± this, uniformly.
pub(crate) const JITTER: Duration = Duration::from_millis(20);

/// A running proxy; it stops accepting when dropped.
pub(crate) struct Proxy {
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    delaying: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Listens on `listen` and forwards each connection to `upstream`.
    pub(crate) async fn start(listen: SocketAddr, upstream: SocketAddr) -> Result<Proxy, String> {
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| format!("proxy on {listen}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let delaying = Arc::new(AtomicBool::new(false));
        let seed = Arc::new(AtomicU64::new(0x9e37_79b9_7f4a_7c15));
        let flag = delaying.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (flag, seed) = (flag.clone(), seed.clone());
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    let up = pump(cr, sw, flag.clone(), seed.clone());
                    let down = pump(sr, cw, flag, seed);
                    tokio::join!(up, down);
                });
            }
        });
        Ok(Proxy {
            addr,
            delaying,
            task,
        })
    }

    /// Switches the delay on or off (for chunks read from then on).
    pub(crate) fn set_delaying(&self, on: bool) {
        self.delaying.store(on, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A delay in [DELAY - JITTER, DELAY + JITTER], from a shared xorshift.
fn sample(seed: &AtomicU64) -> Duration {
    let mut x = seed.load(Ordering::Relaxed);
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    seed.store(x, Ordering::Relaxed);
    let span = u64::try_from(JITTER.as_micros() * 2).unwrap_or(1) + 1;
    DELAY - JITTER + Duration::from_micros(x % span)
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delaying: Arc<AtomicBool>,
    seed: Arc<AtomicU64>,
) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let reader = async move {
        let mut last = Instant::now();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let now = Instant::now();
                    let due = if delaying.load(Ordering::SeqCst) {
                        (now + sample(&seed)).max(last)
                    } else {
                        now.max(last)
                    };
                    last = due;
                    if tx.send((due, buf[..n].to_vec())).is_err() {
                        break;
                    }
                }
            }
        }
    };
    let writer = async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}
