//! `burgee serve` inside the test's tokio runtime.

use burgee_server::ready::ReadyFile;
use burgee_server::serve::{ServeError, ServeOptions, run};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A server running on the current tokio runtime ([`burgee_server::serve::run`]); stopped
/// with [`InProcess::stop`] (or aborted when dropped).
#[derive(Debug)]
pub struct InProcess {
    /// What a process would have written to its ready file.
    pub ready: ReadyFile,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServeError>>>,
}

impl InProcess {
    /// Starts a server with `options` (its `listen` is usually `127.0.0.1:0`) and waits until
    /// it listens.
    ///
    /// # Panics
    /// When the server fails to start.
    pub async fn start(mut options: ServeOptions) -> InProcess {
        let dir = options.server.data_dir.clone();
        let ready_path = dir.join("ready.json");
        options.ready_file = Some(ready_path.clone());
        let _ = std::fs::remove_file(&ready_path);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(run(options, |_| {}, async move {
            let _ = stopped.await;
        }));
        loop {
            if let Ok(text) = std::fs::read_to_string(&ready_path) {
                let ready = serde_json::from_str(&text).expect("a valid ready file");
                return InProcess {
                    ready,
                    stop: Some(stop),
                    task: Some(task),
                };
            }
            if task.is_finished() {
                let result = task.await;
                panic!("the in-process server stopped before it was ready: {result:?}");
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Its base URL.
    pub fn url(&self) -> &str {
        &self.ready.url
    }

    /// Shuts it down cleanly (as on SIGTERM) and returns how `run` ended.
    ///
    /// # Panics
    /// When the server task panicked.
    pub async fn stop(mut self) -> Result<(), ServeError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.expect("the server task panicked"),
            None => Ok(()),
        }
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}
