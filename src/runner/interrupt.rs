//! Ctrl-C as a value: the runner stops before the next step and abandons what is in flight
//! (pending connections, health waits, a step still running on a host); the command then
//! exits 130.

use tokio::sync::watch;

/// Whether the run was interrupted; cheap to clone, shared by the listener and the runs.
#[derive(Debug, Clone)]
pub struct Interrupt {
    sender: watch::Sender<bool>,
}

impl Default for Interrupt {
    fn default() -> Interrupt {
        Interrupt { sender: watch::Sender::new(false) }
    }
}

impl Interrupt {
    /// Marks the run interrupted and wakes every [`Interrupt::wait`].
    pub fn trigger(&self) {
        self.sender.send_replace(true);
    }

    /// Whether [`Interrupt::trigger`] was called.
    pub fn is_set(&self) -> bool {
        *self.sender.borrow()
    }

    /// Returns once the run is interrupted (at once if it already is).
    pub async fn wait(&self) {
        let mut receiver = self.sender.subscribe();
        // Fails only when the sender is gone, which `self` holds.
        let _ = receiver.wait_for(|set| *set).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_wait_started_after_the_trigger_returns_at_once() {
        let interrupt = Interrupt::default();
        assert!(!interrupt.is_set());
        let waiting = tokio::spawn({
            let interrupt = interrupt.clone();
            async move { interrupt.wait().await }
        });
        interrupt.trigger();
        waiting.await.unwrap();
        tokio::time::timeout(std::time::Duration::from_millis(100), interrupt.wait()).await.unwrap();
        assert!(interrupt.is_set());
    }
}
