//! Playback HTTP served by one single-threaded runtime per core.
//!
//! Manifest and segment requests are short, and a work-stealing runtime spends more on waking
//! and parking its threads between them than on the requests (under wrk, 62 % of its time was in
//! the kernel, mostly context switches). Like nginx's workers, each HTTP worker thread here runs
//! its own current-thread runtime, and each connection stays on one worker for its life: no
//! request hops between threads. An accept loop on the main runtime hands connections to the
//! workers in turn. `docs/benchmarks.md` has the measurements.

use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

/// Blocking threads (segment loading and muxing) per worker runtime.
const BLOCKING_THREADS_PER_WORKER: usize = 2;

/// How many HTTP workers to run: one per core the process may use.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Serves `app` on `listener` with `workers` worker threads until `stop` completes; then stops
/// accepting, lets open requests finish and returns once every connection is closed.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    workers: usize,
    stop: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let workers = workers.max(1);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut queues = Vec::with_capacity(workers);
    let mut threads = Vec::with_capacity(workers);
    for index in 0..workers {
        let (tx, rx) = mpsc::unbounded_channel::<std::net::TcpStream>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .max_blocking_threads(BLOCKING_THREADS_PER_WORKER)
            .thread_name(format!("http-{index}"))
            .build()?;
        let app = app.clone();
        let stop_rx = stop_rx.clone();
        let thread = std::thread::Builder::new()
            .name(format!("http-{index}"))
            .spawn(move || runtime.block_on(worker(rx, app, stop_rx)))?;
        queues.push(tx);
        threads.push(thread);
    }

    let mut stop = pin!(stop);
    let mut next = 0usize;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut stop => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "HTTP accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let Ok(stream) = stream.into_std() else {
            continue;
        };
        if let Some(queue) = queues.get(next % workers) {
            let _ = queue.send(stream);
        }
        next = next.wrapping_add(1);
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(queues);
    // Workers return once their connections are closed; wait for them off the async threads.
    tokio::task::spawn_blocking(move || {
        for thread in threads {
            let _ = thread.join();
        }
    })
    .await
    .map_err(std::io::Error::other)?;
    Ok(())
}

/// One worker: serves the connections it is handed until told to stop, then waits for them.
async fn worker(
    mut incoming: mpsc::UnboundedReceiver<std::net::TcpStream>,
    app: Router,
    mut stop: watch::Receiver<bool>,
) {
    let (closed_tx, closed_rx) = watch::channel(());
    loop {
        let stream = tokio::select! {
            stream = incoming.recv() => stream,
            _ = stop.wait_for(|stop| *stop) => None,
        };
        let Some(stream) = stream else { break };
        let Ok(stream) = tokio::net::TcpStream::from_std(stream) else {
            continue;
        };
        let service = TowerToHyperService::new(app.clone());
        let mut stop = stop.clone();
        let closed = closed_rx.clone();
        tokio::spawn(async move {
            let builder = Builder::new(TokioExecutor::new());
            let mut conn = pin!(builder.serve_connection(TokioIo::new(stream), service));
            let mut stopping = false;
            loop {
                tokio::select! {
                    result = conn.as_mut() => {
                        if let Err(e) = result {
                            tracing::trace!(error = %e, "HTTP connection ended with an error");
                        }
                        break;
                    }
                    _ = stop.wait_for(|stop| *stop), if !stopping => {
                        stopping = true;
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
            drop(closed);
        });
    }
    drop(closed_rx);
    closed_tx.closed().await;
}
