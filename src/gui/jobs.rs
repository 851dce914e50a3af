//! The job runner: database work runs on a tokio runtime beside the UI, never
//! on the UI thread. A job's result comes back over a channel as a closure
//! that updates the app's state on the UI thread; its arrival wakes the window
//! (a repaint), so the window sleeps while nothing happens.

use super::App;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, OnceLock};

/// A finished job: how it changes the app.
pub(crate) type Apply = Box<dyn FnOnce(&mut App) + Send>;

/// Runs jobs and collects their results.
pub(crate) struct Jobs {
    rt: Option<tokio::runtime::Runtime>,
    tx: mpsc::Sender<Apply>,
    rx: mpsc::Receiver<Apply>,
    ctx: Arc<OnceLock<egui::Context>>,
    pending: Arc<AtomicUsize>,
    /// The frame being drawn, so that a job knows when it was started.
    frame: u64,
}

/// Counts a job as finished when it ends, even if it panicked, so that the
/// app never waits for a job that is gone.
struct Done(
    Arc<AtomicUsize>,
    mpsc::Sender<Apply>,
    Arc<OnceLock<egui::Context>>,
);

impl Drop for Done {
    fn drop(&mut self) {
        // A marker through the channel, so that "pending" drops only after
        // the job's own result (sent before) has been applied.
        let pending = Arc::clone(&self.0);
        let _ = self.1.send(Box::new(move |_app: &mut App| {
            pending.fetch_sub(1, Ordering::SeqCst);
        }));
        if let Some(ctx) = self.2.get() {
            ctx.request_repaint();
        }
    }
}

impl Jobs {
    /// Starts the runtime (two worker threads: the database work is I/O-bound).
    pub(crate) fn new() -> std::io::Result<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("payrecon-jobs")
            .enable_all()
            .build()?;
        let (tx, rx) = mpsc::channel();
        Ok(Self {
            rt: Some(rt),
            tx,
            rx,
            ctx: Arc::new(OnceLock::new()),
            pending: Arc::new(AtomicUsize::new(0)),
            frame: 0,
        })
    }

    /// The frame being drawn (jobs started now are "born" in it).
    pub(crate) fn set_frame(&mut self, frame: u64) {
        self.frame = frame;
    }

    /// Wraps a job's result so that, once applied, the app can tell whether
    /// a job started after an error notice succeeded ([`App::job_done`]).
    fn wrap(born: u64, apply: Apply) -> Apply {
        Box::new(move |app: &mut App| {
            let seq = app.banner_seq;
            apply(app);
            app.job_done(born, seq);
        })
    }

    /// Counts a job as started; its [`Done`] guard counts it as finished.
    fn begin(&self) -> (Done, mpsc::Sender<Apply>) {
        self.pending.fetch_add(1, Ordering::SeqCst);
        let done = Done(
            Arc::clone(&self.pending),
            self.tx.clone(),
            Arc::clone(&self.ctx),
        );
        (done, self.tx.clone())
    }

    /// Runs `job` in the background; its closure is applied on the UI thread.
    pub(crate) fn spawn<F>(&self, job: F)
    where
        F: Future<Output = Apply> + Send + 'static,
    {
        let Some(rt) = &self.rt else { return };
        let (done, tx) = self.begin();
        let born = self.frame;
        rt.spawn(async move {
            let _done = done;
            let apply = job.await;
            let _ = tx.send(Self::wrap(born, apply));
        });
    }

    /// Runs a job on a thread of its own, inside the runtime: for engine
    /// futures that are not `Send` (they hold a progress callback).
    pub(crate) fn spawn_on_thread<M, F>(&self, make: M)
    where
        M: FnOnce() -> F + Send + 'static,
        F: Future<Output = Apply> + 'static,
    {
        let Some(rt) = &self.rt else { return };
        let handle = rt.handle().clone();
        let (done, tx) = self.begin();
        let born = self.frame;
        let spawned = std::thread::Builder::new()
            .name("payrecon-run".into())
            .spawn(move || {
                let _done = done;
                let apply = handle.block_on(make());
                let _ = tx.send(Self::wrap(born, apply));
            });
        if let Err(e) = spawned {
            let _ = self.tx.send(Box::new(move |app: &mut App| {
                app.error(format!("cannot start a worker thread: {e}"));
            }));
        }
    }

    /// The results that arrived since the last frame.
    pub(crate) fn take(&self) -> Vec<Apply> {
        self.rx.try_iter().collect()
    }

    /// Whether any job is still running.
    pub(crate) fn busy(&self) -> bool {
        self.pending.load(Ordering::SeqCst) > 0
    }

    /// The window to wake when results arrive (known from the first frame on).
    pub(crate) fn set_ctx(&self, ctx: &egui::Context) {
        let _ = self.ctx.set(ctx.clone());
    }

    /// A waker for a job that reports progress while it runs.
    pub(crate) fn waker(&self) -> Waker {
        Waker(Arc::clone(&self.ctx))
    }
}

impl Drop for Jobs {
    fn drop(&mut self) {
        // Closing the window must not wait for a long query to finish.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// Wakes the window from a running job (progress), at most every 100 ms.
#[derive(Clone)]
pub(crate) struct Waker(Arc<OnceLock<egui::Context>>);

impl Waker {
    /// Asks for a repaint soon.
    pub(crate) fn wake(&self) {
        if let Some(ctx) = self.0.get() {
            ctx.request_repaint_after(std::time::Duration::from_millis(100));
        }
    }
}
