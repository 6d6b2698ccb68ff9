//! The CLOSELIST queue: lists the gateway no longer needs are closed in the
//! background, one call each, best effort. Never on a request's path, never retried;
//! a full queue drops the list (LOGOFF or the session's end frees it upstream).

use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::upstream::{self, Sid};

/// One list to close, with the SID it belongs to.
#[derive(Debug)]
struct Job {
    sid: Sid,
    list_id: String,
}

/// The queue's sending side; the worker starts with the first list queued.
#[derive(Debug, Clone)]
pub struct Closer {
    tx: mpsc::Sender<Job>,
    /// The receiver until the worker takes it.
    pending: Arc<Mutex<Option<mpsc::Receiver<Job>>>>,
    client: upstream::Client,
}

impl Closer {
    /// A queue of at most `capacity` lists, closed through `client`.
    pub fn new(client: upstream::Client, capacity: usize) -> Self {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        Self {
            tx,
            pending: Arc::new(Mutex::new(Some(rx))),
            client,
        }
    }

    /// Starts the worker if it is not running; needs a Tokio runtime.
    pub fn start(&self) {
        let Some(mut rx) = self.pending.lock().ok().and_then(|mut p| p.take()) else {
            return;
        };
        let client = self.client.clone();
        tokio::spawn(async move {
            while let Some(job) = rx.recv().await {
                let outcome = match client.close_list(&job.sid, &job.list_id).await {
                    Ok(()) => "closed",
                    Err(upstream::Error::Rejected(e)) if e.rctx.starts_with("WDRC_LISTID_") => {
                        "stale"
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "CLOSELIST failed; the list is left to the session's end");
                        "failed"
                    }
                };
                crate::metrics::closelist(outcome);
            }
        });
    }

    /// Queues `list_id` of `sid` for closing, without waiting.
    pub fn close(&self, sid: &Sid, list_id: String) {
        let job = Job {
            sid: sid.clone(),
            list_id,
        };
        if self.tx.try_send(job).is_err() {
            crate::metrics::closelist("dropped");
        }
    }
}
